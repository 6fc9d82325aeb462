//! `bale-helper umount [--lazy]`: drops the caller's (or the job's)
//! record; the image is unmounted when no record on this node uses it any
//! more, and this node's line leaves the image's lock file. A busy mount is
//! left as it is (record included) and the processes using it are named;
//! with `--lazy` a read-only one is detached now and goes when they close.

use crate::args::{Target, UmountRequest};
use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open;
use crate::records::{self, HeldLock, LockPlace};
use bale_registry::node::{AllRecords, Key, NodeState, Record};
use bale_registry::owner::Node;
use bale_site::Config;
use rustix::fs::{AtFlags, OFlags, StatxFlags};
use std::path::Path;

pub fn run(caller: &Caller, config: &Config, req: &UmountRequest) -> Result<String, Failure> {
    let key = records::key(caller, req.job.as_deref(), config)?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    // The image's lock first, the node's records after (see HeldLock).
    let seen = match NodeState::snapshot(&config.state_dir.value)? {
        Some(state) => state.read(&key)?,
        None => Vec::new(),
    };
    let mut held = HeldLock::of_user_images(position(&seen, req)?.map(|i| &seen[i]), &node)?;
    let state = NodeState::lock(&config.state_dir.value)?;
    let mine = state.read(&key)?;
    let Some(index) = position(&mine, req)? else {
        return Err(Failure::Error(format!(
            "{}: not mounted for {key} on this node (`bale list` shows what is)",
            req.target
        )));
    };
    let busy = if req.lazy {
        bale_policy::lazy_unmount(&mine[index].mountpoint, mine[index].rw)?;
        Busy::Detach
    } else {
        Busy::Report
    };
    release(config, &node, &state, &key, index, busy, &mut held)
}

/// Which of `records` the request names.
fn position(records: &[Record], req: &UmountRequest) -> Result<Option<usize>, Failure> {
    Ok(match &req.target {
        Target::Module(name) => {
            let module = bale_policy::module_name(name)?;
            records
                .iter()
                .position(|r| r.module.as_deref() == Some(module.full().as_str()))
        }
        // A module's place stands for the module (records hold the real
        // path; the caller may have named it through a symlink).
        Target::Mountpoint(mp) => {
            let real = std::fs::canonicalize(mp).unwrap_or_else(|_| mp.clone());
            records
                .iter()
                .position(|r| r.mountpoint == *mp || r.mountpoint == real)
        }
        Target::Image { .. } => None,
    })
}

/// What unmounting does when processes still use the mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy<'a> {
    /// Fail, naming the processes (like `fuser`).
    Report,
    /// End those of them that are `Whose` (SIGKILL) and unmount.
    Kill(Whose<'a>),
    /// Detach the mount now (`MNT_DETACH`); it goes when they close.
    Detach,
}

/// Whose processes `Busy::Kill` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whose<'a> {
    /// Every one (root, for no job).
    Everyone,
    /// Those all of whose uids are this user's (a user's own).
    User(u32),
    /// Those of the job's owner that belong to the job (its environment or
    /// control group says so; `kmount::holders::in_job`): the epilog
    /// leaves the owner's other jobs and logins alone.
    Job { owner: u32, id: &'a str },
}

impl Whose<'_> {
    fn includes(&self, holder: &bale_kmount::holders::Holder) -> bool {
        match *self {
            Whose::Everyone => true,
            Whose::User(uid) => holder.is_only_of(uid),
            Whose::Job { owner, id } => {
                holder.is_only_of(owner) && bale_kmount::holders::in_job(holder.pid, id)
            }
        }
    }
}

/// Drops record `index` of `key`; unmounts when no other record uses the
/// mount (a busy one as `busy` says) and then takes this node's line out of
/// the image's lock file.
pub fn release(
    config: &Config,
    node: &Node,
    state: &NodeState,
    key: &Key,
    index: usize,
    busy: Busy<'_>,
    held: &mut Vec<HeldLock>,
) -> Result<String, Failure> {
    let mut mine = state.read(key)?;
    let record = mine.remove(index);
    // A module's mount is shared: a damaged record file (cleanup's to
    // repair) may name it too, and then it stays. A user image's mount
    // point is its owner's alone.
    let all = state.all_readable()?;
    let mut others = all.users_of(&record.mountpoint);
    if record.module.is_some() {
        others.extend(all.malformed_keys().cloned());
    }
    others.sort();
    others.dedup();
    let shared_with = others.iter().filter(|k| *k != key).count();
    if shared_with > 0 {
        state.write(key, &mine)?;
        return Ok(format!(
            "{} (still used by {shared_with} other)",
            record.mountpoint.display()
        ));
    }
    unmount(config, &record, busy)?;
    if record.rw && still_written_elsewhere(&record.image)? {
        return Err(Failure::Error(format!(
            "{}: unmounted here, but still mounted read-write in another mount namespace \
             (a container or job step started while it was mounted): this node keeps its \
             lock until that ends; then run this again",
            record.image.display()
        )));
    }
    // The lock line goes before the record: killed in between, the record
    // without a mount is what `cleanup` finds and repairs.
    release_lock_line(
        &all,
        node,
        &record.image,
        record.module.is_some(),
        Some((key, &record)),
        held,
    )?;
    state.write(key, &mine)?;
    remove_mount_point(config, &record);
    Ok(record.mountpoint.display().to_string())
}

/// Whether a read-write image unmounted here is still attached to a loop
/// device: its file system lives on in another mount namespace that copied
/// the mount (autoclear detaches the device as the last mount goes), and is
/// still written there. Its lock line must stay, or another node could
/// mount it read-write too.
pub fn written_elsewhere(image: &Path) -> Result<bool, Failure> {
    Ok(bale_registry::loops::holding(image)?
        .iter()
        .any(|l| !l.read_only))
}

/// [`written_elsewhere`] after a grace period: a namespace that copied the
/// mount only in passing (one being set up to drop what it copied, a
/// `bale run` of a short command) lets go of it within moments.
fn still_written_elsewhere(image: &Path) -> Result<bool, Failure> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while written_elsewhere(image)? {
        if std::time::Instant::now() >= deadline {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(false)
}

/// Takes this node's line out of `image`'s lock file unless a record on
/// this node (`all`, the node's records as they are; other than `dropping`,
/// about to go) still uses the image. A lock in `held` for the image is
/// used (see [`HeldLock`]); without one, the image's lock is waited for
/// here.
pub fn release_lock_line(
    all: &AllRecords,
    node: &Node,
    image: &Path,
    software: bool,
    dropping: Option<(&Key, &Record)>,
    held: &mut Vec<HeldLock>,
) -> Result<(), Failure> {
    let still_used =
        all.uses_image(image, dropping) || (software && all.malformed_keys().next().is_some());
    if still_used || LockPlace::is_gone(image) {
        return Ok(());
    }
    if HeldLock::release(held, image, node)? {
        return Ok(());
    }
    LockPlace::of(image, software)?.release(node)
}

/// Ends (SIGKILL) the processes using the file system `dev` mounted at
/// `mountpoint` that are `whose`.
fn kill_holders(dev: libc::dev_t, mountpoint: &Path, whose: Whose<'_>) {
    let holders = bale_kmount::holders::holders(dev);
    for holder in holders.iter().filter(|h| whose.includes(h)) {
        if let Some(pid) = rustix::process::Pid::from_raw(holder.pid as i32) {
            crate::log::notice(&format!(
                "killing pid {} ({}) holding {}",
                holder.pid,
                holder.command,
                mountpoint.display()
            ));
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// Unmounts a recorded mount by descriptor: the mount point is opened below
/// its root without following symlinks, so renaming a parent directory
/// cannot redirect the unmount to another mount. A busy mount is handled
/// as `busy` says.
pub fn unmount(config: &Config, record: &Record, busy: Busy<'_>) -> Result<(), Failure> {
    if bale_registry::mounted::image_at(&record.mountpoint)?.is_none() {
        return Ok(()); // already gone (unmounted by hand, or a crash)
    }
    let place = place_of(config, record)?;
    let x = rustix::fs::statx(
        &place.parent,
        place.leaf,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::TYPE,
    )
    .map_err(|e| io(&record.mountpoint, e))?;
    if !bale_os::mount_root::is_mount_root(&x) {
        return Err(Failure::Error(format!(
            "{}: is not a mount point any more",
            record.mountpoint.display()
        )));
    }
    let dev = libc::makedev(x.stx_dev_major, x.stx_dev_minor);
    // Flush a read-write image before the unmount so the data is on the
    // shared file system even if the unmount is interrupted.
    if record.rw {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if let Ok(fd) =
            rustix::fs::openat(&place.parent, place.leaf, flags, rustix::fs::Mode::empty())
        {
            let _ = rustix::fs::syncfs(&fd);
        }
    }
    let flags = match busy {
        Busy::Detach => rustix::mount::UnmountFlags::DETACH,
        _ => rustix::mount::UnmountFlags::empty(),
    };
    let mut result = place.unmount(flags);
    if let (Err(rustix::io::Errno::BUSY), Busy::Kill(whose)) = (result, busy) {
        kill_holders(dev, &record.mountpoint, whose);
        result = place.unmount(flags);
    }
    match result {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::BUSY) => {
            let holders = bale_kmount::holders::holders(dev);
            let list = holders
                .iter()
                .map(|h| format!("{} ({})", h.pid, h.command))
                .collect::<Vec<_>>()
                .join(", ");
            Err(Failure::Busy(format!(
                "{}: busy, in use by {}",
                record.mountpoint.display(),
                if list.is_empty() {
                    "an unknown process".into()
                } else {
                    list
                }
            )))
        }
        Err(e) => Err(io(Path::new(&record.mountpoint), e)),
    }
}

/// Where a record's mount is: its parent, opened below the mount root
/// without following symlinks, and its name there.
fn place_of<'r>(config: &Config, record: &'r Record) -> Result<open::MountPlace<'r>, Failure> {
    let root = if record.module.is_some() {
        &config.mount_path.value
    } else {
        &config.usr_mount_path.value
    };
    let root_fd = open::dir(root)?;
    let root_real = open::fd_path(&root_fd)?;
    let rel = record.mountpoint.strip_prefix(&root_real).map_err(|_| {
        Failure::Error(format!(
            "{}: record is outside {}",
            record.mountpoint.display(),
            root.display()
        ))
    })?;
    open::MountPlace::beneath(&root_fd, &root_real, rel)?.ok_or_else(|| {
        Failure::Error(format!(
            "{}: not a mount point of bale",
            record.mountpoint.display()
        ))
    })
}

/// Once a user mount is released, its directory goes, as it came with the
/// mount: when empty, and not while a loop device of the node still has the
/// image (removing the directory would detach the mount in every other
/// mount namespace that copied it).
pub fn remove_mount_point(config: &Config, record: &Record) {
    let elsewhere = bale_registry::loops::holding(&record.image).map_or(true, |l| !l.is_empty());
    if record.module.is_some() || elsewhere {
        return;
    }
    if let Ok(place) = place_of(config, record) {
        place.remove_empty_dir();
    }
}
