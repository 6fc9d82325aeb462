//! `bale-fuse`: a read-only FUSE driver for squashfs images, built on
//! [`bale_squashfs::reader::Archive`]. Requests are served by several
//! threads sharing the reader's block caches; since an image never changes
//! while mounted, the kernel is told to cache entries, attributes, pages
//! and directory listings for a long time. `docs/fuse.md` explains the
//! design.
//!
//! The pieces a front end needs: [`mount`] (mount and return a [`Server`]
//! that serves until unmounted or signalled, or in the background with
//! [`Server::spawn`]), [`daemon`] (start the server
//! detached and wait until it is ready), [`unmount`] and [`logging`].

mod attr;
pub mod daemon;
mod error;
mod errors;
mod fs;
mod inodes;
mod layouts;
mod listing;
pub mod logging;
mod mount;
mod options;
mod prefill;
mod server;
mod unmount;
mod xattr;

pub use error::Error;
pub use mount::mount;
pub use options::MountConfig;
pub use server::{Background, Server};
pub use unmount::unmount;
