//! `bale run IMAGE[:MOUNTPOINT][,IMAGE[:MOUNTPOINT]…] -- COMMAND…`: images
//! mounted for one command and its children only, in a private mount
//! namespace that ends with them: nothing to unmount, nothing recorded.
//!
//! * kernel: `bale-helper run` mounts the images and becomes the command,
//!   running as the caller with every privilege given up;
//! * fuse: `bale` enters a user namespace of its own (mapping only the
//!   caller's ids) with a private mount namespace, serves the images with
//!   the FUSE driver in threads and runs the command as its child.
//!
//! IMAGE may be a software module `NAME/VERSION`, mounted at its place
//! `$SI_MOUNT_PATH/NAME/VERSION`. A user image without MOUNTPOINT goes to
//! `$SI_USR_MOUNT_PATH/$USER/<image name without extension>` (the helper
//! creates it; the FUSE backend needs it to exist). Mount points are
//! existing directories the caller owns. The exit status is the
//! command's; see docs/run.md.

use super::helper::{self, Named};
use super::mount::backend_parser;
use super::supervise::supervise;
use anyhow::Context;
use bale_fuse::MountConfig;
use bale_kmount::namespace::{self, Owner};
use bale_policy::MountpointFacts;
use bale_site::{Backend, Config};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[derive(clap::Args)]
pub struct Args {
    /// IMAGE[:MOUNTPOINT] or software module NAME/VERSION; several separated by commas.
    #[arg(value_name = "IMAGES", value_parser = well_formed)]
    pub images: String,
    /// Use this backend instead of the site's order of preference.
    #[arg(long, value_parser = backend_parser())]
    pub backend: Option<Backend>,
    /// The command and its arguments, after `--` (run directly, no shell).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// One image to mount, as the user named it.
struct Spec {
    named: Named,
    /// The mount point's real path, if given.
    mountpoint: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let specs = parse_specs(&args.images)?;
    let order = args
        .backend
        .map_or_else(|| config.backends.value.clone(), |b| vec![b]);
    let helper_use = helper::Usability::new(&config);
    match order
        .iter()
        .find(|b| **b == Backend::Fuse || helper_use.ok())
    {
        Some(Backend::Kernel) => kernel(&config, &specs, &args.command),
        Some(Backend::Fuse) => fuse(&fuse_plan(&config, &specs)?, &args.command),
        None => anyhow::bail!(
            "{}: no allowed backend ({}) can run this: {}",
            args.images,
            order
                .iter()
                .map(Backend::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            helper_use.why_not().unwrap_or_default()
        ),
    }
}

/// The `IMAGE[:MOUNTPOINT]` items of `text`, separated by commas.
fn items(text: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    text.split(',').map(|item| match item.split_once(':') {
        Some((image, mountpoint)) => (image, Some(mountpoint)),
        None => (item, None),
    })
}

/// Checks the syntax of IMAGES for clap, so a malformed list is a usage
/// error (exit status 2) like any other.
fn well_formed(text: &str) -> Result<String, String> {
    match items(text).any(|(image, mountpoint)| image.is_empty() || mountpoint == Some("")) {
        true => Err("expected IMAGE[:MOUNTPOINT], several separated by commas".into()),
        false => Ok(text.to_string()),
    }
}

/// The images to mount; mount points must be existing directories and are
/// passed on as real paths.
fn parse_specs(text: &str) -> anyhow::Result<Vec<Spec>> {
    items(text)
        .map(|(image, mountpoint)| {
            let named = helper::classify(image);
            if let (Named::Module(m), Some(_)) = (&named, mountpoint) {
                anyhow::bail!(
                    "{m}: a software module is mounted at its own place; give no MOUNTPOINT"
                );
            }
            let mountpoint = mountpoint.map(real_dir).transpose()?;
            Ok(Spec { named, mountpoint })
        })
        .collect()
}

fn real_dir(path: &str) -> anyhow::Result<PathBuf> {
    let real = std::fs::canonicalize(path).with_context(|| format!("{path}: mount point"))?;
    if !real.is_dir() {
        anyhow::bail!("{path}: mount point is not a directory");
    }
    Ok(real)
}

/// `bale-helper run --env-from OUR_PID … -- COMMAND…`, supervised: the
/// helper reads our environment for the command once it is the caller.
fn kernel(config: &Config, specs: &[Spec], command: &[OsString]) -> anyhow::Result<ExitCode> {
    let mut argv: Vec<OsString> = vec![
        "run".into(),
        "--env-from".into(),
        std::process::id().to_string().into(),
    ];
    for spec in specs {
        match &spec.named {
            Named::Module(m) => argv.extend(["--module".into(), m.into()]),
            Named::Path(image) => argv.extend(["--image".into(), image.into()]),
        }
        if let Some(mp) = &spec.mountpoint {
            argv.extend(["--mountpoint".into(), mp.into()]);
        }
    }
    argv.push("--".into());
    for word in command {
        anyhow::ensure!(
            word.to_str().is_some(),
            "{}: the kernel backend passes only UTF-8 arguments",
            word.to_string_lossy()
        );
        argv.push(word.clone());
    }
    supervise(&mut helper::command(config, &argv))
}

/// What the FUSE backend mounts: each image file and its mount point,
/// checked by rule `mountpoint` (a directory of the caller's, or a
/// module's place owned by the owner of `$SI_MOUNT_PATH`).
fn fuse_plan(config: &Config, specs: &[Spec]) -> anyhow::Result<Vec<MountConfig>> {
    let uid = rustix::process::getuid().as_raw();
    specs
        .iter()
        .filter(|spec| !module_mounted(config, &spec.named))
        .map(|spec| {
            let (image, mountpoint, owner) = match (&spec.named, &spec.mountpoint) {
                (Named::Path(image), Some(mp)) => (image.clone(), mp.clone(), uid),
                (Named::Path(image), None) => {
                    (image.clone(), default_mountpoint(config, image)?, uid)
                }
                (Named::Module(m), _) => {
                    let module = bale_policy::module_name(m)?;
                    let root = &config.mount_path.value;
                    let owner = std::fs::metadata(root)
                        .with_context(|| root.display().to_string())?
                        .uid();
                    let image = config
                        .image_path
                        .value
                        .join(&module.name)
                        .join(format!("{}.sqfs", module.version));
                    (image, root.join(module.full()), owner)
                }
            };
            let meta = std::fs::symlink_metadata(&mountpoint)
                .with_context(|| format!("{}: mount point", mountpoint.display()))?;
            let facts = MountpointFacts {
                is_dir: meta.is_dir(),
                owner: meta.uid(),
                mounted: false,
            };
            bale_policy::mountpoint(&mountpoint, facts, owner)?;
            Ok(MountConfig::new(image, mountpoint))
        })
        .collect()
}

/// Whether `named` is a software module the node has mounted at its place
/// (only the helper mounts there): the command simply sees it, as with the
/// kernel backend.
fn module_mounted(config: &Config, named: &Named) -> bool {
    let Some(module) = (match named {
        Named::Module(m) => bale_policy::module_name(m).ok(),
        Named::Path(_) => None,
    }) else {
        return false; // a bad name is refused when its mount is planned
    };
    let place = config.mount_path.value.join(module.full());
    std::fs::canonicalize(&place)
        .ok()
        .and_then(|place| bale_registry::mounted::image_at(&place).ok())
        .flatten()
        .is_some()
}

/// `$SI_USR_MOUNT_PATH/$USER/<image name without extension>`, which the
/// FUSE backend cannot create.
fn default_mountpoint(config: &Config, image: &Path) -> anyhow::Result<PathBuf> {
    let user = std::env::var("USER").context("USER is not set: give a MOUNTPOINT")?;
    let stem = image.file_stem().unwrap_or(image.as_os_str());
    let path = config.usr_mount_path.value.join(user).join(stem);
    anyhow::ensure!(
        path.is_dir(),
        "{}: default mount point of {} does not exist (the FUSE backend cannot create it): give IMAGE:MOUNTPOINT",
        path.display(),
        image.display()
    );
    Ok(path)
}

/// Enters a private user and mount namespace, mounts and serves every
/// image in threads, and runs the command as our child. Must run while
/// `bale` is still single-threaded (a user namespace needs that).
fn fuse(plan: &[MountConfig], command: &[OsString]) -> anyhow::Result<ExitCode> {
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let owner = if uid == 0 {
        Owner::Root
    } else {
        Owner::User { uid, gid }
    };
    namespace::enter_private(owner).context(
        "cannot make a private user and mount namespace (are unprivileged user namespaces allowed?)",
    )?;
    let mut servers = Vec::new();
    for config in plan {
        servers.push(bale_fuse::mount(config)?.spawn()?);
    }
    let mut child = Command::new(&command[0]);
    child.args(&command[1..]);
    end_with_us(&mut child);
    let code = supervise(&mut child);
    drop(servers);
    code
}

/// Our threads serve the command's mounts: if we are killed outright
/// (SIGKILL, which we cannot pass on), the command is killed too rather
/// than left running on mounts that no longer answer.
fn end_with_us(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let us = rustix::process::getpid();
    // SAFETY: between fork and exec only prctl and getppid, two system
    // calls that allocate nothing and take no lock.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // Killed before the prctl took effect: end now.
            match rustix::process::getppid() == Some(us) {
                true => Ok(()),
                false => Err(std::io::Error::from(std::io::ErrorKind::Interrupted)),
            }
        });
    }
}
