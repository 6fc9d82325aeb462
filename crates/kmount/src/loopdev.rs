//! Loop devices attached by file descriptor: `LOOP_CTL_GET_FREE` on
//! `/dev/loop-control`, then one `LOOP_CONFIGURE` ioctl that binds the
//! already-opened (and already-checked) image, sets read-only and
//! autoclear: the device detaches itself when its last user (the mount)
//! goes away. Every device attached here is labelled `bale:NAME`
//! (`lo_file_name`), so bale's devices are told from everyone else's.

use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::path::PathBuf;

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LO_NAME_SIZE: usize = 64;
/// How the label of every loop device bale attaches begins.
const LABEL_PREFIX: &[u8] = b"bale:";

#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; LO_NAME_SIZE],
    lo_crypt_name: [u8; LO_NAME_SIZE],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// An attached loop device; [`detach`](Loop::detach) or, once mounted,
/// just drop it (autoclear detaches it with the last unmount).
pub struct Loop {
    pub path: PathBuf,
    fd: OwnedFd,
}

impl Loop {
    /// Attaches `image` (opened read-only, or read-write if `rw`) to a free
    /// loop device labelled `bale:name` (cut to 63 bytes, shown by
    /// `losetup --list -O NAME,BACK-FILE` only without sysfs).
    pub fn attach<F: AsFd>(image: F, rw: bool, name: &str) -> std::io::Result<Loop> {
        let control = rustix::fs::open(
            "/dev/loop-control",
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut info: LoopInfo64 = unsafe { std::mem::zeroed() };
        info.lo_flags = LO_FLAGS_AUTOCLEAR | if rw { 0 } else { LO_FLAGS_READ_ONLY };
        let label = [LABEL_PREFIX, name.as_bytes()].concat();
        let len = label.len().min(LO_NAME_SIZE - 1);
        info.lo_file_name[..len].copy_from_slice(&label[..len]);
        let config = LoopConfig {
            fd: image.as_fd().as_raw_fd() as u32,
            block_size: 0,
            info,
            reserved: [0; 8],
        };
        // Another process may take the free device between the two calls.
        for _ in 0..32 {
            // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a number.
            let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let flags = if rw { OFlags::RDWR } else { OFlags::RDONLY };
            let fd = rustix::fs::open(&path, flags | OFlags::CLOEXEC, Mode::empty())?;
            // SAFETY: LOOP_CONFIGURE reads a `struct loop_config`, which
            // `LoopConfig` mirrors and which outlives the call.
            let rc = unsafe {
                libc::ioctl(fd.as_raw_fd(), LOOP_CONFIGURE, &config as *const LoopConfig)
            };
            if rc == 0 {
                return Ok(Loop { path, fd });
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EBUSY) {
                return Err(err);
            }
        }
        Err(std::io::Error::other("no free loop device after 32 tries"))
    }

    /// Detaches the device now (when the mount failed).
    pub fn detach(self) {
        clear(&self.fd);
    }
}

/// Detaches the loop device at `path` (one left attached but unused; a
/// device still in use is only marked to detach when its user goes).
pub fn detach_path(path: &std::path::Path) -> std::io::Result<()> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    if clear(&fd) != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the loop device at `path` is attached, by bale ([`Loop::attach`]).
pub fn attached_by_bale(path: &std::path::Path) -> bool {
    label(path).is_ok_and(|l| l.starts_with(LABEL_PREFIX))
}

/// The label the loop device at `path` was attached with (its
/// `lo_file_name`, up to the first NUL); an error if it is not attached.
fn label(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    // SAFETY: all-zero bytes are a valid `loop_info64`.
    let mut info: LoopInfo64 = unsafe { std::mem::zeroed() };
    // SAFETY: LOOP_GET_STATUS64 fills a `struct loop_info64`, which
    // `LoopInfo64` mirrors and which outlives the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            LOOP_GET_STATUS64,
            &mut info as *mut LoopInfo64,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let len = info
        .lo_file_name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(LO_NAME_SIZE);
    Ok(info.lo_file_name[..len].to_vec())
}

fn clear(fd: &OwnedFd) -> libc::c_int {
    // SAFETY: LOOP_CLR_FD takes no argument.
    unsafe { libc::ioctl(fd.as_raw_fd(), LOOP_CLR_FD) }
}
