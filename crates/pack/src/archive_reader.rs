//! An archive's one source reader: goes through the members front to back
//! once, stopping at each member whose data the next file needs (the
//! scan's [`ArchiveSource::members`]) and streaming it block by block.

use crate::archive::member_xattrs;
use crate::archive_scan::ArchiveSource;
use crate::error::{source_err, PackError};
use crate::pipeline::Pipeline;
use crate::source_reader::{send_blocks, serve_jobs, Chunk};
use crate::source_xattrs::SourceXattrs;

pub fn read_archive(p: &Pipeline, source: &ArchiveSource, block_size: u32, xattrs: bool) {
    let path = source.archive.path();
    let mut stream = match source.archive.stream() {
        Ok(stream) => stream,
        Err(e) => return serve_jobs(p, |_, _, _| Err(source_err(path)(e.kind().into()))),
    };
    serve_jobs(p, |ordinal, name, sink| {
        let wanted = source.members[ordinal as usize];
        let member = loop {
            match stream.next_member().map_err(source_err(name))? {
                Some(member) if member.position == wanted => break member,
                Some(member) if member.position < wanted => {}
                _ => {
                    return Err(PackError::Changed {
                        path: name.to_path_buf(),
                        reason: "is no longer in the archive (did it change while packing?)",
                    })
                }
            }
        };
        let xattrs = match xattrs {
            true => member_xattrs(&member),
            false => SourceXattrs::default(),
        };
        let (size, hash) = send_blocks(p, sink, name, member.size, block_size, |offset, len| {
            let mut block = Vec::with_capacity(len);
            stream.read_content(&member, offset, len, &mut block)?;
            Ok(block)
        })?;
        Ok(Chunk::End { size, hash, xattrs })
    });
}
