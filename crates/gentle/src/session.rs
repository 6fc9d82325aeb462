//! What `du` and `rm` share: options common to both, the walker with its
//! stat limiter, the monitor thread, the final rate report and exit status.

use crate::console::Console;
use crate::limiter::{InvalidRate, RateLimiter};
use crate::monitor::{report_rates, Monitor, Progress};
use crate::stats::Op;
use crate::walker::Walker;
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// The default number of walker threads: metadata calls wait on the file
/// system, not the CPU, so more threads than cores hide their latency.
pub const DEFAULT_WORKERS: usize = 8;

/// Options both tools take.
#[derive(Debug, Clone)]
pub struct CommonOptions {
    pub quiet: bool,
    pub verbose: u8,
    /// `statx` calls per second; `None` for no limit.
    pub stat_limit: Option<f64>,
    /// Always print the final rates.
    pub rate_report: bool,
    pub workers: usize,
    /// Never show a progress display (e.g. while asking questions).
    pub quiet_progress: bool,
}

impl Default for CommonOptions {
    fn default() -> Self {
        CommonOptions {
            quiet: false,
            verbose: 0,
            stat_limit: None,
            rate_report: false,
            workers: DEFAULT_WORKERS,
            quiet_progress: false,
        }
    }
}

/// A limiter for `rate`, or none for no rate (or a rate of 0, "unlimited").
pub fn limiter(rate: Option<f64>) -> Result<Option<RateLimiter>, InvalidRate> {
    match rate {
        None | Some(0.0) => Ok(None),
        Some(r) => RateLimiter::new(r).map(Some),
    }
}

pub struct Session {
    pub console: Arc<Console>,
    pub walker: Walker,
    pub options: CommonOptions,
    /// The call kinds this tool reports.
    ops: Vec<Op>,
    /// The signal that interrupted us (0: none), for the exit status.
    stopped_by: Arc<AtomicI32>,
}

impl Session {
    pub fn new(prog: &str, options: CommonOptions, ops: &[Op]) -> Result<Self, InvalidRate> {
        let console = Arc::new(Console::new(prog, options.quiet));
        // First: the walker's descriptor budget follows the limit.
        // A deep, wide walk with many workers holds many directory descriptors.
        bale_os::limits::raise_open_files();
        let mut walker = Walker::new(options.workers, Arc::clone(&console));
        walker.stat_limit = limiter(options.stat_limit)?;
        Ok(Session {
            console,
            walker,
            options,
            ops: ops.to_vec(),
            stopped_by: Arc::new(AtomicI32::new(0)),
        })
    }

    /// Start watching signals and showing progress.
    pub fn start_monitor(&self) -> io::Result<Monitor> {
        let monitor = Monitor::start(
            Arc::clone(&self.console),
            Arc::clone(&self.walker.stats),
            Arc::clone(&self.walker.stop),
            Arc::clone(&self.stopped_by),
            self.ops.clone(),
            if self.options.quiet_progress {
                Progress::Off
            } else {
                Progress::choose(self.options.quiet, self.options.verbose)
            },
        )?;
        if self.options.verbose > 0 {
            let limit = match &self.walker.stat_limit {
                Some(l) => format!("{}/s", l.rate()),
                None => "none".to_string(),
            };
            self.console.note(&format!(
                "walking with {} workers, stat limit {limit}",
                self.walker.workers
            ));
        }
        Ok(monitor)
    }

    pub fn interrupted(&self) -> bool {
        self.walker.stop.load(Ordering::Acquire)
    }

    /// Print the closing lines (rates when asked for or verbose, the
    /// interruption, the failure summary) and return the exit status:
    /// 128 + the signal when interrupted (130 for Ctrl-C, 143 for a
    /// SIGTERM such as scancel's), 1 after failures, else 0.
    pub fn finish(&self) -> u8 {
        if self.options.rate_report || self.options.verbose > 0 {
            report_rates(&self.console, &self.walker.stats, &self.ops);
        }
        let interrupted = self.interrupted();
        if interrupted {
            self.console.note(&format!(
                "interrupted after {} entries",
                self.walker.stats.entries()
            ));
        }
        if let Some(summary) = self.console.failure_summary() {
            self.console.note(&summary);
        }
        if interrupted {
            match self.stopped_by.load(Ordering::Relaxed) {
                0 => 130,
                signal => bale_os::exit::by_signal(signal),
            }
        } else if self.console.failure_count() > 0 {
            1
        } else {
            0
        }
    }
}
