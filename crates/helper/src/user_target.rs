//! Where a user image is mounted by `bale mount`, and by `bale run` when
//! no mount point is given: strictly below `SI_USR_MOUNT_PATH/<caller>/`,
//! by default `<image name without extension>`, created as the caller.

use crate::creds::as_caller;
use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open;
use bale_site::Config;
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use std::path::{Path, PathBuf};

/// Opens (creating the leaf if missing) the mount point for the image
/// `name`: `mountpoint` if given, else the default; checks rules
/// `user-mount-root` and `mountpoint`. Returns it and its real path.
pub fn open(
    caller: &Caller,
    config: &Config,
    name: &str,
    mountpoint: Option<&Path>,
) -> Result<(OwnedFd, PathBuf), Failure> {
    let usr_root = &config.usr_mount_path.value;
    let (user_dir, user_dir_path) = open::user_dir(caller, usr_root)?;
    let stem = Path::new(name).file_stem().unwrap_or(name.as_ref());
    let wanted = mountpoint.map_or_else(|| user_dir_path.join(stem), Path::to_path_buf);
    // Accept the configured root as given or as the kernel spells it.
    let lexical_root = usr_root.join(&caller.name);
    let rel = wanted
        .strip_prefix(&lexical_root)
        .or_else(|_| wanted.strip_prefix(&user_dir_path))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| PathBuf::from(".."));
    let target_path = user_dir_path.join(&rel);
    let real_root = user_dir_path.parent().unwrap_or(Path::new("/"));
    bale_policy::user_mountpoint(&target_path, real_root, &caller.name).map_err(|r| {
        bale_policy::Refusal::new(
            r.rule,
            format!(
                "{}: user mounts go below {}/",
                wanted.display(),
                lexical_root.display()
            ),
        )
    })?;
    make_leaf(caller, &user_dir, &user_dir_path, &rel)?;
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
        caller.uid,
    )?;
    Ok((target, target_path))
}

/// Creates the mount point (as the caller) if missing; its parent must
/// exist.
fn make_leaf(
    caller: &Caller,
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
    match as_caller(caller, || {
        rustix::fs::mkdirat(&parent, leaf, Mode::from_raw_mode(0o755))
    }) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => Err(io(user_dir_path.join(rel), e)),
    }
}
