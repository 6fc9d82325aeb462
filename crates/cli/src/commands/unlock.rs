//! `bale unlock IMAGE --stale [--force]`: removes the lines of an image's
//! cluster lock that `lock-status` judges stale (with `--force` also those
//! it cannot judge from here), and breaks a flock held by a stale (or,
//! with `--force`, any) holder by replacing the lock file. Done with your
//! own rights: the lock file is the image owner's.

use super::lock_status::status;
use crate::output;
use anyhow::bail;
use bale_registry::cluster_lock::{break_lock, ClusterLock, Entry};
use bale_registry::owner::{Liveness, Node};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The image whose IMAGE.lock to repair.
    pub image: PathBuf,
    /// Remove what is stale (required: unlock never removes live holders).
    #[arg(long, required = true)]
    pub stale: bool,
    /// Also remove holders that cannot be judged from this node.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let s = status(&args.image)?;
    let removable = |l: &Liveness| {
        matches!(l, Liveness::Stale(_)) || (args.force && matches!(l, Liveness::Unknown(_)))
    };
    let keep: Vec<Entry> = s
        .contents
        .entries
        .iter()
        .zip(&s.entries)
        .filter(|(_, l)| !removable(l))
        .map(|(e, _)| e.clone())
        .collect();
    let removed = s.contents.entries.len() - keep.len();
    let dir = || {
        rustix::fs::open(
            &s.dir,
            rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
    };
    let dir_fd = dir().map_err(|e| anyhow::anyhow!("{}: {e}", s.dir.display()))?;
    if s.locked {
        match &s.holder {
            Some(l) if removable(l) => break_lock(&dir_fd, &s.dir, &s.name, &keep)?,
            _ => bail!("{}: the lock file is held by a live or unknown process (see bale lock-status; --force also breaks a holder on another node)", s.image.display()),
        }
        writeln!(
            output::stdout(),
            "{}: broke the lock file's flock; removed {removed} stale line(s)",
            s.image.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if removed == 0 && s.contents.holder.is_none() {
        writeln!(output::stdout(), "{}: nothing stale", s.image.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    let node =
        Node::current().map_err(|e| anyhow::anyhow!("/proc/sys/kernel/random/boot_id: {e}"))?;
    let lock = ClusterLock::acquire(
        dir_fd,
        &s.dir,
        &s.name,
        &node.owner(std::process::id()),
        Duration::from_secs(20),
    )?;
    // Judged again under the lock: only lines still there are removed.
    let keep: Vec<Entry> = lock
        .contents
        .entries
        .iter()
        .filter(|e| keep.contains(e) || !s.contents.entries.contains(e))
        .cloned()
        .collect();
    lock.commit(&keep)?;
    writeln!(
        output::stdout(),
        "{}: removed {removed} stale line(s)",
        s.image.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
