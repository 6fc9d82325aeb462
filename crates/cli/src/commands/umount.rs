//! `bale umount [--lazy] NAME/VERSION|MOUNTPOINT|IMAGE`: a FUSE mount is
//! unmounted directly (its server then exits); anything else goes to the
//! privileged helper, which drops the record and unmounts when nobody uses
//! it (`--lazy`: detaches a busy read-only mount at once). An image file
//! stands for every place the caller has it mounted on this node.

use super::helper::{self, Named};
use super::user_name;
use anyhow::Context;
use bale_registry::node::{Key, NodeState};
use bale_registry::{fuse_mounts, mountinfo};
use bale_site::Config;
use os_display::Quotable;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Software module NAME/VERSION, where an image is mounted, or the image
    /// (every place you have it mounted on this node).
    pub target: OsString,
    /// The SLURM job the mount was recorded for.
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// Detach now even if files are open; the mount goes when they close
    /// (FUSE mounts, and kernel mounts of read-only images).
    #[arg(short = 'z', long)]
    pub lazy: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    match helper::classify_target(&args.target) {
        Named::Path(image) if image.is_file() => {
            let places = mounts_of(&config, &image, args.job_id.as_deref())?;
            if places.is_empty() {
                anyhow::bail!(
                    "{}: not mounted by you on this node (`bale list` shows what is)",
                    image.display()
                );
            }
            for place in places {
                let code = unmount(&args, &config, place)?;
                if code != ExitCode::SUCCESS {
                    return Ok(code);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        named => unmount(&args, &config, named),
    }
}

/// Where the caller (or `job`) has `image` mounted on this node: the
/// records naming it, as modules or mount points, and FUSE mounts of it.
fn mounts_of(config: &Config, image: &Path, job: Option<&str>) -> anyhow::Result<Vec<Named>> {
    let image = image.canonicalize()?;
    let uid = rustix::process::getuid().as_raw();
    let key = match job {
        Some(id) => Key::job(id).map_err(anyhow::Error::msg)?,
        None => Key::User(user_name(uid).with_context(|| format!("uid {uid}: no user name"))?),
    };
    let records = match NodeState::snapshot(&config.state_dir.value)? {
        Some(state) => state.read(&key).map_err(|e| match e {
            bale_registry::Error::Parse { .. } => {
                anyhow::anyhow!("{e} ({})", bale_registry::node::MALFORMED_REPAIR)
            }
            e => e.into(),
        })?,
        None => Vec::new(),
    };
    let mut places: Vec<Named> = records
        .into_iter()
        .filter(|r| r.image == image)
        .map(|r| match r.module {
            Some(module) => Named::Module(module),
            None => Named::Path(r.mountpoint),
        })
        .collect();
    if job.is_none() {
        places.extend(
            mountinfo::read()?
                .into_iter()
                .filter(|m| fuse_mounts::is_bale_mount(&m.fstype) && m.source == image)
                .filter(|m| fuse_mounts::mount_owner(&m.super_options) == Some(uid))
                .map(|m| Named::Path(m.target)),
        );
    }
    Ok(places)
}

/// An ordinary user may unmount only their own FUSE mounts (fusermount3
/// would refuse the others with a message about /etc/mtab).
fn check_fuse_owner(path: &Path, mount: &mountinfo::Mount) -> anyhow::Result<()> {
    let uid = rustix::process::getuid();
    match fuse_mounts::mount_owner(&mount.super_options) {
        Some(owner) if !uid.is_root() && owner != uid.as_raw() => anyhow::bail!(
            "{}: mounted by {}, not by you",
            path.display(),
            user_name(owner).unwrap_or_else(|| format!("uid {owner}"))
        ),
        _ => Ok(()),
    }
}

/// Unmounts one module or mount point: bale's FUSE mounts directly, the
/// rest through the helper, which releases only what its records hold.
/// Without a helper nothing but bale's FUSE mounts is unmounted — not even
/// by root, who could unmount anything.
fn unmount(args: &Args, config: &Config, named: Named) -> anyhow::Result<ExitCode> {
    if let (Named::Path(path), None) = (&named, &args.job_id) {
        // mountinfo holds real paths; a mount whose server died cannot be
        // resolved, and is named as given.
        let real = path.canonicalize().unwrap_or_else(|_| path.clone());
        let mounts = mountinfo::read()?;
        let missing = std::fs::symlink_metadata(path).err();
        match (mountinfo::mounted_at(&mounts, &real), missing) {
            (Some(m), _) if fuse_mounts::is_bale_mount(&m.fstype) => {
                check_fuse_owner(path, m)?;
                bale_fuse::unmount(&real, args.lazy)?;
                return Ok(ExitCode::SUCCESS);
            }
            (None, Some(e)) => return Err(e).with_context(|| path.display().to_string()),
            _ if helper::available(config) => {}
            (None, None) => anyhow::bail!("{}: not a mount point", path.display()),
            (Some(m), _) => anyhow::bail!(
                "{}: {} {} mount that bale did not make (bale unmounts only its own)",
                path.display(),
                if m.fstype.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                },
                m.fstype
            ),
        }
    }
    let mut argv: Vec<OsString> = vec!["umount".into()];
    if args.lazy {
        argv.push("--lazy".into());
    }
    if let Some(job) = &args.job_id {
        argv.extend(["--job-id".into(), job.into()]);
    }
    match named {
        Named::Module(m) => argv.extend(["--module".into(), m.into()]),
        Named::Path(p) => argv.extend(["--mountpoint".into(), p.into_os_string()]),
    }
    helper::run(config, &argv).with_context(|| args.target.maybe_quote().to_string())
}
