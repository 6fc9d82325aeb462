//! `bale du PATH…`: disk usage per path like `du -s`, with a gentle,
//! rate-limited parallel walk.

use super::gentle_args::Gentle;
use bale_gentle::du;
use bale_gentle::session::Session;
use bale_gentle::stats::Op;
use bale_gentle::units::Units;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(version)]
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
    /// One total per PATH (always the case; accepted as in du).
    #[arg(short = 's', long)]
    pub summarize: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let session = Session::new("bale du", args.gentle.common(), &[Op::Stat])
        .map_err(|e| anyhow::anyhow!("--stat-limit: {e}"))?;
    let units = args.gentle.units(Units::Kilobytes);
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let monitor = session.start_monitor()?;
    du::run(&session, &paths, |usage| {
        let t = &usage.totals;
        let value = if args.inodes {
            t.inodes().to_string()
        } else if args.apparent_size {
            units.format(t.apparent)
        } else {
            units.format(t.allocated)
        };
        session
            .console
            .out(&format!("{value}\t{}", usage.path.display()));
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
    monitor.finish();
    Ok(ExitCode::from(session.finish()))
}
