//! `bale-helper umount-all [--job-id ID] [--kill]`: releases every record
//! of a job (the SLURM epilog, as root) or of the caller. Every record is
//! tried; the first failure decides the exit status. Each failure is
//! printed once: the later ones as they happen, the first by `main`, which
//! gets it returned.

use crate::failure::{io, Failure};
use crate::identity::Caller;
use crate::records;
use crate::umount::{release, Busy};
use bale_registry::node::NodeState;
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
    let state = NodeState::lock(&config.state_dir.value)?;
    let mut done = Vec::new();
    let mut first_failure = None;
    // Root (the epilog) ends every holder; a user only their own processes.
    let only = (caller.uid != 0).then_some(caller.uid);
    let busy = if kill { Busy::Kill(only) } else { Busy::Report };
    // Release from the end so the indexes of the others stay valid; a
    // record that fails stays, and so does every one before it.
    for index in (0..state.read(&key)?.len()).rev() {
        match release(config, &node, &state, &key, index, busy) {
            Ok(what) => done.push(what),
            // The first failure is returned, and reported once, by main;
            // the later ones only here.
            Err(failure) if first_failure.is_some() => {
                crate::log::notice(&format!("umount-all for {key}: {failure}"));
                eprintln!("bale-helper: {failure}");
            }
            Err(failure) => first_failure = Some(failure),
        }
    }
    match first_failure {
        Some(failure) => Err(failure),
        None => Ok(format!("released {} for {key}", done.len())),
    }
}
