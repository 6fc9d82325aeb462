//! `bale-helper umount-all [--job-id ID] [--kill]`: releases every record
//! of a job (the SLURM epilog, as root) or of the caller. Every record is
//! tried; the first failure decides the exit status.

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
            Err(failure) => {
                crate::log::notice(&format!("umount-all for {key}: {failure}"));
                eprintln!("bale-helper: {failure}");
                first_failure.get_or_insert(failure);
            }
        }
    }
    match first_failure {
        Some(failure) => Err(failure),
        None => Ok(format!("released {} for {key}", done.len())),
    }
}
