//! Checking an image: walk every node, decode every inode, listing and
//! xattr set, read every block of every file (in parallel, after the
//! walk); optionally compare each node with a local tree (see
//! [`crate::Difference`]).

use crate::diff::{Compared, Comparer, Difference, Ignore};
use crate::error::{at_path, Error, Result};
use bale_squashfs::inode::InodeKind;
use bale_squashfs::reader::{Archive, Node, ReadAt, Visitor};
use bale_squashfs::Inode;
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::Path;

/// What a verification walked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Directory entries walked, plus the root.
    pub entries: u64,
    /// Distinct inodes of each kind.
    pub directories: u64,
    pub files: u64,
    pub symlinks: u64,
    pub devices: u64,
    pub fifos: u64,
    pub sockets: u64,
    /// File bytes read (each inode once).
    pub bytes: u64,
}

/// Walks and reads the whole image; an error names the first problem.
pub fn verify<R: ReadAt>(archive: &Archive<R>) -> Result<Summary> {
    check(archive, None).map(|(summary, _)| summary)
}

/// [`verify`], and every difference from the tree at `against` (but
/// what `ignore` leaves out).
pub fn verify_against<R: ReadAt>(
    archive: &Archive<R>,
    against: &Path,
    ignore: Ignore,
) -> Result<(Summary, Vec<Difference>)> {
    check(archive, Some((against, ignore)))
}

/// Comparisons with the tree in flight at once: each is a few metadata
/// calls and reads of the tree, round trips on a parallel file system.
const COMPARERS: usize = 16;
/// Nodes gathered from the walk before they are compared: enough to keep
/// every comparer busy, few enough that memory does not grow with the image.
const CHUNK: usize = 16_384;

fn check<R: ReadAt + Sync>(
    archive: &Archive<R>,
    against: Option<(&Path, Ignore)>,
) -> Result<(Summary, Vec<Difference>)> {
    let comparison = match against {
        Some((tree, ignore)) => Some(Comparison::new(tree, ignore)?),
        None => None,
    };
    let mut checker = Checker {
        archive,
        summary: Summary::default(),
        seen: HashSet::new(),
        comparison,
        files: Vec::new(),
    };
    archive.walk(&mut checker)?;
    let Checker {
        files,
        summary,
        comparison,
        ..
    } = checker;
    let (differences, contents_read) = match comparison {
        Some(mut c) => {
            c.flush(archive)?;
            (c.differences, c.contents_read)
        }
        None => Default::default(),
    };
    files
        .par_iter()
        .filter(|(_, inode)| !contents_read.contains(&inode.number))
        .try_for_each(|(path, inode)| {
            read_all(archive, inode).map_err(|source| Error::InImage {
                path: String::from_utf8_lossy(path).into_owned(),
                source,
            })
        })?;
    Ok((summary, differences))
}

/// Nodes compared with the tree in parallel, chunk by chunk, their
/// differences kept in walk order.
struct Comparison {
    comparer: Comparer,
    pool: rayon::ThreadPool,
    pending: Vec<(Vec<u8>, Inode)>,
    differences: Vec<Difference>,
    /// Files whose contents a comparison read (inode numbers).
    contents_read: HashSet<u32>,
}

impl Comparison {
    fn new(tree: &Path, ignore: Ignore) -> Result<Comparison> {
        // Else every entry would be one "missing" line.
        if !std::fs::metadata(tree).map_err(at_path(tree))?.is_dir() {
            return Err(at_path(tree)(rustix::io::Errno::NOTDIR));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(COMPARERS)
            .build()
            .map_err(|e| at_path(tree)(std::io::Error::other(format!("no threads: {e}"))))?;
        Ok(Comparison {
            comparer: Comparer::new(tree, ignore),
            pool,
            pending: Vec::new(),
            differences: Vec::new(),
            contents_read: HashSet::new(),
        })
    }

    fn add<R: ReadAt + Sync>(
        &mut self,
        archive: &Archive<R>,
        path: &[u8],
        inode: &Inode,
    ) -> Result<()> {
        self.pending.push((path.to_vec(), inode.clone()));
        match self.pending.len() >= CHUNK {
            true => self.flush(archive),
            false => Ok(()),
        }
    }

    /// Compares the nodes gathered so far.
    fn flush<R: ReadAt + Sync>(&mut self, archive: &Archive<R>) -> Result<()> {
        let (comparer, pending) = (&self.comparer, &self.pending);
        let compared: Vec<Compared> = self.pool.install(|| {
            pending
                .par_iter()
                .map(|(path, inode)| comparer.compare(archive, path, inode))
                .collect::<Result<_>>()
        })?;
        for ((_, inode), found) in self.pending.drain(..).zip(compared) {
            if found.contents_read {
                self.contents_read.insert(inode.number);
            }
            self.differences.extend(found.differences);
        }
        Ok(())
    }
}

/// Reads (and so decompresses and checks) every stored block of a file;
/// holes hold nothing to check.
fn read_all<R: ReadAt>(archive: &Archive<R>, file: &Inode) -> bale_squashfs::Result<()> {
    let layout = archive.file_layout(file)?;
    archive.for_each_stored_block(&layout, |_, _| bale_squashfs::Result::Ok(()))
}

struct Checker<'a, R> {
    archive: &'a Archive<R>,
    summary: Summary,
    /// Inode numbers already counted.
    seen: HashSet<u32>,
    /// The comparison with a tree, if asked for.
    comparison: Option<Comparison>,
    /// Each file once (its first name), to read.
    files: Vec<(Vec<u8>, Inode)>,
}

impl<R: ReadAt + Sync> Visitor for Checker<'_, R> {
    type Error = Error;

    fn visit(&mut self, node: &Node<'_>) -> Result<()> {
        let (archive, inode) = (self.archive, node.inode);
        self.summary.entries += 1;
        archive.uid(inode)?;
        archive.gid(inode)?;
        archive.xattrs(inode)?;
        if let Some(comparison) = &mut self.comparison {
            comparison.add(archive, node.path, inode)?;
        }
        if !self.seen.insert(inode.number) {
            return Ok(());
        }
        let s = &mut self.summary;
        match inode.kind() {
            InodeKind::Directory => s.directories += 1,
            InodeKind::File => s.files += 1,
            InodeKind::Symlink => s.symlinks += 1,
            InodeKind::BlockDevice | InodeKind::CharDevice => s.devices += 1,
            InodeKind::Fifo => s.fifos += 1,
            InodeKind::Socket => s.sockets += 1,
        }
        if inode.kind() == InodeKind::File {
            s.bytes += archive.file_layout(inode)?.size();
            self.files.push((node.path.to_vec(), inode.clone()));
        }
        Ok(())
    }
}
