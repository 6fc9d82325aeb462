//! `bale create IMAGE --size 20G` or `--from DIR [--oversize 1.3]`: a
//! read-write ext4 user image, made without root: a sparse file formatted
//! with `mke2fs -t ext4 -T small` (filled from DIR with `mke2fs -d`), owned
//! by the user, built beside IMAGE and renamed into place only when done.

use super::e2fs;
use super::parse_bytes;
use super::unmounted;
use crate::output;
use anyhow::{bail, Context};
use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The image file to create.
    pub image: PathBuf,
    /// Size of an empty image (e.g. 20G); the file is sparse.
    #[arg(long, value_parser = parse_bytes, required_unless_present = "from", conflicts_with = "from")]
    pub size: Option<u64>,
    /// Fill the image with this directory's tree.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// With --from: room to grow, as a factor of the tree's size.
    #[arg(long, default_value_t = 1.3, requires = "from")]
    pub oversize: f64,
    /// Replace an existing image.
    #[arg(short, long)]
    pub force: bool,
}

/// Inodes per byte that `-T small` sets up, and their size.
const SMALL_INODE_RATIO: u64 = 4096;
const INODE_SIZE: u64 = 256;
/// Journal and other fixed metadata of a small file system.
const FIXED_OVERHEAD: u64 = 32 << 20;
/// The smallest image made: mke2fs needs some 64 KiB, and anything much
/// smaller than a megabyte holds nothing.
const MIN_SIZE: u64 = 1 << 20;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let shown = args.image.display().to_string();
    if args.image.exists() && !args.force {
        bail!("{shown}: already exists (use -f to replace it)");
    }
    let size = match (&args.from, args.size) {
        (Some(dir), _) => {
            if !(1.0..=100.0).contains(&args.oversize) {
                bail!("--oversize {}: must be between 1 and 100", args.oversize);
            }
            size_for(dir, args.oversize)?
        }
        (None, Some(size)) if size < MIN_SIZE => {
            bail!("{shown}: --size {size}: an ext4 image needs at least 1M")
        }
        (None, Some(size)) => size,
        (None, None) => unreachable!("clap requires --size or --from"),
    };
    bale_policy::image_size(size, config.max_user_image_size.value)
        .with_context(|| shown.clone())?;
    // Replacing an image some node has mounted would lose what is written
    // there (into the old, unlinked file).
    let _lock = match args.image.exists() {
        true => Some(unmounted::hold(&args.image, "replacing it")?),
        false => None,
    };
    let temp = temp_beside(&args.image)?;
    let built = build(&temp.0, size, args.from.as_deref(), &args.image);
    match built.and_then(|()| std::fs::rename(&temp.0, &args.image).with_context(|| shown.clone()))
    {
        Ok(()) => {
            std::mem::forget(temp);
            writeln!(output::stdout(), "created {shown}: ext4, {size} bytes")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}

/// Formats `temp`, the file that becomes `image` (which errors name).
fn build(temp: &Path, size: u64, from: Option<&Path>, image: &Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(temp)
        .with_context(|| image.display().to_string())?;
    file.set_len(size)
        .with_context(|| image.display().to_string())?;
    drop(file);
    let owner = format!(
        "root_owner={}:{}",
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw()
    );
    let mut argv: Vec<&OsStr> = ["-q", "-F", "-t", "ext4", "-T", "small", "-E", &owner]
        .map(OsStr::new)
        .to_vec();
    if let Some(dir) = from {
        argv.extend([OsStr::new("-d"), dir.as_os_str()]);
    }
    argv.push(temp.as_os_str());
    e2fs::run("mke2fs", &argv, image).map_err(|e| {
        // Only a lack of room is cured by more room (an unreadable file in
        // the tree, say, is not).
        let said = format!("{e:#}");
        let full = ["No space left", "Could not allocate"]
            .iter()
            .any(|s| said.contains(s));
        match from.is_some() && full {
            true => e.context("the tree did not fit: try a larger --oversize"),
            false => e,
        }
    })
}

/// The image size for a tree: its blocks and inodes times `oversize`, plus
/// the inode tables `-T small` sets aside and a fixed overhead.
fn size_for(dir: &Path, oversize: f64) -> anyhow::Result<u64> {
    let mut data = 0u64;
    let mut entries = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| d.display().to_string())? {
            let entry = entry.with_context(|| d.display().to_string())?;
            let meta: Metadata = entry
                .metadata()
                .with_context(|| entry.path().display().to_string())?;
            entries += 1;
            data += meta.blocks() * 512 + 1024;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    let need = (data as f64 * oversize) as u64;
    let inode_share = need.max(entries * SMALL_INODE_RATIO) / SMALL_INODE_RATIO * INODE_SIZE;
    let total = need.max(entries * SMALL_INODE_RATIO) + inode_share + FIXED_OVERHEAD;
    Ok(total.div_ceil(1 << 20) << 20)
}

/// A new empty file beside `image`, removed on drop unless forgotten.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_beside(image: &Path) -> anyhow::Result<Temp> {
    let name = image
        .file_name()
        .with_context(|| format!("{}: not a file name", image.display()))?;
    let temp = image.with_file_name(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .with_context(|| image.display().to_string())?;
    Ok(Temp(temp))
}
