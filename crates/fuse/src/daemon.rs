//! Running the server in the background: the front end starts itself
//! again as a detached child (own process group, standard output and
//! error on a pipe) and waits; the child mounts, writes [`READY`] and lets
//! go of the pipe. The front end returns once the mount serves requests,
//! or relays the child's error message and fails.

use crate::error::Error;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The line a child writes once its mount is ready.
const READY: &[u8] = b"bale-mount-ready\n";

/// How long a child may take to mount (fusermount3 may wait on a slow
/// parallel file system).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `program args` detached and waits until it calls [`ready`].
/// Anything it printed before is passed on to our standard error; if it
/// exits (or times out) without being ready, its output is the error.
pub fn spawn(program: &Path, args: &[OsString], mountpoint: &Path) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::new(mountpoint, e);
    let (mut reader, writer) = std::io::pipe().map_err(fail)?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(fail)?)
        .stderr(writer)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::new(program, e))?;
    // The command (and our copies of the pipe) are gone: the pipe ends
    // when the child lets go of it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut output = Vec::new();
        let _ = reader.read_to_end(&mut output);
        let _ = tx.send(output);
    });
    let Ok(output) = rx.recv_timeout(START_TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::new(mountpoint, "the server did not start in time"));
    };
    if let Some(before) = output.strip_suffix(READY) {
        std::io::stderr().write_all(before).map_err(fail)?;
        return Ok(());
    }
    let _ = child.wait();
    let message = String::from_utf8_lossy(&output);
    let message = message.trim().trim_start_matches("bale: ");
    Err(if message.is_empty() {
        Error::new(mountpoint, "the server exited without mounting")
    } else {
        Error::Relayed(message.to_string())
    })
}

/// In the child: reports the mount ready, then detaches from the parent's
/// pipe (standard output and error go to /dev/null) and from the working
/// directory, so it keeps no other file system busy.
pub fn ready() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(READY)?;
    out.flush()?;
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    rustix::stdio::dup2_stdout(&null)?;
    rustix::stdio::dup2_stderr(&null)?;
    std::env::set_current_dir("/")
}
