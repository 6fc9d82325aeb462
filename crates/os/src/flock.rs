//! Waiting for an exclusive `flock` with a deadline: the kernel's blocking
//! `flock` waits forever, and every lock of bale's (a node's records, an
//! image's cluster lock, the module loads' turns) must give up on a holder
//! that is stuck.

use rustix::fd::AsFd;
use rustix::fs::FlockOperation;
use std::time::{Duration, Instant};

/// Takes an exclusive `flock` of `fd`, trying every `poll` until
/// `deadline`; `false` if another holder kept it that long.
pub fn exclusive_until(
    fd: impl AsFd,
    deadline: Instant,
    poll: Duration,
) -> rustix::io::Result<bool> {
    loop {
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(true),
            Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(poll)
            }
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_waited_for_until_the_deadline_only() {
        let file = tempfile::tempfile().unwrap();
        let again = std::fs::File::open(format!(
            "/proc/self/fd/{}",
            rustix::fd::AsRawFd::as_raw_fd(&file)
        ))
        .unwrap();
        let poll = Duration::from_millis(5);
        assert!(exclusive_until(&file, Instant::now(), poll).unwrap());
        let started = Instant::now();
        let deadline = started + Duration::from_millis(100);
        assert!(!exclusive_until(&again, deadline, poll).unwrap());
        assert!(started.elapsed() >= Duration::from_millis(100));
        drop(file);
        assert!(exclusive_until(&again, Instant::now(), poll).unwrap());
    }
}
