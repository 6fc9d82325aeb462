//! `bale cleanup [--cleanup] [--kill] [-v]`: shows what no record explains
//! on this node (as `bale list --unreported` does); with `--cleanup` the
//! helper repairs it (root only): unmounts forgotten mounts, drops stale
//! records, releases the records of jobs SLURM says are over, detaches
//! idle loop devices; `--kill` ends processes holding a forgotten mount
//! (or a mount of a job that is over: the job's own).

use super::helper;
use super::list;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Repair (without it: only show what would be repaired), and release
    /// the records of jobs SLURM says are over.
    #[arg(long)]
    pub cleanup: bool,
    /// Kill processes that keep a forgotten mount busy (of a mount of a job
    /// that is over: the job's own processes only).
    #[arg(long, requires = "cleanup")]
    pub kill: bool,
    /// Also show what is in order.
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let surveyed = list::survey(&config)?;
    if args.verbose {
        list::print_held(&surveyed.survey, None)?;
    }
    list::print_unreported(&surveyed, &list::fuse_mounts()?)?;
    if !args.cleanup {
        return Ok(ExitCode::SUCCESS);
    }
    let mut argv = vec!["cleanup"];
    if args.kill {
        argv.push("--kill");
    }
    helper::run(&config, &argv)
}
