//! Crash consistency and the repair commands: kill -9 at any point of a
//! mount or an unmount leaves a state that `bale list --unreported`
//! explains and `bale cleanup --cleanup` repairs, and a read-write image
//! loses no data; `umount-all` for the SLURM epilog, busy mounts and
//! `--kill`.

mod support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::frame::{self, squashfs_image as image, Mounts};
use support::{bale, run_ok, succeed};

/// `cleanup` repairs the whole node: these tests must not see each
/// other's deliberate leftovers.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn workdir(name: &str) -> PathBuf {
    let dir = frame::base().join("home/root").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn root_mount(name: &str) -> PathBuf {
    frame::user_mounts().join("root").join(name)
}

fn list_json() -> serde_json::Value {
    serde_json::from_slice(&succeed(bale().args(["list", "--unreported", "--json"]))).unwrap()
}

fn records_of(mp: &Path) -> usize {
    let state = bale_registry::node::NodeState::lock(&frame::state()).unwrap();
    state
        .all()
        .unwrap()
        .iter()
        .flat_map(|(_, r)| r)
        .filter(|r| r.mountpoint == mp)
        .count()
}

fn lock_lines(image: &Path) -> usize {
    std::fs::read_to_string(format!("{}.lock", image.display()))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
}

fn assert_clean(image: &Path, mp: &Path) {
    assert!(
        frame::mounts_below(mp).is_empty(),
        "mount left on {}",
        mp.display()
    );
    assert_eq!(records_of(mp), 0, "record left for {}", mp.display());
    assert_eq!(
        lock_lines(image),
        0,
        "lock line left for {}",
        image.display()
    );
    assert!(
        frame::loops_below(image).is_empty(),
        "loop device left for {}",
        image.display()
    );
}

/// Starts `bale ARGS` in its own process group and SIGKILLs the group
/// (bale and the helper it runs) after `delay`.
fn kill_after(args: &[&str], delay: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bale"))
        .args(args)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let pgid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    child.wait().unwrap();
}

/// `bale cleanup --cleanup`; then whatever is left on `mp` is consistent:
/// mounted and recorded, or neither. Whether it is mounted.
fn repair(mp: &Path, round: u64) -> bool {
    let out = bale().args(["cleanup", "--cleanup"]).output().unwrap();
    assert!(
        out.status.success(),
        "cleanup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mounted = !frame::mounts_below(mp).is_empty();
    assert_eq!(
        mounted,
        records_of(mp) == 1,
        "round {round}: mount and record disagree"
    );
    // A record being written when the kill came leaves its temporary file.
    let temporaries: Vec<_> = std::fs::read_dir(frame::state())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp."))
        .collect();
    assert!(temporaries.is_empty(), "round {round}: {temporaries:?}");
    mounted
}

/// 30 rounds of `bale mount WHAT…` killed at growing delays, then, if it
/// got mounted on `target`, `bale umount RELEASE` likewise: each round,
/// `cleanup` leaves `image` either mounted and recorded or neither, and
/// finally nothing at all.
fn kill_mount_and_umount(what: &[&str], release: &str, target: &Path, image: &Path) {
    let (mut unreported, mut mounted_after) = (0, 0);
    let mount = [&["mount"][..], what].concat();
    let umount = ["umount", release];
    for round in 0..30u64 {
        let delay = Duration::from_micros(round * 900);
        kill_after(&mount, delay);
        if !frame::mounts_below(target).is_empty() {
            mounted_after += 1;
            kill_after(&umount, Duration::from_micros(round * 500));
        }
        let listed = list_json();
        let u = &listed["unreported"];
        let count = ["mounts", "records", "loops"]
            .iter()
            .map(|k| u[k].as_array().unwrap().len())
            .sum::<usize>();
        unreported += count;
        if repair(target, round) {
            bale().args(umount).assert().success();
        }
        assert_clean(image, target);
    }
    eprintln!("30 kills: {mounted_after} left a mount, {unreported} unreported items repaired");
}

#[test]
fn kill_9_during_mount_and_umount_is_explained_and_repaired() {
    let _serial = serial();
    let _site = frame::site();
    let dir = workdir("crash-kill");
    let img = image(&dir, "k.sqfs");
    let mp = root_mount("crash-kill");
    let _m = Mounts {
        prefixes: vec![mp.clone(), dir.clone()],
    };
    kill_mount_and_umount(&[s(&img), s(&mp)], s(&mp), &mp, &img);
}

#[test]
fn kill_9_during_a_module_mount_and_umount_is_explained_and_repaired() {
    let _serial = serial();
    let _site = frame::site();
    let name = "crash-module";
    let (target, _m) = frame::guarded_module(name);
    let image = frame::images().join(name).join("1.0.sqfs");
    let module = format!("{name}/1.0");
    kill_mount_and_umount(&[&module], &module, &target, &image);
}

#[test]
fn kill_9_during_a_read_write_umount_loses_no_data() {
    let _serial = serial();
    let _site = frame::site();
    let dir = workdir("crash-rw");
    let img = dir.join("rw.img");
    bale()
        .args(["create", s(&img), "--size", "16M"])
        .assert()
        .success();
    let mp = root_mount("crash-rw");
    let _m = Mounts {
        prefixes: vec![mp.clone(), dir.clone()],
    };
    let data = |round: u64| format!("written in round {round}\n").repeat(4000);
    let (rounds, mut still_mounted) = (12, 0);
    for round in 0..rounds {
        if frame::mounts_below(&mp).is_empty() {
            bale()
                .args(["mount", s(&img), s(&mp), "--rw"])
                .assert()
                .success();
        }
        // Not synced by the writer: the unmount must not lose it.
        std::fs::write(mp.join(format!("round-{round}")), data(round)).unwrap();
        kill_after(&["umount", s(&mp)], Duration::from_millis(round * 4));
        still_mounted += usize::from(repair(&mp, round));
    }
    eprintln!("{rounds} kills during umount: {still_mounted} left it mounted");
    if !frame::mounts_below(&mp).is_empty() {
        bale().args(["umount", s(&mp)]).assert().success();
    }
    assert_clean(&img, &mp);
    run_ok("e2fsck", &["-fn", s(&img)]);
    bale().args(["mount", s(&img), s(&mp)]).assert().success();
    for round in 0..rounds {
        let file = mp.join(format!("round-{round}"));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            data(round),
            "{}",
            file.display()
        );
    }
    bale().args(["umount", s(&mp)]).assert().success();
    assert_clean(&img, &mp);
}

#[test]
fn list_explains_each_kind_of_leftover_and_cleanup_repairs_it() {
    let _serial = serial();
    let _site = frame::site();
    let dir = workdir("crash-states");
    let (a, b, c) = (
        image(&dir, "a.sqfs"),
        image(&dir, "b.sqfs"),
        image(&dir, "c.sqfs"),
    );
    let (mpa, mpb) = (root_mount("crash-a"), root_mount("crash-b"));
    let _m = Mounts {
        prefixes: vec![mpa.clone(), mpb.clone(), dir.clone()],
    };
    bale().args(["mount", s(&a), s(&mpa)]).assert().success();
    bale().args(["mount", s(&b), s(&mpb)]).assert().success();
    // A: the mount went away behind the framework's back (record stays).
    run_ok("umount", &[s(&mpa)]);
    // B: the record went away (a crash between mount and record).
    frame::forget_record("root", &mpb);
    // C: a loop device attached by hand and never mounted.
    let out = run_ok("losetup", &["-r", "-f", "--show", s(&c)]);
    let device = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::write(format!("{}.lock", c.display()), "").unwrap();

    let listed = list_json();
    let u = &listed["unreported"];
    let has = |kind: &str, field: &str, want: &Path| {
        u[kind]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x[field].as_str() == Some(s(want)))
    };
    assert!(has("records", "mountpoint", &mpa), "{u}");
    assert!(has("mounts", "mountpoint", &mpb), "{u}");
    assert!(has("loops", "device", Path::new(&device)), "{u}");
    let text = bale().args(["list", "--unreported"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "record of {} for user root but nothing mounted",
            mpa.display()
        )),
        "{text}"
    );

    let dry = bale().args(["cleanup"]).output().unwrap();
    assert!(String::from_utf8_lossy(&dry.stdout).contains("cleanup unmounts it"));
    assert!(
        !frame::mounts_below(&mpb).is_empty(),
        "without --cleanup nothing changes"
    );
    bale()
        .args(["cleanup", "--cleanup", "-v"])
        .assert()
        .success();
    assert_clean(&a, &mpa);
    assert_clean(&b, &mpb);
    assert!(frame::loops_below(&c).is_empty());
    let u = &list_json()["unreported"];
    for kind in ["mounts", "records", "loops"] {
        assert!(
            u[kind]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| !x.to_string().contains("crash-")),
            "{u}"
        );
    }
}

/// Puts a record file back as it was, should a test that damaged it fail
/// (the other tests of the site would fail on it), and removes what
/// `cleanup` set aside.
struct RestoreRecords(PathBuf, String);

impl Drop for RestoreRecords {
    fn drop(&mut self) {
        if std::fs::read_to_string(&self.0).is_ok_and(|t| t.contains("garbage")) {
            let _ = std::fs::write(&self.0, &self.1);
        }
        for entry in std::fs::read_dir(frame::state())
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().contains(".corrupt.") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// A record file with a line no writer makes (a damaged disk, an edit by
/// hand): its owner's mounts and unmounts refuse, naming the file and the
/// repair; everyone else's go on (a mount it may name stays mounted);
/// `list` shows the rest and fails; `cleanup` sets the file aside and keeps
/// its good lines, after which all works again.
#[test]
fn a_malformed_record_file_is_reported_and_set_aside_by_cleanup() {
    let _serial = serial();
    let _site = frame::site();
    let dir = workdir("crash-malformed");
    let img = image(&dir, "a.sqfs");
    let (mpa, mpb) = (
        root_mount("crash-malformed-a"),
        root_mount("crash-malformed-b"),
    );
    let _m = Mounts {
        prefixes: vec![mpa.clone(), mpb.clone(), dir.clone()],
    };
    bale().args(["mount", s(&img), s(&mpa)]).assert().success();
    let records = frame::state().join("root.modules");
    let good = std::fs::read_to_string(&records).unwrap();
    let _restore = RestoreRecords(records.clone(), good.clone());
    std::fs::write(&records, format!("{good}garbage\n")).unwrap();
    let corrupt = "root.modules: line 2: malformed record";

    let out = bale().args(["mount", s(&img), s(&mpb)]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(corrupt) && err.contains("`bale cleanup --cleanup`"),
        "{err}"
    );
    assert!(frame::mounts_below(&mpb).is_empty());
    // Unmounting by the image's name reads the records first: the same.
    let out = bale().args(["umount", s(&img)]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(corrupt) && err.contains("`bale cleanup --cleanup`"),
        "{err}"
    );
    // Everyone else's mounts go on: the damaged file is root's alone.
    let theirs = frame::user_dir("bale-test", "crash-malformed");
    let their_img = image(&theirs, "t.sqfs");
    run_ok("chmod", &["644", s(&their_img)]);
    let their_mp = frame::user_mounts().join("bale-test/crash-malformed-t");
    let _theirs = Mounts {
        prefixes: vec![their_mp.clone(), theirs.clone()],
    };
    for args in [
        vec!["mount", s(&their_img), s(&their_mp)],
        vec!["umount", s(&their_mp)],
    ] {
        let out = frame::bale_as("bale-test", &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(frame::mounts_below(&their_mp).is_empty());
    // A module, shared, stays mounted when released: the damaged file may
    // name it; cleanup unmounts it once nothing readable does.
    let (module, _module_mounts) = frame::guarded_module("crashmal");
    for args in [["mount", "crashmal/1.0"], ["umount", "crashmal/1.0"]] {
        let out = frame::bale_as("bale-test", &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        frame::is_mounted(&module),
        "released while a damaged record may name it"
    );

    let listed = bale().arg("list").output().unwrap();
    assert_eq!(listed.status.code(), Some(1));
    let (out, err) = (
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr),
    );
    assert!(
        out.contains(&format!("{}: mounted from", mpa.display())),
        "{out}"
    );
    assert!(err.contains(corrupt), "{err}");
    let listed = bale()
        .args(["list", "--unreported", "--json"])
        .output()
        .unwrap();
    assert_eq!(listed.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let malformed = json["unreported"]["malformed_records"].to_string();
    assert!(malformed.contains(corrupt), "{json}");

    let out = succeed(bale().args(["cleanup", "--cleanup"]));
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("set aside") && out.contains(corrupt), "{out}");
    let aside: Vec<_> = std::fs::read_dir(frame::state())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| s(p).contains("root.modules.corrupt."))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(&aside[0]).unwrap(),
        format!("{good}garbage\n")
    );
    assert_eq!(std::fs::read_to_string(&records).unwrap(), good);
    assert!(
        out.contains("unmounted forgotten") && !frame::is_mounted(&module),
        "{out}"
    );
    succeed(bale().arg("list"));
    assert!(
        !frame::mounts_below(&mpa).is_empty(),
        "the good line's mount stays"
    );
    bale().args(["umount", s(&mpa)]).assert().success();
    assert_clean(&img, &mpa);
}

/// A `bale run` in progress holds a loop device mounted only in its own
/// mount namespace: not a leftover for `list --unreported`, and `cleanup`
/// leaves it alone (every epilog on the node runs a cleanup).
#[test]
fn a_bale_run_in_progress_is_no_idle_loop_device() {
    let _serial = serial();
    let _site = frame::site();
    let dir = workdir("crash-run");
    let img = image(&dir, "r.sqfs");
    std::fs::write(format!("{}.lock", img.display()), "").unwrap();
    let _m = Mounts {
        prefixes: vec![dir.clone()],
    };
    let mut run = Command::new(env!("CARGO_BIN_EXE_bale"))
        .args(["run", "--backend", "kernel", s(&img), "--", "sleep", "4"])
        .spawn()
        .unwrap();
    assert!(support::fuse::wait_for(Duration::from_secs(10), || {
        !frame::loops_below(&img).is_empty()
    }));
    let u = &list_json()["unreported"];
    assert!(!u["loops"].to_string().contains("crash-run"), "{u}");
    let out = succeed(bale().args(["cleanup", "--cleanup"]));
    assert!(
        !String::from_utf8_lossy(&out).contains("crash-run"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(run.wait().unwrap().success());
    assert!(support::fuse::wait_for(Duration::from_secs(5), || {
        frame::loops_below(&img).is_empty()
    }));
}

/// The epilog's cleanup never kills: a mount no record explains is
/// nobody's to end processes for (another user may work in it); it is
/// reported busy, and every other repair is still made.
#[test]
fn the_epilogs_cleanup_kills_no_one_and_repairs_the_rest() {
    let _serial = serial();
    let _site = frame::site();
    let dir = workdir("crash-epilog-cleanup");
    let (a, b) = (image(&dir, "a.sqfs"), image(&dir, "b.sqfs"));
    let (mpa, mpb) = (root_mount("crash-ec-a"), root_mount("crash-ec-b"));
    let _m = Mounts {
        prefixes: vec![mpa.clone(), mpb.clone(), dir.clone()],
    };
    bale().args(["mount", s(&a), s(&mpa)]).assert().success();
    bale().args(["mount", s(&b), s(&mpb)]).assert().success();
    // A: forgotten (its record lost) and busy with another user's process.
    frame::forget_record("root", &mpa);
    let mut bystander = Command::new("setpriv")
        .args([
            "--reuid",
            "bale-other",
            "--regid",
            "bale-other",
            "--init-groups",
        ])
        .args(["sleep", "300"])
        .current_dir(&mpa)
        .spawn()
        .unwrap();
    // B: its mount gone behind bale's back (a stale record).
    run_ok("umount", &[s(&mpb)]);
    frame::job("7601", "bale-test");
    let out = bale()
        .args(["umount-all", "--job-id", "7601", "--kill", "--cleanup"])
        .output()
        .unwrap();
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(4), "{said}{err}");
    assert!(err.contains(&format!("{}: busy", mpa.display())), "{err}");
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the epilog killed a bystander"
    );
    assert!(
        said.contains(&format!("dropped stale record of {}", mpb.display())),
        "{said}"
    );
    assert_clean(&b, &mpb);
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    succeed(bale().args(["cleanup", "--cleanup"]));
    assert_clean(&a, &mpa);
}

/// A job whose epilog did not release its records on this node (it
/// failed, or the job was named with `--job-id` on a node not its own):
/// cleanup releases them once SLURM says the job is over or has forgotten
/// it, and keeps those of running jobs; when SLURM cannot answer, it keeps
/// them and says so.
#[test]
fn cleanup_releases_the_records_of_jobs_that_are_over() {
    let _serial = serial();
    let _site = frame::site();
    let dir = frame::user_dir("bale-test", "crash-over");
    let images = ["done", "forgotten", "running", "unknowable"].map(|n| {
        let img = image(&dir, &format!("{n}.sqfs"));
        run_ok("chmod", &["644", s(&img)]);
        img
    });
    let mps = ["done", "forgotten", "running", "unknowable"]
        .map(|n| frame::user_mounts().join(format!("bale-test/over-{n}")));
    let _m = Mounts {
        prefixes: mps.iter().cloned().chain([dir.clone()]).collect(),
    };
    let jobs = ["7621", "7622", "7623", "7624"];
    for ((job, img), mp) in jobs.iter().zip(&images).zip(&mps) {
        frame::job(job, "bale-test");
        let out = frame::bale_as("bale-test", &["mount", s(img), s(mp), "--job-id", job]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    frame::job_in_state("7621", "bale-test", "COMPLETED");
    std::fs::remove_file(frame::base().join("jobs/7622")).unwrap();
    let out = bale().args(["cleanup", "--cleanup"]).output().unwrap();
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{said}{err}");
    assert!(
        said.contains("job 7621 is COMPLETED: released 1 for job 7621"),
        "{said}"
    );
    assert!(
        said.contains("SLURM no longer knows job 7622: released 1 for job 7622"),
        "{said}"
    );
    assert_clean(&images[0], &mps[0]);
    assert_clean(&images[1], &mps[1]);
    for (img, mp) in images.iter().zip(&mps).skip(2) {
        assert_eq!(frame::mounts_below(mp).len(), 1, "{}", mp.display());
        assert_eq!((records_of(mp), lock_lines(img)), (1, 1));
    }
    // SLURM cannot answer for job 7624 (an answer that cannot be read):
    // its record stays, and cleanup says why it did not decide.
    frame::job_in_state("7623", "bale-test", "TIMEOUT");
    std::fs::write(frame::base().join("jobs/7624"), "garbage").unwrap();
    let out = bale().args(["cleanup", "--cleanup"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot tell whether job 7624, which has records here, is over"),
        "{err}"
    );
    assert_clean(&images[2], &mps[2]);
    assert_eq!(records_of(&mps[3]), 1);
    frame::job_in_state("7624", "bale-test", "CANCELLED");
    succeed(bale().args(["cleanup", "--cleanup"]));
    assert_clean(&images[3], &mps[3]);
}

#[test]
fn umount_all_releases_a_job_and_kill_ends_what_keeps_it_busy() {
    let _serial = serial();
    let _site = frame::site();
    let dir = frame::user_dir("bale-test", "crash-job");
    let (x, y) = (image(&dir, "x.sqfs"), image(&dir, "y.sqfs"));
    run_ok("chmod", &["644", s(&x), s(&y)]);
    let (mpx, mpy) = (
        frame::user_mounts().join("bale-test/job-x"),
        frame::user_mounts().join("bale-test/job-y"),
    );
    let _m = Mounts {
        prefixes: vec![mpx.clone(), mpy.clone(), dir.clone()],
    };
    frame::job("7501", "bale-test");
    for (img, mp) in [(&x, &mpx), (&y, &mpy)] {
        let out = frame::bale_as("bale-test", &["mount", s(img), s(mp), "--job-id", "7501"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A process of `user` in the mount, started by SLURM job `job`.
    let hold = |user: &str, job: &str| {
        Command::new("setpriv")
            .args(["--reuid", user, "--regid", user, "--init-groups"])
            .args(["sleep", "300"])
            .env("SLURM_JOB_ID", job)
            .current_dir(&mpx)
            .spawn()
            .unwrap()
    };
    let mut holder = hold("bale-test", "7501");
    // The epilog runs as root.
    let out = bale()
        .args(["umount-all", "--job-id", "7501"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "busy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{} (sleep)", holder.id())),
        "names the holder: {err}"
    );
    assert!(frame::mounts_below(&mpy).is_empty(), "the other mount went");
    assert!(!frame::mounts_below(&mpx).is_empty());
    // Others who were never part of the job work there too — another
    // user, and the owner in another job: not killed; the read-only mount
    // is detached and goes when they are done.
    let mut bystander = hold("bale-other", "7501");
    let mut other_job = hold("bale-test", "7599");
    let out = succeed(bale().args(["umount-all", "--job-id", "7501", "--kill", "--cleanup"]));
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains(&format!(
            "detached, still in use by others: {}",
            mpx.display()
        )),
        "{out}"
    );
    assert!(holder.try_wait().unwrap().is_some() || holder.wait().is_ok());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the epilog killed another user's process"
    );
    assert!(
        other_job.try_wait().unwrap().is_none(),
        "the epilog killed the owner's process of another job"
    );
    assert!(frame::mounts_below(&mpx).is_empty(), "detached");
    for mut spared in [bystander, other_job] {
        spared.kill().unwrap();
        spared.wait().unwrap();
    }
    assert!(support::fuse::wait_for(Duration::from_secs(5), || {
        frame::loops_below(&x).is_empty()
    }));
    assert_clean(&x, &mpx);
    assert_clean(&y, &mpy);
    // Another user cannot release someone else's job.
    frame::job("7502", "bale-test");
    let out = frame::bale_as("bale-other", &["umount-all", "--job-id", "7502"]);
    assert!(frame::refusal(&out, 3).contains("refused by rule job-owner"));
    // cleanup is root's.
    let out = frame::bale_as("bale-other", &["cleanup", "--cleanup"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused by rule admin-only"));
}

/// `umount-all --kill` by a user ends only that user's processes: the
/// helper runs as root and must not kill others' (nor root's) for them.
/// The mount then stays busy (exit 4, said in one line) until the others
/// are gone.
#[test]
fn a_users_kill_ends_only_the_users_own_processes() {
    let _serial = serial();
    let _site = frame::site();
    let dir = frame::user_dir("bale-test", "crash-kill");
    let x = image(&dir, "x.sqfs");
    run_ok("chmod", &["644", s(&x)]);
    let mp = frame::user_mounts().join("bale-test/kill-x");
    let _m = Mounts {
        prefixes: vec![mp.clone(), dir.clone()],
    };
    let out = frame::bale_as("bale-test", &["mount", s(&x), s(&mp)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hold = |user: &str| {
        Command::new("setpriv")
            .args([
                "--reuid",
                user,
                "--regid",
                user,
                "--init-groups",
                "sleep",
                "300",
            ])
            .current_dir(&mp)
            .spawn()
            .unwrap()
    };
    let (mut own, mut others, mut roots) = (
        hold("bale-test"),
        hold("bale-other"),
        Command::new("sleep")
            .arg("300")
            .current_dir(&mp)
            .spawn()
            .unwrap(),
    );
    let out = frame::bale_as("bale-test", &["umount-all", "--kill"]);
    // Said once (it was printed twice: as it happened, and as the result).
    let busy = frame::refusal(&out, 4);
    assert!(busy.contains(": busy, in use by "), "{busy}");
    assert!(own.wait().is_ok());
    assert!(
        others.try_wait().unwrap().is_none(),
        "bale-other's process was killed"
    );
    assert!(
        roots.try_wait().unwrap().is_none(),
        "root's process was killed"
    );
    assert!(!frame::mounts_below(&mp).is_empty());
    for p in [&mut others, &mut roots] {
        p.kill().unwrap();
        p.wait().unwrap();
    }
    let out = frame::bale_as("bale-test", &["umount-all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean(&x, &mp);
}

/// A user image renamed, or removed with its lock file, while mounted: its
/// unmount still releases everything (the lock file beside the old name
/// says whose it is; with none there is no line to take out), so no
/// record is left that neither the user nor cleanup could drop.
#[test]
fn an_image_moved_or_removed_while_mounted_is_still_released() {
    let _serial = serial();
    let _site = frame::site();
    let dir = frame::user_dir("bale-test", "crash-moved");
    let _m = Mounts {
        prefixes: vec![dir.clone(), frame::user_mounts().join("bale-test")],
    };
    for (name, gone) in [
        ("moved.sqfs", "mv {0} {0}.old"),
        ("removed.sqfs", "rm {0} {0}.lock"),
    ] {
        let img = image(&dir, name);
        run_ok("chmod", &["644", s(&img)]);
        let mp = frame::user_mounts().join("bale-test").join(name);
        let out = frame::bale_as("bale-test", &["mount", s(&img), s(&mp)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(lock_lines(&img), 1);
        let script = gone.replace("{0}", s(&img));
        assert!(frame::as_user("bale-test", "sh", &["-c", &script])
            .status
            .success());
        let out = frame::bale_as("bale-test", &["umount", s(&mp)]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean(&img, &mp);
        let out = frame::bale_as("bale-test", &["umount-all"]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A user's FUSE server killed (the OOM killer, `kill -9`) leaves a mount
/// that fails every access with ENOTCONN: `list` says so to its owner and
/// root (another user cannot see the server, so it says nothing), and
/// `cleanup` unmounts it, leaving a served mount of the same user alone.
#[test]
fn a_fuse_mount_whose_server_was_killed_is_shown_and_cleaned_up() {
    let _serial = serial();
    let _site = frame::site();
    let dir = frame::user_dir("bale-test", "crash-fuse");
    let img = image(&dir, "f.sqfs");
    run_ok("chmod", &["644", s(&img)]);
    let (dead, alive) = (dir.join("dead-mp"), dir.join("alive-mp"));
    let _m = Mounts {
        prefixes: vec![dir.clone()],
    };
    for mp in [&dead, &alive] {
        assert!(frame::as_user("bale-test", "mkdir", &[s(mp)])
            .status
            .success());
        let out = frame::bale_as("bale-test", &["mount", "--backend", "fuse", s(&img), s(mp)]);
        assert!(out.status.success(), "{out:?}");
    }
    run_ok("pkill", &["-KILL", "-f", &format!("mount.*{}", s(&dead))]);
    let gone = |out: std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = |mp: &Path| {
            text.lines()
                .find(|l| l.contains(&format!("on {}: FUSE", s(mp))))
                .unwrap_or_else(|| panic!("{mp:?} not listed: {text}"))
                .contains("SERVER GONE")
        };
        (line(&dead), line(&alive))
    };
    assert!(
        support::fuse::wait_for(Duration::from_secs(10), || {
            gone(bale().args(["list"]).output().unwrap()) == (true, false)
        }),
        "root's list never showed the dead server"
    );
    assert_eq!(gone(frame::bale_as("bale-test", &["list"])), (true, false));
    assert_eq!(
        gone(frame::bale_as("bale-other", &["list"])),
        (false, false)
    );
    let json = list_json();
    let unserved: Vec<_> = json["unreported"]["fuse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["mountpoint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(unserved, [s(&dead)], "{json}");
    let again = frame::bale_as(
        "bale-test",
        &["mount", "--backend", "fuse", s(&img), s(&dead)],
    );
    let err = frame::refusal(&again, 1);
    assert!(
        err.contains("a FUSE mount whose server has ended is still there"),
        "{err}"
    );

    let out = succeed(bale().args(["cleanup", "--cleanup"]));
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains(&format!(
            "unmounted {} (FUSE, its server had ended)",
            s(&dead)
        )),
        "{out}"
    );
    assert!(frame::mounts_below(&dead).is_empty(), "still mounted");
    let read = frame::as_user("bale-test", "cat", &[s(&alive.join("d/f"))]);
    assert_eq!(String::from_utf8_lossy(&read.stdout), "f.sqfs", "{read:?}");
    let out = frame::bale_as("bale-test", &["umount", s(&alive)]);
    assert!(out.status.success(), "{out:?}");
}
