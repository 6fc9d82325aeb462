//! The bookkeeping around a mount: whose record (job or user) and the
//! cluster lock line of this node.

use crate::creds::as_caller;
use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::jobs::Slurm;
use crate::open;
use bale_registry::cluster_lock::{self, ClusterLock, Entry};
use bale_registry::node::Key;
use bale_registry::owner::Node;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long to wait for another node's update of a lock file.
const LOCK_WAIT: Duration = Duration::from_secs(20);

/// How long to wait for a user image's lock file while holding the node's
/// records (taking this node's line out without a [`HeldLock`]: cleanup, or
/// a record that appeared after the unmount looked): the file is its
/// owner's to hold, and every mount and unmount on the node waits
/// meanwhile. Another node's update takes milliseconds; a holder beyond
/// this is the owner, who then finds their record kept.
const USER_LOCK_WAIT_HOLDING_RECORDS: Duration = Duration::from_secs(2);

/// The record key: the job (which the caller must own) or the caller.
pub fn key(caller: &Caller, job: Option<&str>, config: &bale_site::Config) -> Result<Key, Failure> {
    let key = unchecked_key(caller, job)?;
    if let Some(job) = job {
        bale_policy::job_owner(job, caller.uid, &slurm(config))?;
    }
    Ok(key)
}

/// The record key, the job not asked about yet: a mount asks under the
/// node's records lock ([`job_may_mount`]).
pub fn unchecked_key(caller: &Caller, job: Option<&str>) -> Result<Key, Failure> {
    match job {
        Some(job) => Ok(Key::job(job).map_err(|why| bale_policy::Refusal::new("job-owner", why))?),
        None => Ok(Key::user(&caller.name).map_err(Failure::Error)?),
    }
}

/// Rules `job-owner` and `job-running`, for a mount; ask with the node's
/// records locked.
pub fn job_may_mount(
    caller: &Caller,
    job: &str,
    config: &bale_site::Config,
) -> Result<(), Failure> {
    Ok(bale_policy::job_running(job, caller.uid, &slurm(config))?)
}

/// SLURM as the site's configuration reaches it.
pub fn slurm(config: &bale_site::Config) -> Slurm {
    Slurm {
        scontrol: config.scontrol.value.clone(),
    }
}

/// Where an image's lock file lives and who may write it.
pub struct LockPlace {
    pub dir: OwnedFd,
    pub dir_path: PathBuf,
    pub name: String,
    /// The image's owner for user images, `None` (root) for software.
    pub writer: Option<Caller>,
}

impl LockPlace {
    /// The lock place of `image` found by its path (when unmounting). A
    /// software image's lock is written as root; a user image's with its
    /// owner's rights, so the lock file stays the owner's whoever mounts
    /// (or cleans up after) the image.
    pub fn of(image: &Path, software: bool) -> Result<LockPlace, Failure> {
        let dir_path = image.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = image.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            Failure::Error(format!("{}: image names must be UTF-8", image.display()))
        })?;
        let writer = if software {
            None
        } else {
            let st = match rustix::fs::lstat(image) {
                Ok(st) => st,
                // Renamed or removed while mounted: the lock file beside
                // its old name still says whose it is.
                Err(rustix::io::Errno::NOENT) => {
                    rustix::fs::lstat(cluster_lock::path_for(image)).map_err(|e| io(image, e))?
                }
                Err(e) => return Err(io(image, e)),
            };
            Some(owner(st.st_uid, st.st_gid)?)
        };
        let dir = match &writer {
            Some(c) => as_caller(c, || open::dir(&dir_path))?,
            None => open::dir(&dir_path)?,
        };
        Ok(LockPlace::new(dir, dir_path, name, writer))
    }

    /// Whether neither `image` nor its lock file is there any more (an
    /// image removed with its lock file while mounted): no line to take out.
    pub fn is_gone(image: &Path) -> bool {
        [image.to_path_buf(), cluster_lock::path_for(image)]
            .iter()
            .all(|p| matches!(rustix::fs::lstat(p), Err(rustix::io::Errno::NOENT)))
    }

    /// The lock place of an image already opened as `name` in `dir`.
    /// `writer` is used for a new lock file; an existing user lock file is
    /// always written with its owner's rights, so it keeps its owner.
    pub fn new(dir: OwnedFd, dir_path: PathBuf, name: &str, writer: Option<Caller>) -> LockPlace {
        let name = cluster_lock::name_for(name);
        let existing = rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .ok()
            .filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile);
        let writer = match (writer, existing) {
            (Some(_), Some(st)) => owner(st.st_uid, st.st_gid).ok(),
            (writer, _) => writer,
        };
        LockPlace {
            dir,
            dir_path,
            name,
            writer,
        }
    }

    /// Takes the image's cluster lock, waiting for another holder up to
    /// 20 s: never while holding the node's records.
    pub fn acquire(&self, node: &Node) -> Result<ClusterLock, Failure> {
        self.acquire_within(node, LOCK_WAIT)
    }

    fn acquire_within(&self, node: &Node, wait: Duration) -> Result<ClusterLock, Failure> {
        let dir = self.dir.try_clone().map_err(|e| io(&self.dir_path, e))?;
        let me = node.owner(std::process::id());
        let go = || ClusterLock::acquire(dir, &self.dir_path, &self.name, &me, wait);
        Ok(match &self.writer {
            Some(c) => as_caller(c, go),
            None => go(),
        }?)
    }

    pub fn commit(&self, lock: ClusterLock, entries: &[Entry]) -> Result<(), Failure> {
        let go = || lock.commit(entries);
        Ok(match &self.writer {
            Some(c) => as_caller(c, go),
            None => go(),
        }?)
    }

    /// Removes this node's line (the node's records are held).
    pub fn release(&self, node: &Node) -> Result<(), Failure> {
        let wait = match self.writer {
            Some(_) => USER_LOCK_WAIT_HOLDING_RECORDS,
            None => LOCK_WAIT,
        };
        let lock = self.acquire_within(node, wait)?;
        self.release_held(node, lock)
    }

    /// Removes this node's line with the lock already taken.
    pub fn release_held(&self, node: &Node, lock: ClusterLock) -> Result<(), Failure> {
        let entries: Vec<Entry> = lock
            .contents
            .entries
            .iter()
            .filter(|e| e.owner.host != node.host)
            .cloned()
            .collect();
        self.commit(lock, &entries)
    }
}

/// A user image's cluster lock, taken before the node's records for an
/// unmount that will take this node's line out: the lock file is the
/// image owner's to hold, and waiting for it while holding the records
/// would let them hold up every mount and unmount of the node.
pub struct HeldLock {
    pub image: PathBuf,
    place: LockPlace,
    lock: ClusterLock,
}

impl HeldLock {
    /// The locks of the user images of `records` (found without the
    /// records lock; an image gone with its lock file has none), each
    /// waited for up to 20 s.
    pub fn of_user_images<'a>(
        records: impl IntoIterator<Item = &'a bale_registry::node::Record>,
        node: &Node,
    ) -> Result<Vec<HeldLock>, Failure> {
        let mut held: Vec<HeldLock> = Vec::new();
        for record in records {
            let image = &record.image;
            if record.module.is_some()
                || LockPlace::is_gone(image)
                || held.iter().any(|h| h.image == *image)
            {
                continue;
            }
            let place = LockPlace::of(image, false)?;
            let lock = place.acquire(node)?;
            held.push(HeldLock {
                image: image.clone(),
                place,
                lock,
            });
        }
        Ok(held)
    }

    /// Takes this node's line out of `image`'s lock file through the lock
    /// held for it in `held`, if any; `false` when none is.
    pub fn release(held: &mut Vec<HeldLock>, image: &Path, node: &Node) -> Result<bool, Failure> {
        let Some(at) = held.iter().position(|h| h.image == image) else {
            return Ok(false);
        };
        let HeldLock { place, lock, .. } = held.swap_remove(at);
        place.release_held(node, lock)?;
        Ok(true)
    }
}

/// The user `uid`, to act with their rights.
pub fn owner(uid: u32, gid: u32) -> Result<Caller, Failure> {
    crate::identity::of(uid, gid).map_err(Failure::Error)
}
