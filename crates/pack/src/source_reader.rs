//! Source readers: each takes the next file, opens it (without following
//! symlinks), reads it in block-sized chunks within the read-ahead budget,
//! hashes it, and hands the chunks to the dispatcher through the file's
//! own channel.

use crate::budget::Budget;
use crate::error::{source_err, PackError};
use crate::pipeline::Shared;
use crossbeam_channel::{Receiver, Sender};
use rustix::fs::{FileType, Mode, OFlags};
use std::io::Read;
use std::path::PathBuf;
use xxhash_rust::xxh3::Xxh3;

/// One file to read.
pub struct ReadJob {
    pub ordinal: u32,
    pub path: PathBuf,
    pub tx: Sender<Chunk>,
}

/// What a reader sends for a file: blocks in order, then its end.
pub enum Chunk {
    /// `block_size` bytes, or fewer for the last block.
    Block(Vec<u8>),
    End {
        size: u64,
        hash: u128,
    },
    Failed(PackError),
}

pub fn read_files(jobs: Receiver<ReadJob>, budget: &Budget, shared: &Shared, block_size: u32) {
    for job in jobs {
        if shared.stopped() {
            return;
        }
        let end = read_one(&job, budget, shared, block_size as usize).unwrap_or_else(Chunk::Failed);
        let _ = job.tx.send(end);
    }
}

fn read_one(
    job: &ReadJob,
    budget: &Budget,
    shared: &Shared,
    block_size: usize,
) -> Result<Chunk, PackError> {
    let fd = rustix::fs::open(
        &job.path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| source_err(&job.path)(e.into()))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| source_err(&job.path)(e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(PackError::Changed {
            path: job.path.clone(),
            reason: "is no longer a regular file",
        });
    }
    let mut file = std::fs::File::from(fd);
    let mut hasher = Xxh3::new();
    let mut size = 0u64;
    loop {
        if shared.stopped() || !budget.acquire(job.ordinal) {
            return Err(PackError::Cancelled);
        }
        let mut block = vec![0u8; block_size];
        let mut filled = 0;
        while filled < block_size {
            match file.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    budget.release(job.ordinal);
                    return Err(source_err(&job.path)(e));
                }
            }
        }
        if filled == 0 {
            budget.release(job.ordinal);
            break;
        }
        block.truncate(filled);
        hasher.update(&block);
        size += filled as u64;
        let last = filled < block_size;
        if job.tx.send(Chunk::Block(block)).is_err() {
            return Err(PackError::Cancelled);
        }
        if last {
            break;
        }
    }
    Ok(Chunk::End {
        size,
        hash: hasher.digest128(),
    })
}
