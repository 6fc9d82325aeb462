//! Checking an image: walk every node, decode every inode, listing and
//! xattr set, read every block of every file; optionally compare each node
//! with a local tree (see [`crate::Difference`]).

use crate::diff::{Comparer, Difference};
use crate::error::{Error, Result};
use bale_squashfs::inode::InodeKind;
use bale_squashfs::reader::{Archive, Node, ReadAt, Visitor};
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
    let mut checker = Checker {
        archive,
        summary: Summary::default(),
        seen: HashSet::new(),
        comparer: None,
    };
    archive.walk(&mut checker)?;
    Ok(checker.summary)
}

/// [`verify`], and every difference from the tree at `against`.
pub fn verify_against<R: ReadAt>(
    archive: &Archive<R>,
    against: &Path,
) -> Result<(Summary, Vec<Difference>)> {
    let mut checker = Checker {
        archive,
        summary: Summary::default(),
        seen: HashSet::new(),
        comparer: Some(Comparer::new(against)),
    };
    archive.walk(&mut checker)?;
    let differences = checker.comparer.map(|c| c.differences).unwrap_or_default();
    Ok((checker.summary, differences))
}

struct Checker<'a, R> {
    archive: &'a Archive<R>,
    summary: Summary,
    /// Inode numbers already counted and read.
    seen: HashSet<u32>,
    comparer: Option<Comparer>,
}

impl<R: ReadAt> Visitor for Checker<'_, R> {
    type Error = Error;

    fn visit(&mut self, node: &Node<'_>) -> Result<()> {
        let (archive, inode) = (self.archive, node.inode);
        self.summary.entries += 1;
        archive.uid(inode)?;
        archive.gid(inode)?;
        archive.xattrs(inode)?;
        let contents_read = match &mut self.comparer {
            Some(comparer) => comparer.compare(archive, node)?,
            None => false,
        };
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
            let mut reader = archive.open_file(inode)?;
            s.bytes += reader.layout().size();
            if !contents_read {
                std::io::copy(&mut reader, &mut std::io::sink())
                    .map_err(bale_squashfs::Error::from_io)?;
            }
        }
        Ok(())
    }
}
