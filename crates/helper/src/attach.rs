//! Putting an opened image on an opened directory: a loop device bound to
//! the image's descriptor (autoclear), the file system mounted on the
//! directory's descriptor; when the mount fails, the loop device is
//! detached again.

use crate::failure::{io, Failure};
use crate::open::Image;
use bale_site::Config;
use rustix::fd::OwnedFd;
use std::path::Path;

/// Rule `loop-budget`: one more loop device of bale fits in the node's
/// budget. Loop devices of other programs are not bale's to ration.
pub fn budget(config: &Config) -> Result<(), Failure> {
    let in_use = bale_registry::loops::attached()?
        .iter()
        .filter(|l| bale_kmount::loopdev::attached_by_bale(&l.device))
        .count();
    Ok(bale_policy::loop_budget(in_use, config.loop_budget.value)?)
}

/// Attaches `image` and mounts it on `target` (shown as `target_path`).
pub fn mount(image: &Image, target: &OwnedFd, target_path: &Path, rw: bool) -> Result<(), Failure> {
    let label = image.path.to_string_lossy();
    let device = bale_kmount::loopdev::Loop::attach(&image.fd, rw, &label)
        .map_err(|e| io(&image.path, e))?;
    if let Err(e) = bale_kmount::mount::mount(&device.path, image.kind, target, rw) {
        device.detach();
        return Err(Failure::Error(format!(
            "{}: cannot mount on {}: {e}",
            image.path.display(),
            target_path.display()
        )));
    }
    drop(device); // autoclear: the loop device now lives as long as the mount
    Ok(())
}
