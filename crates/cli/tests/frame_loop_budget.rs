//! Rule `loop-budget` end to end, on a site whose `loop_budget` is 2. The
//! helper reads only `/etc/bale/config.toml` and all tests of a binary
//! share one site, so this test has a binary of its own. Only loop devices
//! bale attached count: one attached by someone else is in use throughout.

mod support;

use std::path::Path;
use std::time::Duration;
use support::frame::{self, as_user_command, bale_as, refusal, Mounts, Options};
use support::fuse::wait_for;
use support::{ok, run_ok};

const USER: &str = "bale-test";
const SITE: Options = Options {
    extra_config: "loop_budget = 2\n",
    ..Options::DEFAULT
};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Loop devices attached by bale, on the whole node.
fn bales_loops() -> usize {
    bale_registry::loops::attached()
        .unwrap()
        .iter()
        .filter(|l| bale_kmount::loopdev::attached_by_bale(&l.device))
        .count()
}

/// Waits until `n` loop devices of bale are attached (autoclear may lag
/// behind the unmount or the end of a run).
fn assert_bales_loops(n: usize) {
    assert!(
        wait_for(Duration::from_secs(5), || bales_loops() == n),
        "{} loop devices of bale, not {n}",
        bales_loops()
    );
}

#[test]
fn mounts_and_runs_beyond_the_budget_are_refused_until_a_device_is_free() {
    let _site = frame::site_with(SITE);
    assert_bales_loops(0);
    let home = frame::user_dir(USER, "budget");
    let (a, b) = ("budget-a", "budget-b");
    let mut prefixes = vec![home.clone(), frame::user_mounts().join(USER)];
    for name in [a, b] {
        frame::software_module(name);
        prefixes.extend([frame::versions().join(name), frame::images().join(name)]);
    }
    let _m = Mounts { prefixes };
    let [one, two, theirs] = ["one.sqfs", "two.sqfs", "theirs.sqfs"].map(|name| {
        let image = frame::squashfs_image(&home, name);
        run_ok("chmod", &["644", s(&image)]);
        image
    });
    // Someone else's loop device (detached by `Mounts`) is not bale's.
    run_ok("losetup", &["-r", "-f", s(&theirs)]);
    let (module_a, module_b) = (format!("{a}/1.0"), format!("{b}/1.0"));
    ok(bale_as(USER, &["mount", &module_a]));
    ok(bale_as(USER, &["mount", s(&one)]));
    assert_bales_loops(2);

    let marker = home.join("ran");
    let touch = ["touch", s(&marker)];
    let run_two = [&["run", "--backend", "kernel", s(&two), "--"][..], &touch].concat();
    for args in [&["mount", s(&two)][..], &["mount", &module_b], &run_two] {
        let line = refusal(&bale_as(USER, args), 3);
        assert!(
            line.contains(
                "refused by rule loop-budget: 2 loop devices of bale in use on this node, its budget (loop_budget) is 2"
            ),
            "{args:?}: {line}"
        );
    }
    assert!(!marker.exists(), "the refused run's command never started");
    assert_bales_loops(2);
    // Sharing a mounted module takes no other device.
    ok(bale_as("bale-other", &["mount", &module_a]));

    // An unmount frees a device: accepted again.
    ok(bale_as(
        USER,
        &["umount", s(&frame::user_mounts().join(USER).join("one"))],
    ));
    assert_bales_loops(1);
    ok(bale_as(USER, &run_two));
    assert!(marker.exists(), "the run's command ran");
    assert_bales_loops(1);
    ok(bale_as(USER, &["mount", s(&two)]));
    assert_bales_loops(2);

    ok(bale_as(
        USER,
        &["umount", s(&frame::user_mounts().join(USER).join("two"))],
    ));
    for user in [USER, "bale-other"] {
        ok(bale_as(user, &["umount", &module_a]));
    }
    assert_bales_loops(0);
}

/// A run attaches under the node's record lock, like every mount, so two
/// requests cannot both take the last device of the budget: while the
/// lock is held elsewhere, the run waits and its command does not start.
#[test]
fn a_run_waits_for_the_node_lock_before_attaching() {
    let _site = frame::site_with(SITE);
    let home = frame::user_dir(USER, "budget-lock");
    let _m = Mounts {
        prefixes: vec![home.clone()],
    };
    let image = frame::squashfs_image(&home, "locked.sqfs");
    run_ok("chmod", &["644", s(&image)]);
    std::fs::create_dir_all(frame::state()).unwrap();
    let lock = std::fs::File::create(frame::state().join(".lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();

    let marker = home.join("ran");
    let args = [
        "run",
        "--backend",
        "kernel",
        s(&image),
        "--",
        "touch",
        s(&marker),
    ];
    let mut run = as_user_command(USER, env!("CARGO_BIN_EXE_bale"), &args)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(run.try_wait().unwrap().is_none(), "the run did not wait");
    assert!(
        !marker.exists(),
        "the command started before the lock was free"
    );
    assert_bales_loops(0);

    drop(lock);
    assert!(run.wait().unwrap().success());
    assert!(
        marker.exists(),
        "the run's command ran once the lock was free"
    );
    assert_bales_loops(0);
}
