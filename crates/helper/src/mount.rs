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
use bale_registry::cluster_lock::Entry;
use bale_registry::node::{Key, NodeState, Record};
use bale_registry::owner::Node;
use bale_site::Config;
use rustix::fd::OwnedFd;
use std::path::Path;

pub fn run(caller: &Caller, config: &Config, req: &MountRequest) -> Result<String, Failure> {
    let key = records::key(caller, req.job.as_deref(), config)?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    let state = NodeState::lock(&config.state_dir.value)?;
    let ctx = Context {
        caller,
        config,
        key: &key,
        node: &node,
        state: &state,
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
    node: &'a Node,
    state: &'a NodeState,
}

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
        let mut mine = self.state.read(self.key)?;
        mine.retain(|r| r.mountpoint != sw.target_path);
        if !sw.mounted()? {
            let target = sw.target(self.config)?;
            let place = LockPlace::new(sw.image_dir, sw.image_dir_path, &sw.file, None);
            self.attach_and_mount(&sw.image, &place, &target, &sw.target_path, false)?;
        }
        mine.push(record);
        self.state.write(self.key, &mine)?;
        Ok(sw.target_path.display().to_string())
    }

    fn user(
        &self,
        image_path: &Path,
        mountpoint: Option<&Path>,
        rw: bool,
    ) -> Result<String, Failure> {
        let (image, dir, dir_path, name) = open::user_image(self.caller, image_path, rw)?;
        let images_real = std::fs::canonicalize(&self.config.image_path.value)
            .unwrap_or_else(|_| self.config.image_path.value.clone());
        bale_policy::not_software_image(&image.path, &images_real)?;
        let (target, target_path) = user_target::open(self.caller, self.config, &name, mountpoint)?;
        let st = rustix::fs::fstat(&image.fd).map_err(|e| io(&image.path, e))?;
        let owner = records::owner(st.st_uid, st.st_gid)?;
        let place = LockPlace::new(dir, dir_path, &name, Some(owner));
        self.attach_and_mount(&image, &place, &target, &target_path, rw)?;
        let mut mine = self.state.read(self.key)?;
        mine.push(Record {
            module: None,
            rw,
            image: image.path.clone(),
            mountpoint: target_path.clone(),
        });
        self.state.write(self.key, &mine)?;
        Ok(target_path.display().to_string())
    }

    /// Checks the loop budget and the cluster lock, attaches, mounts and
    /// records this node in the lock file; on any failure nothing stays.
    fn attach_and_mount(
        &self,
        image: &Image,
        place: &LockPlace,
        target: &OwnedFd,
        target_path: &Path,
        rw: bool,
    ) -> Result<(), Failure> {
        attach::budget(self.config)?;
        let lock = place.acquire(self.node)?;
        // `bale run` mounts leave no line: on this node its loop devices
        // count as a read-only mount here.
        let run_here = rw
            && bale_registry::loops::attached()?
                .iter()
                .any(|l| l.backing_file == image.path);
        let listed = lock
            .contents
            .entries
            .iter()
            .map(|e| (e.rw, e.owner.host.as_str()))
            .chain(run_here.then_some((false, self.node.host.as_str())));
        bale_policy::cluster_lock(&image.path, listed, rw)?;
        let mut entries = lock.contents.entries.clone();
        if !entries.iter().any(|e| e.owner.host == self.node.host) {
            entries.push(Entry {
                rw,
                owner: self.node.owner(std::process::id()),
            });
        }
        attach::mount(image, target, target_path, rw)?;
        if let Err(e) = place.commit(lock, &entries) {
            let _ = bale_kmount::mount::unmount(target_path, false);
            return Err(e);
        }
        Ok(())
    }
}
