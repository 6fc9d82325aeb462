//! Progress on stderr while a pack runs. On a terminal, a bar: a spinner
//! with the entry count while scanning, then bytes, files, rate and ETA
//! (from an archive, whose size is known only at its end, the spinner
//! stays, with the bytes read). For a batch job's log, on request, a plain
//! line every so often with the same figures.

use bale_pack::Progress;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::{Scope, ScopedJoinHandle};
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
    let stop = AtomicBool::new(false);
    let finished = (Mutex::new(false), Condvar::new());
    std::thread::scope(|s| {
        let drawer: ScopedJoinHandle<()> = match every {
            None => spawn_drawer(s, progress, &stop),
            Some(every) => {
                let finished = &finished;
                s.spawn(move || print_lines(progress, every, finished))
            }
        };
        let result = work();
        stop.store(true, Ordering::Relaxed);
        *finished.0.lock().unwrap() = true;
        finished.1.notify_all();
        let _ = drawer.join();
        result
    })
}

/// Prints a progress line every `every` until `finished` is set.
fn print_lines(p: &Progress, every: Duration, finished: &(Mutex<bool>, Condvar)) {
    let (mut last_bytes, mut last_time) = (0, Instant::now());
    let mut done = finished.0.lock().unwrap();
    loop {
        done = finished.1.wait_timeout(done, every).unwrap().0;
        if *done {
            return;
        }
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

fn spawn_drawer<'s>(
    s: &'s Scope<'s, '_>,
    p: &'s Progress,
    stop: &'s AtomicBool,
) -> ScopedJoinHandle<'s, ()> {
    s.spawn(move || {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap());
        let mut packing = false;
        while !stop.load(Ordering::Relaxed) {
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
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    })
}
