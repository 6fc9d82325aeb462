//! Source readers: each takes the next file, opens it (without following
//! symlinks), reads it in block-sized chunks within the read-ahead budget,
//! hashes it, and hands the chunks to the dispatcher through the file's
//! own channel.

use crate::error::{source_err, PackError};
use crate::pipeline::Pipeline;
use crate::queue::Queue;
use rustix::fs::{FileType, Mode, OFlags};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use xxhash_rust::xxh3::Xxh3;

/// One file to read.
pub struct ReadJob {
    pub ordinal: u32,
    pub path: PathBuf,
    pub chunks: Arc<Queue<Chunk>>,
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

/// Reads files until the job queue closes. Every job gets a final chunk
/// (its end, or why it failed), so the dispatcher never waits in vain.
pub fn read_files(p: &Pipeline, block_size: u32) {
    while let Some(job) = p.read_jobs.pop() {
        let end = if p.stopped() {
            Chunk::Failed(PackError::Cancelled)
        } else {
            read_one(&job, p, block_size as usize).unwrap_or_else(Chunk::Failed)
        };
        let _ = job.chunks.push(end);
    }
}

fn read_one(job: &ReadJob, p: &Pipeline, block_size: usize) -> Result<Chunk, PackError> {
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
    // Read what the size at open promised, never more: a file growing
    // while we pack is stored as it was, a shrinking one as it now is.
    let expected = st.st_size as u64;
    let mut file = std::fs::File::from(fd);
    let mut hasher = Xxh3::new();
    let mut size = 0u64;
    while size < expected {
        if p.stopped() || !p.budget.acquire(job.ordinal) {
            return Err(PackError::Cancelled);
        }
        let want = (expected - size).min(block_size as u64);
        let mut block = Vec::with_capacity(want as usize);
        if let Err(e) = (&mut file).take(want).read_to_end(&mut block) {
            p.budget.release(job.ordinal);
            return Err(source_err(&job.path)(e));
        }
        if block.is_empty() {
            p.budget.release(job.ordinal);
            break;
        }
        hasher.update(&block);
        size += block.len() as u64;
        let short = (block.len() as u64) < want;
        if job.chunks.push(Chunk::Block(block)).is_err() {
            return Err(PackError::Cancelled);
        }
        if short {
            break;
        }
    }
    Ok(Chunk::End {
        size,
        hash: hasher.digest128(),
    })
}
