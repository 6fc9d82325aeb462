//! `bale umount-all [--job-id ID] [--cleanup] [--kill]`: everything a job
//! (or you) mounted on this node, as the SLURM epilog does at the end of a
//! job; `--cleanup` then repairs what no record explains (root), `--kill`
//! ends processes that keep the released mounts busy. The cleanup after it
//! never kills: a mount no record explains is nobody's to end processes
//! for (an epilog killed other users' processes in one).

use super::helper;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The SLURM job (default: your own interactive mounts).
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// Afterwards, run `bale cleanup --cleanup` (root only; without --kill).
    #[arg(long)]
    pub cleanup: bool,
    /// Kill processes that keep a released mount busy.
    #[arg(long)]
    pub kill: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let mut argv = vec!["umount-all"];
    if let Some(job) = &args.job_id {
        argv.extend(["--job-id", job]);
    }
    if args.kill {
        argv.push("--kill");
    }
    let code = helper::run(&config, &argv)?;
    if !args.cleanup {
        return Ok(code);
    }
    let cleaned = helper::run(&config, &["cleanup"])?;
    Ok(if code == ExitCode::SUCCESS {
        cleaned
    } else {
        code
    })
}
