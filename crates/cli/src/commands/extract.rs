//! `bale extract IMAGE DIR [-f]`: restores the image as a directory tree.

use super::{counted, open_image};
use anyhow::Context;
use bale_unpack::ExtractOptions;
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
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let archive = open_image(&args.image)?;
    let report = bale_unpack::extract(&archive, &args.dir, ExtractOptions { force: args.force })
        .with_context(|| args.image.display().to_string())?;
    for skipped in &report.skipped {
        eprintln!("bale: skipped {skipped}");
    }
    println!(
        "extracted {}, {} ({} bytes), {}, {}, {}",
        counted(report.directories, "directory", "directories"),
        counted(report.files, "file", "files"),
        report.bytes,
        counted(report.symlinks, "symlink", "symlinks"),
        counted(report.hard_links, "hard link", "hard links"),
        counted(report.special, "special file", "special files"),
    );
    Ok(ExitCode::SUCCESS)
}
