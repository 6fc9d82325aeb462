//! `bale-helper umount-all [--job-id ID] [--kill]`: releases every record
//! of a job (the SLURM epilog, as root) or of the caller; `--kill` ends the
//! processes that keep a mount busy: the caller's own, or for the epilog
//! the job owner's, never another user's. Every record is
//! tried; the first failure decides the exit status. Each failure is
//! printed once: the later ones as they happen, the first by `main`, which
//! gets it returned.

use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::records::{self, HeldLock};
use crate::umount::{release, Busy, Whose};
use bale_policy::Jobs;
use bale_registry::node::{Key, NodeState};
use bale_registry::owner::Node;
use bale_site::Config;

pub fn run(
    caller: &Caller,
    config: &Config,
    job: Option<&str>,
    kill: bool,
) -> Result<String, Failure> {
    let key = records::key(caller, job, config)?;
    let node = Node::current().map_err(|e| io("/proc/sys/kernel/random/boot_id", e))?;
    // The user images' locks first, the node's records after (see HeldLock).
    let seen = match NodeState::snapshot(&config.state_dir.value)? {
        Some(state) => state.read(&key)?,
        None => Vec::new(),
    };
    let mut held = HeldLock::of_user_images(&seen, &node)?;
    let state = NodeState::lock(&config.state_dir.value)?;
    // The epilog (root, for a job) kills only what the job left behind: its
    // owner's processes that belong to the job. A read-only mount someone
    // else still works in (another user, the owner's other job or login)
    // is detached instead: it goes when they are done.
    let epilog_owner = match job {
        Some(job) if kill && caller.uid == 0 => Some(job_owner(config, job)),
        _ => None,
    };
    let busy = match (kill, epilog_owner, job) {
        (false, _, _) => Busy::Report,
        (true, Some(owner), Some(id)) => Busy::Kill(Whose::Job { owner, id }),
        // A user ends only their own processes; root, for no job, all.
        (true, _, _) if caller.uid != 0 => Busy::Kill(Whose::User(caller.uid)),
        (true, _, _) => Busy::Kill(Whose::Everyone),
    };
    let released = release_all(
        config,
        &node,
        &state,
        &key,
        busy,
        epilog_owner.is_some(),
        &mut held,
    )?;
    // The first failure is returned, and reported once, by main; the later
    // ones only here.
    let summary = released.summary(&key);
    let mut failures = released.failures.into_iter();
    if let Some(first) = failures.next() {
        for failure in failures {
            crate::log::notice(&format!("umount-all for {key}: {failure}"));
            eprintln!("bale-helper: {failure}");
        }
        return Err(first);
    }
    Ok(summary)
}

/// What releasing every record of a key did.
pub struct Released {
    /// The mount points released.
    pub done: Vec<String>,
    /// Of those, the ones detached while others still use them.
    pub detached: Vec<String>,
    /// Why the others were kept, in the order met.
    pub failures: Vec<Failure>,
}

impl Released {
    pub fn summary(&self, key: &Key) -> String {
        match self.detached.is_empty() {
            true => format!("released {} for {key}", self.done.len()),
            false => format!(
                "released {} for {key}; detached, still in use by others: {}",
                self.done.len(),
                self.detached.join(", ")
            ),
        }
    }
}

/// Releases every record of `key`, each tried; with `detach_busy`, a
/// read-only mount still busy after `busy` is detached (it goes when its
/// users are done).
pub fn release_all(
    config: &Config,
    node: &Node,
    state: &NodeState,
    key: &Key,
    busy: Busy<'_>,
    detach_busy: bool,
    held: &mut Vec<HeldLock>,
) -> Result<Released, Failure> {
    let mut released = Released {
        done: Vec::new(),
        detached: Vec::new(),
        failures: Vec::new(),
    };
    // Release from the end so the indexes of the others stay valid; a
    // record that fails stays, and so does every one before it.
    let records = state.read(key)?;
    for (index, record) in records.iter().enumerate().rev() {
        let outcome = match release(config, node, state, key, index, busy, held) {
            Err(Failure::Busy(_)) if detach_busy && !record.rw => {
                release(config, node, state, key, index, Busy::Detach, held)
                    .inspect(|what| released.detached.push(what.clone()))
            }
            other => other,
        };
        match outcome {
            Ok(what) => released.done.push(what),
            Err(failure) => released.failures.push(failure),
        }
    }
    Ok(released)
}

/// The uid of `job`'s owner; one no process has when SLURM cannot tell
/// (the job long gone), so that then nobody is killed.
fn job_owner(config: &Config, job: &str) -> u32 {
    match records::slurm(config).job(job) {
        Ok(Some(found)) => found.owner,
        _ => u32::MAX,
    }
}
