//! `bale resize IMAGE NEWSIZE`: grows or shrinks an ext4 user image with
//! `e2fsck -f` + `resize2fs`, only while no node has it mounted: the
//! image's cluster lock is held for the whole operation and must list no
//! node.

use super::e2fs;
use super::parse_bytes;
use super::unmounted;
use crate::output;
use anyhow::{bail, Context};
use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The ext4 image.
    pub image: PathBuf,
    /// Its new size (e.g. 40G).
    #[arg(value_parser = parse_bytes)]
    pub size: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let shown = args.image.display().to_string();
    bale_policy::image_size(args.size, config.max_user_image_size.value)
        .with_context(|| shown.clone())?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&args.image)
        .with_context(|| shown.clone())?;
    let meta = file.metadata().with_context(|| shown.clone())?;
    let kind = bale_kmount::superblock::detect(&file, meta.len())
        .map_err(|why| anyhow::anyhow!("{shown}: {why}"))?;
    if kind != bale_policy::ImageKind::Ext4 {
        bail!("{shown}: only ext4 images can be resized (squashfs images are repacked instead)");
    }
    let lock = unmounted::hold(&args.image, "resize")?;
    let image = args.image.as_os_str();
    e2fs::run(
        "e2fsck",
        &[OsStr::new("-f"), OsStr::new("-p"), image],
        &args.image,
    )?;
    if args.size > meta.len() {
        file.set_len(args.size).with_context(|| shown.clone())?;
        e2fs::run("resize2fs", &[image], &args.image)?;
    } else {
        let kib = format!("{}K", args.size / 1024);
        e2fs::run("resize2fs", &[image, OsStr::new(&kib)], &args.image)?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&args.image)
            .and_then(|f| f.set_len(args.size))
            .with_context(|| shown.clone())?;
    }
    drop(lock);
    writeln!(output::stdout(), "resized {shown} to {} bytes", args.size)?;
    Ok(ExitCode::SUCCESS)
}
