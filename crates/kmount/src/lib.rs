//! `bale-kmount`: the privileged operations of the image framework, all by
//! file descriptor so no path can be swapped between check and use:
//!
//! * [`superblock`]: what an opened file is (squashfs or ext4), checked
//!   before the kernel sees it;
//! * [`loopdev`]: attach an opened file to a free loop device with
//!   `LOOP_CONFIGURE` (read-only unless asked, autoclear);
//! * [`mount`]: mount a loop device on an `O_PATH` directory descriptor with
//!   `fsopen`/`fsmount`/`move_mount`, always `nosuid,nodev`; unmount;
//! * [`holders`]: the processes keeping a mount busy, like `fuser -m`;
//! * [`namespace`]: a private mount namespace for `bale run`.

pub mod holders;
pub mod loopdev;
pub mod mount;
pub mod namespace;
pub mod superblock;
