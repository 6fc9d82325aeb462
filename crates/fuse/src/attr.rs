//! What the kernel is told about inodes and the file system: `stat`
//! attributes built from a squashfs inode, and the `statfs` numbers.

use bale_squashfs::{Inode, InodeData, InodeKind, Superblock};
use fuser::{FileAttr, FileType, INodeNo};
use std::time::{Duration, UNIX_EPOCH};

/// The FUSE file type of an inode kind.
pub(crate) fn file_type(kind: InodeKind) -> FileType {
    match kind {
        InodeKind::Directory => FileType::Directory,
        InodeKind::File => FileType::RegularFile,
        InodeKind::Symlink => FileType::Symlink,
        InodeKind::BlockDevice => FileType::BlockDevice,
        InodeKind::CharDevice => FileType::CharDevice,
        InodeKind::Fifo => FileType::NamedPipe,
        InodeKind::Socket => FileType::Socket,
    }
}

/// Attributes that carry only the number and kind: enough for a
/// directory entry whose inode is not read (`readdir`, "." and "..").
pub(crate) fn stub(ino: u64, kind: InodeKind) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: file_type(kind),
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

/// What an inode's attributes need from the image's tables.
pub(crate) struct Stored {
    pub uid: u32,
    pub gid: u32,
    /// Bytes of its extended attributes (0 without).
    pub xattr_size: u32,
}

/// Full attributes of `inode`, reported as FUSE inode `ino`.
pub(crate) fn attr(ino: u64, inode: &Inode, stored: Stored, block_size: u32) -> FileAttr {
    let Stored {
        uid,
        gid,
        xattr_size,
    } = stored;
    // Blocks as the kernel's squashfs counts them: a file's data without
    // its holes; a directory or a symlink, none (they live in metadata);
    // plus the extended attributes' bytes, for any kind.
    let (size, data_bytes, rdev) = match &inode.data {
        InodeData::File(f) => (f.size, f.size.saturating_sub(f.sparse), 0),
        InodeData::Directory(d) => (u64::from(d.size), 0, 0),
        InodeData::Symlink { target } => (target.len() as u64, 0, 0),
        // squashfs stores device numbers in the kernel's "new" 32-bit
        // encoding, which is also what FUSE expects.
        InodeData::BlockDevice { rdev } | InodeData::CharDevice { rdev } => (0, 0, *rdev),
        InodeData::Fifo | InodeData::Socket => (0, 0, 0),
    };
    let mtime = UNIX_EPOCH + Duration::from_secs(inode.mtime.into());
    FileAttr {
        size,
        blocks: data_bytes.div_ceil(512) + u64::from(xattr_size).div_ceil(512),
        atime: mtime,
        mtime,
        ctime: mtime,
        perm: inode.permissions & 0o7777,
        nlink: inode.link_count,
        uid,
        gid,
        rdev,
        // Invites programs to read a whole block per call.
        blksize: block_size,
        ..stub(ino, inode.kind())
    }
}

/// `statfs` numbers, as the kernel's squashfs reports them: the image's
/// blocks and inodes, none free.
pub(crate) struct StatFs {
    pub blocks: u64,
    pub files: u64,
    pub block_size: u32,
    pub name_max: u32,
}

pub(crate) fn statfs(sb: &Superblock) -> StatFs {
    StatFs {
        blocks: sb.bytes_used.div_ceil(sb.block_size.into()),
        files: sb.inode_count.into(),
        block_size: sb.block_size,
        name_max: 256,
    }
}

/// Time stamps and sizes never change while mounted.
pub(crate) const TTL: Duration = Duration::from_secs(24 * 60 * 60);

#[cfg(test)]
mod tests {
    use super::*;
    use bale_squashfs::inode::{DirectoryInode, FileInode};

    fn inode(data: InodeData) -> Inode {
        Inode {
            permissions: 0o755,
            uid_index: 0,
            gid_index: 0,
            mtime: 0,
            number: 2,
            link_count: 1,
            xattr: u32::MAX,
            data,
        }
    }

    #[test]
    fn blocks_count_file_data_and_xattrs_as_the_kernel_does() {
        let with_xattrs = |data, xattr_size| {
            let stored = Stored {
                uid: 0,
                gid: 0,
                xattr_size,
            };
            attr(2, &inode(data), stored, 131072).blocks
        };
        let blocks = |data| with_xattrs(data, 0);
        let file = FileInode {
            blocks_start: 96,
            size: 1 << 20,
            sparse: (1 << 20) - 4096,
            fragment: u32::MAX,
            fragment_offset: 0,
            block_sizes: vec![],
        };
        assert_eq!(blocks(InodeData::File(file.clone())), 8);
        assert_eq!(with_xattrs(InodeData::File(file), 513), 10);
        let dir = DirectoryInode {
            start_block: 0,
            offset: 0,
            size: 3000,
            parent: 1,
            index: vec![],
        };
        assert_eq!(blocks(InodeData::Directory(dir)), 0);
        let target = vec![b'x'; 4095];
        assert_eq!(blocks(InodeData::Symlink { target }), 0);
        assert_eq!(with_xattrs(InodeData::Fifo, 12), 1);
    }
}
