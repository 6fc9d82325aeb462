//! Interrupted mounts: signals a user can make reach the root helper —
//! Ctrl-C, Ctrl-Z or a hang-up from the terminal, a TERM relayed by sudo —
//! neither end it half way through a mount nor stop it while it holds the
//! node's records; and the record a helper killed outright leaves is not
//! counted against the next mount of its module.

mod support;

use bale_registry::node::{Key, NodeState, Record};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::frame::{self, bale_as};
use support::fuse::wait_for;
use support::{ok, run_ok};

/// The pid of the running helper whose command line mentions `needle`.
fn helper_pid(needle: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let mentions = String::from_utf8_lossy(&cmdline).contains(needle);
        (comm.trim() == "bale-helper" && mentions).then_some(pid)
    })
}

/// `bale mount MODULE` by bale-test while the module's lock file is held
/// for `seconds` (so the helper waits there): the lock's holder, the
/// mount, and the waiting helper's pid.
fn mount_waiting_for_its_lock(module: &str, seconds: u32) -> (Child, Child, i32) {
    let lock = frame::images().join(format!("{module}.sqfs.lock"));
    let holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", &seconds.to_string()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mount = frame::as_user_command("bale-test", env!("CARGO_BIN_EXE_bale"), &["mount", module])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = None;
    assert!(wait_for(Duration::from_secs(5), || {
        pid = helper_pid(module);
        pid.is_some()
    }));
    (holder, mount, pid.unwrap())
}

#[test]
fn signals_reaching_the_helper_during_a_mount_do_not_stop_it_half_way() {
    let _site = frame::site();
    let (target, _mounts) = frame::guarded_module("sigmod");
    let (mut holder, mount, pid) = mount_waiting_for_its_lock("sigmod/1.0", 2);
    std::thread::sleep(Duration::from_millis(300));
    for signal in ["TERM", "HUP", "INT", "QUIT", "TSTP"] {
        run_ok("kill", &["-s", signal, &pid.to_string()]);
    }
    holder.wait().unwrap();
    let out = mount.wait_with_output().unwrap();
    assert_eq!(
        ok(out).trim(),
        target.display().to_string(),
        "the mount went through"
    );
    let list = ok(bale_as("bale-test", &["list"]));
    assert!(
        list.contains("sigmod/1.0") && list.contains("mounted"),
        "{list}"
    );
    ok(bale_as("bale-test", &["umount", "sigmod/1.0"]));
    assert!(!frame::is_mounted(&target));
}

/// A record without its mount (a helper killed between the two) is
/// dropped when the module is next mounted afresh: counted as a user of
/// that new mount, it kept it mounted after its real users left.
#[test]
fn a_stale_record_is_not_counted_against_a_fresh_mount_of_its_module() {
    let _site = frame::site();
    let (target, _mounts) = frame::guarded_module("stalemod");
    let image = frame::images().join("stalemod/1.0.sqfs");
    {
        let state = NodeState::lock(&frame::state()).unwrap();
        let stale = Record {
            module: Some("stalemod/1.0".into()),
            rw: false,
            image: std::fs::canonicalize(&image).unwrap(),
            mountpoint: std::fs::canonicalize(&target).unwrap(),
        };
        // A job's key: other tests here hold records of bale-test.
        state.write(&Key::job("7399").unwrap(), &[stale]).unwrap();
    }
    ok(bale_as("bale-other", &["mount", "stalemod/1.0"]));
    assert!(frame::is_mounted(&target));
    let released = ok(bale_as("bale-other", &["umount", "stalemod/1.0"]));
    assert!(!released.contains("still used"), "{released}");
    assert!(!frame::is_mounted(&target));
    let list = ok(support::bale().args(["list"]).output().unwrap());
    assert!(!list.contains("stalemod"), "{list}");
}

/// A user holding their own image's lock file (it is theirs, so they can)
/// makes only their own mount of it wait: the helper waits for an image's
/// lock before it takes the node's records, so another user's module load
/// goes through meanwhile (it waited up to 20 s per queued request).
#[test]
fn a_user_holding_their_own_lock_file_holds_up_no_one_else() {
    let _site = frame::site();
    let (target, _module) = frame::guarded_module("busymod");
    let home = frame::user_dir("bale-test", "heldlock");
    let mounted = frame::user_mounts().join("bale-test").join("held");
    let _mounts = frame::Mounts {
        prefixes: vec![home.clone(), mounted.clone()],
    };
    let image = frame::squashfs_image(&home, "held.sqfs");
    run_ok("chown", &["-R", "bale-test:", home.to_str().unwrap()]);
    let lock = home.join("held.sqfs.lock");
    // bale-test holds their own image's lock file (theirs to open).
    let hold_for_6_s = || {
        let holder = frame::as_user_command(
            "bale-test",
            "flock",
            &[lock.to_str().unwrap(), "sleep", "6"],
        )
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        holder
    };
    // `bale ARGS` as bale-test, waiting for the lock file in the background.
    let in_background = |args: &[&str]| {
        let waiting = frame::as_user_command("bale-test", env!("CARGO_BIN_EXE_bale"), args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        waiting
    };
    let mut holder = hold_for_6_s();
    let waiting = in_background(&["mount", image.to_str().unwrap()]);
    ok(bale_as("bale-other", &["mount", "busymod/1.0"]));
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the module's mount waited for the user's lock file"
    );
    assert!(frame::is_mounted(&target));
    ok(bale_as("bale-other", &["umount", "busymod/1.0"]));
    holder.wait().unwrap();
    assert_eq!(
        ok(waiting.wait_with_output().unwrap()),
        mounted.display().to_string()
    );
    // Unmounting waits for the user's lock file too before it takes the
    // node's records: others' mounts and unmounts go on meanwhile.
    let mut holder = hold_for_6_s();
    let unmounting = in_background(&["umount", mounted.to_str().unwrap()]);
    ok(bale_as("bale-other", &["mount", "busymod/1.0"]));
    ok(bale_as("bale-other", &["umount", "busymod/1.0"]));
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the module's mount and unmount waited for the user's lock file"
    );
    holder.wait().unwrap();
    ok(unmounting.wait_with_output().unwrap());
    assert!(!frame::is_mounted(&mounted));
    let list = ok(bale_as("bale-test", &["list"]));
    assert!(!list.contains("held"), "{list}");
}

/// A helper killed outright (SIGKILL cannot be held) is reported as such,
/// not with an empty message.
#[test]
fn a_helper_killed_outright_is_reported() {
    let _site = frame::site();
    let (_target, _mounts) = frame::guarded_module("killedmod");
    let (mut holder, mount, pid) = mount_waiting_for_its_lock("killedmod/1.0", 3);
    run_ok("kill", &["-KILL", &pid.to_string()]);
    let out = mount.wait_with_output().unwrap();
    holder.wait().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("bale-helper: ended without an answer (killed by signal 9)"),
        "{err}"
    );
    // Killed while it waited for the image's lock, before the node's
    // records: nothing to repair.
    let list = ok(bale_as("bale-test", &["list"]));
    assert!(!list.contains("killedmod"), "{list}");
}
