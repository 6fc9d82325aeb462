//! Several simulated nodes sharing one directory as the parallel file
//! system: read-only on many nodes, read-write on exactly one, two nodes
//! racing for read-write, and a crashed node's stale lock found and
//! broken.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::frame::{self, Mounts};
use support::nodes::SimNode;
use support::{bale, ok};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn nodes(prefix: &str, n: usize) -> Vec<SimNode> {
    (1..=n)
        .map(|k| SimNode::start(&format!("{prefix}{k}"), &frame::state()))
        .collect()
}

/// An ext4 image on the "parallel file system".
fn shared_image(name: &str) -> (PathBuf, PathBuf) {
    let dir = frame::base().join("home/root").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("shared.img");
    bale()
        .args(["create", s(&image), "--size", "16M"])
        .assert()
        .success();
    (dir, image)
}

fn mp(node: &SimNode, test: &str) -> PathBuf {
    frame::user_mounts()
        .join("root")
        .join(format!("{test}-{}", node.name))
}

fn lock_hosts(image: &Path) -> Vec<String> {
    std::fs::read_to_string(format!("{}.lock", image.display()))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            l.split_whitespace()
                .take(if l.starts_with("rw ") { 2 } else { 1 })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn refused(out: Output, rule: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("refused by rule {rule}")), "{err}");
}

#[test]
fn read_only_on_many_nodes_read_write_on_one() {
    let _site = frame::site();
    let (dir, image) = shared_image("mn-ro");
    let _m = Mounts {
        prefixes: vec![dir.clone()],
    };
    let n = nodes("ro-node", 4);
    for node in &n[..3] {
        ok(node.bale(&["mount", s(&image), s(&mp(node, "mn-ro"))]));
    }
    let mut hosts = lock_hosts(&image);
    hosts.sort();
    assert_eq!(hosts, ["ro-node1", "ro-node2", "ro-node3"]);
    // Each node sees only its own mount.
    let seen = n[0].run("findmnt", &["-rn", "-o", "TARGET"]);
    let seen = String::from_utf8_lossy(&seen.stdout);
    assert!(
        seen.contains("mn-ro-ro-node1") && !seen.contains("mn-ro-ro-node2"),
        "{seen}"
    );
    refused(
        n[3].bale(&["mount", s(&image), s(&mp(&n[3], "mn-ro")), "--rw"]),
        "cluster-lock",
    );
    for node in &n[..3] {
        ok(node.bale(&["umount", s(&mp(node, "mn-ro"))]));
    }
    assert!(lock_hosts(&image).is_empty());
    ok(n[3].bale(&["mount", s(&image), s(&mp(&n[3], "mn-ro")), "--rw"]));
    assert_eq!(lock_hosts(&image), ["rw ro-node4"]);
    refused(
        n[0].bale(&["mount", s(&image), s(&mp(&n[0], "mn-ro"))]),
        "cluster-lock",
    );
    ok(n[3].bale(&["umount", s(&mp(&n[3], "mn-ro"))]));
    assert!(lock_hosts(&image).is_empty());
}

#[test]
fn two_nodes_racing_for_read_write_never_both_win() {
    let _site = frame::site();
    let (dir, image) = shared_image("mn-race");
    let _m = Mounts {
        prefixes: vec![dir.clone()],
    };
    let n = nodes("race-node", 2);
    let rounds = 20;
    let mut wins = [0; 2];
    for round in 0..rounds {
        let outs: Vec<Output> = std::thread::scope(|scope| {
            let handles: Vec<_> = n
                .iter()
                .map(|node| {
                    let target = mp(node, "mn-race");
                    let image = image.clone();
                    scope.spawn(move || node.bale(&["mount", s(&image), s(&target), "--rw"]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<usize> = (0..2).filter(|&i| outs[i].status.success()).collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}: exactly one node gets it read-write: {outs:?}"
        );
        let (w, l) = (won[0], 1 - won[0]);
        refused(outs[l].clone(), "cluster-lock");
        wins[w] += 1;
        assert_eq!(lock_hosts(&image), [format!("rw {}", n[w].name)]);
        ok(n[w].bale(&["umount", s(&mp(&n[w], "mn-race"))]));
    }
    eprintln!(
        "{rounds} races: node1 won {}, node2 won {}",
        wins[0], wins[1]
    );
}

/// A node that crashed with the image mounted read-write and booted
/// again: its old line holds nothing. Its next mount replaces it by one of
/// this boot, which `lock-status` calls live and `unlock --stale` keeps
/// (a kept old line made the mounted image look unlocked).
#[test]
fn a_line_left_before_a_reboot_is_replaced_by_the_next_mount_there() {
    let _site = frame::site();
    let (dir, image) = shared_image("mn-reboot");
    let _m = Mounts {
        prefixes: vec![dir.clone()],
    };
    let lock = format!("{}.lock", image.display());
    std::fs::write(
        &lock,
        "rw reboot-node1 boot=00000000-0000-0000-0000-000000000000 pid=1 time=1700000000\n",
    )
    .unwrap();
    std::fs::set_permissions(&lock, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let node = SimNode::start("reboot-node1", &frame::state());
    let target = mp(&node, "mn-reboot");
    ok(node.bale(&["mount", s(&image), s(&target)]));
    assert_eq!(lock_hosts(&image), ["reboot-node1"]);
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains(&format!("boot={}", boot.trim())), "{text}");
    let status = node.bale(&["lock-status", s(&image), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["entries"][0]["state"], "live", "{json}");
    ok(node.bale(&["unlock", s(&image), "--stale"]));
    assert_eq!(lock_hosts(&image), ["reboot-node1"], "a live line removed");
    ok(node.bale(&["umount", s(&target)]));
    assert!(lock_hosts(&image).is_empty());
}

#[test]
fn a_crashed_nodes_lock_is_found_stale_and_broken() {
    let _site = frame::site();
    let (dir, image) = shared_image("mn-stale");
    let _m = Mounts {
        prefixes: vec![dir.clone()],
    };
    let crashed = SimNode::start("stale-node1", &frame::state());
    ok(crashed.bale(&["mount", s(&image), s(&mp(&crashed, "mn-stale")), "--rw"]));
    crashed.crash();
    let other = SimNode::start("stale-node2", &frame::state());
    refused(
        other.bale(&["mount", s(&image), s(&mp(&other, "mn-stale")), "--rw"]),
        "cluster-lock",
    );
    // From another node the holder can only be reported, not judged.
    let status = other.bale(&["lock-status", s(&image)]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("rw stale-node1") && text.contains("unknown (held by node stale-node1"),
        "{text}"
    );
    let out = other.bale(&["unlock", s(&image), "--stale"]);
    assert!(out.status.success());
    assert_eq!(
        lock_hosts(&image),
        ["rw stale-node1"],
        "unknown holders are kept without --force"
    );
    // The node comes back (same name, same boot): the holder is gone.
    let back = SimNode::start("stale-node1", &frame::state());
    let status = back.bale(&["lock-status", s(&image), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["entries"][0]["state"], "stale", "{json}");
    ok(back.bale(&["unlock", s(&image), "--stale"]));
    assert!(lock_hosts(&image).is_empty());
    ok(other.bale(&["mount", s(&image), s(&mp(&other, "mn-stale")), "--rw"]));
    ok(other.bale(&["umount", s(&mp(&other, "mn-stale"))]));
    // The image survived the crash: e2fsck replays the journal and finds it clean.
    let fsck = std::process::Command::new("e2fsck")
        .args(["-fn", s(&image)])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
}

#[test]
fn a_hung_flock_holder_is_identified_and_its_lock_broken() {
    let _site = frame::site();
    let (dir, image) = shared_image("mn-hung");
    let _m = Mounts {
        prefixes: vec![dir.clone()],
    };
    // A "hung client": holds the flock with its owner record, then its
    // process vanishes from this node's view while the flock stays (the
    // descriptor lives on in this test process).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let node = bale_registry::owner::Node::current().unwrap();
    let dir_fd = rustix::fs::open(
        &dir,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let hung = bale_registry::cluster_lock::ClusterLock::acquire(
        dir_fd,
        &dir,
        "shared.img.lock",
        &node.owner(pid),
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let status = bale().args(["lock-status", s(&image)]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(&format!("held by {} ", node.host))
            && text.contains(&format!("pid={pid}"))
            && text.contains("stale"),
        "{text}"
    );
    let target = frame::user_mounts().join("root/mn-hung");
    bale()
        .args(["unlock", s(&image), "--stale"])
        .assert()
        .success();
    bale()
        .args(["mount", s(&image), s(&target), "--rw"])
        .assert()
        .success();
    bale().args(["umount", s(&target)]).assert().success();
    drop(hung);
}

/// A path with neither an image nor a lock is an error, not "mounted
/// nowhere"; a lock whose image is gone is still shown.
#[test]
fn lock_status_names_a_missing_image() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("typo.sqfs");
    let out = bale().args(["lock-status", s(&image)]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!("bale: {}: No such file or directory", image.display())
    );
    std::fs::write(dir.path().join("typo.sqfs.lock"), "").unwrap();
    let out = bale().args(["lock-status", s(&image)]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("mounted nowhere"));
}
