//! The pack engine: turns a directory tree into a squashfs 4.0 image.
//!
//! A pack runs in three phases. The **scan** lists and stats the tree with
//! many threads. The **data pipeline** reads files concurrently, compresses
//! blocks on every core and writes them in a fixed order (dedup, holes and
//! fragments included). The **metadata** phase writes the inode, directory,
//! fragment, export, id and xattr tables and the superblock, then the image
//! is synced and renamed into place. See docs/ARCHITECTURE.md.

mod archive;
mod archive_reader;
mod archive_tree;
mod budget;
mod dispatch;
mod emit;
pub mod error;
mod exclude;
mod flatten;
mod fragment_table;
mod ids;
mod image_file;
mod inodes;
pub mod options;
mod pipeline;
pub mod progress;
mod queue;
mod scan;
mod source;
mod source_reader;
mod source_root;
mod source_xattrs;
mod tar_format;
mod tar_members;
mod tree;
mod write_image;
mod xattr_writer;

pub use error::{PackError, Result};
pub use exclude::Excludes;
pub use options::PackOptions;
pub use progress::Progress;
pub use write_image::{pack, Summary};
