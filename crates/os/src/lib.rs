//! Small facts about the running system that several layers of bale need
//! alike — the FUSE driver, the privileged helper, the gentle tree tools
//! and the CLI — kept here once instead of in each of them.

pub mod exit;
pub mod flock;
pub mod limits;
pub mod mount_root;
pub mod reason;
