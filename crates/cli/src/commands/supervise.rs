//! Running a child while `bale run` waits for it: SIGINT, SIGTERM, SIGHUP
//! and SIGQUIT sent to `bale` are passed on to the child, and the child's
//! end becomes `bale`'s exit status (128 + the signal's number when a
//! signal ended it; 127 or 126 when it cannot start, as shells report
//! them: see `bale_helper::launch`). Signals a terminal sends are not
//! passed on: they reach the whole foreground process group, the child
//! included, already.

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::iterator::SignalsInfo;
use signal_hook::low_level::siginfo::Cause;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode};

/// Spawns `command`, forwards signals to it until it ends, and returns its
/// exit status.
pub fn supervise(command: &mut Command) -> anyhow::Result<ExitCode> {
    // Caught from before the child exists, so none can end us first.
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])?;
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let (reason, status) = bale_helper::launch::failure(command, &e);
            eprintln!("bale: {reason}");
            return Ok(ExitCode::from(status));
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
    let program = Path::new(command.get_program()).display();
    let status = status.map_err(|e| anyhow::anyhow!("{program}: {e}"))?;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(signal)) => ExitCode::from(bale_os::exit::by_signal(signal)),
        (None, None) => ExitCode::FAILURE,
    })
}
