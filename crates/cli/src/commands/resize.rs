//! `bale resize IMAGE NEWSIZE`: grows or shrinks an ext4 user image with
//! `e2fsck -f` + `resize2fs`, only while no node has it mounted: the
//! image's cluster lock is held for the whole operation and must list no
//! node.

use super::e2fs;
use super::parse_bytes;
use crate::output;
use anyhow::{bail, Context};
use bale_registry::cluster_lock::ClusterLock;
use bale_registry::owner::Node;
use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
        .map_err(|r| anyhow::anyhow!("{shown}: {r}"))?;
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
    let dir = args
        .image
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(".".as_ref());
    let name = args
        .image
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{shown}: name must be UTF-8"))?;
    let dir_fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .with_context(|| dir.display().to_string())?;
    let node = Node::current().context("/proc/sys/kernel/random/boot_id")?;
    let lock = ClusterLock::acquire(
        dir_fd,
        dir,
        &format!("{name}.lock"),
        &node.owner(std::process::id()),
        Duration::from_secs(20),
    )?;
    if let Some(entry) = lock.contents.entries.first() {
        bail!(
            "{shown}: mounted on {} (resize needs it unmounted everywhere)",
            entry.owner.host
        );
    }
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
