//! Running the server in the background without starting the program
//! again: the front end forks while it is still single-threaded; the child
//! starts its own session, mounts and serves, and reports through a pipe
//! either that the mount is ready or why it failed. The front end waits
//! for that report and returns once the mount serves requests, or fails
//! with the child's one-line error.

use crate::error::Error;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};
use std::io::{PipeReader, PipeWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a child writes once its mount is ready; anything else is an error.
const READY: &[u8] = b"ready\n";

/// How long a child may take to mount (fusermount3 may wait on a slow
/// parallel file system).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The child's end of the report to the front end.
pub struct Report {
    pipe: Option<PipeWriter>,
}

impl Report {
    /// The mount is ready: lets go of the front end's standard streams and
    /// of the working directory (so the server keeps no other file system
    /// busy), then tells the front end, which returns.
    pub fn ready(&mut self) -> std::io::Result<()> {
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        rustix::stdio::dup2_stdin(&null)?;
        rustix::stdio::dup2_stdout(&null)?;
        rustix::stdio::dup2_stderr(&null)?;
        std::env::set_current_dir("/")?;
        if let Some(mut pipe) = self.pipe.take() {
            pipe.write_all(READY)?;
        }
        Ok(())
    }
}

/// Runs `serve` in a detached child and returns, in the front end, once
/// the child called [`Report::ready`] (or with the error that ended it
/// first). The child never returns: it exits when `serve` does, logging an
/// error that came after it was ready. Only the calling thread lives on in
/// the child, so this refuses to fork once other threads run.
pub fn detach(
    mountpoint: &Path,
    serve: impl FnOnce(&mut Report) -> Result<(), Error>,
) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::new(mountpoint, e);
    if thread_count().map_err(fail)? > 1 {
        return Err(Error::new(
            mountpoint,
            "cannot start the server in the background: threads already run",
        ));
    }
    let (reader, writer) = std::io::pipe().map_err(fail)?;
    // SAFETY: the process has a single thread (checked above), so the
    // child's copy holds no lock or state of a thread that vanished.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(fail(std::io::Error::last_os_error()));
    }
    match Pid::from_raw(pid) {
        None => {
            drop(reader);
            serve_detached(writer, mountpoint, serve)
        }
        Some(child) => {
            drop(writer);
            wait_for_report(reader, child, mountpoint)
        }
    }
}

/// The child: a session of its own (no terminal's signals), then `serve`.
fn serve_detached(
    pipe: PipeWriter,
    mountpoint: &Path,
    serve: impl FnOnce(&mut Report) -> Result<(), Error>,
) -> ! {
    let mut report = Report { pipe: Some(pipe) };
    let result = rustix::process::setsid()
        .map_err(|e| Error::new(mountpoint, format!("setsid: {e}")))
        .and_then(|_| serve(&mut report));
    let Err(e) = result else {
        std::process::exit(0);
    };
    match report.pipe.take() {
        Some(mut pipe) => {
            let _ = writeln!(pipe, "{e}");
        }
        None => tracing::error!("{e}"),
    }
    std::process::exit(1)
}

/// The front end: reads the child's report until the child lets go of the
/// pipe, or gives up (and kills it) after [`START_TIMEOUT`].
fn wait_for_report(mut pipe: PipeReader, child: Pid, mountpoint: &Path) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::new(mountpoint, e);
    let deadline = Instant::now() + START_TIMEOUT;
    let mut report = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec::try_from(left).map_err(|e| fail(std::io::Error::other(e)))?;
        match poll(&mut [PollFd::new(&pipe, PollFlags::IN)], Some(&timeout)) {
            Ok(0) => {
                let _ = rustix::process::kill_process(child, Signal::KILL);
                let _ = rustix::process::waitpid(Some(child), WaitOptions::empty());
                return Err(Error::new(mountpoint, "the server did not start in time"));
            }
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(fail(e.into())),
        }
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => report.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    if report == READY {
        return Ok(());
    }
    let _ = rustix::process::waitpid(Some(child), WaitOptions::empty());
    let message = String::from_utf8_lossy(&report);
    let message = message.trim();
    Err(if message.is_empty() {
        Error::new(mountpoint, "the server exited without mounting")
    } else {
        Error::Relayed(message.to_string())
    })
}

/// Threads of this process.
fn thread_count() -> std::io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}
