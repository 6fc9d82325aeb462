//! `bale-helper mount`: a software module at its place, or a user image
//! below the caller's directory of user mounts.

use crate::args::{MountRequest, Target};
use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open::{self, Image};
use crate::records::{self, LockPlace};
use bale_registry::cluster_lock::Entry;
use bale_registry::node::{Key, NodeState, Record};
use bale_registry::owner::Node;
use bale_site::Config;
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use std::path::{Path, PathBuf};

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
        let module = bale_policy::module_name(name)?;
        bale_policy::software_read_only(rw)?;
        let images_path = &self.config.image_path.value;
        let images = open::dir(images_path)?;
        let image_dir = open::beneath(
            &images,
            images_path,
            Path::new(&module.name),
            OFlags::DIRECTORY | OFlags::RDONLY,
            false,
        )?;
        let file = format!("{}.sqfs", module.version);
        let image = open::image_in(
            self.caller,
            &image_dir,
            &images_path.join(&module.name),
            &file,
            false,
        )?;
        let mounts_path = &self.config.mount_path.value;
        let mounts = open::dir(mounts_path)?;
        let rel = Path::new(&module.name).join(&module.version);
        let target_path = open::fd_path(&mounts)?.join(&rel);
        let record = Record {
            module: Some(module.full()),
            rw: false,
            image: image.path.clone(),
            mountpoint: target_path.clone(),
        };
        let mut mine = self.state.read(self.key)?;
        mine.retain(|r| r.mountpoint != target_path);
        let shared = records::image_mounted_at(&target_path)? == Some(image.path.clone());
        if !shared {
            let target = open::beneath(
                &mounts,
                mounts_path,
                &rel,
                OFlags::PATH | OFlags::DIRECTORY,
                true,
            )?;
            let owner = rustix::fs::fstat(&mounts)
                .map_err(|e| io(mounts_path, e))?
                .st_uid;
            bale_policy::mountpoint(&target_path, open::facts(&target, &target_path)?, owner)?;
            let place = LockPlace::new(image_dir, images_path.join(&module.name), &file, None);
            self.attach_and_mount(&image, &place, &target, &target_path, false)?;
        }
        mine.push(record);
        self.state.write(self.key, &mine)?;
        Ok(target_path.display().to_string())
    }

    fn user(
        &self,
        image_path: &Path,
        mountpoint: Option<&Path>,
        rw: bool,
    ) -> Result<String, Failure> {
        let dir_path = image_path.parent().unwrap_or(Path::new("/"));
        let name = image_path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Failure::Error(format!(
                    "{}: image names must be UTF-8",
                    image_path.display()
                ))
            })?;
        let dir = crate::creds::as_caller(self.caller, || open::dir(dir_path))?;
        let image = open::image_in(self.caller, &dir, dir_path, name, rw)?;
        let images_real = std::fs::canonicalize(&self.config.image_path.value)
            .unwrap_or_else(|_| self.config.image_path.value.clone());
        bale_policy::not_software_image(&image.path, &images_real)?;

        let usr_root = &self.config.usr_mount_path.value;
        let (user_dir, user_dir_path) = open::user_dir(self.caller, usr_root)?;
        let stem = Path::new(name).file_stem().unwrap_or(name.as_ref());
        let wanted = mountpoint.map_or_else(|| user_dir_path.join(stem), Path::to_path_buf);
        // Accept the configured root as given or as the kernel spells it.
        let lexical_root = usr_root.join(&self.caller.name);
        let rel = wanted
            .strip_prefix(&lexical_root)
            .or_else(|_| wanted.strip_prefix(&user_dir_path))
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| PathBuf::from(".."));
        let target_path = user_dir_path.join(&rel);
        let real_root = user_dir_path.parent().unwrap_or(Path::new("/"));
        bale_policy::user_mountpoint(&target_path, real_root, &self.caller.name).map_err(|r| {
            bale_policy::Refusal::new(
                r.rule,
                format!(
                    "{}: user mounts go below {}/",
                    wanted.display(),
                    lexical_root.display()
                ),
            )
        })?;
        self.make_leaf(&user_dir, &user_dir_path, &rel)?;
        let target = open::beneath(
            &user_dir,
            &user_dir_path,
            &rel,
            OFlags::PATH | OFlags::DIRECTORY,
            true,
        )?;
        bale_policy::mountpoint(
            &target_path,
            open::facts(&target, &target_path)?,
            self.caller.uid,
        )?;
        let st = rustix::fs::fstat(&image.fd).map_err(|e| io(&image.path, e))?;
        let owner = records::owner(st.st_uid, st.st_gid)?;
        let place = LockPlace::new(dir, dir_path.to_path_buf(), name, Some(owner));
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

    /// Creates the mount point (as the caller) if missing; its parent must
    /// exist.
    fn make_leaf(
        &self,
        user_dir: &OwnedFd,
        user_dir_path: &Path,
        rel: &Path,
    ) -> Result<(), Failure> {
        let parent_rel = rel
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let parent = open::beneath(
            user_dir,
            user_dir_path,
            parent_rel,
            OFlags::PATH | OFlags::DIRECTORY,
            true,
        )?;
        let leaf = rel
            .file_name()
            .ok_or_else(|| Failure::Error("empty mount point".into()))?;
        match crate::creds::as_caller(self.caller, || {
            rustix::fs::mkdirat(&parent, leaf, Mode::from_raw_mode(0o755))
        }) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(io(user_dir_path.join(rel), e)),
        }
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
        let in_use = bale_registry::loops::attached()?.len();
        bale_policy::loop_budget(in_use, self.config.loop_budget.value)?;
        let lock = place.acquire(self.node)?;
        let listed = lock
            .contents
            .entries
            .iter()
            .map(|e| (e.rw, e.owner.host.as_str()));
        bale_policy::cluster_lock(&image.path, listed, rw)?;
        let mut entries = lock.contents.entries.clone();
        if !entries.iter().any(|e| e.owner.host == self.node.host) {
            entries.push(Entry {
                rw,
                owner: self.node.owner(std::process::id()),
            });
        }
        let label = image.path.to_string_lossy();
        let device = bale_kmount::loopdev::Loop::attach(&image.fd, rw, &label)
            .map_err(|e| io(&image.path, e))?;
        if let Err(e) = bale_kmount::mount::mount(&device.path, image.kind, target, rw) {
            device.detach();
            return Err(Failure::Error(format!(
                "{}: cannot mount on {}: {e}",
                image.path.display(),
                target_path.display()
            )));
        }
        drop(device); // autoclear: the loop device now lives as long as the mount
        if let Err(e) = place.commit(lock, &entries) {
            let _ = bale_kmount::mount::unmount(target_path, false);
            return Err(e);
        }
        Ok(())
    }
}
