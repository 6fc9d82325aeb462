//! Page-cache prefill for small files. A file smaller than a block lives
//! whole inside a shared fragment block, and reading it costs one FUSE
//! request: a round trip between the reading process and this server. When
//! a read uses a fragment block, the other files in it and in the next few
//! blocks that the kernel has learnt of since (looked up, or listed with
//! their attributes) are pushed into its page cache with
//! FUSE_NOTIFY_STORE, so reading them next (`find | xargs md5sum`,
//! `cp -r`, a build walking a source tree) costs no request.
//!
//! Pushing runs on a thread of its own: a store waits for the page locks a
//! pending read of the same file holds, and that read needs a free request
//! thread to be answered. Request threads only hand work over, never wait.

use bale_squashfs::reader::Archive;
use fuser::{INodeNo, Notifier};
use std::collections::HashMap;
use std::fs::File;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

/// Known small files remembered until a read of their fragment block
/// (about 30 bytes each with the map around them: 8 MiB at most). When
/// full, all are forgotten: the newest are the likeliest to be read next.
const MAX_WAITING: usize = 1 << 18;
/// Fragment blocks after the one read whose known files are pushed too:
/// blocks are written in directory order, so a walk reads them in turn.
/// Pushing eight blocks per read (1 MiB with 128 KiB blocks) took a cold
/// md5sum of the Linux tree from 7.9 to 5.7 s; more gained nothing.
const AHEAD: u32 = 7;
/// Pushes queued for the pusher; beyond, they are dropped.
const QUEUE: usize = 64;

/// A small file the kernel knows: its FUSE number and inode reference.
#[derive(Clone, Copy)]
struct Known {
    ino: u64,
    inode_ref: u64,
}

pub(crate) struct Prefill {
    archive: Arc<Archive<File>>,
    state: Mutex<State>,
    pusher: OnceLock<SyncSender<Vec<Known>>>,
}

#[derive(Default)]
struct State {
    /// Known files by fragment block, until that block is next read.
    waiting: HashMap<u32, Vec<Known>>,
    waiting_count: usize,
}

impl Prefill {
    pub fn new(archive: Arc<Archive<File>>) -> Prefill {
        Prefill {
            archive,
            state: Mutex::default(),
            pusher: OnceLock::new(),
        }
    }

    /// Starts pushing through `notifier` (until this is dropped).
    pub fn start(&self, notifier: Notifier) {
        let (tx, rx) = sync_channel(QUEUE);
        let archive = self.archive.clone();
        let started = std::thread::Builder::new()
            .name("prefill".into())
            .spawn(move || push(&archive, &notifier, rx));
        match started {
            Ok(_) => {
                let _ = self.pusher.set(tx);
            }
            Err(e) => tracing::warn!("no page-cache prefill: {e}"),
        }
    }

    /// The kernel now knows small file `ino` (inode `inode_ref`), whole in
    /// fragment block `fragment`.
    pub fn known(&self, fragment: u32, ino: u64, inode_ref: u64) {
        let mut s = self.state.lock().unwrap();
        if s.waiting_count == MAX_WAITING {
            s.waiting.clear();
            s.waiting_count = 0;
        }
        s.waiting
            .entry(fragment)
            .or_default()
            .push(Known { ino, inode_ref });
        s.waiting_count += 1;
    }

    /// File `ino`, whole in fragment block `fragment`, was read: the other
    /// files of that block and of the next [`AHEAD`] ones that the kernel
    /// learnt of since those blocks were last read are pushed.
    pub fn read(&self, fragment: u32, ino: u64) {
        let Some(pusher) = self.pusher.get() else {
            return;
        };
        let mut s = self.state.lock().unwrap();
        let mut files = Vec::new();
        for f in fragment..=fragment.saturating_add(AHEAD) {
            if let Some(more) = s.waiting.remove(&f) {
                s.waiting_count -= more.len();
                files.extend(more);
            }
        }
        drop(s);
        files.retain(|k| k.ino != ino);
        if !files.is_empty() {
            // A full queue means the pusher is behind: these are skipped.
            let _ = pusher.try_send(files);
        }
    }
}

/// Pushes each file's contents into the kernel's page cache. Files that
/// cannot be read are left to the read request, which reports the error;
/// files the kernel has forgotten are refused by it (ENOENT).
fn push(archive: &Archive<File>, notifier: &Notifier, rx: Receiver<Vec<Known>>) {
    let mut buf = Vec::new();
    for files in rx {
        for k in files {
            let Ok(layout) = archive
                .inode(k.inode_ref)
                .and_then(|inode| archive.file_layout(&inode))
            else {
                continue;
            };
            buf.resize(layout.size() as usize, 0);
            if archive.read_layout_at(&layout, 0, &mut buf).is_ok() {
                let _ = notifier.store(INodeNo(k.ino), 0, &buf);
            }
        }
    }
}
