//! The image reader: random access to a squashfs image through positioned
//! I/O, with byte-bounded caches of decompressed blocks shared by all
//! threads. Every structure read is checked against the image, so a
//! corrupt image yields [`crate::Error::Corrupt`], never a panic or a hang.
//! `docs/reader.md` explains the organization.

mod archive;
mod cache;
mod data_block;
mod dir;
mod file;
mod image;
mod inodes;
mod lookup;
mod metadata;
mod source;
mod walk;
mod xattrs;

pub use archive::{Archive, Region};
pub use cache::CacheOptions;
pub use dir::{DirEntry, ReadDir};
pub use file::{FileLayout, FileReader};
pub use source::{open_image_file, ReadAt};
pub use walk::{Node, Visitor};
