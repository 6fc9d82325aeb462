//! A site whose `image_path` and `mount_path` are symlinks (to where the
//! parallel file system really is): the kernel reports mounts and loop
//! devices by their real paths, and the repair commands still find them.

mod support;

use bale_registry::node::{Key, NodeState, Record};
use std::path::Path;
use support::frame::{self, bale_as, Options};
use support::ok;

const SITE: Options = Options {
    roots_through_symlinks: true,
    ..Options::DEFAULT
};

fn is_mounted(target: &Path) -> bool {
    frame::mounts_below(target).contains(&target.to_path_buf())
}

#[test]
fn cleanup_repairs_a_site_whose_roots_are_symlinks() {
    let _site = frame::site_with(SITE);
    let (target, _mounts) = frame::guarded_module("linkmod");
    let (idle, _idle_mounts) = frame::guarded_module("linkidle");
    ok(bale_as("bale-test", &["mount", "linkmod/1.0"]));
    frame::forget_record("bale-test", &target);
    // Nothing but its place (and image's) tells it is the framework's.
    std::fs::remove_file(frame::images().join("linkmod/1.0.sqfs.lock")).unwrap();
    {
        let state = NodeState::lock(&frame::state()).unwrap();
        let stale = Record {
            module: Some("linkidle/1.0".into()),
            rw: false,
            image: frame::images().join("linkidle/1.0.sqfs"),
            mountpoint: idle.clone(),
        };
        state
            .write(&Key::user("bale-other").unwrap(), &[stale])
            .unwrap();
    }
    let unreported = ok(support::bale()
        .args(["list", "--unreported"])
        .output()
        .unwrap());
    assert!(
        unreported.contains(&target.display().to_string()),
        "{unreported}"
    );
    let repaired = ok(support::bale()
        .args(["cleanup", "--cleanup"])
        .output()
        .unwrap());
    assert!(
        repaired.contains(&format!("unmounted forgotten {}", target.display())),
        "{repaired}"
    );
    assert!(repaired.contains("dropped stale record"), "{repaired}");
    assert!(!is_mounted(&target));
    let list = ok(support::bale().args(["list"]).output().unwrap());
    assert!(
        !list.contains("linkmod") && !list.contains("linkidle"),
        "{list}"
    );
}
