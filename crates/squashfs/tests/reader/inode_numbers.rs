//! Two inodes given the same number (a crafted image): readers that meet a
//! number again take it for a hard link and skip it, so the second inode's
//! data would never be checked. The walk must call it corruption.

use crate::fixture::fixture;
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
fn an_inode_number_shared_by_two_inodes_is_corruption() {
    // Uncompressed metadata, so inodes and listings can be edited in place.
    let f = fixture("zstd", 4096, false, &["-noI", "-noD"]);
    let mut bytes = std::fs::read(&f.image).unwrap();
    let archive = Archive::open(bytes.clone()).unwrap();
    let (small_ref, small) = archive.lookup_path(b"small.txt", false).unwrap().unwrap();
    let (_, empty) = archive.lookup_path(b"empty", false).unwrap().unwrap();
    // The inode: its metadata block (2-byte header), then its offset in it;
    // the number is at byte 12 of the common header.
    let inode_at = archive.superblock().inode_table as usize
        + (small_ref >> 16) as usize
        + 2
        + (small_ref & 0xffff) as usize;
    let number = inode_at + 12..inode_at + 16;
    assert_eq!(bytes[number.clone()], small.number.to_le_bytes());
    bytes[number].copy_from_slice(&empty.number.to_le_bytes());
    // Its listing entry: inode offset, number delta, type 2 (file), name
    // length - 1, name; the delta moves with the number.
    let offset = (small_ref as u16).to_le_bytes();
    let dir_table = archive.superblock().directory_table as usize;
    let entry = (dir_table..bytes.len() - 17)
        .find(|&i| {
            bytes[i..i + 2] == offset
                && bytes[i + 4..i + 8] == [2, 0, 8, 0]
                && &bytes[i + 8..i + 17] == b"small.txt"
        })
        .expect("the listing entry of small.txt");
    let delta = i16::from_le_bytes([bytes[entry + 2], bytes[entry + 3]]);
    let moved = delta + (empty.number as i64 - small.number as i64) as i16;
    bytes[entry + 2..entry + 4].copy_from_slice(&moved.to_le_bytes());

    let crafted = Archive::open(bytes).unwrap();
    let err = crafted.walk(&mut Nothing).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "small.txt: inode number {} is also that of another inode",
            empty.number
        )),
        "{err}"
    );
}
