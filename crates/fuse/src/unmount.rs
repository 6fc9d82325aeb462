//! Unmounting: umount2(2) when privileged, else the setuid `fusermount3 -u`
//! (which checks that the caller owns the mount). `lazy` detaches the
//! mount even while files are open; it goes away when the last closes.

use crate::error::Error;
use rustix::io::Errno;
use rustix::mount::UnmountFlags;
use std::path::Path;
use std::process::Command;

pub fn unmount(mountpoint: &Path, lazy: bool) -> Result<(), Error> {
    let flags = if lazy {
        UnmountFlags::DETACH
    } else {
        UnmountFlags::empty()
    };
    match rustix::mount::unmount(mountpoint, flags) {
        Ok(()) => Ok(()),
        Err(Errno::PERM) => fusermount_unmount(mountpoint, lazy),
        Err(Errno::INVAL) => Err(Error::new(mountpoint, "not a mount point")),
        Err(Errno::NOENT) => Err(Error::new(mountpoint, "no such directory")),
        Err(Errno::BUSY) => Err(Error::Busy(mountpoint.to_path_buf())),
        Err(e) => Err(Error::new(mountpoint, std::io::Error::from(e))),
    }
}

fn fusermount_unmount(mountpoint: &Path, lazy: bool) -> Result<(), Error> {
    let mut cmd = Command::new("fusermount3");
    cmd.arg("-u");
    if lazy {
        cmd.arg("-z");
    }
    let out = cmd
        .arg("--")
        .arg(mountpoint)
        .output()
        .map_err(|e| Error::new(mountpoint, format!("cannot run fusermount3: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let message = String::from_utf8_lossy(&out.stderr);
    let reason = message
        .trim()
        .rsplit(": ")
        .next()
        .filter(|r| !r.is_empty())
        .unwrap_or("fusermount3 failed");
    match reason {
        "Device or resource busy" => Err(Error::Busy(mountpoint.to_path_buf())),
        _ => Err(Error::new(mountpoint, reason)),
    }
}
