//! `bale module-hook`, what modulefiles run: load mounts a software
//! module's image (shared, counted by owner), unload releases it, a module
//! without an image is left alone, a failure never fails the module load
//! unless the site is strict (it goes to syslog), and inside a SLURM job
//! step the mount belongs to the job.

mod support;

use std::path::Path;
use std::process::Output;
use support::frame::{self, Mounts, Syslog};
use support::ok;

fn hook(user: &str, action: &str, module: &str) -> Output {
    frame::bale_as(user, &["module-hook", action, module])
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
    let target = frame::software_module(name);
    let _mounts = Mounts {
        prefixes: vec![target.clone(), frame::images().join(name)],
    };
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
}

#[test]
fn a_failed_mount_goes_to_syslog_and_fails_only_a_strict_site() {
    let site = frame::site();
    let name = "hook-broken";
    let target = frame::software_module(name);
    let _mounts = Mounts {
        prefixes: vec![target.clone(), frame::images().join(name)],
    };
    // The module's directory is gone: the image cannot be mounted there.
    std::fs::remove_dir_all(&target).unwrap();
    let module = format!("{name}/1.0");
    let syslog = Syslog::capture(&site);
    quiet(hook("bale-test", "load", &module));
    let logged = syslog.messages();
    assert!(
        logged
            .iter()
            .any(|m| m.contains("bale[") && m.contains(&format!("module-hook: {module}: "))),
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
    let target = frame::software_module(name);
    let _mounts = Mounts {
        prefixes: vec![target.clone(), frame::images().join(name)],
    };
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
