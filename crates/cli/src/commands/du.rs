//! `bale du PATH…`: disk usage per path like `du -s` (or per directory
//! down to `--max-depth`, and per file with `-a`), with a gentle,
//! rate-limited parallel walk.

use super::counted;
use super::gentle_args::Gentle;
use bale_gentle::du::{self, Breakdown, Totals};
use bale_gentle::session::Session;
use bale_gentle::stats::Op;
use bale_gentle::units::Units;
use bale_gentle::walker::OtherFileSystems;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(version, disable_help_flag = true, args_override_self = true)]
pub struct Args {
    /// First: the fields after it take their values out of the matches.
    #[command(flatten)]
    units: LastUnits,
    /// Paths to measure (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub gentle: Gentle,
    /// Apparent sizes (file lengths) instead of allocated disk space.
    #[arg(long)]
    pub apparent_size: bool,
    /// Count entries (inodes) instead of sizes.
    #[arg(long)]
    pub inodes: bool,
    /// Apparent sizes in bytes (--apparent-size in bytes), as du -b.
    #[arg(short = 'b', long)]
    pub bytes: bool,
    /// One total per PATH (the default unless --max-depth or --all).
    #[arg(short = 's', long, conflicts_with = "all")]
    pub summarize: bool,
    /// Also a line for every directory down to N levels below each PATH
    /// (0: like -s), children before their parent.
    #[arg(short = 'd', long, value_name = "N")]
    pub max_depth: Option<usize>,
    /// A line for files too, not only directories (every level, or down to
    /// --max-depth).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// A last line with the grand total of all PATHs.
    #[arg(short = 'c', long)]
    pub total: bool,
    /// Leave out directories on other file systems (or other mounts of the
    /// same one), as du -x.
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
}

/// The units the last of `-b`, `-k` and `-h` asks for, as in du (`-b` also
/// means apparent sizes wherever it comes: `-bk` is apparent KiB). Read
/// from where the flags came on the command line; it adds no option.
#[derive(Debug, Clone, Copy, Default)]
struct LastUnits(Option<Units>);

impl clap::FromArgMatches for LastUnits {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let given = |id| {
            (matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
                .then(|| matches.indices_of(id)?.max())
                .flatten()
        };
        let last = [
            ("bytes", Units::Bytes),
            ("kilobytes", Units::Kilobytes),
            ("human_readable", Units::Human),
        ]
        .into_iter()
        .filter_map(|(id, units)| Some((given(id)?, units)))
        .max_by_key(|&(index, _)| index);
        Ok(LastUnits(last.map(|(_, units)| units)))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for LastUnits {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.summarize && args.max_depth.is_some_and(|d| d > 0) {
        eprintln!("bale du: --summarize conflicts with --max-depth (only 0 goes with it)");
        return Ok(ExitCode::from(2));
    }
    let mut session = Session::new("bale du", args.gentle.common(), &[Op::Stat])
        .map_err(|e| anyhow::anyhow!("--stat-limit: {e}"))?;
    session.console.exit_when_unread();
    if args.one_file_system {
        session.walker.other_file_systems = OtherFileSystems::Skipped;
    }
    let apparent = args.apparent_size || args.bytes;
    if args.inodes && apparent {
        session
            .console
            .note("warning: options --apparent-size and -b are ineffective with --inodes");
    }
    let units = args.units.0.unwrap_or_default();
    let value = |t: &Totals| {
        if args.inodes {
            t.inodes().to_string()
        } else if apparent {
            units.format(t.apparent)
        } else {
            units.format(t.allocated)
        }
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let monitor = session.start_monitor()?;
    let breakdown = Breakdown {
        max_depth: args.max_depth,
        all: args.all,
    };
    let total = du::run(&session, &paths, breakdown, &|usage| {
        let t = &usage.totals;
        // The name as it is: du prints names that are not UTF-8 byte for byte.
        let mut line = format!("{}\t", value(t)).into_bytes();
        line.extend_from_slice(usage.path.as_os_str().as_bytes());
        session.console.out(line);
        if args.gentle.verbose > 0 && usage.depth == 0 {
            session.console.note(&format!(
                "{}: {}, {}, {}, {} other; {} apparent, {} allocated",
                usage.path.display(),
                counted(t.files, "file", "files"),
                counted(t.dirs, "directory", "directories"),
                counted(t.symlinks, "symbolic link", "symbolic links"),
                t.other,
                units.format_with_unit(t.apparent),
                units.format_with_unit(t.allocated)
            ));
        }
    });
    if args.total && !session.interrupted() {
        session.console.out(format!("{}\ttotal", value(&total)));
    }
    monitor.finish();
    Ok(ExitCode::from(session.finish()))
}
