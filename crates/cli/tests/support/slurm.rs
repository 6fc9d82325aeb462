//! A real SLURM cluster for the tests: munged, slurmctld on this machine and
//! one slurmd per simulated node (support/nodes.rs, so each node has its own
//! mounts and records), started by hand while any test holds a [`Cluster`]
//! and stopped when the last one ends, also on failure. It runs on the test
//! site with the real `scontrol`; the site's machine-wide flock also keeps
//! another test binary from starting a second cluster. The TaskProlog and
//! Epilog are contrib/slurm's scripts installed with the `bale` under test,
//! and a stand-in syslog collects what they and bale log.

use super::frame::{self, Options, Scontrol, Site, Syslog};
use super::nodes::SimNode;
use super::{run, run_ok};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The compute nodes.
pub const NODES: [&str; 2] = ["node1", "node2"];
/// The test site of the cluster: the real `scontrol` asks it.
pub const SITE: Options = Options {
    scontrol: Scontrol::Real,
    ..Options::DEFAULT
};
const CONF: &str = "/etc/slurm/slurm.conf";
const MARK: &str = "# written by bale's test suite (crates/cli/tests/support/slurm.rs)";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// Scripts, spool and state directories, logs.
pub fn dir() -> PathBuf {
    frame::base().join("slurm")
}

/// How many [`Cluster`]s this process holds, and the cluster while > 0.
static HELD: Mutex<(usize, Option<Running>)> = Mutex::new((0, None));

/// The cluster, running while held.
pub struct Cluster;

pub fn cluster() -> Cluster {
    let mut held = lock();
    if held.0 == 0 {
        held.1 = Some(Running::start());
    }
    held.0 += 1;
    Cluster
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut held = lock();
        held.0 -= 1;
        if held.0 == 0 {
            held.1 = None;
        }
    }
}

fn lock() -> MutexGuard<'static, (usize, Option<Running>)> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cluster {
    /// Runs `program ARGS` as root on compute node `node`.
    pub fn on(&self, node: &str, program: &str, args: &[&str]) -> Output {
        let held = lock();
        let running = held.1.as_ref().expect("the cluster runs while held");
        let found = running.nodes.iter().find(|n| n.name == node);
        found
            .unwrap_or_else(|| panic!("no node {node}"))
            .run(program, args)
    }

    /// Runs `bale ARGS` as `user` on compute node `node`.
    pub fn bale_on(&self, node: &str, user: &str, args: &[&str]) -> Output {
        let mut all = vec!["-u", user, "--", env!("CARGO_BIN_EXE_bale")];
        all.extend_from_slice(args);
        self.on(node, "runuser", &all)
    }

    /// Asserts that a syslog message containing `text` arrives (within 5 s:
    /// the stand-in syslog reads in a thread of its own).
    pub fn assert_logged(&self, text: &str) {
        let messages = || {
            let held = lock();
            let running = held.1.as_ref().expect("the cluster runs while held");
            running.syslog.messages()
        };
        let found = wait_until(Duration::from_secs(5), || {
            messages().iter().any(|m| m.contains(text))
        });
        assert!(
            found,
            "no syslog message with {text:?} in {:#?}",
            messages()
        );
    }

    /// Submits a batch job as `user` (`sbatch --parsable ARGS`, run in
    /// `workdir`); its id.
    pub fn submit(&self, user: &str, workdir: &Path, args: &[&str]) -> String {
        let out = Command::new("runuser")
            .args(["-u", user, "--", "sbatch", "--parsable"])
            .args(args)
            .current_dir(workdir)
            .output()
            .expect("runuser sbatch");
        super::ok(out)
    }

    /// Waits until the job has ended and its epilog has run on every node;
    /// its final state (`COMPLETED`, `CANCELLED`, …).
    pub fn wait_done(&self, job: &str) -> String {
        const ENDED: [&str; 5] = ["COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL"];
        let mut state = String::new();
        let ended = wait_until(JOB_TIMEOUT, || {
            state = job_state(job);
            ENDED.contains(&state.as_str())
        });
        assert!(ended, "job {job} is {state} after {JOB_TIMEOUT:?}");
        state
    }

    /// Each node's state as `sinfo` shows it (`idle`, `mixed`, `drained`, …).
    pub fn node_states(&self) -> Vec<(String, String)> {
        node_states()
    }
}

/// A job's state; `COMPLETING` while epilogs still run.
fn job_state(job: &str) -> String {
    let queued = super::ok(run_ok("squeue", &["-h", "-j", job, "-o", "%T"]));
    if queued == "COMPLETING" {
        return queued;
    }
    let shown = super::ok(run_ok("scontrol", &["show", "job", "-o", job]));
    shown
        .split_whitespace()
        .find_map(|f| f.strip_prefix("JobState="))
        .unwrap_or_default()
        .to_string()
}

fn node_states() -> Vec<(String, String)> {
    let out = run("sinfo", &["-h", "-N", "-o", "%N %T"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, s)| (n.to_string(), s.trim().to_string()))
        .collect()
}

/// Polls `done` every 100 ms until it holds or `timeout` passed; whether
/// it held.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

/// The running cluster. Fields drop in order after [`Running::drop`]
/// stopped the daemons: the syslog, the nodes, the site.
struct Running {
    /// In the order they stop: slurmds, slurmctld, munged (if ours).
    daemons: Vec<Daemon>,
    syslog: Syslog,
    nodes: Vec<SimNode>,
    _site: Site,
}

impl Running {
    fn start() -> Running {
        let site = frame::site_with(SITE);
        for tool in [
            "/usr/sbin/slurmctld",
            "/usr/sbin/slurmd",
            "/usr/sbin/munged",
        ] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run scripts/test.sh (it installs slurm-wlm and munge)"
            );
        }
        if let Ok(existing) = std::fs::read_to_string(CONF) {
            assert!(
                existing.starts_with(MARK),
                "{CONF} exists and is not the test suite's: refusing to replace a real SLURM configuration"
            );
        }
        stop_leftovers();
        let _ = std::fs::remove_dir_all(dir());
        for sub in ["", "log", "ctld"] {
            std::fs::create_dir_all(dir().join(sub)).unwrap();
        }
        for sub in ["log", "ctld"] {
            run_ok("chown", &["slurm:", dir().join(sub).to_str().unwrap()]);
        }
        run_ok("chmod", &["755", dir().to_str().unwrap()]);
        let bale = Path::new(env!("CARGO_BIN_EXE_bale"));
        for script in ["task-prolog.sh", "epilog.sh"] {
            install_script(script, bale, &dir().join(script));
        }
        let syslog = Syslog::capture(&site);
        let mut running = Running {
            daemons: Vec::new(),
            syslog,
            nodes: Vec::new(),
            _site: site,
        };
        std::fs::write(CONF, conf()).unwrap();
        if let Some(munged) = munged() {
            running.daemons.push(munged);
        }
        running.daemons.insert(
            0,
            Daemon::spawn("slurmctld", Command::new("/usr/sbin/slurmctld").arg("-D")),
        );
        for name in NODES {
            let node = SimNode::start(name, &frame::state());
            let mut slurmd = node.command("/usr/sbin/slurmd", &["-D", "-N", name]);
            running
                .daemons
                .insert(0, Daemon::spawn(&format!("slurmd {name}"), &mut slurmd));
            running.nodes.push(node);
        }
        let idle = wait_until(START_TIMEOUT, || {
            let states = node_states();
            states.len() == NODES.len() && states.iter().all(|(_, s)| s == "idle")
        });
        assert!(
            idle,
            "the nodes are not idle after {START_TIMEOUT:?}: {:?} (logs in {})",
            node_states(),
            dir().join("log").display()
        );
        running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Jobs first: their slurmstepd would keep a node's namespace alive.
        let _ = run("scancel", &["--partition", "debug"]);
        wait_until(JOB_TIMEOUT, || {
            run("squeue", &["-h"])
                .stdout
                .iter()
                .all(u8::is_ascii_whitespace)
        });
        for daemon in &mut self.daemons {
            daemon.stop();
        }
        if std::fs::read_to_string(CONF).is_ok_and(|c| c.starts_with(MARK)) {
            let _ = std::fs::remove_file(CONF);
        }
    }
}

/// Stops the SLURM daemons of an earlier test run that was killed before
/// it could stop them (their pid files are in [`dir`]).
fn stop_leftovers() {
    let Ok(entries) = std::fs::read_dir(dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "pid") {
            continue;
        }
        let pid = std::fs::read_to_string(&path).unwrap_or_default();
        let pid = pid.trim();
        let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !pid.is_empty() && command.starts_with("slurm") {
            eprintln!("stopping {} ({pid}) left by an earlier run", command.trim());
            let _ = run("kill", &["-TERM", pid]);
            wait_until(Duration::from_secs(10), || {
                !Path::new(&format!("/proc/{pid}")).exists()
            });
        }
    }
}

/// contrib/slurm/NAME installed as `target`, calling `bale`.
pub fn install_script(name: &str, bale: &Path, target: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib/slurm")
        .join(name);
    let text =
        std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let line = "BALE=/usr/bin/bale ";
    assert!(text.contains(line), "{}: no {line:?}", source.display());
    let text = text.replace(line, &format!("BALE={} ", bale.display()));
    std::fs::write(target, text).unwrap();
    run_ok("chmod", &["755", target.to_str().unwrap()]);
}

/// A minimal slurm.conf: slurmctld here, the nodes on 127.0.0.1 with a
/// port each, contrib/slurm's TaskProlog and Epilog.
fn conf() -> String {
    let d = dir();
    let d = d.display();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let mut conf = format!(
        "{MARK}
ClusterName=baletest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={d}/ctld
SlurmdSpoolDir={d}/spool.%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=2
TaskProlog={d}/task-prolog.sh
Epilog={d}/epilog.sh
"
    );
    for (k, name) in NODES.iter().enumerate() {
        conf += &format!(
            "NodeName={name} NodeAddr=127.0.0.1 Port={} CPUs=2 RealMemory=1000 State=UNKNOWN\n",
            6831 + k
        );
    }
    conf += &format!(
        "PartitionName=debug Nodes={} Default=YES MaxTime=INFINITE State=UP\n",
        NODES.join(",")
    );
    conf
}

/// Starts munged unless one already answers (then it is not ours to stop).
fn munged() -> Option<Daemon> {
    if run("munge", &["-n"]).status.success() {
        return None;
    }
    std::fs::create_dir_all("/run/munge").unwrap();
    run_ok("chown", &["munge:", "/run/munge"]);
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=munge",
        "--regid=munge",
        "--init-groups",
        "/usr/sbin/munged",
        "--foreground",
    ]);
    let daemon = Daemon::spawn("munged", &mut command);
    let up = wait_until(START_TIMEOUT, || run("munge", &["-n"]).status.success());
    assert!(up, "munged does not answer after {START_TIMEOUT:?}");
    Some(daemon)
}

/// A daemon started in the foreground, its output in [`dir`]/log.
struct Daemon {
    name: String,
    child: Child,
}

impl Daemon {
    fn spawn(name: &str, command: &mut Command) -> Daemon {
        let log = dir()
            .join("log")
            .join(format!("{}.out", name.replace(' ', ".")));
        let log = std::fs::File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child,
        }
    }

    /// SIGTERM, then SIGKILL if it has not ended within 10 s.
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = run("kill", &["-TERM", &pid]);
        let ended = wait_until(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        if !ended {
            eprintln!("{} ({pid}) did not end on SIGTERM: SIGKILL", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
