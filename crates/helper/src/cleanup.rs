//! `bale-helper cleanup [--kill]` (root only): repairs what no record
//! explains — unmounts framework mounts nobody recorded, drops records
//! whose mount is gone, takes this node's line out of those images' lock
//! files, and detaches idle loop devices of framework images.

use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::umount::{release_lock_line, unmount, Busy};
use bale_registry::node::{NodeState, Record};
use bale_registry::owner::Node;
use bale_registry::survey::{is_framework_image, survey};
use bale_registry::{loops, mountinfo};
use bale_site::Config;

pub fn run(caller: &Caller, config: &Config, kill: bool) -> Result<String, Failure> {
    bale_policy::admin_only("cleanup", caller.uid)?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    let state = NodeState::lock(&config.state_dir.value)?;
    let image_root = &config.image_path.value;
    let roots = [
        config.mount_path.value.as_path(),
        config.usr_mount_path.value.as_path(),
    ];
    let found = survey(
        &state.all()?,
        &mountinfo::read()?,
        &loops::attached()?,
        &roots,
        |p| is_framework_image(p, image_root),
    );
    let mut actions = Vec::new();
    for forgotten in &found.forgotten_mounts {
        let target = &forgotten.mountpoint;
        // Unmounted like a recorded mount: by descriptor below its root.
        let as_record = Record {
            module: target
                .starts_with(&config.mount_path.value)
                .then(String::new),
            rw: false,
            image: forgotten.image.clone(),
            mountpoint: target.clone(),
        };
        unmount(
            config,
            &as_record,
            // cleanup is root's (rule admin-only): every holder.
            if kill { Busy::Kill(None) } else { Busy::Report },
        )?;
        release_lock_line(
            &state,
            &node,
            &forgotten.image,
            forgotten.image.starts_with(image_root),
            None,
        )?;
        actions.push(format!("unmounted forgotten {}", target.display()));
    }
    for held in found.stale_records() {
        // Lock line first, record last (see umount::release).
        release_lock_line(
            &state,
            &node,
            &held.record.image,
            held.record.module.is_some(),
            Some((&held.key, &held.record)),
        )?;
        let mut records = state.read(&held.key)?;
        records.retain(|r| r != &held.record);
        state.write(&held.key, &records)?;
        actions.push(format!(
            "dropped stale record of {} for {}",
            held.record.mountpoint.display(),
            held.key
        ));
    }
    for idle in &found.idle_loops {
        bale_kmount::loopdev::detach_path(&idle.device).map_err(|e| io(&idle.device, e))?;
        actions.push(format!(
            "detached idle {} ({})",
            idle.device.display(),
            idle.backing_file.display()
        ));
    }
    for action in &actions {
        crate::log::notice(&format!("cleanup: {action}"));
    }
    Ok(if actions.is_empty() {
        "nothing to clean up".into()
    } else {
        actions.join("\n")
    })
}
