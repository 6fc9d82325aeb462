//! Concurrent module loads of one user on a node — the tasks of a job step
//! starting together, each running the TaskProlog — take turns, so that the
//! first one runs the helper and the others find its record and mount
//! without it: one sudo, helper run and `scontrol` per node and module
//! instead of one per task. The turn is a `flock` on a file of the caller's
//! in `/dev/shm` (node-local); anything odd about it (no `/dev/shm`, a
//! file someone else planted or linked there, a holder that does not let go
//! in time) only means going without a turn.

use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags};
use std::time::{Duration, Instant};

/// How long a load waits for the one before it (which mounts in well under
/// a second, or gives up on an image's lock after 20 s).
const WAIT: Duration = Duration::from_secs(30);

/// The caller's turn, held while this value lives.
pub struct Turn {
    _lock: Option<OwnedFd>,
}

/// Waits for the caller's turn (at most [`WAIT`]).
pub fn take() -> Turn {
    let uid = rustix::process::getuid();
    let path = format!("/dev/shm/bale-module-hook.{}.lock", uid.as_raw());
    let Ok(fd) = rustix::fs::open(
        path.as_str(),
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) else {
        return Turn { _lock: None };
    };
    // Ours as we made it: a regular file of ours, 0600, with no other name
    // (another user could link a 0666 file of ours here and hold that).
    let mine = rustix::fs::fstat(&fd).is_ok_and(|st| {
        st.st_uid == uid.as_raw()
            && FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
            && st.st_mode & 0o077 == 0
            && st.st_nlink == 1
    });
    if !mine {
        return Turn { _lock: None };
    }
    let poll = Duration::from_millis(5);
    match bale_os::flock::exclusive_until(&fd, Instant::now() + WAIT, poll) {
        Ok(true) => Turn { _lock: Some(fd) },
        Ok(false) | Err(_) => Turn { _lock: None },
    }
}
