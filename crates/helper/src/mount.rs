//! `bale-helper mount`: a software module at its place, or a user image
//! below the caller's directory of user mounts; recorded for the caller
//! (or job) and in the image's cluster lock.

use crate::args::{MountRequest, Target};
use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open::{self, Image};
use crate::records::{self, LockPlace};
use crate::software::Software;
use crate::{attach, user_target};
use bale_registry::cluster_lock::{ClusterLock, Entry};
use bale_registry::node::{Key, NodeState, Record};
use bale_registry::owner::Node;
use bale_site::Config;
use rustix::fd::OwnedFd;
use std::path::Path;

pub fn run(caller: &Caller, config: &Config, req: &MountRequest) -> Result<String, Failure> {
    let key = records::unchecked_key(caller, req.job.as_deref())?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    let ctx = Context {
        caller,
        config,
        key: &key,
        job: req.job.as_deref(),
        node: &node,
    };
    match &req.target {
        Target::Module(name) => ctx.software(name, req.rw),
        Target::Image { image, mountpoint } => ctx.user(image, mountpoint.as_deref(), req.rw),
        Target::Mountpoint(_) => Err(Failure::Error("mount needs --module or --image".into())),
    }
}

struct Context<'a> {
    caller: &'a Caller,
    config: &'a Config,
    key: &'a Key,
    /// The job the mount is for, asked about under the records lock.
    job: Option<&'a str>,
    node: &'a Node,
}

/// Lock order: an image's cluster lock (which may take 20 s: another
/// node's update, or a user holding their own image's lock file) is
/// always waited for before the node's records lock, never while holding
/// it — every mount and unmount on the node waits for that one.
impl Context<'_> {
    fn software(&self, name: &str, rw: bool) -> Result<String, Failure> {
        bale_policy::software_read_only(rw)?;
        let sw = Software::open(self.caller, self.config, name)?;
        let record = Record {
            module: Some(sw.module.full()),
            rw: false,
            image: sw.image.path.clone(),
            mountpoint: sw.target_path.clone(),
        };
        let shown = sw.target_path.display().to_string();
        // Mounted and recorded for the caller already (another task of the
        // same job got here first): nothing changes, so the job's owner is
        // asked about without holding the records lock.
        let done = |state: NodeState| -> Result<Option<NodeState>, Failure> {
            if !(state.read(self.key)?.contains(&record) && sw.mounted(&state, Some(self.key))?) {
                return Ok(Some(state));
            }
            drop(state);
            records::key(self.caller, self.job, self.config)?;
            Ok(None)
        };
        // Mounted already (the usual case): counted in, the lock file
        // untouched.
        {
            let Some(state) = done(self.records()?)? else {
                return Ok(shown);
            };
            if sw.mounted(&state, Some(self.key))? {
                self.recorded(&state, record, || Ok(()))?;
                return Ok(shown);
            }
        }
        let image_dir = sw
            .image_dir
            .try_clone()
            .map_err(|e| io(&sw.image_dir_path, e))?;
        let place = LockPlace::new(image_dir, sw.image_dir_path.clone(), &sw.file, None);
        let lock = place.acquire(self.node)?;
        let Some(state) = done(self.records()?)? else {
            return Ok(shown);
        };
        self.recorded(&state, record, || {
            if sw.mounted(&state, Some(self.key))? {
                return Ok(()); // by another request while we waited
            }
            self.drop_stale_records(&state, &sw.target_path)?;
            let target = sw.target(self.config)?;
            self.attach_and_mount(&sw.image, &place, lock, &target, &sw.target_path, false)
        })?;
        Ok(shown)
    }

    fn user(
        &self,
        image_path: &Path,
        mountpoint: Option<&Path>,
        rw: bool,
    ) -> Result<String, Failure> {
        bale_policy::kernel_backend(image_path, self.config.kernel_backend_allowed())?;
        let (image, dir, dir_path, name) = open::user_image(self.caller, image_path, rw)?;
        bale_policy::not_software_image(&image.path, &self.config.real_places().images)?;
        let target = user_target::open(self.caller, self.config, &name, mountpoint)?;
        let mounted = (|| {
            let st = rustix::fs::fstat(&image.fd).map_err(|e| io(&image.path, e))?;
            let owner = records::owner(st.st_uid, st.st_gid)?;
            let place = LockPlace::new(dir, dir_path, &name, Some(owner));
            let record = Record {
                module: None,
                rw,
                image: image.path.clone(),
                mountpoint: target.path.clone(),
            };
            let lock = place.acquire(self.node)?;
            let state = self.records()?;
            self.recorded(&state, record, || {
                self.attach_and_mount(&image, &place, lock, &target.fd, &target.path, rw)
            })
        })();
        match mounted {
            Ok(()) => Ok(target.path.display().to_string()),
            Err(e) => {
                target.abandon(self.caller);
                Err(e)
            }
        }
    }

    /// The node's records, locked.
    fn records(&self) -> Result<NodeState, Failure> {
        Ok(NodeState::lock(&self.config.state_dir.value)?)
    }

    /// Records `record` for the caller, then runs `mount`; when that fails
    /// the records are as they were. The record comes first: killed after
    /// it, a record without a mount is what cleanup finds and repairs
    /// (dropping it takes this node's lock line out too), whereas a lock
    /// line or a mount without a record would be found by nothing. A job
    /// is asked about here, under the records lock (rule `job-running`).
    fn recorded(
        &self,
        state: &NodeState,
        record: Record,
        mount: impl FnOnce() -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        if let Some(job) = self.job {
            records::job_may_mount(self.caller, job, self.config)?;
        }
        let before = state.read(self.key)?;
        let mut mine = before.clone();
        mine.retain(|r| r.mountpoint != record.mountpoint);
        mine.push(record);
        state.write(self.key, &mine)?;
        mount().inspect_err(|_| {
            let _ = state.write(self.key, &before);
        })
    }

    /// Before a module is mounted at `place` afresh: other owners' records
    /// of it are stale (a helper killed between record and mount, a mount
    /// removed behind bale's back) and go, or this mount would be counted
    /// as theirs and their releases would unmount it under its users.
    fn drop_stale_records(&self, state: &NodeState, place: &Path) -> Result<(), Failure> {
        if bale_registry::mounted::image_at(place)?.is_some() {
            return Ok(()); // not afresh: the mount there decides (rule mountpoint)
        }
        for key in state.users_of(place)? {
            if key == *self.key {
                continue;
            }
            let mut records = match state.read(&key) {
                // A damaged file is cleanup's to repair, not ours.
                Err(bale_registry::Error::Parse { .. }) => continue,
                read => read?,
            };
            records.retain(|r| r.mountpoint != place);
            state.write(&key, &records)?;
            crate::log::notice(&format!(
                "dropped {key}'s stale record of {}",
                place.display()
            ));
        }
        Ok(())
    }

    /// Checks the loop budget (the node's records are locked) and the
    /// cluster lock (`lock`, held), records this node in the lock file,
    /// attaches and mounts; on any failure nothing stays.
    fn attach_and_mount(
        &self,
        image: &Image,
        place: &LockPlace,
        lock: ClusterLock,
        target: &OwnedFd,
        target_path: &Path,
        rw: bool,
    ) -> Result<(), Failure> {
        attach::budget(self.config)?;
        // Lines this node left before a reboot hold nothing: replaced by
        // this boot's (kept, `lock-status` would call the new mount's line
        // stale and `unlock --stale` remove it while mounted).
        let mut entries: Vec<Entry> = lock
            .contents
            .entries
            .iter()
            .filter(|e| !self.node.rebooted_since(&e.owner))
            .cloned()
            .collect();
        let listed = entries.iter().map(|e| (e.rw, e.owner.host.as_str()));
        bale_policy::cluster_lock(&image.path, listed, rw)?;
        // What writes no line: a `bale run` of the image, or a mount of it
        // copied into another mount namespace, holds a loop device here.
        let holding = bale_registry::loops::holding(&image.path)?;
        if let Some(held) = holding.iter().find(|l| rw || !l.read_only) {
            return Err(bale_policy::Refusal::new(
                "cluster-lock",
                format!(
                    "{}: attached to {} on this node, by a bale run or a mount copied into \
                         another mount namespace (a container); {}",
                    image.path.display(),
                    held.device.display(),
                    if rw {
                        "read-write needs it mounted nowhere"
                    } else {
                        "it is mounted read-write there"
                    }
                ),
            )
            .into());
        }
        let listed_here = entries.iter().any(|e| e.owner.host == self.node.host);
        if !listed_here {
            entries.push(Entry {
                rw,
                owner: self.node.owner(std::process::id()),
            });
        }
        // The line goes in before the mount: killed in between, a line
        // without a mount is found stale and removed; a mount without a
        // line would let another node mount the image read-write too.
        place.commit(lock, &entries)?;
        if let Err(e) = attach::mount(image, target, target_path, rw) {
            if !listed_here {
                let _ = place.release(self.node);
            }
            return Err(e);
        }
        Ok(())
    }
}
