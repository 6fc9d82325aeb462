//! What a mount is asked to do, and how that becomes fuser's configuration:
//! read-only, nosuid, nodev, kernel permission checks, the image as the
//! source name, subtype `bale`, and `allow_other` only where permitted.

use crate::error::Error;
use bale_registry::fuse_mounts::SUBTYPE;
use fuser::{Config, MountOption, SessionACL};
use std::path::{Path, PathBuf};

/// Default bytes of decompressed blocks kept by the server.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

/// A mount request.
#[derive(Clone, Debug)]
pub struct MountConfig {
    pub image: PathBuf,
    pub mountpoint: PathBuf,
    /// Bytes of decompressed metadata and data blocks kept in memory,
    /// shared by all request threads.
    pub cache_bytes: u64,
    /// Request threads; 0 picks a default from the number of cores.
    pub threads: usize,
    /// Let other users (and root) access the mount.
    pub allow_other: bool,
}

impl MountConfig {
    pub fn new(image: PathBuf, mountpoint: PathBuf) -> MountConfig {
        MountConfig {
            image,
            mountpoint,
            cache_bytes: DEFAULT_CACHE_BYTES,
            threads: 0,
            allow_other: false,
        }
    }

    /// The thread count to use: as asked, or twice the cores (requests
    /// also wait for reads of the image), between 4 and 16.
    pub fn thread_count(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        (2 * cores).clamp(4, 16)
    }

    /// The reader's caches: an eighth for metadata, the rest for data.
    pub fn caches(&self) -> bale_squashfs::CacheOptions {
        let metadata = (self.cache_bytes / 8).max(256 << 10);
        bale_squashfs::CacheOptions {
            metadata_bytes: metadata,
            data_bytes: self.cache_bytes.saturating_sub(metadata).max(1 << 20),
        }
    }
}

/// fuser's configuration for a mount of `image` (absolute path).
pub(crate) fn fuser_config(config: &MountConfig, image: &Path) -> Result<Config, Error> {
    let root = rustix::process::geteuid().is_root();
    if config.allow_other && !root && !user_allow_other()? {
        return Err(Error::new(
            &config.mountpoint,
            "allow_other is not permitted: /etc/fuse.conf lacks user_allow_other",
        ));
    }
    let mut options = vec![
        MountOption::RO,
        MountOption::NoSuid,
        MountOption::NoDev,
        MountOption::NoAtime,
        MountOption::DefaultPermissions,
    ];
    let fsname = image.display().to_string();
    // fusermount3 splits its options at commas unless escaped.
    options.push(MountOption::FSName(if root {
        fsname
    } else {
        fsname.replace('\\', "\\\\").replace(',', "\\,")
    }));
    // A direct mount(2) takes the subtype as a kernel option; fusermount3
    // takes it as its own.
    options.push(if root {
        MountOption::CUSTOM(format!("subtype={SUBTYPE}"))
    } else {
        MountOption::Subtype(SUBTYPE.into())
    });
    let mut fuser_config = Config::default();
    fuser_config.mount_options = options;
    fuser_config.acl = if config.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    fuser_config.n_threads = Some(config.thread_count());
    fuser_config.clone_fd = true;
    Ok(fuser_config)
}

/// Whether `/etc/fuse.conf` lets ordinary users ask for `allow_other`.
fn user_allow_other() -> Result<bool, Error> {
    let path = Path::new("/etc/fuse.conf");
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .any(|line| line.split('#').next().unwrap_or("").trim() == "user_allow_other")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::new(path, e)),
    }
}
