//! Where a pack's entries come from: a directory, scanned and read by many
//! threads at once, or a tar archive file (plain or compressed), read
//! front to back by one.

use crate::archive_scan::{scan_archive, ArchiveSource};
use crate::error::{PackError, Result};
use crate::options::PackOptions;
use crate::progress::Progress;
use crate::scan::{scan, ScanReport};
use crate::source_root::SourceRoot;
use crate::tree::Tree;

pub enum Source {
    Tree(SourceRoot),
    Archive(ArchiveSource),
}

/// Scans `opts.source`: a regular file (or a symlink to one) is a tar
/// archive; anything else must be a directory.
pub fn scan_source(opts: &PackOptions, progress: &Progress) -> Result<(Tree, ScanReport, Source)> {
    if std::fs::metadata(&opts.source).is_ok_and(|m| m.is_file()) {
        if opts.one_file_system || opts.skip_unreadable {
            return Err(PackError::BadSource {
                path: opts.source.clone(),
                reason: "is an archive; --one-file-system and --skip-unreadable apply to \
                         directories"
                    .into(),
            });
        }
        let (tree, report, archive) = scan_archive(opts, progress)?;
        return Ok((tree, report, Source::Archive(archive)));
    }
    let (tree, report, root) = scan(opts, progress)?;
    Ok((tree, report, Source::Tree(root)))
}
