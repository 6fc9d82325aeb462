//! Counters the engine updates while it runs, for a progress display, and
//! the flag that asks it to stop.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Progress {
    /// Entries found by the scan so far.
    pub entries: AtomicU64,
    /// Set once the scan is complete: files and bytes to pack.
    pub total_files: AtomicU64,
    pub total_bytes: AtomicU64,
    /// Files and bytes read so far.
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
    /// Set by the caller (e.g. on SIGINT) to abort; the pack then fails
    /// with `PackError::Cancelled` and leaves no image behind.
    pub cancelled: Arc<AtomicBool>,
}
