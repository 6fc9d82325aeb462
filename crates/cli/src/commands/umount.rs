//! `bale umount [--lazy] NAME/VERSION|MOUNTPOINT`: a FUSE mount is
//! unmounted directly (its server then exits); anything else goes to the
//! privileged helper, which drops the record and unmounts when nobody uses
//! it (`--lazy`: detaches a busy read-only mount at once).

use super::helper::{self, Named};
use bale_registry::mountinfo;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Software module NAME/VERSION, or where an image is mounted.
    pub target: String,
    /// The SLURM job the mount was recorded for.
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// Detach now even if files are open; the mount goes when they close
    /// (FUSE mounts, and kernel mounts of read-only images).
    #[arg(short = 'z', long)]
    pub lazy: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let named = helper::classify(&args.target);
    let config = bale_site::load(bale_site::Trust::User)?;
    if let Named::Path(path) = &named {
        let mounts = mountinfo::read()?;
        let is_fuse =
            mountinfo::mounted_at(&mounts, path).is_some_and(|m| m.fstype.starts_with("fuse"));
        // FUSE mounts, and everything when there is no helper, are the
        // FUSE driver's to unmount (it explains what is not a mount).
        if args.job_id.is_none() && (is_fuse || !helper::available(&config)) {
            bale_fuse::unmount(path, args.lazy)?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut argv = vec!["umount".to_string()];
    if args.lazy {
        argv.push("--lazy".into());
    }
    if let Some(job) = &args.job_id {
        argv.extend(["--job-id".into(), job.clone()]);
    }
    match named {
        Named::Module(m) => argv.extend(["--module".into(), m]),
        Named::Path(p) => argv.extend(["--mountpoint".into(), p.to_string_lossy().into_owned()]),
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    helper::run(&config, &argv)
}
