//! A progress bar on stderr while a pack runs: a spinner with the entry
//! count while scanning, then bytes, files, rate and ETA (from an archive,
//! whose size is known only at its end, the spinner stays, with the bytes
//! read). Shown only when stderr is a terminal.

use bale_pack::Progress;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

/// Runs `work` while drawing `progress` (unless `quiet`).
pub fn with_progress<T>(progress: &Progress, quiet: bool, work: impl FnOnce() -> T) -> T {
    if quiet || !std::io::stderr().is_terminal() {
        return work();
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let drawer: ScopedJoinHandle<()> = spawn_drawer(s, progress, &stop);
        let result = work();
        stop.store(true, Ordering::Relaxed);
        let _ = drawer.join();
        result
    })
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
