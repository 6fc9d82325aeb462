//! `bale-helper run`: images mounted in a private mount namespace for one
//! command, which then replaces the helper, running as the caller with
//! every privilege given up. Nothing is recorded and nothing needs
//! cleaning: the mounts exist only in the namespace, and their loop devices
//! (autoclear) detach when its last process exits. The node's record lock
//! is held while attaching, as for every mount, so concurrent requests
//! cannot together pass the loop budget. Because the helper becomes the
//! command, its exit status and the signals sent to it are the command's.

use crate::args::{RunRequest, Target};
use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::software::Software;
use crate::{attach, open, privileges, user_target};
use bale_kmount::namespace::{self, Owner};
use bale_policy::ImageKind;
use bale_registry::node::NodeState;
use bale_site::Config;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

/// Mounts everything, becomes the caller and prepares the command. Returns
/// what was mounted (for the log) and the command to [`exec`].
pub fn prepare(
    caller: &Caller,
    config: &Config,
    req: &RunRequest,
) -> Result<(String, Command), Failure> {
    let cwd = std::env::current_dir().ok();
    namespace::enter_private(Owner::Root)
        .map_err(|e| Failure::Error(format!("cannot make a private mount namespace: {e}")))?;
    let state = NodeState::lock(&config.state_dir.value)?;
    let mut done = Vec::new();
    for target in &req.targets {
        done.push(match target {
            Target::Module(name) => module(caller, config, &state, name)?,
            Target::Image { image, mountpoint } => {
                user_image(caller, config, image, mountpoint.as_deref())?
            }
            Target::Mountpoint(_) => {
                return Err(Failure::Error("run needs --module or --image".into()))
            }
        });
    }
    drop(state);
    privileges::drop_to(caller)?;
    // From here on the kernel checks everything with the caller's rights.
    if cwd.is_none_or(|dir| std::env::set_current_dir(dir).is_err()) {
        std::env::set_current_dir("/").map_err(|e| io("/", e))?;
    }
    let mut command = Command::new(&req.command[0]);
    command.args(&req.command[1..]);
    if let Some(pid) = req.env_from {
        command.env_clear().envs(environment(pid)?);
    }
    Ok((done.join(", "), command))
}

/// Replaces the helper with the command, under the caller's `umask`;
/// returns only if that fails (see [`crate::launch`]).
pub fn exec(mut command: Command, umask: rustix::fs::Mode) -> ExitCode {
    crate::log::close();
    rustix::process::umask(umask);
    crate::signals::clear_for_exec();
    let err = command.exec();
    let (reason, status) = crate::launch::failure(&command, &err);
    eprintln!("bale-helper: {reason}");
    ExitCode::from(status)
}

fn module(
    caller: &Caller,
    config: &Config,
    state: &NodeState,
    name: &str,
) -> Result<String, Failure> {
    let sw = Software::open(caller, config, name)?;
    if sw.mounted(state, None)? {
        return Ok(format!("{} (already mounted)", sw.target_path.display()));
    }
    let target = sw.target(config)?;
    attach::budget(config)?;
    attach::mount(&sw.image, &target, &sw.target_path, false)?;
    Ok(sw.target_path.display().to_string())
}

/// A user image on a directory of the caller's, or on its default place
/// below `SI_USR_MOUNT_PATH/<caller>/`.
fn user_image(
    caller: &Caller,
    config: &Config,
    path: &Path,
    mountpoint: Option<&Path>,
) -> Result<String, Failure> {
    bale_policy::kernel_backend(path, config.kernel_backend_allowed())?;
    let (image, dir, dir_path, name) = open::user_image(caller, path, false)?;
    if image.kind == ImageKind::Ext4 {
        // Not recorded, but never read while another node writes it.
        let lock = bale_registry::cluster_lock::read(
            &dir,
            &dir_path,
            &bale_registry::cluster_lock::name_for(&name),
        )?;
        let listed = lock.entries.iter().map(|e| (e.rw, e.owner.host.as_str()));
        bale_policy::cluster_lock(&image.path, listed, false)?;
    }
    let mount = |target, target_path: &Path| {
        attach::budget(config)?;
        attach::mount(&image, target, target_path, false)?;
        Ok(format!(
            "{} on {}",
            image.path.display(),
            target_path.display()
        ))
    };
    match mountpoint {
        Some(mp) => mount(&open::own_dir(caller, mp)?, mp),
        None => {
            let target = user_target::open(caller, config, &name, None)?;
            mount(&target.fd, &target.path).inspect_err(|_| target.abandon(caller))
        }
    }
}

/// The environment of the caller's process `pid`, read with the caller's
/// rights (the kernel allows it only for their own processes).
fn environment(pid: u32) -> Result<Vec<(OsString, OsString)>, Failure> {
    let path = format!("/proc/{pid}/environ");
    let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
    Ok(bytes
        .split(|&b| b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=')?;
            Some((
                OsString::from_vec(entry[..eq].to_vec()),
                OsString::from_vec(entry[eq + 1..].to_vec()),
            ))
        })
        .collect())
}
