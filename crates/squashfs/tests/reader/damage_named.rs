//! Damage met by the walk names where it is: a listing with a bad name is
//! reported with the directory's path, so `bale ls -R` and `bale verify`
//! can say which part of the image is corrupt.

use crate::fixture::{fixture, raw_entry_of_c};
use bale_squashfs::reader::{Archive, Node, Visitor};
use bale_squashfs::Error;

struct Nothing;

impl Visitor for Nothing {
    type Error = Error;
    fn visit(&mut self, _node: &Node<'_>) -> Result<(), Error> {
        Ok(())
    }
}

#[test]
fn a_bad_name_in_a_listing_names_the_directory() {
    // Uncompressed metadata, so the listing can be edited in place.
    let f = fixture("zstd", 4096, false, &["-noI", "-noD"]);
    let mut bytes = std::fs::read(&f.image).unwrap();
    // The name of "c" becomes "/", which no listing may hold.
    let at = raw_entry_of_c(&bytes);
    bytes[at + 8] = b'/';

    let damaged = Archive::open(bytes).unwrap();
    let err = damaged.walk(&mut Nothing).unwrap_err();
    assert_eq!(
        err.to_string(),
        "corrupt image: a/b: invalid name in directory entry"
    );
}
