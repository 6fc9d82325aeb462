//! `bale`: the command-line front end. Every subcommand lives in its own
//! module under `commands/`; they parse arguments, call a library crate and
//! print. Errors are printed as one line and give a non-zero exit status.

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "bale",
    version,
    about = "Squashfs images for small-file trees on HPC clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pack a directory tree into a squashfs image.
    Pack(commands::pack::Args),
    /// Disk usage of trees, measured gently (rate-limited, parallel walk).
    Du(commands::du::Args),
    /// Remove files and trees gently (rate-limited stat and unlink calls).
    Rm(commands::rm::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pack(args) => commands::pack::run(args),
        Command::Du(args) => commands::du::run(args),
        Command::Rm(args) => commands::rm::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bale: {err:#}");
            ExitCode::FAILURE
        }
    }
}
