//! Messages to the user: per-path errors (printed at once, tallied for the
//! final summary), reports and verbose output, all kept clear of the progress
//! display on a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget};
use os_display::Quotable;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// An operation that failed on one path.
#[derive(Debug)]
pub struct Failed {
    /// What was attempted, e.g. "cannot remove".
    pub action: &'static str,
    pub error: io::Error,
}

impl Failed {
    pub fn new(action: &'static str, error: impl Into<io::Error>) -> Self {
        Failed {
            action,
            error: error.into(),
        }
    }
}

pub struct Console {
    prog: String,
    quiet: bool,
    bar: OnceLock<ProgressBar>,
    failures: Mutex<BTreeMap<String, u64>>,
    /// Standard output failed once; nothing more is written to it.
    output_failed: AtomicBool,
    /// End the process when the reader of standard output goes away.
    exit_when_unread: AtomicBool,
    /// A question waits for its answer (see [`Console::asking`]).
    asking: AtomicBool,
}

/// While it lives, a question waits for its answer; see [`Console::asking`].
pub struct Asking<'a>(&'a Console);

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        if let Some(bar) = self.0.bar.get() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.0.asking.store(false, Ordering::SeqCst);
    }
}

impl Console {
    /// `prog` prefixes every message ("bale du"); `quiet` silences per-path
    /// error lines (they are still counted and summarised).
    pub fn new(prog: impl Into<String>, quiet: bool) -> Self {
        Console {
            prog: prog.into(),
            quiet,
            bar: OnceLock::new(),
            failures: Mutex::new(BTreeMap::new()),
            output_failed: AtomicBool::new(false),
            exit_when_unread: AtomicBool::new(false),
            asking: AtomicBool::new(false),
        }
    }

    pub fn prog(&self) -> &str {
        &self.prog
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Exit at once, as if killed by SIGPIPE (status 141), when standard
    /// output turns out to be a closed pipe: for a tool whose only product
    /// is its output (`du … | head`), going on would be work for nobody.
    pub fn exit_when_unread(&self) {
        self.exit_when_unread.store(true, Ordering::Relaxed);
    }

    /// Route later output around this progress display.
    pub fn set_progress(&self, bar: ProgressBar) {
        let _ = self.bar.set(bar);
    }

    /// Mark that a question waits for its answer until the guard is
    /// dropped, and keep the progress display off the terminal meanwhile.
    /// Nothing is locked while the answer is awaited (the display is
    /// switched off, not suspended): the monitor thread must stay free to
    /// see a signal and end the program, as rm ends at its questions.
    pub fn asking(&self) -> Asking<'_> {
        self.asking.store(true, Ordering::SeqCst);
        if let Some(bar) = self.bar.get() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
            // Wipe the line it was drawn on (the last, the cursor at its end).
            let _ = write!(io::stderr().lock(), "\r\x1b[2K");
        }
        Asking(self)
    }

    /// Whether a question waits for its answer.
    pub fn is_asking(&self) -> bool {
        self.asking.load(Ordering::SeqCst)
    }

    fn with_bar_hidden(&self, f: impl FnOnce()) {
        match self.bar.get() {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Print a line to stderr as `prog: line`.
    pub fn note(&self, line: &str) {
        self.raw_err(&format!("{}: {line}", self.prog));
    }

    /// Print a line to stderr as is.
    pub fn raw_err(&self, line: &str) {
        self.with_bar_hidden(|| {
            let _ = writeln!(io::stderr().lock(), "{line}");
        });
    }

    /// Print a line to stdout, as bytes (names need not be UTF-8). The
    /// first failed write (a full disk behind `> file`) is reported and
    /// counted as a failure, so the exit status tells; a closed pipe
    /// (`| head`) just ends the output, unless [`Console::exit_when_unread`].
    /// Otherwise the work goes on: an `rm` is not left half done for its
    /// listing.
    pub fn out(&self, line: impl AsRef<[u8]>) {
        if self.output_failed.load(Ordering::Relaxed) {
            return;
        }
        let mut written = Ok(());
        self.with_bar_hidden(|| {
            let mut out = io::stdout().lock();
            written = out
                .write_all(line.as_ref())
                .and_then(|()| out.write_all(b"\n"));
        });
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::BrokenPipe
                && self.exit_when_unread.load(Ordering::Relaxed)
            {
                std::process::exit(bale_os::exit::by_signal(libc::SIGPIPE).into());
            }
            if !self.output_failed.swap(true, Ordering::Relaxed)
                && e.kind() != io::ErrorKind::BrokenPipe
            {
                let why = bale_os::reason::of(&e);
                self.note(&format!("standard output: {why}"));
                self.tally(why);
            }
        }
    }

    /// Record and (unless quiet) print a failure on `path`.
    pub fn fail(&self, path: &Path, failed: &Failed) {
        let why = bale_os::reason::of(&failed.error);
        if !self.quiet {
            self.note(&format!("{} {}: {why}", failed.action, path.quote()));
        }
        self.tally(why);
    }

    /// Record and (unless quiet) print a failure that is not an I/O error.
    pub fn fail_with(&self, message: &str, category: &str) {
        if !self.quiet {
            self.note(message);
        }
        self.tally(category.to_string());
    }

    fn tally(&self, category: String) {
        *self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(category)
            .or_insert(0) += 1;
    }

    pub fn failure_count(&self) -> u64 {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    /// "3 failures: 2 Permission denied, 1 No such file or directory", or
    /// `None` when nothing failed.
    pub fn failure_summary(&self) -> Option<String> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let total: u64 = failures.values().sum();
        if total == 0 {
            return None;
        }
        let parts: Vec<String> = failures.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let noun = if total == 1 { "failure" } else { "failures" };
        Some(format!("{total} {noun}: {}", parts.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_failures_by_reason() {
        let c = Console::new("t", true);
        assert_eq!(c.failure_summary(), None);
        let p = Path::new("x");
        c.fail(
            p,
            &Failed::new("cannot access", io::Error::from_raw_os_error(libc::ENOENT)),
        );
        c.fail(
            p,
            &Failed::new("cannot open", io::Error::from_raw_os_error(libc::EACCES)),
        );
        c.fail(
            p,
            &Failed::new("cannot open", io::Error::from_raw_os_error(libc::EACCES)),
        );
        assert_eq!(c.failure_count(), 3);
        assert_eq!(
            c.failure_summary().unwrap(),
            "3 failures: 1 No such file or directory, 2 Permission denied"
        );
    }
}
