//! `bale-helper cleanup [--kill]` (root only): repairs what no record
//! explains — unmounts framework mounts nobody recorded, drops records
//! whose mount is gone, takes this node's line out of those images' lock
//! files, detaches idle loop devices of framework images, and unmounts bale
//! FUSE mounts whose server has ended (they only fail until unmounted).

use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open::MountPlace;
use crate::umount::{
    release_lock_line, remove_mount_point, unmount, written_elsewhere, Busy, Whose,
};
use bale_registry::fuse_mounts::{self, Server, Servers};
use bale_registry::mountinfo::Mount;
use bale_registry::node::{NodeState, Record};
use bale_registry::owner::Node;
use bale_registry::survey::{is_framework_image, survey};
use bale_registry::{loops, mountinfo};
use bale_site::Config;
use std::path::Path;

pub fn run(caller: &Caller, config: &Config, kill: bool) -> Result<String, Failure> {
    bale_policy::admin_only("cleanup", caller.uid)?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    let state = NodeState::lock(&config.state_dir.value)?;
    let mut actions = Vec::new();
    for (key, malformed) in state.all_readable()?.malformed {
        let aside = state.set_aside(&key)?;
        actions.push(format!(
            "set aside {malformed}: now {}; its good lines kept",
            aside.display()
        ));
    }
    let places = config.real_places();
    let found = survey(
        &state.all()?,
        &mountinfo::read()?,
        &loops::attached()?,
        &[&places.modules, &places.users],
        |p| is_framework_image(p, &places.images),
    );
    for forgotten in &found.forgotten_mounts {
        let target = &forgotten.mountpoint;
        // Unmounted like a recorded mount: by descriptor below its root.
        let as_record = Record {
            module: target.starts_with(&places.modules).then(String::new),
            rw: false,
            image: forgotten.image.clone(),
            mountpoint: target.clone(),
        };
        unmount(
            config,
            &as_record,
            // cleanup is root's (rule admin-only): every holder.
            if kill {
                Busy::Kill(Whose::Everyone)
            } else {
                Busy::Report
            },
        )?;
        release_lock_line(
            &state,
            &node,
            &forgotten.image,
            forgotten.image.starts_with(&places.images),
            None,
        )?;
        actions.push(format!("unmounted forgotten {}", target.display()));
    }
    for held in found.stale_records() {
        if held.record.rw && written_elsewhere(&held.record.image)? {
            actions.push(format!(
                "kept the record of {} for {}: still mounted read-write in another mount namespace",
                held.record.mountpoint.display(),
                held.key
            ));
            continue;
        }
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
        remove_mount_point(config, &held.record);
        actions.push(format!(
            "dropped stale record of {} for {}",
            held.record.mountpoint.display(),
            held.key
        ));
    }
    for idle in &found.idle_loops {
        bale_kmount::loopdev::detach_path(&idle.device).map_err(|e| io(&idle.device, e))?;
        // Still in use (a lazily detached mount with open files, a copy of
        // a mount in another mount namespace): the kernel detaches it when
        // its last user goes.
        let busy = bale_registry::loops::attached()?
            .iter()
            .any(|l| l.device == idle.device);
        actions.push(format!(
            "{} {} ({})",
            if busy {
                "set to detach when its last user goes:"
            } else {
                "detached idle"
            },
            idle.device.display(),
            idle.backing_file.display()
        ));
    }
    for (dead, server) in fuse_mounts::judged()? {
        if server == Server::Gone && unmount_unserved(&dead)? {
            actions.push(format!(
                "unmounted {} (FUSE, its server had ended)",
                dead.target.display()
            ));
        }
    }
    for temporary in state.remove_temporaries()? {
        actions.push(format!(
            "removed {} (a record being written when its writer was killed)",
            config.state_dir.value.join(temporary).display()
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

/// Detaches a FUSE mount nobody serves; `false` if it is not there any
/// more or a server has it now. It lies anywhere a user could mount it, so
/// its parent is opened without following symlinks, the mount found there
/// is checked to be that one (device number, taken without asking the dead
/// server: `AT_STATX_DONT_SYNC`, empty mask) and still unserved (a new
/// mount may have taken the same place and number since the first look),
/// and the unmount goes through the parent's descriptor.
fn unmount_unserved(mount: &Mount) -> Result<bool, Failure> {
    let target = &mount.target;
    let root = crate::open::dir(Path::new("/"))?;
    let rel = target.strip_prefix("/").unwrap_or(target);
    let place = MountPlace::beneath(&root, Path::new("/"), rel)?
        .ok_or_else(|| Failure::Error(format!("{}: cannot unmount", target.display())))?;
    let mounted = bale_os::mount_root::device_at(&place.parent, place.leaf);
    if mounted != Some((mount.major, mount.minor)) || Servers::scan().of(mount) != Server::Gone {
        return Ok(false);
    }
    place
        .unmount(rustix::mount::UnmountFlags::DETACH)
        .map_err(|e| io(target, e))?;
    Ok(true)
}
