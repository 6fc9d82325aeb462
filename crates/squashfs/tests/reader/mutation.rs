//! Mutated and truncated images: the reader must return errors, never
//! panic, hang or allocate absurd amounts of memory. Each mutant is walked
//! completely (listings, lookups, inodes, xattrs, contents) with fuel that
//! bounds the work a legitimately huge (but wrong) claim could cause, in a
//! thread with a hard time limit. A global allocator refuses any single
//! allocation above 256 MiB, which aborts the test run loudly.

use crate::fixture::{fixture, Rng};
use bale_squashfs::reader::{Archive, Node, Visitor};
use bale_squashfs::{Error, InodeData};
use std::alloc::{GlobalAlloc, Layout, System};
use std::time::Duration;

struct CappedAllocator;

const ALLOCATION_CAP: usize = 256 << 20;

unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// Most file bytes and nodes one mutant may make the walk read.
const FUEL_BYTES: u64 = 64 << 20;
const FUEL_NODES: u64 = 100_000;
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Reads everything reachable, stopping quietly when the fuel runs out.
struct Exhaustive<'a> {
    archive: &'a Archive<Vec<u8>>,
    bytes: u64,
    nodes: u64,
}

#[derive(Debug)]
pub enum Stop {
    Image(Error),
    OutOfFuel,
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Image(e)
    }
}

impl Visitor for Exhaustive<'_> {
    type Error = Stop;

    fn visit(&mut self, node: &Node<'_>) -> Result<(), Stop> {
        self.nodes += 1;
        if self.nodes > FUEL_NODES {
            return Err(Stop::OutOfFuel);
        }
        let a = self.archive;
        let inode = node.inode;
        a.uid(inode)?;
        a.gid(inode)?;
        a.xattrs(inode)?;
        a.inode_ref_by_number(inode.number)?;
        match &inode.data {
            InodeData::File(_) => {
                let layout = a.file_layout(inode)?;
                let mut buf = vec![0u8; 1 << 16];
                let mut offset = 0;
                while offset < layout.size() {
                    let chunk = (layout.size() - offset).min(buf.len() as u64);
                    self.bytes += chunk;
                    if self.bytes > FUEL_BYTES {
                        return Err(Stop::OutOfFuel);
                    }
                    match a.read_layout_at(&layout, offset, &mut buf[..chunk as usize])? {
                        0 => break,
                        n => offset += n as u64,
                    }
                }
            }
            InodeData::Directory(_) => {
                let entries = a.read_dir(inode)?;
                for entry in entries.iter().step_by(7) {
                    a.lookup(inode, &entry.name)?;
                }
                if let Some(middle) = entries.get(entries.len() / 2) {
                    let mut resumed = a.read_dir_at(inode, 0)?;
                    while resumed.next_entry()?.is_some_and(|e| e.name != middle.name) {}
                    let cookie = resumed.cookie();
                    a.read_dir_at(inode, cookie)?.count();
                }
            }
            InodeData::Symlink { .. } => {
                a.read_link(inode)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Opens `image` and reads everything in it, within the fuel.
pub fn exercise(image: Vec<u8>) -> Result<(), Stop> {
    let archive = Archive::open(image)?;
    for step in archive.inodes() {
        step?;
    }
    archive.regions();
    let mut walker = Exhaustive {
        archive: &archive,
        bytes: 0,
        nodes: 0,
    };
    archive.walk(&mut walker)
}

/// Runs `exercise` in a thread and fails the test on a panic or time-out.
fn survive(label: &str, image: Vec<u8>) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let outcome = exercise(image);
        let _ = tx.send(matches!(outcome, Err(Stop::Image(_))));
    });
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(failed_cleanly) => {
            worker.join().unwrap();
            failed_cleanly
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            panic!("{label}: the reader panicked")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{label}: the reader hangs (over {TIME_LIMIT:?})")
        }
    }
}

/// One deterministic mutation of `image`.
fn mutate(image: &[u8], rng: &mut Rng) -> (String, Vec<u8>) {
    let mut m = image.to_vec();
    let len = m.len() as u64;
    // Bias half the mutations towards the metadata at the end of the image.
    let metadata_start = len.saturating_sub(len / 4 + 512);
    let pos = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            metadata_start + rng.below(len - metadata_start)
        } else {
            rng.below(len)
        }
    };
    match rng.below(6) {
        0 => {
            let at = pos(rng);
            m.truncate(at as usize);
            (format!("truncated at {at}"), m)
        }
        1 => {
            let at = pos(rng) as usize;
            m[at] ^= 1 << rng.below(8);
            (format!("bit flip at {at}"), m)
        }
        2 => {
            let at = pos(rng) as usize;
            let n = (1 + rng.below(16) as usize).min(m.len() - at);
            let noise = rng.bytes(n);
            m[at..at + n].copy_from_slice(&noise);
            (format!("{n} random bytes at {at}"), m)
        }
        3 => {
            let at = rng.below(96 - 8) as usize;
            let value = [0u64, u64::MAX, 1 << 32, len, len - 1][rng.below(5) as usize];
            m[at..at + 8].copy_from_slice(&value.to_le_bytes());
            (format!("superblock field at {at} = {value:#x}"), m)
        }
        4 => {
            let at = (pos(rng) as usize).min(m.len() - 4);
            let value = [0u32, u32::MAX, 0x8000, 0x0100_0000, 8191][rng.below(5) as usize];
            m[at..at + 4].copy_from_slice(&value.to_le_bytes());
            (format!("u32 at {at} = {value:#x}"), m)
        }
        _ => {
            let at = pos(rng) as usize;
            let n = (1 + rng.below(64) as usize).min(m.len() - at);
            m[at..at + n].fill(if rng.below(2) == 0 { 0 } else { 0xff });
            (format!("{n} filled bytes at {at}"), m)
        }
    }
}

fn run_mutants(
    codec: &str,
    block_size: usize,
    big_dir: bool,
    args: &[&str],
    count: usize,
    seed: u64,
) {
    let f = fixture(codec, block_size, big_dir, args);
    let image = std::fs::read(&f.image).unwrap();
    match exercise(image.clone()) {
        Ok(()) => {}
        Err(Stop::Image(e)) => panic!("the unmutated {codec} image fails: {e}"),
        Err(Stop::OutOfFuel) => panic!("the unmutated {codec} image needs more fuel"),
    }
    let mut rng = Rng::new(seed);
    let mut failed_cleanly = 0;
    for i in 0..count {
        let (what, mutant) = mutate(&image, &mut rng);
        if survive(&format!("{codec} mutant {i} ({what})"), mutant) {
            failed_cleanly += 1;
        }
    }
    eprintln!("{codec}: {failed_cleanly} of {count} mutants detected as corrupt");
    assert!(
        failed_cleanly > count / 5,
        "too few mutants detected ({failed_cleanly}/{count}): is the mutator working?"
    );
}

#[test]
fn mutated_zstd_images_fail_cleanly() {
    run_mutants("zstd", 4096, true, &[], 300, 1);
}

#[test]
fn mutated_gzip_images_fail_cleanly() {
    run_mutants("gzip", 4096, false, &[], 150, 2);
}

#[test]
fn mutated_xz_images_fail_cleanly() {
    run_mutants("xz", 8192, false, &[], 100, 3);
}

#[test]
fn mutated_lz4_images_fail_cleanly() {
    run_mutants("lz4", 4096, false, &[], 150, 4);
}

#[test]
fn mutated_uncompressed_metadata_fails_cleanly() {
    run_mutants(
        "zstd",
        4096,
        true,
        &["-noI", "-noD", "-noF", "-noX"],
        400,
        5,
    );
}
