//! `bale umount MOUNTPOINT`: unmounts a `bale mount`; the server then exits.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Where the image is mounted.
    pub mountpoint: PathBuf,
    /// Detach now even if files are open; the mount goes when they close.
    #[arg(short = 'z', long)]
    pub lazy: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    bale_fuse::unmount(&args.mountpoint, args.lazy)?;
    Ok(ExitCode::SUCCESS)
}
