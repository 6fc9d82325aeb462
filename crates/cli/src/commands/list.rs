//! `bale list [--job-id ID] [--unreported] [--json]`: the framework's
//! mounts on this node from the per-node records, each checked against
//! the kernel, the loop devices in use, and with `--unreported` what no
//! record explains (forgotten mounts, records whose mount is gone, loop
//! devices attached but not mounted). Users' FUSE mounts (`bale mount`
//! without the helper) have no record: they come from the kernel's mount
//! table, not for a job. The `--json` layout is stable: `{"mounts": [...],
//! "fuse": [...], "loops": [...], "unreported": {"mounts": [...],
//! "records": [...], "loops": [...], "fuse": [...], "malformed_records": [...]}}` (`unreported` only
//! with the flag). A FUSE mount whose server has ended (killed) is shown as
//! such, and is unreported: `cleanup` unmounts it. A path that is not UTF-8
//! is printed quoted as a shell needs it, and given lossily in JSON
//! (`json_path`). A record file with malformed lines: the rest is shown,
//! with a warning, and the exit status is 1.

use super::json_path::path;
use super::user_name;
use crate::output;
use bale_registry::fuse_mounts::{self, Server};
use bale_registry::node::{Key, NodeState};
use bale_registry::survey::{is_framework_image, survey as survey_of, Held, Survey};
use bale_registry::{loops, mountinfo};
use os_display::Quotable;
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Only this SLURM job's mounts.
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// Also show what no record explains.
    #[arg(long)]
    pub unreported: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// The node surveyed (records read without the node lock, which is root's),
/// and the record files with malformed lines (their good lines surveyed).
pub struct Surveyed {
    pub survey: Survey,
    pub malformed: Vec<bale_registry::Error>,
}

pub fn survey(config: &bale_site::Config) -> anyhow::Result<Surveyed> {
    let all = match NodeState::snapshot(&config.state_dir.value)? {
        Some(state) => state.all_readable()?,
        None => Default::default(),
    };
    let places = config.real_places();
    Ok(Surveyed {
        survey: survey_of(
            &all.records,
            &mountinfo::read()?,
            &loops::attached()?,
            &[&places.modules, &places.users],
            |p| is_framework_image(p, &places.images),
        ),
        malformed: all.malformed.into_iter().map(|(_, e)| e).collect(),
    })
}

/// Exit status 1 when a record file is malformed, after a warning for each
/// (what `print_unreported` says, for a reader of the plain list).
fn warn_malformed(surveyed: &Surveyed, unreported: bool) -> ExitCode {
    if !unreported {
        for e in &surveyed.malformed {
            eprintln!("bale: warning: {e}: {MALFORMED_ADVICE}");
        }
    }
    match surveyed.malformed.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

const MALFORMED_ADVICE: &str =
    "its good lines are shown; root's `bale cleanup --cleanup` sets the file aside";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let job = args
        .job_id
        .as_deref()
        .map(Key::job)
        .transpose()
        .map_err(|e| anyhow::anyhow!(e))?;
    let surveyed = survey(&config)?;
    let survey = &surveyed.survey;
    // Not a job's: a FUSE mount has no record to say whose it is.
    let fuse = match job {
        Some(_) => Vec::new(),
        None => fuse_mounts()?,
    };
    if args.json {
        let mut out = json!({
            "mounts": survey.held.iter().filter(|h| job.as_ref().is_none_or(|k| h.key == *k)).map(held_json).collect::<Vec<_>>(),
            "fuse": fuse.iter().map(fuse_json).collect::<Vec<_>>(),
            "loops": loops::attached()?.iter().map(|l| json!({
                "device": path(&l.device), "image": path(&l.backing_file), "read_only": l.read_only, "autoclear": l.autoclear,
            })).collect::<Vec<_>>(),
        });
        if args.unreported {
            out["unreported"] = unreported_json(&surveyed, &fuse);
        }
        writeln!(output::stdout(), "{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(warn_malformed(&surveyed, true));
    }
    print_held(survey, job.as_ref())?;
    for f in &fuse {
        writeln!(
            output::stdout(),
            "{} ro {} on {}: FUSE{}",
            f.owner,
            f.image.maybe_quote(),
            f.mountpoint.maybe_quote(),
            match f.server {
                Server::Gone => ", SERVER GONE (every access fails until it is unmounted)",
                Server::Running | Server::Unknown => "",
            }
        )?;
    }
    for l in loops::attached()? {
        writeln!(
            output::stdout(),
            "loop {} {} ({})",
            l.device.maybe_quote(),
            l.backing_file.maybe_quote(),
            if l.read_only { "ro" } else { "rw" }
        )?;
    }
    if args.unreported {
        print_unreported(&surveyed, &fuse)?;
    }
    Ok(warn_malformed(&surveyed, args.unreported))
}

/// A FUSE mount of bale's, as the kernel's mount table has it.
pub struct FuseMount {
    owner: String,
    image: std::path::PathBuf,
    mountpoint: std::path::PathBuf,
    server: Server,
}

/// bale's FUSE mounts on this node, and whether each is still served.
pub fn fuse_mounts() -> anyhow::Result<Vec<FuseMount>> {
    Ok(fuse_mounts::judged()?
        .into_iter()
        .map(|(m, server)| {
            let uid = fuse_mounts::mount_owner(&m.super_options);
            FuseMount {
                owner: uid.map_or_else(
                    || "?".into(),
                    |uid| user_name(uid).unwrap_or_else(|| uid.to_string()),
                ),
                server,
                image: m.source,
                mountpoint: m.target,
            }
        })
        .collect())
}

fn owner(key: &Key) -> Value {
    match key {
        Key::Job(id) => json!({ "job": id }),
        Key::User(name) => json!({ "user": name }),
    }
}

fn held_json(h: &Held) -> Value {
    json!({
        "owner": owner(&h.key),
        "module": h.record.module,
        "image": path(&h.record.image),
        "mountpoint": path(&h.record.mountpoint),
        "mode": if h.record.rw { "rw" } else { "ro" },
        "device": h.device.as_deref().map(path),
    })
}

fn fuse_json(f: &FuseMount) -> Value {
    json!({
        "owner": {"user": f.owner}, "image": path(&f.image), "mountpoint": path(&f.mountpoint),
        "server": f.server.as_str(),
    })
}

/// bale FUSE mounts nobody serves any more.
fn dead(fuse: &[FuseMount]) -> impl Iterator<Item = &FuseMount> {
    fuse.iter().filter(|f| f.server == Server::Gone)
}

fn unreported_json(surveyed: &Surveyed, fuse: &[FuseMount]) -> Value {
    let s = &surveyed.survey;
    json!({
        "malformed_records": surveyed.malformed.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "mounts": s.forgotten_mounts.iter().map(|f| json!({"mountpoint": path(&f.mountpoint), "image": path(&f.image), "device": path(&f.device)})).collect::<Vec<_>>(),
        "records": s.stale_records().map(held_json).collect::<Vec<_>>(),
        "loops": s.idle_loops.iter().map(|l| json!({"device": path(&l.device), "image": path(&l.backing_file)})).collect::<Vec<_>>(),
        "fuse": dead(fuse).map(fuse_json).collect::<Vec<_>>(),
    })
}

/// One line per record: owner, mode, what, where, and its state.
pub fn print_held(s: &Survey, only: Option<&Key>) -> std::io::Result<()> {
    for h in s.held.iter().filter(|h| only.is_none_or(|k| h.key == *k)) {
        let what = h
            .record
            .module
            .clone()
            .unwrap_or_else(|| h.record.image.maybe_quote().to_string());
        let state = match &h.device {
            Some(dev) => format!("mounted from {}", dev.maybe_quote()),
            None => "NOT MOUNTED (stale record)".into(),
        };
        writeln!(
            output::stdout(),
            "{} {} {what} on {}: {state}",
            h.key,
            if h.record.rw { "rw" } else { "ro" },
            h.record.mountpoint.maybe_quote()
        )?;
    }
    Ok(())
}

/// What no record explains, one line each with what `cleanup` will do.
pub fn print_unreported(surveyed: &Surveyed, fuse: &[FuseMount]) -> std::io::Result<()> {
    let s = &surveyed.survey;
    for e in &surveyed.malformed {
        writeln!(
            output::stdout(),
            "unreported: {e}: cleanup sets the file aside, keeping its good lines"
        )?;
    }
    for f in &s.forgotten_mounts {
        writeln!(
            output::stdout(),
            "unreported: {} mounted on {} ({}) with no record: cleanup unmounts it",
            f.image.maybe_quote(),
            f.mountpoint.maybe_quote(),
            f.device.maybe_quote()
        )?;
    }
    for h in s.stale_records() {
        writeln!(
            output::stdout(),
            "unreported: record of {} for {} but nothing mounted: cleanup drops it",
            h.record.mountpoint.maybe_quote(),
            h.key
        )?;
    }
    for l in &s.idle_loops {
        writeln!(
            output::stdout(),
            "unreported: {} attached to {} but not mounted: cleanup detaches it",
            l.device.maybe_quote(),
            l.backing_file.maybe_quote()
        )?;
    }
    for f in dead(fuse) {
        writeln!(
            output::stdout(),
            "unreported: FUSE mount of {} on {} ({}) whose server has ended: cleanup unmounts it",
            f.image.maybe_quote(),
            f.mountpoint.maybe_quote(),
            f.owner
        )?;
    }
    Ok(())
}
