//! A software module `NAME/VERSION`: its image `SI_IMAGE_PATH/NAME/VERSION.sqfs`
//! opened with the caller's rights, and its place `SI_MOUNT_PATH/NAME/VERSION`,
//! a directory owned by the owner of `SI_MOUNT_PATH`.

use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open::{self, Image};
use bale_policy::ModuleName;
use bale_registry::node::{Key, NodeState};
use bale_site::Config;
use rustix::fd::OwnedFd;
use rustix::fs::OFlags;
use std::path::{Path, PathBuf};

pub struct Software {
    pub module: ModuleName,
    pub image: Image,
    /// `SI_IMAGE_PATH/NAME`, opened, and its path.
    pub image_dir: OwnedFd,
    pub image_dir_path: PathBuf,
    /// `VERSION.sqfs`.
    pub file: String,
    /// Where the module is mounted, as the kernel spells it.
    pub target_path: PathBuf,
    mounts: OwnedFd,
}

impl Software {
    /// Checks rule `module-name` and opens the module's image.
    pub fn open(caller: &Caller, config: &Config, name: &str) -> Result<Software, Failure> {
        let module = bale_policy::module_name(name)?;
        let images_path = &config.image_path.value;
        let images = open::dir(images_path)?;
        let image_dir = open::beneath(
            &images,
            images_path,
            Path::new(&module.name),
            OFlags::DIRECTORY | OFlags::RDONLY,
            false,
        )?;
        let image_dir_path = images_path.join(&module.name);
        let file = format!("{}.sqfs", module.version);
        let image = open::image_in(caller, &image_dir, &image_dir_path, &file, false)?;
        let mounts = open::dir(&config.mount_path.value)?;
        let target_path = open::fd_path(&mounts)?.join(module.full());
        Ok(Software {
            module,
            image,
            image_dir,
            image_dir_path,
            file,
            target_path,
            mounts,
        })
    }

    /// Whether the module is already mounted at its place: its image (or,
    /// replaced since, its old contents), or a loop device there that
    /// records of this node other than `except`'s hold — an image the
    /// admin moved aside while mounted, whose backing file now has
    /// another name. Only the helper mounts at a module's place.
    pub fn mounted(&self, state: &NodeState, except: Option<&Key>) -> Result<bool, Failure> {
        let Some(mounted) = bale_registry::mounted::image_at(&self.target_path)? else {
            return Ok(false);
        };
        if bale_registry::mounted::is_or_was(&mounted, &self.image.path) {
            return Ok(true);
        }
        Ok(state
            .users_of(&self.target_path)?
            .iter()
            .any(|k| Some(k) != except))
    }

    /// Opens the module's place without symlinks or crossing mounts and
    /// checks rule `mountpoint` (owned by the owner of `SI_MOUNT_PATH`).
    pub fn target(&self, config: &Config) -> Result<OwnedFd, Failure> {
        let mounts_path = &config.mount_path.value;
        if std::fs::symlink_metadata(&self.target_path)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return Err(Failure::Error(format!(
                "{}: no such directory: a module's image is mounted over the module's directory, \
                 which must exist",
                self.target_path.display()
            )));
        }
        let target = open::beneath(
            &self.mounts,
            mounts_path,
            Path::new(&self.module.full()),
            OFlags::PATH | OFlags::DIRECTORY,
            true,
        )?;
        let owner = rustix::fs::fstat(&self.mounts)
            .map_err(|e| io(mounts_path, e))?
            .st_uid;
        bale_policy::mountpoint(
            &self.target_path,
            open::facts(&target, &self.target_path)?,
            owner,
        )?;
        Ok(target)
    }
}
