//! `bale-helper cleanup [--kill]` (root only): repairs what no record
//! explains — unmounts framework mounts nobody recorded, drops records
//! whose mount is gone, takes this node's line out of those images' lock
//! files, detaches idle loop devices of framework images, and unmounts bale
//! FUSE mounts whose server has ended (they only fail until unmounted).

use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::umount::{release_lock_line, unmount, written_elsewhere, Busy};
use bale_registry::fuse_mounts::{is_bale_mount, Server, Servers};
use bale_registry::mountinfo::Mount;
use bale_registry::node::{NodeState, Record};
use bale_registry::owner::Node;
use bale_registry::survey::{is_framework_image, survey};
use bale_registry::{loops, mountinfo};
use bale_site::Config;
use rustix::fd::AsRawFd;
use rustix::fs::{AtFlags, OFlags, StatxFlags};
use std::path::Path;

pub fn run(caller: &Caller, config: &Config, kill: bool) -> Result<String, Failure> {
    bale_policy::admin_only("cleanup", caller.uid)?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    let state = NodeState::lock(&config.state_dir.value)?;
    let image_root = &config.image_path.value;
    let roots = [
        config.mount_path.value.as_path(),
        config.usr_mount_path.value.as_path(),
    ];
    let mounts = mountinfo::read()?;
    let found = survey(&state.all()?, &mounts, &loops::attached()?, &roots, |p| {
        is_framework_image(p, image_root)
    });
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
    let fuse: Vec<Mount> = mountinfo::read()?
        .into_iter()
        .filter(|m| is_bale_mount(&m.fstype))
        .collect();
    if !fuse.is_empty() {
        let servers = Servers::scan();
        for dead in fuse.iter().filter(|m| servers.of(m) == Server::Gone) {
            if unmount_unserved(dead)? {
                actions.push(format!(
                    "unmounted {} (FUSE, its server had ended)",
                    dead.target.display()
                ));
            }
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
    let (Some(parent), Some(leaf)) = (target.parent(), target.file_name()) else {
        return Err(Failure::Error(format!(
            "{}: cannot unmount",
            target.display()
        )));
    };
    let root = crate::open::dir(Path::new("/"))?;
    let rel = parent.strip_prefix("/").unwrap_or(parent);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let parent_fd = crate::open::beneath(
        &root,
        Path::new("/"),
        rel,
        OFlags::PATH | OFlags::DIRECTORY,
        false,
    )?;
    let flags = AtFlags::SYMLINK_NOFOLLOW | AtFlags::STATX_DONT_SYNC;
    let x = rustix::fs::statx(&parent_fd, leaf, flags, StatxFlags::empty())
        .map_err(|e| io(target, e))?;
    let same = (x.stx_dev_major, x.stx_dev_minor) == (mount.major, mount.minor);
    if !bale_os::mount_root::is_mount_root(&x) || !same || Servers::scan().of(mount) != Server::Gone
    {
        return Ok(false);
    }
    let by_fd = Path::new(&format!("/proc/self/fd/{}", parent_fd.as_raw_fd())).join(leaf);
    let flags = rustix::mount::UnmountFlags::NOFOLLOW | rustix::mount::UnmountFlags::DETACH;
    rustix::mount::unmount(&by_fd, flags).map_err(|e| io(target, e))?;
    Ok(true)
}
