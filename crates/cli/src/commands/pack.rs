//! `bale pack SRC IMAGE`: argument parsing and reporting for the pack engine.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to pack.
    pub source: PathBuf,
    /// Image file to write.
    pub image: PathBuf,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
