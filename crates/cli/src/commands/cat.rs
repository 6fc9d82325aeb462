//! `bale cat IMAGE PATH`: streams a regular file's contents to stdout.

use super::{open_image, resolve};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to read from.
    pub image: PathBuf,
    /// Path of a regular file inside the image.
    pub path: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let archive = open_image(&args.image)?;
    let (_, inode) = resolve(&archive, &args.image, &args.path)?;
    let context = || format!("{}: {}", args.image.display(), args.path);
    let mut reader = archive.open_file(&inode).with_context(context)?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut reader, &mut out).with_context(context)?;
    out.flush().with_context(context)?;
    Ok(ExitCode::SUCCESS)
}
