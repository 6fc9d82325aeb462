//! `bale module-hook`, what modulefiles run: load mounts a software
//! module's image (shared, counted by owner), unload releases it, a module
//! without an image is left alone, a failure never fails the module load
//! unless the site is strict (it goes to syslog), and inside a SLURM job
//! step the mount belongs to the job. A load its owner already holds, with
//! the image mounted, runs no helper (the TaskProlog loads every module
//! before every task); one whose mount is gone, or for another owner, does.

mod support;

use bale_registry::node::{Key, NodeState};
use std::path::{Path, PathBuf};
use std::process::Output;
use support::frame::{self, Syslog};
use support::{ok, run_ok};

const USER: &str = "bale-test";

fn hook(user: &str, action: &str, module: &str) -> Output {
    frame::bale_as(user, &["module-hook", action, module])
}

/// `bale module-hook load MODULE [--job-id JOB]` as [`USER`], as the
/// TaskProlog runs it.
fn load(module: &str, job: Option<&str>) -> Output {
    let mut args = vec!["module-hook", "load", module];
    args.extend(job.iter().flat_map(|job| ["--job-id", job]));
    frame::bale_as(USER, &args)
}

/// How many times the helper was asked to mount `module` for `job` (or
/// for the user, without one), by its messages in `syslog`.
fn helper_runs(syslog: &Syslog, module: &str, job: Option<&str>) -> usize {
    let request = match job {
        Some(job) => format!(": mount module {module:?} for job {job}: "),
        None => format!(": mount module {module:?}: "),
    };
    let messages = syslog.flushed();
    messages
        .iter()
        .filter(|m| m.contains(" bale-helper[") && m.contains(&request))
        .count()
}

/// The mount points in the records of `job` (or of [`USER`]) on this node.
fn recorded(job: Option<&str>) -> Vec<PathBuf> {
    let key = match job {
        Some(job) => Key::job(job).unwrap(),
        None => Key::user(USER).unwrap(),
    };
    let state = NodeState::snapshot(&frame::state()).unwrap().unwrap();
    let records = state.read(&key).unwrap();
    records.into_iter().map(|r| r.mountpoint).collect()
}

fn is_mounted(target: &Path) -> bool {
    frame::mounts_below(target).iter().any(|t| t == target)
}

/// A hook that did its work silently.
fn quiet(out: Output) {
    assert_eq!(ok(out.clone()), "");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn load_and_unload_share_one_mount_between_users() {
    let _site = frame::site();
    let name = "hook-share";
    let (target, _mounts) = frame::guarded_module(name);
    let module = format!("{name}/1.0");
    quiet(hook("bale-test", "load", &module));
    quiet(hook("bale-other", "load", &module));
    assert!(is_mounted(&target));
    let hello = ok(frame::as_user(
        "bale-other",
        "cat",
        &[target.join("bin/hello").to_str().unwrap()],
    ));
    assert_eq!(hello, format!("hello from {name}"));
    quiet(hook("bale-test", "unload", &module));
    assert!(is_mounted(&target), "bale-other still uses it");
    quiet(hook("bale-other", "unload", &module));
    assert!(!is_mounted(&target));
    assert!(frame::loops_below(&frame::images().join(name)).is_empty());
}

#[test]
fn a_module_without_an_image_is_left_alone() {
    let _site = frame::site();
    let dir = frame::versions().join("hook-plain/1.0");
    std::fs::create_dir_all(&dir).unwrap();
    quiet(hook("bale-test", "load", "hook-plain/1.0"));
    assert!(!is_mounted(&dir));
    quiet(hook("bale-test", "unload", "hook-plain/1.0"));
    // -v says where it looked, and by whose setting.
    let out = frame::bale_as(
        "bale-test",
        &["module-hook", "load", "hook-plain/1.0", "-v"],
    );
    assert!(out.status.success());
    let want = format!(
        "no image at {} (image_path from file /etc/bale/config.toml): left alone",
        frame::images().join("hook-plain/1.0.sqfs").display()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&want), "{err}");
}

#[test]
fn a_failed_mount_goes_to_syslog_and_fails_only_a_strict_site() {
    let site = frame::site();
    let name = "hook-broken";
    let (target, _mounts) = frame::guarded_module(name);
    // The module's directory is gone: the image cannot be mounted there.
    std::fs::remove_dir_all(&target).unwrap();
    let module = format!("{name}/1.0");
    let syslog = Syslog::capture(&site);
    quiet(hook("bale-test", "load", &module));
    let logged = syslog.messages();
    let why = format!(
        "module-hook: {module}: {}: no such directory: a module's image is mounted over",
        target.display()
    );
    assert!(
        logged
            .iter()
            .any(|m| m.contains("bale[") && m.contains(&why)),
        "{logged:#?}"
    );
    // Its unload has nothing to release: no helper run, no failure logged.
    quiet(hook("bale-test", "unload", &module));
    let logged = syslog.flushed();
    assert!(
        !logged.iter().any(|m| m.contains("umount module")),
        "{logged:#?}"
    );

    let strict = frame::strict_config(&site);
    let out = frame::as_user(
        "bale-test",
        "env",
        &[
            &format!("BALE_CONFIG={}", strict.path().display()),
            env!("CARGO_BIN_EXE_bale"),
            "module-hook",
            "load",
            &module,
        ],
    );
    let complaint = frame::refusal(&out, 1);
    assert!(
        complaint.starts_with(&format!("bale: module-hook: {module}: ")),
        "{complaint}"
    );
    assert!(!is_mounted(&target));
}

#[test]
fn inside_a_job_step_the_mount_belongs_to_the_job() {
    let _site = frame::site();
    let name = "hook-job";
    let (target, _mounts) = frame::guarded_module(name);
    frame::job("7301", "bale-test");
    let module = format!("{name}/1.0");
    quiet(frame::as_user(
        "bale-test",
        "env",
        &[
            "SLURM_JOB_ID=7301",
            "SLURMD_NODENAME=node1",
            env!("CARGO_BIN_EXE_bale"),
            "module-hook",
            "load",
            &module,
        ],
    ));
    assert!(is_mounted(&target));
    let listed = ok(frame::bale_as("bale-test", &["list", "--job-id", "7301"]));
    assert!(listed.contains(&target.display().to_string()), "{listed}");
    // The epilog's release of the job unmounts it.
    ok(support::bale()
        .args(["umount-all", "--job-id", "7301"])
        .output()
        .unwrap());
    assert!(!is_mounted(&target));
}

/// The tasks of a job step start together, each running the TaskProlog:
/// they take turns, so one runs the helper (and asks SLURM) and the others
/// find its mount.
#[test]
fn tasks_starting_together_run_the_helper_once() {
    let site = frame::site();
    let name = "hook-tasks";
    let (target, _mounts) = frame::guarded_module(name);
    frame::job("7303", USER);
    let module = format!("{name}/1.0");
    let syslog = Syslog::capture(&site);
    let tasks: Vec<_> = std::thread::scope(|s| {
        (0..8)
            .map(|_| {
                s.spawn(|| {
                    frame::as_user_command(
                        USER,
                        env!("CARGO_BIN_EXE_bale"),
                        &["module-hook", "load", &module, "--job-id", "7303"],
                    )
                    .output()
                    .unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect()
    });
    for task in tasks {
        quiet(task);
    }
    assert_eq!(helper_runs(&syslog, &module, Some("7303")), 1);
    assert_eq!(recorded(Some("7303")), [target.as_path()]);
}

#[test]
fn a_repeated_load_by_the_same_owner_runs_no_helper() {
    let site = frame::site();
    let name = "hook-again";
    let (target, _mounts) = frame::guarded_module(name);
    frame::job("7302", USER);
    let module = format!("{name}/1.0");
    let syslog = Syslog::capture(&site);
    for job in [Some("7302"), None] {
        quiet(load(&module, job));
        quiet(load(&module, job));
        assert_eq!(helper_runs(&syslog, &module, job), 1, "{job:?}");
        // The user's records may hold other tests' modules meanwhile.
        let mine: Vec<_> = recorded(job)
            .into_iter()
            .filter(|p| p.starts_with(&target))
            .collect();
        assert_eq!(mine, [target.as_path()], "{job:?}");
    }
    assert!(is_mounted(&target));
}

#[test]
fn a_load_after_the_mount_was_removed_behind_bales_back_mounts_again() {
    let site = frame::site();
    let name = "hook-removed";
    let (target, _mounts) = frame::guarded_module(name);
    frame::job("7303", USER);
    let module = format!("{name}/1.0");
    let syslog = Syslog::capture(&site);
    quiet(load(&module, Some("7303")));
    run_ok("umount", &[target.to_str().unwrap()]);
    assert_eq!(
        recorded(Some("7303")),
        [target.as_path()],
        "the record stays"
    );
    quiet(load(&module, Some("7303")));
    assert_eq!(helper_runs(&syslog, &module, Some("7303")), 2);
    assert!(is_mounted(&target));
    assert_eq!(recorded(Some("7303")), [target.as_path()]);
}

#[test]
fn another_job_on_the_node_gets_its_own_record() {
    let site = frame::site();
    let name = "hook-jobs";
    let (target, _mounts) = frame::guarded_module(name);
    frame::job("7304", USER);
    frame::job("7305", USER);
    let module = format!("{name}/1.0");
    let syslog = Syslog::capture(&site);
    quiet(load(&module, Some("7304")));
    quiet(load(&module, Some("7305")));
    assert_eq!(helper_runs(&syslog, &module, Some("7305")), 1);
    assert_eq!(recorded(Some("7305")), [target.as_path()]);
    // The first job's epilog leaves the mount to the second.
    for (job, mounted) in [("7304", true), ("7305", false)] {
        ok(support::bale()
            .args(["umount-all", "--job-id", job])
            .output()
            .unwrap());
        assert_eq!(is_mounted(&target), mounted, "after job {job}");
    }
}

/// Shares are per owner, not per shell: after `module load`, an unload in
/// a second shell releases the user's share, and the first shell's own
/// unload then finds nothing to release — the state it wants, so it
/// succeeds quietly even on a strict site (it failed: "not mounted for
/// user …"). A plain `bale umount` of it is still an error.
#[test]
fn an_unload_of_a_share_released_in_another_shell_succeeds() {
    let site = frame::site();
    let name = "hook-twice";
    let (target, _mounts) = frame::guarded_module(name);
    let module = format!("{name}/1.0");
    let strict = frame::strict_config(&site);
    let strict_env = format!("BALE_CONFIG={}", strict.path().display());
    let strict_hook = |action: &str| {
        let bale = env!("CARGO_BIN_EXE_bale");
        frame::as_user(
            USER,
            "env",
            &[&strict_env, bale, "module-hook", action, &module],
        )
    };
    quiet(strict_hook("load"));
    assert!(is_mounted(&target));
    quiet(strict_hook("unload"));
    assert!(!is_mounted(&target));
    quiet(strict_hook("unload"));
    let out = frame::bale_as(USER, &["umount", &module]);
    assert!(frame::refusal(&out, 1).contains("not mounted for user bale-test"));
}
