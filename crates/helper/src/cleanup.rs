//! `bale-helper cleanup [--kill]` (root only): repairs what no record
//! explains — unmounts framework mounts nobody recorded, drops records
//! whose mount is gone, takes this node's line out of those images' lock
//! files, detaches idle loop devices of framework images, and unmounts bale
//! FUSE mounts whose server has ended (they only fail until unmounted).

use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open::MountPlace;
use crate::records;
use crate::umount::{
    release_lock_line, remove_mount_point, unmount, written_elsewhere, Busy, Whose,
};
use crate::umount_all::release_all;
use bale_policy::Jobs;
use bale_registry::fuse_mounts::{self, Server, Servers};
use bale_registry::mountinfo::Mount;
use bale_registry::node::{Key, NodeState, Record};
use bale_registry::owner::Node;
use bale_registry::survey::{is_framework_image, survey};
use bale_registry::{loops, mountinfo};
use bale_site::Config;
use std::path::Path;

pub fn run(caller: &Caller, config: &Config, kill: bool) -> Result<String, Failure> {
    bale_policy::admin_only("cleanup", caller.uid)?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    let state = NodeState::lock(&config.state_dir.value)?;
    // Every repair is tried: one that fails (a busy mount, a record that
    // names a place outside the framework's) is reported, not in the way of
    // the others.
    let mut done = Outcomes::default();
    for (key, malformed) in state.all_readable()?.malformed {
        done.push(state.set_aside(&key).map_err(Failure::from).map(|aside| {
            Some(format!(
                "set aside {malformed}: now {}; its good lines kept",
                aside.display()
            ))
        }));
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
        done.push((|| {
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
                &state.all_readable()?,
                &node,
                &forgotten.image,
                forgotten.image.starts_with(&places.images),
                None,
                &mut Vec::new(),
            )?;
            Ok(Some(format!("unmounted forgotten {}", target.display())))
        })());
    }
    for held in found.stale_records() {
        done.push((|| {
            if held.record.rw && written_elsewhere(&held.record.image)? {
                return Ok(Some(format!(
                    "kept the record of {} for {}: still mounted read-write in another mount namespace",
                    held.record.mountpoint.display(),
                    held.key
                )));
            }
            // Lock line first, record last (see umount::release).
            release_lock_line(
                &state.all_readable()?,
                &node,
                &held.record.image,
                held.record.module.is_some(),
                Some((&held.key, &held.record)),
                &mut Vec::new(),
            )?;
            let mut records = state.read(&held.key)?;
            records.retain(|r| r != &held.record);
            state.write(&held.key, &records)?;
            remove_mount_point(config, &held.record);
            Ok(Some(format!(
                "dropped stale record of {} for {}",
                held.record.mountpoint.display(),
                held.key
            )))
        })());
    }
    release_over_jobs(config, &node, &state, kill, &mut done)?;
    for idle in &found.idle_loops {
        done.push((|| {
            bale_kmount::loopdev::detach_path(&idle.device).map_err(|e| io(&idle.device, e))?;
            // Still in use (a lazily detached mount with open files, a copy
            // of a mount in another mount namespace): the kernel detaches it
            // when its last user goes.
            let busy = bale_registry::loops::attached()?
                .iter()
                .any(|l| l.device == idle.device);
            Ok(Some(format!(
                "{} {} ({})",
                if busy {
                    "set to detach when its last user goes:"
                } else {
                    "detached idle"
                },
                idle.device.display(),
                idle.backing_file.display()
            )))
        })());
    }
    for (dead, server) in fuse_mounts::judged()? {
        if server == Server::Gone {
            done.push(unmount_unserved(&dead).map(|unmounted| {
                unmounted.then(|| {
                    format!(
                        "unmounted {} (FUSE, its server had ended)",
                        dead.target.display()
                    )
                })
            }));
        }
    }
    for temporary in state.remove_temporaries()? {
        done.actions.push(format!(
            "removed {} (a record being written when its writer was killed)",
            config.state_dir.value.join(temporary).display()
        ));
    }
    done.finish()
}

/// Releases the records of jobs that are over (SLURM says so) as their
/// epilog would have: the epilog failed on this node, or the job was given
/// with `--job-id` on a node that is not its own. A job still running,
/// completing or pending keeps them. When SLURM cannot be asked, nothing
/// more is asked this time: one failure, not one wait per job.
fn release_over_jobs(
    config: &Config,
    node: &Node,
    state: &NodeState,
    kill: bool,
    done: &mut Outcomes,
) -> Result<(), Failure> {
    let slurm = records::slurm(config);
    for (key, _) in state.all_readable()?.records {
        let Key::Job(id) = &key else { continue };
        let found = match slurm.job(id) {
            Ok(found) => found,
            Err(why) => {
                done.push(Err(Failure::Error(format!(
                    "cannot tell whether job {id}, which has records here, is over: {why}"
                ))));
                return Ok(());
            }
        };
        let Some(why) = bale_policy::job_over(id, found.as_ref()) else {
            continue;
        };
        // Its processes only, as its epilog's `--kill` (none once SLURM
        // has forgotten the job).
        let owner = found.map_or(u32::MAX, |job| job.owner);
        let busy = match kill {
            true => Busy::Kill(Whose::Job { owner, id }),
            false => Busy::Report,
        };
        let released = release_all(config, node, state, &key, busy, true, &mut Vec::new())?;
        if !released.done.is_empty() {
            done.actions
                .push(format!("{why}: {}", released.summary(&key)));
        }
        done.failures.extend(released.failures);
    }
    Ok(())
}

/// What a cleanup did, and what it could not do.
#[derive(Default)]
struct Outcomes {
    actions: Vec<String>,
    failures: Vec<Failure>,
}

impl Outcomes {
    fn push(&mut self, outcome: Result<Option<String>, Failure>) {
        match outcome {
            Ok(action) => self.actions.extend(action),
            Err(failure) => self.failures.push(failure),
        }
    }

    /// Logs every action; the report, or the first failure (after printing
    /// the actions and the other failures, which `main` would not).
    fn finish(self) -> Result<String, Failure> {
        for action in &self.actions {
            crate::log::notice(&format!("cleanup: {action}"));
        }
        let mut failures = self.failures.into_iter();
        let Some(first) = failures.next() else {
            return Ok(if self.actions.is_empty() {
                "nothing to clean up".into()
            } else {
                self.actions.join("\n")
            });
        };
        for action in &self.actions {
            println!("{action}");
        }
        for failure in failures {
            crate::log::notice(&format!("cleanup: {failure}"));
            eprintln!("bale-helper: {failure}");
        }
        Err(first)
    }
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
