//! `bale extract IMAGE DIR [--path P] [-f]`: restores the image, or one of
//! its directories, as a directory tree.

use super::{counted, of_image, open_image, resolve};
use crate::output;
use bale_squashfs::InodeKind;
use bale_unpack::ExtractOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to extract.
    pub image: PathBuf,
    /// Destination directory (created if missing; must be empty unless -f).
    pub dir: PathBuf,
    /// Extract into a non-empty directory, replacing what is in the way.
    #[arg(short, long)]
    pub force: bool,
    /// Only this directory of the image; its content goes into DIR (one
    /// file: `bale cat`).
    #[arg(long, value_name = "PATH")]
    pub path: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The walk holds a descriptor per directory level: a deep tree needs
    // more than the usual soft limit of 1024.
    bale_os::limits::raise_open_files();
    let archive = open_image(&args.image)?;
    let subtree = match &args.path {
        Some(path) => {
            let (inode_ref, inode) = resolve(&archive, &args.image, path, true)?;
            if inode.kind() != InodeKind::Directory {
                anyhow::bail!(
                    "{}: {}: not a directory (bale cat writes out one file)",
                    args.image.display(),
                    path.display()
                );
            }
            Some(inode_ref)
        }
        None => None,
    };
    let options = ExtractOptions {
        force: args.force,
        subtree,
    };
    let report = of_image(
        &args.image,
        bale_unpack::extract(&archive, &args.dir, options),
    )?;
    for skipped in &report.skipped {
        eprintln!("bale: skipped {skipped}");
    }
    writeln!(
        output::stdout(),
        "extracted {}, {} ({} bytes), {}, {}, {}",
        counted(report.directories, "directory", "directories"),
        counted(report.files, "file", "files"),
        report.bytes,
        counted(report.symlinks, "symlink", "symlinks"),
        counted(report.hard_links, "hard link", "hard links"),
        counted(report.special, "special file", "special files"),
    )?;
    Ok(ExitCode::SUCCESS)
}
