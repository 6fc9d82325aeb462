//! A background thread that watches signals and shows progress while a walk
//! runs: SIGUSR1 prints the current rates and the walk goes on; SIGINT or
//! SIGTERM asks the workers to stop after their calls in flight (a second
//! one exits at once). On a terminal a progress line shows entries seen and
//! the stat rate; elsewhere, with `-v`, a plain line is printed now and then.

use crate::console::Console;
use crate::stats::{rate, CallStats, Op};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;
use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(100);
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Off,
    /// A redrawn line on the terminal.
    Bar,
    /// A plain line every ten seconds.
    Lines,
}

impl Progress {
    /// A bar when stderr is a terminal (unless quiet); plain lines when it is
    /// not but the user asked for verbose output; otherwise nothing.
    pub fn choose(quiet: bool, verbose: u8) -> Self {
        if quiet {
            Progress::Off
        } else if io::stderr().is_terminal() {
            Progress::Bar
        } else if verbose > 0 {
            Progress::Lines
        } else {
            Progress::Off
        }
    }
}

pub struct Monitor {
    done: Arc<AtomicBool>,
    handle: signal_hook::iterator::Handle,
    thread: Option<JoinHandle<()>>,
}

/// The rate lines for `ops` as of now.
pub fn report_rates(console: &Console, stats: &CallStats, ops: &[Op]) {
    for &op in ops {
        console.raw_err(&stats.report_line(op));
    }
}

fn progress_text(stats: &CallStats) -> String {
    let elapsed = stats.elapsed();
    format!(
        "{} entries, {:.0} stat/s",
        stats.entries(),
        rate(stats.calls(Op::Stat), elapsed)
    )
}

impl Monitor {
    /// Install the signal handlers and start the thread. `ops` are the call
    /// kinds reported on SIGUSR1.
    pub fn start(
        console: Arc<Console>,
        stats: Arc<CallStats>,
        stop: Arc<AtomicBool>,
        stopped_by: Arc<AtomicI32>,
        ops: Vec<Op>,
        progress: Progress,
    ) -> io::Result<Monitor> {
        let mut signals = Signals::new([SIGUSR1, SIGINT, SIGTERM])?;
        let handle = signals.handle();
        let done = Arc::new(AtomicBool::new(false));
        let bar = (progress == Progress::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            console.set_progress(bar.clone());
            bar
        });
        let thread = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut last_line = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    for signal in signals.pending() {
                        match signal {
                            SIGUSR1 => report_rates(&console, &stats, &ops),
                            _ => {
                                // Before `stop`, which publishes it.
                                let _ = stopped_by.compare_exchange(
                                    0,
                                    signal,
                                    Ordering::Relaxed,
                                    Ordering::Relaxed,
                                );
                                let exit = bale_os::exit::by_signal(signal).into();
                                if stop.swap(true, Ordering::SeqCst) {
                                    console.note("interrupted again, exiting now");
                                    std::process::exit(exit);
                                }
                                if console.is_asking() {
                                    // A signal at a question ends the
                                    // program at once, as it ends rm (the
                                    // user is not waiting for anything
                                    // else); on a line of its own.
                                    console.raw_err("");
                                    std::process::exit(exit);
                                }
                                console.note("interrupted: stopping after the calls in flight");
                            }
                        }
                    }
                    if let Some(bar) = &bar {
                        bar.set_message(progress_text(&stats));
                        bar.tick();
                    } else if progress == Progress::Lines
                        && last_line.elapsed() >= PLAIN_PROGRESS_EVERY
                    {
                        last_line = Instant::now();
                        console.note(&format!("progress: {}", progress_text(&stats)));
                    }
                    // Woken early by `finish`, so ending costs no tick.
                    std::thread::park_timeout(TICK);
                }
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
            })
        };
        Ok(Monitor {
            done,
            handle,
            thread: Some(thread),
        })
    }

    /// Stop the thread, clear the progress line and restore the signals.
    pub fn finish(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}
