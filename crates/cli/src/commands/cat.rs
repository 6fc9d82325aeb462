//! `bale cat IMAGE PATH`: streams a regular file's contents to stdout.

use super::{open_image, resolve};
use anyhow::Context;
use bale_squashfs::inode::InodeData;
use os_display::Quotable;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
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
    let not_a_file = match &inode.data {
        InodeData::File(_) => None,
        InodeData::Directory(_) => Some("is a directory".to_string()),
        InodeData::Symlink { target } => Some(format!(
            "is a symlink to {} (symlinks are not followed)",
            OsStr::from_bytes(target).maybe_quote()
        )),
        _ => Some("is a special file, not a regular file".to_string()),
    };
    if let Some(reason) = not_a_file {
        anyhow::bail!("{}: {reason}", context());
    }
    let mut reader = archive.open_file(&inode).with_context(context)?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut reader, &mut out).with_context(context)?;
    out.flush().with_context(context)?;
    Ok(ExitCode::SUCCESS)
}
