//! Signals while the helper works. A terminal's Ctrl-C, Ctrl-Z or hang-up
//! (the helper runs in the caller's foreground process group) or a TERM
//! that sudo relays must neither end the helper half-way through a change
//! (a record whose mount never came, a stale record another user's mount
//! is then counted against) nor stop it while it holds the node's records
//! lock, for which every other mount and unmount on the node waits.
//!
//! So they are blocked for the helper's whole (short) life: one that
//! arrives stays pending and the request completes consistently, while
//! the caller's `bale`, which got the same Ctrl-C, returns at once. `run`
//! hands its command a clean signal mask (the standard library's exec
//! resets it), so an interrupt sent meanwhile reaches the command.

/// The signals a user can make reach the helper: from the terminal, or
/// through sudo, which relays them.
const HELD: [libc::c_int; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// Blocks [`HELD`] for this thread and the threads it starts.
pub fn hold_off() {
    // SAFETY: sigemptyset/sigaddset fill a local set; pthread_sigmask only
    // changes this thread's mask.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        for signal in HELD {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
