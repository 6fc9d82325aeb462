//! Messages to the user: per-path errors (printed at once, tallied for the
//! final summary), reports and verbose output, all kept clear of the progress
//! display on a terminal.

use indicatif::ProgressBar;
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
        }
    }

    pub fn prog(&self) -> &str {
        &self.prog
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Route later output around this progress display.
    pub fn set_progress(&self, bar: ProgressBar) {
        let _ = self.bar.set(bar);
    }

    pub fn progress(&self) -> Option<&ProgressBar> {
        self.bar.get()
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

    /// Print a line to stdout, as bytes (names need not be UTF-8). The first failed write (a full disk behind
    /// `> file`) is reported and counted as a failure, so the exit status
    /// tells; a closed pipe (`| head`) just ends the output. Either way
    /// the work goes on: an `rm` is not left half done for its listing.
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
