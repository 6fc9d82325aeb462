//! `bale cat IMAGE PATH`: streams a regular file's contents to stdout,
//! following symlinks inside the image as a mount of it would.

use super::{open_image, resolve};
use crate::output;
use anyhow::Context;
use bale_squashfs::inode::InodeData;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to read from.
    pub image: PathBuf,
    /// Path of a regular file inside the image (symlinks in the image are
    /// followed, within it).
    pub path: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let archive = open_image(&args.image)?;
    let (_, inode) = resolve(&archive, &args.image, &args.path, true)?;
    let context = || format!("{}: {}", args.image.display(), args.path.display());
    match inode.data {
        InodeData::File(_) => {}
        InodeData::Directory(_) => anyhow::bail!("{}: is a directory", context()),
        _ => anyhow::bail!("{}: is a special file, not a regular file", context()),
    }
    let mut reader = archive.open_file(&inode).with_context(context)?;
    std::io::copy(&mut reader, &mut output::stdout()).with_context(context)?;
    Ok(ExitCode::SUCCESS)
}
