//! `bale resize IMAGE NEWSIZE`: grows or shrinks an ext4 user image with
//! `e2fsck -f` + `resize2fs`, only while no node has it mounted: the
//! image's cluster lock is held for the whole operation and must list no
//! node. A resize that fails half-way is abandoned and the image repaired.

use super::e2fs;
use super::parse_bytes;
use super::unmounted;
use crate::output;
use anyhow::{bail, Context};
use bale_policy::ImageKind;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
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
    if kind != ImageKind::Ext4 {
        bail!("{shown}: only ext4 images can be resized (squashfs images are repacked instead)");
    }
    let lock = unmounted::hold(&args.image, "resize")?;
    let image = args.image.as_os_str();
    e2fs::run(
        "e2fsck",
        &[OsStr::new("-f"), OsStr::new("-p"), image],
        &args.image,
    )?;
    let resized = if args.size > meta.len() {
        file.set_len(args.size).with_context(|| shown.clone())?;
        e2fs::run("resize2fs", &[image], &args.image)
    } else {
        let kib = format!("{}K", args.size / 1024);
        e2fs::run("resize2fs", &[image, OsStr::new(&kib)], &args.image)
    };
    if let Err(why) = resized {
        return Err(repair_after_failed_resize(
            &file,
            meta.len(),
            &args.image,
            why,
        ));
    }
    if args.size < meta.len() {
        file.set_len(args.size).with_context(|| shown.clone())?;
    }
    drop(lock);
    writeln!(output::stdout(), "resized {shown} to {} bytes", args.size)?;
    Ok(ExitCode::SUCCESS)
}

/// Repairs an image after resize2fs stopped half-way (a full file system
/// under the image, most often), as resize2fs itself advises: `e2fsck
/// -fy`, at the old length while the superblock (written last) still gives
/// the old size, which also returns the space a grow took. Returns the
/// error to report, saying what state the image is in.
fn repair_after_failed_resize(
    file: &std::fs::File,
    old_len: u64,
    image: &Path,
    why: anyhow::Error,
) -> anyhow::Error {
    let old_size_kept = bale_kmount::superblock::detect(file, old_len) == Ok(ImageKind::Ext4);
    let repaired = (|| {
        if old_size_kept {
            file.set_len(old_len)?;
        }
        let repair = [OsStr::new("-f"), OsStr::new("-y"), image.as_os_str()];
        e2fs::run("e2fsck", &repair, image)?;
        Ok::<_, anyhow::Error>(file.metadata()?.len())
    })();
    match repaired {
        Ok(len) => anyhow::anyhow!(
            "{why}; the resize was abandoned and e2fsck repaired the image ({len} bytes)"
        ),
        Err(repair) => anyhow::anyhow!(
            "{why}; repairing it failed too ({repair:#}): run `e2fsck -fy {}` once there is space",
            image.display()
        ),
    }
}
