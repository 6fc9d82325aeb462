//! Whether a software module is already loaded for its owner on this node,
//! decided without privileges, so that `bale module-hook load` can leave
//! out a helper run that would change nothing. The TaskProlog loads the
//! job's modules before every task: `srun -n 64` would otherwise run sudo
//! and the helper (which asks `scontrol` and waits for the node's record
//! lock) 64 times per module, to find 63 times that the job holds it.
//!
//! Loaded means both: the owner's record (`<state dir>/<job or user>.modules`,
//! world-readable, each file replaced whole) names the module with its
//! image at its place, and that image is mounted there now (mountinfo and
//! the loop device's backing file, as the helper checks them) — exactly
//! what the helper would find before writing the same record again. A
//! record whose mount was removed behind bale's back, another image, an
//! unreadable state directory: not loaded, and the helper decides.
//!
//! `bale module-hook unload` asks the same records whether the owner
//! holds the module at all, before and after asking the helper: shares are
//! counted per owner, not per shell, so an unload in a second shell (or of
//! a module whose load failed) finds nothing to release — the state the
//! unload is for, not a failure.
//!
//! Skipping gives the caller nothing: the helper is not asked, so no rule
//! is bypassed. A job id the caller does not own is not checked here (the
//! helper would refuse it), but skipping it only reports success for a
//! mount that is already there, shared and readable by everyone, and the
//! record stays the job's.

use bale_policy::ModuleName;
use bale_registry::node::{Key, NodeState, Record};
use bale_site::Config;
use std::path::Path;

/// Whether the records of `job` (or, without one, of the calling user)
/// hold `module`, whose image is `image`, and it is mounted.
pub fn already(config: &Config, job: Option<&str>, module: &ModuleName, image: &Path) -> bool {
    held(config, job, module, image).unwrap_or(false)
}

/// Whether the records of `job` (or of the calling user) name `module`
/// nowhere: there is nothing of theirs to release. `false` when they
/// cannot be read.
pub fn not_held(config: &Config, job: Option<&str>, module: &ModuleName) -> bool {
    let name = module.full();
    records(config, job)
        .is_some_and(|records| !records.iter().any(|r| r.module.as_deref() == Some(&name)))
}

/// `None` when something cannot be read or named.
fn held(config: &Config, job: Option<&str>, module: &ModuleName, image: &Path) -> Option<bool> {
    let name = module.full();
    // The paths as the helper records them: resolved by the kernel.
    let image = std::fs::canonicalize(image).ok()?;
    let place = std::fs::canonicalize(&config.mount_path.value)
        .ok()?
        .join(&name);
    let recorded = records(config, job)?.iter().any(|r| {
        r.module.as_deref() == Some(name.as_str())
            && !r.rw
            && r.image == image
            && r.mountpoint == place
    });
    Some(recorded && bale_registry::mounted::serves(&place, &image).ok()?)
}

/// The records of `job` (or of the calling user) on this node, none before
/// the state directory exists; `None` when they cannot be read or named.
fn records(config: &Config, job: Option<&str>) -> Option<Vec<Record>> {
    let key = match job {
        Some(id) => Key::job(id).ok()?,
        None => Key::user(&bale_helper::user_name(rustix::process::getuid().as_raw())?).ok()?,
    };
    match NodeState::snapshot(&config.state_dir.value).ok()? {
        Some(state) => state.read(&key).ok(),
        None => Some(Vec::new()),
    }
}
