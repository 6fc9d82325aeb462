//! `bale verify IMAGE [--against DIR]`: reads everything in the image and,
//! with `--against`, prints one line per difference from DIR (exit 1).

use super::{counted, of_image, open_image};
use crate::output;
use bale_unpack::{Ignore, Summary};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to verify.
    pub image: PathBuf,
    /// Compare contents and metadata with this directory tree.
    #[arg(long, value_name = "DIR")]
    pub against: Option<PathBuf>,
    /// With --against: do not compare owners (a tree extracted by an
    /// ordinary user, an image packed with --all-root).
    #[arg(long, requires = "against")]
    pub ignore_owners: bool,
    /// With --against: do not compare mtimes (an image packed with
    /// --mtime or SOURCE_DATE_EPOCH).
    #[arg(long, requires = "against")]
    pub ignore_mtimes: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let archive = open_image(&args.image)?;
    let (summary, differences) = match &args.against {
        Some(dir) => {
            let ignore = Ignore {
                owners: args.ignore_owners,
                mtimes: args.ignore_mtimes,
            };
            of_image(
                &args.image,
                bale_unpack::verify_against(&archive, dir, ignore),
            )?
        }
        None => (
            of_image(&args.image, bale_unpack::verify(&archive))?,
            Vec::new(),
        ),
    };
    for difference in &differences {
        writeln!(output::stdout(), "{difference}")?;
    }
    eprintln!("{}", describe(&summary));
    if differences.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        let count = counted(differences.len() as u64, "difference", "differences");
        eprintln!("bale: {}: {count}", args.image.display());
        Ok(ExitCode::FAILURE)
    }
}

fn describe(s: &Summary) -> String {
    format!(
        "verified {}: {}, {} ({} bytes), {}, {}, {}, {}",
        counted(s.entries, "entry", "entries"),
        counted(s.directories, "directory", "directories"),
        counted(s.files, "file", "files"),
        s.bytes,
        counted(s.symlinks, "symlink", "symlinks"),
        counted(s.devices, "device", "devices"),
        counted(s.fifos, "fifo", "fifos"),
        counted(s.sockets, "socket", "sockets"),
    )
}
