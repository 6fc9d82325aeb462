//! A benchmark, not a test: what the TaskProlog's `bale module-hook load
//! NAME/VERSION --job-id ID` calls cost on one node. slurmstepd runs the
//! TaskProlog before every task, so `srun -n N` starts N of them at once,
//! each loading the job's modules in turn. Here N concurrent "tasks" of an
//! unprivileged user each load three modules, first with nothing mounted
//! (the first call per module mounts it, the others find it recorded) and
//! again with everything recorded; it prints the time of each call and of
//! all tasks. It runs on the test site (support/frame.rs: the helper through
//! a real sudo rule, the fake `scontrol`), so no SLURM is needed.
//!
//! `scripts/bench/taskprolog.sh` runs it (release build, `--ignored`);
//! `BENCH_TASKS` (default `1 16 64`) and `BENCH_RUNS` (default 3) set the
//! task counts and the rounds of each.

mod support;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use support::frame::{self, Mounts};

const USER: &str = "bale-test";
const JOB: &str = "7801";
const MODULES: [&str; 3] = ["bench-tp-a", "bench-tp-b", "bench-tp-c"];

#[test]
#[ignore = "a benchmark: scripts/bench/taskprolog.sh runs it"]
fn taskprolog_module_loads() {
    let _site = frame::site();
    let dirs: Vec<PathBuf> = MODULES.iter().map(|m| frame::software_module(m)).collect();
    let mut prefixes = dirs.clone();
    prefixes.extend(MODULES.iter().map(|m| frame::images().join(m)));
    let _mounts = Mounts { prefixes };
    frame::job(JOB, USER);
    let tasks = setting("BENCH_TASKS", "1 16 64");
    let runs = setting("BENCH_RUNS", "3")[0];
    let user = (frame::uid(USER), frame::gid(USER));

    println!(
        "\n{} modules, job {JOB} of {USER}, helper through sudo; {runs} rounds each\n",
        MODULES.len()
    );
    println!("| tasks | modules | calls | per call: median | p90 | max | all tasks (median) |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for n in tasks {
        let (mut first, mut again) = (Rounds::default(), Rounds::default());
        for _ in 0..runs {
            release();
            first.add(round(n, user));
            for dir in &dirs {
                assert!(frame::mounts_below(dir).contains(dir), "{dir:?} mounted");
            }
            again.add(round(n, user));
        }
        first.print(n, "not mounted");
        again.print(n, "recorded");
    }
    release();
}

/// A whitespace-separated list of numbers from the environment.
fn setting(name: &str, default: &str) -> Vec<usize> {
    let text = std::env::var(name).unwrap_or_else(|_| default.into());
    let numbers: Vec<usize> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{name}: {text:?}")))
        .collect();
    assert!(!numbers.is_empty(), "{name} is empty");
    numbers
}

/// The epilog's release of the job: nothing mounted afterwards.
fn release() {
    support::run_ok(
        support::bale_path().to_str().unwrap(),
        &["umount-all", "--job-id", JOB],
    );
}

/// One round of `n` tasks of `user` (uid, gid) started together: every
/// call's time, and the time until the last task was done.
fn round(n: usize, user: (u32, u32)) -> (Vec<Duration>, Duration) {
    let start = Arc::new(Barrier::new(n + 1));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                MODULES.map(|m| load(&format!("{m}/1.0"), user))
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let calls = tasks
        .into_iter()
        .flat_map(|t| t.join().expect("a task"))
        .collect();
    (calls, began.elapsed())
}

/// One `bale module-hook load MODULE --job-id JOB` as `user`, with the
/// environment the TaskProlog gives it; how long it took.
fn load(module: &str, (uid, gid): (u32, u32)) -> Duration {
    let began = Instant::now();
    let out = Command::new(support::bale_path())
        .args(["module-hook", "load", module, "--job-id", JOB, "-v"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("bale");
    let took = began.elapsed();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{module}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// The calls and totals of several rounds of one task count.
#[derive(Default)]
struct Rounds {
    calls: Vec<Duration>,
    totals: Vec<Duration>,
}

impl Rounds {
    fn add(&mut self, (calls, total): (Vec<Duration>, Duration)) {
        self.calls.extend(calls);
        self.totals.push(total);
    }

    fn print(&mut self, n: usize, modules: &str) {
        self.calls.sort();
        self.totals.sort();
        let at =
            |sorted: &[Duration], q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        println!(
            "| {n} | {modules} | {} | {} | {} | {} | {} |",
            n * MODULES.len(),
            ms(at(&self.calls, 0.5)),
            ms(at(&self.calls, 0.9)),
            ms(at(&self.calls, 1.0)),
            ms(at(&self.totals, 0.5)),
        );
    }
}
