//! Where a pack's entries come from: a directory, scanned first and then
//! read by many threads at once, or a tar archive file (plain or
//! compressed), read once front to back by one thread that learns the tree
//! while it streams the data.

use crate::archive::{Archive, STDIN_NAME};
use crate::error::{source_err, PackError, Result};
use crate::options::PackOptions;
use crate::progress::Progress;
use crate::scan::{scan, ScanReport};
use crate::source_root::SourceRoot;
use crate::tree::Tree;
use std::path::Path;

pub enum Source {
    /// A scanned directory: its tree, what the scan reported, its root.
    Tree {
        tree: Tree,
        report: ScanReport,
        root: SourceRoot,
    },
    /// An opened archive; its tree comes with its data.
    Archive(Archive),
}

/// Opens `opts.source`: `-` is a tar archive on standard input, a regular
/// file or a pipe (or a symlink to one: `<(tar c …)` names
/// `/dev/fd/N`) a tar archive; anything else must be a directory, which is
/// scanned.
pub fn open_source(opts: &PackOptions, progress: &Progress) -> Result<Source> {
    use std::os::unix::fs::FileTypeExt;
    let stdin = opts.source == Path::new("-");
    let archive =
        std::fs::metadata(&opts.source).is_ok_and(|m| m.is_file() || m.file_type().is_fifo());
    if stdin || archive {
        if opts.one_file_system || opts.skip_unreadable {
            return Err(PackError::BadSource {
                path: opts.source.clone(),
                reason: "is an archive; --one-file-system and --skip-unreadable apply to \
                         directories"
                    .into(),
            });
        }
        let archive = match stdin {
            true => Archive::stdin().map_err(source_err(STDIN_NAME)),
            false => Archive::open(&opts.source).map_err(source_err(&opts.source)),
        }?;
        return Ok(Source::Archive(archive));
    }
    let (tree, report, root) = scan(opts, progress)?;
    Ok(Source::Tree { tree, report, root })
}
