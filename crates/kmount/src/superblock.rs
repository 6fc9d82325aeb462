//! Image type from the superblock of an opened file, never from its name.

use bale_policy::ImageKind;
use rustix::fd::AsFd;

const EXT4_OFFSET: u64 = 1024;
const EXT4_MAGIC: u16 = 0xEF53;

/// Reads the superblock of `fd` (a regular file of `size` bytes) and says
/// which kind of image it is, or why it is none.
pub fn detect<F: AsFd>(fd: F, size: u64) -> Result<ImageKind, String> {
    let mut head = [0u8; 2048];
    let n = read_at(&fd, &mut head, 0)?;
    let head = &head[..n];
    if head.len() >= 4 && head[..4] == bale_squashfs::superblock::MAGIC.to_le_bytes() {
        return squashfs(head, size);
    }
    if head.len() >= 1024 + 128 {
        let sb = &head[EXT4_OFFSET as usize..];
        if u16::from_le_bytes([sb[56], sb[57]]) == EXT4_MAGIC {
            return ext4(sb, size);
        }
    }
    Err("no squashfs or ext4 superblock (not an image)".into())
}

fn squashfs(head: &[u8], size: u64) -> Result<ImageKind, String> {
    let raw: &[u8; bale_squashfs::superblock::SUPERBLOCK_SIZE] = head
        .get(..bale_squashfs::superblock::SUPERBLOCK_SIZE)
        .and_then(|b| b.try_into().ok())
        .ok_or("squashfs superblock truncated")?;
    let sb = bale_squashfs::superblock::Superblock::decode(raw)
        .map_err(|e| format!("corrupt squashfs superblock: {e}"))?;
    if sb.bytes_used > size {
        return Err(format!(
            "corrupt squashfs superblock: says {} bytes used, file has {size}",
            sb.bytes_used
        ));
    }
    Ok(ImageKind::Squashfs)
}

fn ext4(sb: &[u8], size: u64) -> Result<ImageKind, String> {
    let u32_at = |off: usize| u32::from_le_bytes(sb[off..off + 4].try_into().unwrap());
    let inodes = u32_at(0);
    let blocks_lo = u64::from(u32_at(4));
    let log_block = u32_at(24);
    let blocks_per_group = u32_at(32);
    let inodes_per_group = u32_at(40);
    let incompat = u32_at(96);
    let corrupt = |why: &str| Err(format!("corrupt ext4 superblock: {why}"));
    if log_block > 6 {
        return corrupt("block size over 64 KiB");
    }
    if inodes == 0 || blocks_per_group == 0 || inodes_per_group == 0 {
        return corrupt("zero inode or group counts");
    }
    let blocks_hi = if incompat & 0x80 != 0 && sb.len() >= 0x154 {
        u64::from(u32_at(0x150))
    } else {
        0
    };
    let blocks = blocks_hi << 32 | blocks_lo;
    let bytes = blocks
        .checked_mul(1024 << log_block)
        .ok_or("block count overflows")?;
    if blocks == 0 || bytes > size {
        return corrupt(&format!(
            "{blocks} blocks do not fit in a file of {size} bytes"
        ));
    }
    Ok(ImageKind::Ext4)
}

fn read_at<F: AsFd>(fd: F, buf: &mut [u8], offset: u64) -> Result<usize, String> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(&fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("cannot read superblock: {e}")),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn detect_bytes(bytes: &[u8], size: u64) -> Result<ImageKind, String> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        detect(&f, size)
    }

    fn ext4_sb(blocks: u32, log_block: u32) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let sb = &mut b[1024..];
        sb[0..4].copy_from_slice(&128u32.to_le_bytes());
        sb[4..8].copy_from_slice(&blocks.to_le_bytes());
        sb[24..28].copy_from_slice(&log_block.to_le_bytes());
        sb[32..36].copy_from_slice(&8192u32.to_le_bytes());
        sb[40..44].copy_from_slice(&128u32.to_le_bytes());
        sb[56..58].copy_from_slice(&EXT4_MAGIC.to_le_bytes());
        b
    }

    #[test]
    fn ext4_checks() {
        assert_eq!(detect_bytes(&ext4_sb(4, 0), 4096), Ok(ImageKind::Ext4));
        assert!(detect_bytes(&ext4_sb(5, 0), 4096)
            .unwrap_err()
            .contains("do not fit"));
        assert!(detect_bytes(&ext4_sb(1, 9), 1 << 30)
            .unwrap_err()
            .contains("block size"));
    }

    #[test]
    fn not_an_image() {
        assert!(detect_bytes(b"#!/bin/sh\n", 10)
            .unwrap_err()
            .contains("not an image"));
        assert!(detect_bytes(b"", 0).is_err());
        let mut sq = b"hsqs".to_vec();
        sq.resize(96, 0);
        assert!(detect_bytes(&sq, 96)
            .unwrap_err()
            .contains("corrupt squashfs"));
    }
}
