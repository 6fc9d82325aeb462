//! `bale mount IMAGE MOUNTPOINT`: mounts an image read-only with the FUSE
//! driver. Without `--foreground` it starts the server detached and
//! returns once the mount is ready.

use super::parse_bytes;
use bale_fuse::logging::{self, Target};
use bale_fuse::{daemon, MountConfig};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to mount.
    pub image: PathBuf,
    /// Existing directory to mount it on.
    pub mountpoint: PathBuf,
    /// Stay attached: serve until unmounted or interrupted, log to stderr.
    #[arg(short, long)]
    pub foreground: bool,
    /// Memory for decompressed blocks shared by all threads (e.g. 64M, 1G).
    #[arg(long, default_value = "64M", value_parser = parse_bytes)]
    pub cache_size: u64,
    /// Request threads (default: twice the cores, 4 to 16).
    #[arg(short = 'j', long, default_value_t = 0)]
    pub threads: usize,
    /// Mount options; only `allow_other` (needs root or user_allow_other in /etc/fuse.conf).
    #[arg(short = 'o', value_name = "OPTIONS", value_delimiter = ',')]
    pub options: Vec<String>,
    /// Log every FUSE request.
    #[arg(long)]
    pub debug: bool,
    /// Internal: run as the detached server started by `bale mount`.
    #[arg(long, hide = true)]
    pub detached_server: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = MountConfig::new(args.image.clone(), args.mountpoint.clone());
    config.cache_bytes = args.cache_size;
    config.threads = args.threads;
    for option in &args.options {
        match option.as_str() {
            "allow_other" => config.allow_other = true,
            other => anyhow::bail!("unknown mount option {other:?} (supported: allow_other)"),
        }
    }
    if !args.foreground && !args.detached_server {
        let program = std::env::current_exe()?;
        let mut child_args: Vec<_> = std::env::args_os().skip(1).collect();
        child_args.push("--detached-server".into());
        daemon::spawn(&program, &child_args, &args.mountpoint)?;
        return Ok(ExitCode::SUCCESS);
    }
    let target = if args.detached_server {
        Target::Syslog
    } else {
        Target::Stderr
    };
    logging::init(target, args.debug);
    let server = bale_fuse::mount(&config)?;
    if args.detached_server {
        daemon::ready()?;
    }
    server.run()?;
    Ok(ExitCode::SUCCESS)
}
