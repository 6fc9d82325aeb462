//! What a pack is asked to do: source, destination, codec and the
//! user-visible knobs, with the defaults documented in `bale pack --help`.

use crate::tree::Meta;
use bale_squashfs::{Codec, CompressionSpec};
use std::path::PathBuf;

/// Default data block size (128 KiB, as mksquashfs).
pub const DEFAULT_BLOCK_SIZE: u32 = 128 * 1024;
/// Default number of concurrent source readers: enough to hide ~1 ms
/// metadata round trips of a parallel file system, and the I/O latency of
/// a local disk with a cold cache; idle readers cost nothing.
pub const DEFAULT_READERS: usize = 32;

/// Default read-ahead of a directory's readers: dozens of files in flight.
pub const DEFAULT_READ_AHEAD: u64 = 32 << 20;
/// Default read-ahead of an archive's one sequential reader: enough to keep
/// every compressor busy (more only costs memory).
pub const ARCHIVE_READ_AHEAD: u64 = 8 << 20;

#[derive(Clone, Debug)]
pub struct PackOptions {
    pub source: PathBuf,
    pub image: PathBuf,
    pub codec: Codec,
    /// `None` for the codec's default level.
    pub level: Option<i32>,
    /// `false` stores every block raw.
    pub compress: bool,
    pub block_size: u32,
    /// Store this uid for every entry.
    pub owner: Option<u32>,
    /// Store this gid for every entry.
    pub group: Option<u32>,
    /// Use this time for every inode and the superblock.
    pub mtime: Option<u32>,
    /// Glob patterns; one without '/' matches a name at any depth.
    pub excludes: Vec<String>,
    pub one_file_system: bool,
    pub xattrs: bool,
    pub force: bool,
    /// Compression threads (0 = one per core).
    pub threads: usize,
    /// Concurrent source readers (directory scan and file reads).
    pub readers: usize,
    pub skip_unreadable: bool,
    /// Bytes of file data that may be read ahead of the writer; `None`
    /// for the default of the source: [`DEFAULT_READ_AHEAD`] for a
    /// directory's many readers, [`ARCHIVE_READ_AHEAD`] for an archive's one.
    pub read_ahead: Option<u64>,
}

impl PackOptions {
    pub fn new(source: impl Into<PathBuf>, image: impl Into<PathBuf>) -> PackOptions {
        PackOptions {
            source: source.into(),
            image: image.into(),
            codec: Codec::Zstd,
            level: None,
            compress: true,
            block_size: DEFAULT_BLOCK_SIZE,
            owner: None,
            group: None,
            mtime: None,
            excludes: Vec::new(),
            one_file_system: false,
            xattrs: true,
            force: false,
            threads: 0,
            readers: DEFAULT_READERS,
            skip_unreadable: false,
            read_ahead: None,
        }
    }

    /// The metadata stored for a source entry with these mode bits,
    /// owner and mtime: `--owner`, `--group` and `--mtime` applied, times
    /// before 1970 or after 2106 (what squashfs can hold) clamped.
    pub fn meta(&self, mode: u32, uid: u32, gid: u32, mtime: i64) -> Meta {
        Meta {
            permissions: (mode & 0o7777) as u16,
            uid: self.owner.unwrap_or(uid),
            gid: self.group.unwrap_or(gid),
            mtime: self.mtime.unwrap_or(mtime.clamp(0, u32::MAX as i64) as u32),
        }
    }

    /// Whether an entry's `mtime` is one squashfs cannot hold (before
    /// 1970 or after 2106), so [`PackOptions::meta`] clamps it.
    pub fn clamps_time(&self, mtime: i64) -> bool {
        self.mtime.is_none() && u32::try_from(mtime).is_err()
    }

    pub fn compression(&self) -> CompressionSpec {
        CompressionSpec {
            codec: self.codec,
            level: self.level,
            block_size: self.block_size,
            raw: !self.compress,
        }
    }

    /// These options with no more readers than the limit on open files
    /// (raised to its hard limit first) lets work: a scan thread holds a
    /// directory per level, a reader a file or two. `--readers 1024` under
    /// `ulimit -n 1024` then runs with 62.
    pub fn fitted_to_limits(&self) -> PackOptions {
        let fit = bale_os::limits::raise_open_files().map_or(usize::MAX, |n| {
            usize::try_from(n.saturating_sub(32) / 16).unwrap_or(usize::MAX)
        });
        PackOptions {
            readers: self.readers.min(fit.max(1)),
            ..self.clone()
        }
    }

    pub fn compression_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}
