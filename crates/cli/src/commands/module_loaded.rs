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
//! Skipping gives the caller nothing: the helper is not asked, so no rule
//! is bypassed. A job id the caller does not own is not checked here (the
//! helper would refuse it), but skipping it only reports success for a
//! mount that is already there, shared and readable by everyone, and the
//! record stays the job's.

use bale_policy::ModuleName;
use bale_registry::node::{Key, NodeState};
use bale_site::Config;
use std::path::Path;

/// Whether the records of `job` (or, without one, of the calling user)
/// hold `module`, whose image is `image`, and it is mounted.
pub fn already(config: &Config, job: Option<&str>, module: &ModuleName, image: &Path) -> bool {
    held(config, job, module, image).unwrap_or(false)
}

/// `None` when something cannot be read or named.
fn held(config: &Config, job: Option<&str>, module: &ModuleName, image: &Path) -> Option<bool> {
    let key = match job {
        Some(id) => Key::job(id).ok()?,
        None => Key::user(&bale_helper::user_name(rustix::process::getuid().as_raw())?).ok()?,
    };
    let name = module.full();
    // The paths as the helper records them: resolved by the kernel.
    let image = std::fs::canonicalize(image).ok()?;
    let place = std::fs::canonicalize(&config.mount_path.value)
        .ok()?
        .join(&name);
    let state = NodeState::snapshot(&config.state_dir.value).ok()??;
    let recorded = state.read(&key).ok()?.iter().any(|r| {
        r.module.as_deref() == Some(name.as_str())
            && !r.rw
            && r.image == image
            && r.mountpoint == place
    });
    Some(recorded && bale_registry::mounted::serves(&place, &image).ok()?)
}
