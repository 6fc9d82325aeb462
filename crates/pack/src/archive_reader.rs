//! An archive's one reader: goes through the members once, front to back,
//! adding each to the tree ([`ArchiveTree`]) and streaming the content of
//! each file with data to the dispatcher as it comes, so a compressed
//! archive is decompressed once.

use crate::archive::{member_xattrs, Archive};
use crate::archive_tree::ArchiveTree;
use crate::error::{source_err, PackError, Result};
use crate::options::PackOptions;
use crate::pipeline::Pipeline;
use crate::queue::Queue;
use crate::source_reader::{send_blocks, Chunk, Content, Sink};
use crate::source_xattrs::SourceXattrs;
use crate::tar_members::{Member, Members};
use std::ffi::OsStr;
use std::io::{self, Read, Seek};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

/// Reads `archive` into `chunks` (each file's blocks, then its end) and
/// returns the tree it describes.
pub fn read_archive<'o>(
    p: &Pipeline,
    archive: &Archive,
    opts: &'o PackOptions,
    chunks: &Queue<Chunk>,
) -> Result<ArchiveTree<'o>> {
    let path = archive.path();
    let st = archive.file().metadata().map_err(source_err(path))?;
    let mut tree = ArchiveTree::new(opts, &st)?;
    let mut stream = archive.stream().map_err(source_err(path))?;
    let mut first = true;
    loop {
        if p.stopped() {
            return Err(PackError::Cancelled);
        }
        let member = match stream.next_member() {
            Ok(Some(member)) => member,
            Ok(None) => return Ok(tree),
            Err(e) if first => {
                return Err(PackError::BadSource {
                    path: path.to_path_buf(),
                    reason: format!("is not a tar archive ({e})"),
                })
            }
            Err(e) => return Err(source_err(path)(e)),
        };
        first = false;
        p.progress.entries.fetch_add(1, Ordering::Relaxed);
        let Some(ordinal) = tree.add(path, &member)? else {
            continue;
        };
        let xattrs = match opts.xattrs {
            true => member_xattrs(&member),
            false => SourceXattrs::default(),
        };
        // Errors name the archive and the member.
        let mut name = path.as_os_str().to_owned();
        name.push("/");
        name.push(OsStr::from_bytes(&member.path));
        let name = PathBuf::from(name);
        let mut sink = Sink::direct(chunks, ordinal);
        let size = member.size;
        let mut content = MemberContent {
            stream: &mut stream,
            member,
        };
        let (size, hash) = send_blocks(p, &mut sink, &name, size, opts.block_size, &mut content)?;
        sink.send(Chunk::End { size, hash, xattrs });
    }
}

/// A member's content, read from the archive stream; the holes of a
/// sparse member come from its map.
struct MemberContent<'a, R> {
    stream: &'a mut Members<R>,
    member: Member,
}

impl<R: Read + Seek> Content for MemberContent<'_, R> {
    fn read(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut block = Vec::with_capacity(len);
        self.stream
            .read_content(&self.member, offset, len, &mut block)?;
        Ok(block)
    }

    fn next_hole(&mut self, offset: u64) -> Option<Range<u64>> {
        self.member.next_hole(offset)
    }
}
