//! `bale lock-status IMAGE [--json]`: the nodes an image's cluster lock
//! lists, each judged live, stale or unknown from this node (a holder on
//! another node can only be judged there), and who holds the flock if
//! someone does — a hung client can hold it forever.

use crate::output;
use bale_registry::cluster_lock::{self, Contents};
use bale_registry::owner::{pid_alive, Liveness, Node, Owner};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The image (its lock is IMAGE.lock beside it).
    pub image: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// An image's lock, read and judged.
pub struct Status {
    pub image: PathBuf,
    pub dir: PathBuf,
    pub name: String,
    pub contents: Contents,
    pub entries: Vec<Liveness>,
    /// Whether the flock is held now, and the holder's judgement.
    pub locked: bool,
    pub holder: Option<Liveness>,
}

pub fn status(image: &Path) -> anyhow::Result<Status> {
    let image = std::path::absolute(image)?;
    let real = std::fs::canonicalize(&image).unwrap_or_else(|_| image.clone());
    let dir = image.parent().unwrap_or(Path::new("/")).to_path_buf();
    let file = image
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{}: not a UTF-8 file name", image.display()))?;
    let name = cluster_lock::name_for(file);
    // A lock whose image is gone is still worth showing (and repairing).
    if let Err(e) = std::fs::symlink_metadata(&image) {
        if std::fs::symlink_metadata(dir.join(&name)).is_err() {
            anyhow::bail!("{}: {e}", image.display());
        }
    }
    let dir_fd = rustix::fs::open(
        &dir,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let contents = cluster_lock::read(&dir_fd, &dir, &name)?;
    let locked = cluster_lock::is_locked(&dir_fd, &dir, &name)?;
    let node =
        Node::current().map_err(|e| anyhow::anyhow!("/proc/sys/kernel/random/boot_id: {e}"))?;
    // In use here: mounted, or still attached to a loop device (a copy of
    // the mount in another mount namespace goes on writing it).
    let mounted_here = bale_registry::mounted::anywhere(&real)?
        || !bale_registry::loops::holding(&real)?.is_empty();
    let entries = contents
        .entries
        .iter()
        .map(|e| e.owner.judge(&node, |_| mounted_here))
        .collect();
    let holder = contents.holder.as_ref().map(|h| {
        match h.judge(&node, |o: &Owner| o.pid.is_some_and(pid_alive)) {
            Liveness::Live(_) | Liveness::Unknown(_) if !locked => {
                Liveness::Stale("the flock is free: a crashed process left the line".into())
            }
            judged => judged,
        }
    });
    Ok(Status {
        image,
        dir,
        name,
        contents,
        entries,
        locked,
        holder,
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let s = status(&args.image)?;
    if args.json {
        let entries: Vec<_> = s.contents.entries.iter().zip(&s.entries).map(|(e, l)| json!({
            "mode": if e.rw { "rw" } else { "ro" },
            "host": e.owner.host, "boot": e.owner.boot, "pid": e.owner.pid, "time": e.owner.time,
            "state": state_word(l), "why": why(l),
        })).collect();
        let holder = s.contents.holder.as_ref().zip(s.holder.as_ref()).map(|(h, l)| json!({
            "host": h.host, "boot": h.boot, "pid": h.pid, "time": h.time, "state": state_word(l), "why": why(l),
        }));
        writeln!(
            output::stdout(),
            "{}",
            serde_json::to_string_pretty(&json!({
                "image": super::json_path::path(&s.image), "locked": s.locked, "entries": entries, "holder": holder,
            }))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if s.contents.entries.is_empty() {
        writeln!(output::stdout(), "{}: mounted nowhere", s.image.display())?;
    }
    for (entry, judged) in s.contents.entries.iter().zip(&s.entries) {
        writeln!(
            output::stdout(),
            "{}: {} {}: {judged}",
            s.image.display(),
            if entry.rw { "rw" } else { "ro" },
            entry.owner
        )?;
    }
    if let (Some(holder), Some(judged)) = (&s.contents.holder, &s.holder) {
        writeln!(
            output::stdout(),
            "{}: lock file held by {holder}: {judged}",
            s.image.display()
        )?;
    } else if s.locked {
        writeln!(
            output::stdout(),
            "{}: lock file held by an unknown process",
            s.image.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn state_word(l: &Liveness) -> &'static str {
    match l {
        Liveness::Live(_) => "live",
        Liveness::Stale(_) => "stale",
        Liveness::Unknown(_) => "unknown",
    }
}

fn why(l: &Liveness) -> &str {
    match l {
        Liveness::Live(w) | Liveness::Stale(w) | Liveness::Unknown(w) => w,
    }
}
