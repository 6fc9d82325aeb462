//! `bale generate`: what packagers install beside the binary — shell
//! completions (printed) and manual pages (one per subcommand, written to a
//! directory) — generated from the same definitions as `--help`, so they
//! never disagree with it.

use crate::output;
use anyhow::Context;
use clap::ValueEnum;
use clap_complete::Shell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    bale generate complete-bash > /usr/share/bash-completion/completions/bale\n  \
    bale generate complete-zsh > /usr/local/share/zsh/site-functions/_bale\n  \
    bale generate complete-fish > /usr/share/fish/vendor_completions.d/bale.fish\n  \
    bale generate man /usr/local/share/man/man1")]
pub struct Args {
    /// What to generate.
    what: What,
    /// The directory the manual pages are written to (with `man`): bale.1
    /// and bale-SUBCOMMAND.1 for each subcommand.
    dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum What {
    /// Bash completion script, on standard output.
    CompleteBash,
    /// Zsh completion function, on standard output.
    CompleteZsh,
    /// Fish completions, on standard output.
    CompleteFish,
    /// Manual pages in section 1, written to DIR.
    Man,
}

/// `cli` is bale's whole command line, as `--help` knows it.
pub fn run(args: Args, cli: clap::Command) -> anyhow::Result<ExitCode> {
    let shell = match args.what {
        What::CompleteBash => Shell::Bash,
        What::CompleteZsh => Shell::Zsh,
        What::CompleteFish => Shell::Fish,
        What::Man => {
            let dir = args
                .dir
                .context("generate man: name the directory the pages go to")?;
            if !dir.is_dir() {
                anyhow::bail!("{}: not a directory", dir.display());
            }
            clap_mangen::generate_to(cli, &dir).with_context(|| dir.display().to_string())?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    if let Some(dir) = args.dir {
        anyhow::bail!(
            "{}: completions are printed to standard output; redirect them",
            dir.display()
        );
    }
    // clap_complete panics when its output fails; ours reports it.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cli.clone(), "bale", &mut script);
    output::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
