//! A private mount namespace for one process tree (`bale run`): mounts
//! made in it are seen by this process and its children only, and vanish
//! with the namespace when its last process exits. Either a plain mount
//! namespace (root, the helper) or a user namespace that maps only the
//! caller's own ids plus a mount namespace it owns (an ordinary user, the
//! FUSE backend). The calling process must still be single-threaded.

use rustix::mount::MountPropagationFlags;

/// Who enters the namespace.
#[derive(Clone, Copy, Debug)]
pub enum Owner {
    /// Root: a new mount namespace only.
    Root,
    /// An ordinary user: a new user namespace in which `uid`/`gid` map to
    /// themselves (nothing else is mapped), and a mount namespace in it.
    User { uid: u32, gid: u32 },
}

/// Moves the calling process into a new private mount namespace: nothing
/// mounted afterwards propagates back to the parent namespace.
pub fn enter_private(owner: Owner) -> std::io::Result<()> {
    let flags = match owner {
        Owner::Root => libc::CLONE_NEWNS,
        Owner::User { .. } => libc::CLONE_NEWUSER | libc::CLONE_NEWNS,
    };
    // SAFETY: unshare only changes this process's namespaces.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if let Owner::User { uid, gid } = owner {
        // Writing a gid map needs setgroups disabled for unprivileged users.
        std::fs::write("/proc/self/setgroups", "deny")?;
        std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    }
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )?;
    Ok(())
}
