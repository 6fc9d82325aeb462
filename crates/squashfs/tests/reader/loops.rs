//! A directory entry rewritten to point at an ancestor: the walk must
//! report a directory loop instead of running forever.

use crate::fixture::{fixture, raw_entry_of_c};
use bale_squashfs::reader::{Archive, Node, Visitor};
use bale_squashfs::Error;

struct CountNodes(u64);

impl Visitor for CountNodes {
    type Error = Error;
    fn visit(&mut self, _node: &Node<'_>) -> Result<(), Error> {
        self.0 += 1;
        Ok(())
    }
}

#[test]
fn directory_loops_are_detected() {
    // Uncompressed metadata, so the listing can be edited in place.
    let f = fixture("zstd", 4096, false, &["-noI", "-noD"]);
    let mut bytes = std::fs::read(&f.image).unwrap();
    let archive = Archive::open(bytes.clone()).unwrap();
    let (a_ref, a) = archive.lookup_path(b"a", false).unwrap().unwrap();
    let (_, b) = archive.lookup_path(b"a/b", false).unwrap().unwrap();
    let c = archive.lookup(&b, b"c").unwrap().unwrap();
    assert_eq!(a_ref >> 16, c.inode_ref >> 16, "same inode block");

    let at = raw_entry_of_c(&bytes);
    let delta = i16::from_le_bytes([bytes[at + 2], bytes[at + 3]]);
    let base = i64::from(c.inode_number) - i64::from(delta);
    let new_delta = (i64::from(a.number) - base) as i16;
    bytes[at..at + 2].copy_from_slice(&(a_ref as u16).to_le_bytes());
    bytes[at + 2..at + 4].copy_from_slice(&new_delta.to_le_bytes());

    let looped = Archive::open(bytes).unwrap();
    let err = looped.walk(&mut CountNodes(0)).unwrap_err();
    assert!(err.to_string().contains("directory loop at a/b/c"), "{err}");
}
