//! `bale du PATH…`: disk usage per path like `du -s`, with a gentle,
//! rate-limited parallel walk.

use super::gentle_args::Gentle;
use bale_gentle::du::{self, Totals};
use bale_gentle::session::Session;
use bale_gentle::stats::Op;
use bale_gentle::units::Units;
use bale_gentle::walker::OtherFileSystems;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(version, disable_help_flag = true)]
pub struct Args {
    /// Paths to measure (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub gentle: Gentle,
    /// Apparent sizes (file lengths) instead of allocated disk space.
    #[arg(long, conflicts_with = "inodes")]
    pub apparent_size: bool,
    /// Count entries (inodes) instead of sizes.
    #[arg(long)]
    pub inodes: bool,
    /// Apparent sizes in bytes (--apparent-size in bytes), as du -b.
    #[arg(short = 'b', long, conflicts_with = "inodes")]
    pub bytes: bool,
    /// One total per PATH (always the case; accepted as in du).
    #[arg(short = 's', long)]
    pub summarize: bool,
    /// A last line with the grand total of all PATHs.
    #[arg(short = 'c', long)]
    pub total: bool,
    /// Leave out directories on other file systems (or other mounts of the
    /// same one), as du -x.
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut session = Session::new("bale du", args.gentle.common(), &[Op::Stat])
        .map_err(|e| anyhow::anyhow!("--stat-limit: {e}"))?;
    if args.one_file_system {
        session.walker.other_file_systems = OtherFileSystems::Skipped;
    }
    let units = if args.bytes {
        Units::Bytes
    } else {
        args.gentle.units(Units::Kilobytes)
    };
    let apparent = args.apparent_size || args.bytes;
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
    let mut total = Totals::default();
    du::run(&session, &paths, |usage| {
        let t = &usage.totals;
        total.add(t);
        session
            .console
            .out(&format!("{}\t{}", value(t), usage.path.display()));
        if args.gentle.verbose > 0 {
            session.console.note(&format!(
                "{}: {} files, {} directories, {} symbolic links, {} other; {} apparent, {} allocated",
                usage.path.display(),
                t.files,
                t.dirs,
                t.symlinks,
                t.other,
                units.format_with_unit(t.apparent),
                units.format_with_unit(t.allocated)
            ));
        }
    });
    if args.total {
        session.console.out(&format!("{}\ttotal", value(&total)));
    }
    monitor.finish();
    Ok(ExitCode::from(session.finish()))
}
