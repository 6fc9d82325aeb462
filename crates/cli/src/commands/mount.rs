//! `bale mount IMAGE|NAME/VERSION [MOUNTPOINT]`: the front end of both
//! mount backends, tried in the site's order of preference.
//!
//! * kernel: the privileged helper loop-mounts software modules at
//!   `$SI_MOUNT_PATH/NAME/VERSION` and user images (squashfs, or ext4 with
//!   `--rw`) below `$SI_USR_MOUNT_PATH/$USER/`;
//! * fuse: the FUSE driver mounts a squashfs image read-only on a
//!   directory the user owns. Without `--foreground` it starts the server
//!   detached and returns once the mount is ready.

use super::helper::{self, Named};
use super::parse_bytes;
use bale_fuse::logging::{self, Target};
use bale_fuse::{daemon, MountConfig};
use bale_site::{Backend, Config};
use os_display::Quotable;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to mount, or software module NAME/VERSION.
    pub image: OsString,
    /// Where to mount a user image (default with the kernel backend:
    /// $SI_USR_MOUNT_PATH/$USER/<image name without extension>).
    pub mountpoint: Option<PathBuf>,
    /// Mount read-write (ext4 images, kernel backend, one node at a time).
    #[arg(long)]
    pub rw: bool,
    /// Record the mount for this SLURM job (unmounted by `umount-all --job-id`).
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// Use this backend instead of the site's order of preference.
    #[arg(long, value_parser = backend_parser())]
    pub backend: Option<Backend>,
    /// FUSE: stay attached, serve until unmounted or interrupted, log to stderr.
    #[arg(short, long)]
    pub foreground: bool,
    /// FUSE: memory for decompressed blocks shared by all threads (e.g. 64M, 1G).
    #[arg(long, default_value = "64M", value_parser = parse_bytes)]
    pub cache_size: u64,
    /// FUSE: request threads (default: twice the cores, 4 to 16), at most
    /// 256 (each holds a descriptor of /dev/fuse and a stack).
    #[arg(short = 'j', long, default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=256))]
    pub threads: u16,
    /// FUSE mount options: `allow_other` (needs root or user_allow_other in /etc/fuse.conf);
    /// `ro`, `nosuid` and `nodev` are accepted, and always apply.
    #[arg(short = 'o', value_name = "OPTIONS", value_delimiter = ',')]
    pub options: Vec<String>,
    /// FUSE: log every request.
    #[arg(long)]
    pub debug: bool,
}

/// The backends by name; listing them lets clap check the value and shells
/// complete it.
pub(super) fn backend_parser() -> impl clap::builder::TypedValueParser<Value = Backend> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(["kernel", "fuse"]).map(|name| match name.as_str() {
        "kernel" => Backend::Kernel,
        _ => Backend::Fuse,
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let named = helper::classify(&args.image);
    if let (Named::Module(_), Some(_)) = (&named, &args.mountpoint) {
        // A module mounts at its own place: with a MOUNTPOINT the caller
        // meant an image file that is not there.
        anyhow::bail!(
            "{}: no such image file (a software module NAME/VERSION is mounted at its own place, without a MOUNTPOINT)",
            args.image.maybe_quote()
        );
    }
    let mountpoint = args
        .mountpoint
        .as_deref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    match choose(&config, &args, &named, mountpoint.as_deref())? {
        Backend::Kernel => kernel(&config, &args, &named, mountpoint.as_deref()),
        Backend::Fuse => match (&named, &mountpoint) {
            (Named::Path(image), Some(mountpoint)) => fuse(&args, image, mountpoint),
            _ => unreachable!("choose() only picks FUSE for an image and a mount point"),
        },
    }
}

/// The first backend in the site's order (or the one asked for) that can
/// do this mount.
fn choose(
    config: &Config,
    args: &Args,
    named: &Named,
    mountpoint: Option<&Path>,
) -> anyhow::Result<Backend> {
    let user_root = config.usr_mount_path.value.as_path();
    let kernel_place =
        matches!(named, Named::Module(_)) || mountpoint.is_none_or(|m| m.starts_with(user_root));
    let helper_use = helper::Usability::new(config);
    let kernel_ok = || kernel_place && helper_use.ok();
    let fuse_ok = matches!(named, Named::Path(_))
        && mountpoint.is_some()
        && !args.rw
        && args.job_id.is_none();
    let usable = |b: &Backend| match b {
        Backend::Kernel => kernel_ok(),
        Backend::Fuse => fuse_ok,
    };
    let order = match (args.backend, named) {
        (Some(b), _) => vec![b],
        // Admin-made images: the helper mounts them whatever `backends`
        // says (it governs users' images).
        (None, Named::Module(_)) => vec![Backend::Kernel],
        (None, Named::Path(_)) => config.backends.value.clone(),
    };
    order.iter().copied().find(usable).ok_or_else(|| {
        let why = match (named, helper_use.why_not()) {
            (Named::Module(m), Some(why)) => {
                format!("software module {m} needs the kernel backend, and {why}")
            }
            (_, Some(why)) if args.rw || args.job_id.is_some() => {
                format!("--rw and --job-id need the kernel backend, and {why}")
            }
            _ if args.rw || args.job_id.is_some() => format!(
                "--rw and --job-id need the kernel backend, which mounts only below {}/$USER",
                user_root.display()
            ),
            (_, Some(why)) if kernel_place && !fuse_ok => {
                format!("the kernel backend would mount this, but {why}")
            }
            _ => format!(
                "no allowed backend ({}) can mount this: the kernel backend mounts below {}/$USER, the FUSE backend needs a MOUNTPOINT",
                order.iter().map(Backend::to_string).collect::<Vec<_>>().join(", "),
                user_root.display()
            ),
        };
        anyhow::anyhow!("{}: {why}", args.image.maybe_quote())
    })
}

fn kernel(
    config: &Config,
    args: &Args,
    named: &Named,
    mountpoint: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut argv: Vec<OsString> = vec!["mount".into()];
    if args.rw {
        argv.push("--rw".into());
    }
    if let Some(job) = &args.job_id {
        argv.extend(["--job-id".into(), job.into()]);
    }
    match named {
        Named::Module(m) => argv.extend(["--module".into(), m.into()]),
        Named::Path(image) => {
            argv.extend(["--image".into(), image.into()]);
            if let Some(mp) = mountpoint {
                argv.extend(["--mountpoint".into(), mp.into()]);
            }
        }
    }
    helper::run(config, &argv)
}

fn fuse(args: &Args, image: &Path, mountpoint: &Path) -> anyhow::Result<ExitCode> {
    let mut config = MountConfig::new(image.to_path_buf(), mountpoint.to_path_buf());
    config.cache_bytes = args.cache_size;
    config.threads = args.threads.into();
    for option in &args.options {
        match option.as_str() {
            "allow_other" => config.allow_other = true,
            // What every bale mount is anyway.
            "ro" | "nosuid" | "nodev" => {}
            other => anyhow::bail!(
                "unknown mount option {other:?} (supported: allow_other; ro, nosuid and nodev always apply)"
            ),
        }
    }
    if args.foreground {
        logging::init(Target::Stderr, args.debug);
        bale_fuse::mount(&config)?.run()?;
    } else {
        daemon::detach(mountpoint, |report| {
            logging::init(Target::Syslog, args.debug);
            let server = bale_fuse::mount(&config)?;
            report
                .ready()
                .map_err(|e| bale_fuse::Error::new(mountpoint, e))?;
            server.run()
        })?;
    }
    Ok(ExitCode::SUCCESS)
}
