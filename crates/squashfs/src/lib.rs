//! The squashfs 4.0 on-disk format, as read by the Linux kernel,
//! `unsquashfs` and `squashfuse`.
//!
//! This crate is pure: it encodes and decodes the structures (superblock,
//! metadata blocks, inodes, directory listings, lookup tables, xattrs) and
//! reads images through positioned I/O (and asks a local file where its
//! holes are, [`holes`]). It never mounts or spawns anything.
//! `docs/format.md` describes the layout in prose.

pub mod block;
pub mod bytes;
pub mod compression;
pub mod dir;
pub mod error;
pub mod holes;
pub mod inode;
pub mod metadata;
pub mod reader;
pub mod superblock;
pub mod tables;
pub mod xattr;

pub use compression::{Codec, CompressionSpec, Compressor, CompressorOptions};
pub use error::{Error, Result};
pub use inode::{Inode, InodeData, InodeKind};
pub use reader::{Archive, CacheOptions, DirEntry, ReadAt};
pub use superblock::Superblock;
