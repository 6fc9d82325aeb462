//! Where a user image is mounted by `bale mount`, and by `bale run` when
//! no mount point is given: strictly below `SI_USR_MOUNT_PATH/<caller>/`,
//! by default `<image name without extension>`, created as the caller
//! (and removed again when the mount then fails).

use crate::creds::as_caller;
use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::open;
use bale_site::Config;
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Mode, OFlags};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// An opened user mount point.
pub struct UserTarget {
    pub fd: OwnedFd,
    /// Its real path.
    pub path: PathBuf,
    /// The parent and name of the directory, when this mount made it.
    made: Option<(OwnedFd, OsString)>,
}

impl UserTarget {
    /// For a mount that failed: removes the directory made for it (as the
    /// caller, and only while it is empty), so refused mounts leave no
    /// trace in the user's directory.
    pub fn abandon(self, caller: &Caller) {
        remove_made(caller, self.made);
    }
}

fn remove_made(caller: &Caller, made: Option<(OwnedFd, OsString)>) {
    if let Some((parent, leaf)) = made {
        let _ = as_caller(caller, || {
            rustix::fs::unlinkat(&parent, &leaf, AtFlags::REMOVEDIR)
        });
    }
}

/// Opens (creating the leaf if missing) the mount point for the image
/// `name`: `mountpoint` if given, else the default; checks rules
/// `user-mount-root` and `mountpoint`.
pub fn open(
    caller: &Caller,
    config: &Config,
    name: &str,
    mountpoint: Option<&Path>,
) -> Result<UserTarget, Failure> {
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
                "{}: user mounts go directly in {}/",
                wanted.display(),
                lexical_root.display()
            ),
        )
    })?;
    let made = make_leaf(caller, &user_dir, &user_dir_path, &rel)?;
    let opened = open::beneath(
        &user_dir,
        &user_dir_path,
        &rel,
        OFlags::PATH | OFlags::DIRECTORY,
        true,
    )
    .and_then(|fd| {
        let facts = open::facts(&fd, &target_path)?;
        bale_policy::mountpoint(&target_path, facts, caller.uid)?;
        Ok(fd)
    });
    match opened {
        Ok(fd) => Ok(UserTarget {
            fd,
            path: target_path,
            made,
        }),
        Err(e) => {
            remove_made(caller, made);
            Err(e)
        }
    }
}

/// Creates the mount point (as the caller) if missing; its parent must
/// exist. Returns the parent and name when it made the directory.
fn make_leaf(
    caller: &Caller,
    user_dir: &OwnedFd,
    user_dir_path: &Path,
    rel: &Path,
) -> Result<Option<(OwnedFd, OsString)>, Failure> {
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
        Ok(()) => Ok(Some((parent, leaf.to_owned()))),
        Err(rustix::io::Errno::EXIST) => Ok(None),
        Err(e) => Err(io(user_dir_path.join(rel), e)),
    }
}
