//! `bale rm PATH…`: remove files and trees like `rm`, gently: rate-limited
//! stat and unlink calls, never following symlinks or leaving the file
//! system.

use super::counted;
use super::gentle_args::{self, Gentle};
use bale_gentle::prompt::{Interactive, StdinPrompter};
use bale_gentle::rm::{self, RmOptions};
use bale_gentle::session::Session;
use bale_gentle::stats::Op;
use bale_gentle::units::Units;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(version, disable_help_flag = true, args_override_self = true)]
pub struct Args {
    /// Files and directories to remove.
    #[arg(value_name = "PATH", value_parser = any_path())]
    pub paths: Vec<PathBuf>,
    /// Remove directories and their contents.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Ignore nonexistent paths, never prompt.
    #[arg(short = 'f', long, overrides_with_all = ["always", "once", "interactive"])]
    pub force: bool,
    /// Prompt before every removal.
    #[arg(short = 'i', overrides_with_all = ["force", "once", "interactive"])]
    pub always: bool,
    /// Prompt once before removing more than three paths, or recursively.
    #[arg(short = 'I', overrides_with_all = ["force", "always", "interactive"])]
    pub once: bool,
    /// Prompt never, once (-I) or always (-i, the default WHEN).
    #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "always", value_parser = interactive_parser(),
          overrides_with_all = ["force", "always", "once"])]
    pub interactive: Option<Interactive>,
    /// Do not cross into other file systems (always the case).
    #[arg(long)]
    pub one_file_system: bool,
    /// Print a summary of what was removed and the space freed.
    #[arg(short = 's', long)]
    pub summary: bool,
    /// At most RATE unlink and rmdir calls per second, evenly spaced (0 = no limit).
    #[arg(short = 'U', long, value_name = "RATE", value_parser = gentle_args::rate,
          allow_negative_numbers = true)]
    pub unlink_limit: Option<f64>,
    #[command(flatten)]
    pub gentle: Gentle,
}

/// Any path, even an empty one: rm reports that it does not exist (or,
/// with -f, says nothing), it is no usage error.
fn any_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::{OsStringValueParser, TypedValueParser};
    OsStringValueParser::new().map(PathBuf::from)
}

/// GNU rm's WHEN words (with its aliases); listing them lets clap check the
/// value and shells complete it.
fn interactive_parser() -> impl clap::builder::TypedValueParser<Value = Interactive> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("never").aliases(["no", "none"]),
        PossibleValue::new("once"),
        PossibleValue::new("always").alias("yes"),
    ])
    .try_map(|when| when.parse::<Interactive>())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // At most one of these is set: the last given overrides the others.
    let interactive = if args.force {
        Interactive::Never
    } else if args.always {
        Interactive::Always
    } else if args.once {
        Interactive::Once
    } else {
        args.interactive.unwrap_or_default()
    };
    let options = RmOptions {
        recursive: args.recursive,
        force: args.force,
        interactive,
        verbose: args.gentle.verbose > 0,
        unlink_limit: args.unlink_limit,
        stdin_is_terminal: std::io::stdin().is_terminal(),
        identity: None,
    };
    let mut session = Session::new("bale rm", args.gentle.common(), &[Op::Stat, Op::Unlink])
        .map_err(|e| anyhow::anyhow!("--stat-limit: {e}"))?;
    if !matches!(
        interactive,
        Interactive::Never | Interactive::WriteProtected
    ) {
        // A progress line would garble the questions.
        session.options.quiet_progress = true;
    }
    let prompter = StdinPrompter::new(
        std::sync::Arc::clone(&session.console),
        std::sync::Arc::clone(&session.walker.stop),
    );
    let monitor = session.start_monitor()?;
    let result = rm::run(&mut session, &args.paths, &options, &prompter);
    monitor.finish();
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            session.console.note(&e.to_string());
            return Ok(ExitCode::FAILURE);
        }
    };
    // After an interruption, always say what was done.
    if args.summary || session.interrupted() {
        let units = args.gentle.units(Units::Bytes);
        session.console.out(format!(
            "removed {}, {}, {}, {} other; freed {}",
            counted(summary.files, "file", "files"),
            counted(summary.dirs, "directory", "directories"),
            counted(summary.symlinks, "symbolic link", "symbolic links"),
            summary.other,
            units.format_with_unit(summary.freed)
        ));
    }
    Ok(ExitCode::from(session.finish()))
}
