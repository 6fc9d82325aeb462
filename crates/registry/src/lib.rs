//! `bale-registry`: what is mounted where, recorded so that crashes can be
//! explained and repaired.
//!
//! * [`cluster_lock`]: `<image>.lock` beside an image on the shared file
//!   system — which nodes have it mounted, read-only or read-write — with
//!   an owner record per line so a stale holder can be told from a live one;
//! * [`node`]: the per-node `<state dir>/<job or user>.modules` records,
//!   the reference counts of shared mounts;
//! * [`owner`]: who holds something (host, boot id, pid, time) and whether
//!   that holder is still alive;
//! * [`mountinfo`] and [`loops`]: the kernel's view, read from
//!   `/proc/self/mountinfo` and `/sys/block/loop*`;
//! * [`fuse_mounts`]: bale's FUSE mounts, whose they are and whether a
//!   process still serves them;
//! * [`mounted`]: the two together — which image is mounted at a place;
//! * [`survey`]: records set against the kernel's view (what nobody reported);
//! * [`atomic`]: files replaced by temp + rename, never half-written.

pub mod atomic;
pub mod cluster_lock;
mod error;
pub mod escape;
pub mod fuse_mounts;
pub mod loops;
pub mod mounted;
pub mod mountinfo;
pub mod node;
pub mod owner;
pub mod survey;

pub use error::Error;
