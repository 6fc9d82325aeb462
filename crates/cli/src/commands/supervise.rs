//! Running a child while `bale run` waits for it: SIGINT, SIGTERM, SIGHUP
//! and SIGQUIT sent to `bale` are passed on to the child, and the child's
//! end becomes `bale`'s exit status (128 + the signal's number when a
//! signal ended it; 127 when the program is not found, 126 when it cannot
//! be run, as shells report them). Signals a terminal sends are not
//! passed on: they reach the whole foreground process group, the child
//! included, already.

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::SignalsInfo;
use signal_hook::low_level::siginfo::Cause;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};

/// Spawns `command`, forwards signals to it until it ends, and returns its
/// exit status.
pub fn supervise(command: &mut Command) -> anyhow::Result<ExitCode> {
    let program = command.get_program().to_string_lossy().into_owned();
    // Caught from before the child exists, so none can end us first.
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])?;
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("bale: {program}: {e}");
            let not_found = e.kind() == std::io::ErrorKind::NotFound;
            return Ok(ExitCode::from(if not_found { 127 } else { 126 }));
        }
    };
    // A pidfd never names another process, even once the child is reaped.
    let pid = rustix::process::Pid::from_child(&child);
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            if matches!(origin.cause, Cause::Kernel) {
                continue;
            }
            if let Some(signal) = rustix::process::Signal::from_named_raw(origin.signal) {
                let _ = rustix::process::pidfd_send_signal(&pidfd, signal);
            }
        }
    });
    let status = child.wait();
    handle.close();
    let _ = forwarder.join();
    let status = status.map_err(|e| anyhow::anyhow!("{program}: {e}"))?;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(signal)) => ExitCode::from(128u8.wrapping_add(signal as u8)),
        (None, None) => ExitCode::FAILURE,
    })
}
