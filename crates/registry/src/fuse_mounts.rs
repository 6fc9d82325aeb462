//! bale's FUSE mounts on this node (`fuse.bale` in mountinfo): whose they
//! are and whether a process still serves them. A mount whose server was
//! killed (the OOM killer, `kill -9`) answers every access with ENOTCONN
//! until it is unmounted.
//!
//! Each open `/dev/fuse` names its connection in `/proc/PID/fdinfo`
//! (`fuse_connection:`, Linux 6.16 on), and a connection's number is the
//! minor device number of its mount. Where the kernel does not say, or the
//! caller cannot see the processes of the mount's owner, the server's state
//! is unknown, never guessed.

use crate::mountinfo::Mount;
use std::collections::HashSet;
use std::path::Path;

/// The subtype of bale's mounts: mountinfo shows them as `fuse.bale`.
pub const SUBTYPE: &str = "bale";

/// Whether a mount of this type (mountinfo's file system type) is bale's.
pub fn is_bale_mount(fstype: &str) -> bool {
    fstype.strip_prefix("fuse.") == Some(SUBTYPE)
}

/// Who made a FUSE mount: the `user_id=` of its superblock options.
pub fn mount_owner(super_options: &str) -> Option<u32> {
    super_options
        .split(',')
        .find_map(|o| o.strip_prefix("user_id="))
        .and_then(|id| id.parse().ok())
}

/// Whether a process serves a FUSE mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Running,
    /// Nobody serves it: it only fails until it is unmounted.
    Gone,
    Unknown,
}

impl Server {
    pub fn as_str(self) -> &'static str {
        match self {
            Server::Running => "running",
            Server::Gone => "gone",
            Server::Unknown => "unknown",
        }
    }
}

/// The FUSE connections some process visible to us serves.
#[derive(Clone, Debug, Default)]
pub struct Servers {
    connections: HashSet<u32>,
    /// A `/dev/fuse` was open without a `fuse_connection:` line: the kernel
    /// does not tell, so no connection can be called unserved.
    unlabelled: bool,
    /// Our uid: root sees every process, a user their own.
    viewer: u32,
}

impl Servers {
    /// Looks at the `/dev/fuse` descriptors of every process we may see.
    pub fn scan() -> Servers {
        let mut servers = Servers {
            viewer: rustix::process::geteuid().as_raw(),
            ..Servers::default()
        };
        let Ok(procs) = std::fs::read_dir("/proc") else {
            servers.unlabelled = true;
            return servers;
        };
        for pid in procs.flatten().map(|e| e.path()) {
            let Ok(fds) = std::fs::read_dir(pid.join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).is_ok_and(|t| t == Path::new("/dev/fuse")) {
                    servers.note(&pid.join("fdinfo").join(fd.file_name()));
                }
            }
        }
        servers
    }

    fn note(&mut self, fdinfo: &Path) {
        let Ok(text) = std::fs::read_to_string(fdinfo) else {
            return; // closed meanwhile
        };
        match connection(&text) {
            Some(id) => {
                self.connections.insert(id);
            }
            None => self.unlabelled = true,
        }
    }

    /// Whether the FUSE mount `mount` is served.
    pub fn of(&self, mount: &Mount) -> Server {
        let visible = self.viewer == 0 || mount_owner(&mount.super_options) == Some(self.viewer);
        if self.connections.contains(&mount.minor) {
            Server::Running
        } else if visible && !self.unlabelled {
            Server::Gone
        } else {
            Server::Unknown
        }
    }
}

/// bale's FUSE mounts in this mount namespace, each with whether it is
/// served (the processes are looked at only when there is a mount).
pub fn judged() -> Result<Vec<(Mount, Server)>, crate::Error> {
    let mounts: Vec<Mount> = crate::mountinfo::read()?
        .into_iter()
        .filter(|m| is_bale_mount(&m.fstype))
        .collect();
    if mounts.is_empty() {
        return Ok(Vec::new());
    }
    let servers = Servers::scan();
    Ok(mounts
        .into_iter()
        .map(|m| {
            let server = servers.of(&m);
            (m, server)
        })
        .collect())
}

/// The connection number of an fdinfo text of `/dev/fuse`.
fn connection(fdinfo: &str) -> Option<u32> {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("fuse_connection:"))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuse_mount(minor: u32, uid: u32) -> Mount {
        crate::mountinfo::parse(
            format!(
                "50 1 0:{minor} / /u/m{minor} ro,nosuid,nodev - fuse.bale /i.sqfs \
             ro,user_id={uid},group_id={uid},default_permissions\n"
            )
            .as_bytes(),
        )
        .unwrap()
        .remove(0)
    }

    #[test]
    fn reads_the_owner_and_the_type() {
        let m = fuse_mount(41, 1001);
        assert!(is_bale_mount(&m.fstype) && !is_bale_mount("fuse.squashfuse"));
        assert_eq!(mount_owner(&m.super_options), Some(1001));
        assert_eq!(mount_owner("ro"), None);
    }

    #[test]
    fn a_connection_nobody_serves_is_gone_only_when_that_can_be_known() {
        let text = "pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t89\nfuse_connection:\t41\n";
        assert_eq!(connection(text), Some(41));
        assert_eq!(connection("pos:\t0\nflags:\t02\n"), None);
        let servers = |viewer, unlabelled| Servers {
            connections: HashSet::from([41]),
            unlabelled,
            viewer,
        };
        let (served, unserved) = (fuse_mount(41, 1001), fuse_mount(42, 1001));
        assert_eq!(servers(1001, false).of(&served), Server::Running);
        assert_eq!(servers(1001, false).of(&unserved), Server::Gone);
        assert_eq!(servers(0, false).of(&unserved), Server::Gone);
        // Another user's processes are hidden; an older kernel does not say.
        assert_eq!(servers(1002, false).of(&unserved), Server::Unknown);
        assert_eq!(servers(1001, true).of(&unserved), Server::Unknown);
        assert_eq!(servers(1001, true).of(&served), Server::Running);
    }
}
