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
//! hands its command a clean signal mask ([`clear_for_exec`]: an exec
//! keeps the mask, and the standard library's `exec` leaves it as it is),
//! so an interrupt sent meanwhile, or later, reaches the command.

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
    mask(libc::SIG_BLOCK, &HELD);
}

/// Unblocks every signal, for the command about to replace the helper: a
/// program expects the mask a shell gives it, empty.
pub fn clear_for_exec() {
    mask(libc::SIG_SETMASK, &[]);
}

/// Changes this thread's signal mask by `how` with `signals`.
fn mask(how: libc::c_int, signals: &[libc::c_int]) {
    // SAFETY: sigemptyset/sigaddset fill a local set; pthread_sigmask only
    // changes this thread's mask.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}
