//! Progress on stderr while a pack runs. On a terminal, a bar: a spinner
//! with the entry count while scanning, then bytes, files, rate and ETA
//! (from an archive, whose size is known only at its end, the spinner
//! stays, with the bytes read). For a batch job's log, on request, a plain
//! line every so often with the same figures.

use bale_pack::Progress;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

/// How progress is shown.
pub enum Show {
    Nothing,
    /// A bar, if stderr is a terminal.
    Bar,
    /// A line this often, wherever stderr goes.
    Lines(Duration),
}

/// Runs `work` while showing `progress`.
pub fn with_progress<T>(progress: &Progress, show: Show, work: impl FnOnce() -> T) -> T {
    let every = match show {
        Show::Bar if std::io::stderr().is_terminal() => None,
        Show::Lines(every) => Some(every),
        Show::Nothing | Show::Bar => return work(),
    };
    let finished = Finished::default();
    std::thread::scope(|s| {
        let finished = &finished;
        let shower: ScopedJoinHandle<()> = match every {
            None => s.spawn(move || draw_bar(progress, finished)),
            Some(every) => s.spawn(move || print_lines(progress, every, finished)),
        };
        let result = work();
        *finished.done.lock().unwrap() = true;
        finished.changed.notify_all();
        let _ = shower.join();
        result
    })
}

/// Set once the work is over.
#[derive(Default)]
struct Finished {
    done: Mutex<bool>,
    changed: Condvar,
}

impl Finished {
    /// Waits `timeout` or until the work is over; whether it is.
    fn wait(&self, timeout: Duration) -> bool {
        let done = self.done.lock().unwrap();
        *self
            .changed
            .wait_timeout_while(done, timeout, |done| !*done)
            .unwrap()
            .0
    }
}

/// Prints a progress line every `every` until the work is over.
fn print_lines(p: &Progress, every: Duration, finished: &Finished) {
    let (mut last_bytes, mut last_time) = (0, Instant::now());
    while !finished.wait(every) {
        let bytes = p.bytes_done.load(Ordering::Relaxed);
        let rate = (bytes - last_bytes) as f64 / last_time.elapsed().as_secs_f64();
        (last_bytes, last_time) = (bytes, Instant::now());
        eprintln!("bale: {}", status_line(p, rate as u64));
    }
}

/// Where the pack is, in words.
fn status_line(p: &Progress, rate: u64) -> String {
    let entries = p.entries.load(Ordering::Relaxed);
    let bytes = p.bytes_done.load(Ordering::Relaxed);
    let rate = HumanBytes(rate);
    match p.total_files.load(Ordering::Relaxed) {
        0 if bytes == 0 => format!("scanning: {entries} entries"),
        0 => format!("{entries} entries, {} read, {rate}/s", HumanBytes(bytes)),
        files => {
            let total = p.total_bytes.load(Ordering::Relaxed);
            let percent = (100 * bytes).checked_div(total).unwrap_or(100);
            format!(
                "{} of {} ({percent}%), {} of {files} files, {rate}/s",
                HumanBytes(bytes),
                HumanBytes(total),
                p.files_done.load(Ordering::Relaxed),
            )
        }
    }
}

/// Draws the bar until the work is over.
fn draw_bar(p: &Progress, finished: &Finished) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap());
    let mut packing = false;
    loop {
        let total_files = p.total_files.load(Ordering::Relaxed);
        if !packing && total_files > 0 {
            packing = true;
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {msg} {bytes_per_sec} ETA {eta}",
                )
                .unwrap(),
            );
            bar.set_length(p.total_bytes.load(Ordering::Relaxed));
        }
        if packing {
            bar.set_position(p.bytes_done.load(Ordering::Relaxed));
            let done = p.files_done.load(Ordering::Relaxed);
            bar.set_message(format!("{done}/{total_files} files"));
        } else {
            let entries = p.entries.load(Ordering::Relaxed);
            bar.set_message(match p.bytes_done.load(Ordering::Relaxed) {
                0 => format!("scanning: {entries} entries"),
                bytes => format!("{entries} entries, {} read", HumanBytes(bytes)),
            });
            bar.tick();
        }
        if finished.wait(Duration::from_millis(100)) {
            break;
        }
    }
    bar.finish_and_clear();
}
