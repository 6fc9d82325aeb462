//! An image that must be mounted nowhere while it is changed (`bale
//! resize`, `bale create -f` over it): its cluster lock, held for the
//! whole change, lists no node, and no loop device of this node has it
//! (a `bale run`, or a copy of a mount in another mount namespace, writes
//! no lock line; a lock file can be lost).

use anyhow::{bail, Context};
use bale_registry::cluster_lock::ClusterLock;
use bale_registry::owner::Node;
use std::path::Path;
use std::time::Duration;

/// Holds `image`'s cluster lock, failing when a node has it mounted;
/// `change` says what needs it unmounted ("resize", "replacing it").
pub fn hold(image: &Path, change: &str) -> anyhow::Result<ClusterLock> {
    let shown = image.display().to_string();
    let dir = image
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(".".as_ref());
    let name = image
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{shown}: name must be UTF-8"))?;
    let dir_fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .with_context(|| dir.display().to_string())?;
    let node = Node::current().context("/proc/sys/kernel/random/boot_id")?;
    let lock = ClusterLock::acquire(
        dir_fd,
        dir,
        &bale_registry::cluster_lock::name_for(name),
        &node.owner(std::process::id()),
        Duration::from_secs(20),
    )?;
    if let Some(entry) = lock.contents.entries.first() {
        bail!(
            "{shown}: mounted on {} ({change} needs it unmounted everywhere)",
            entry.owner.host
        );
    }
    if let Some(device) = bale_registry::loops::holding(image)?.first() {
        bail!(
            "{shown}: attached to {} on this node (mounted, used by a bale run, or still \
             mounted in another mount namespace; {change} needs it unmounted everywhere)",
            device.device.display()
        );
    }
    Ok(lock)
}
