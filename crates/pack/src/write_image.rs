//! Runs the three phases of a pack and lays the tables out after the data:
//! inode table, directory table, fragment table, export table, id table,
//! xattr tables, each lookup table's index right after its blocks (the
//! order the kernel's sanity checks expect), then the superblock at 0.

use crate::error::{PackError, Result};
use crate::ids::IdTable;
use crate::image_file::ImageFile;
use crate::inodes::write_inodes;
use crate::options::PackOptions;
use crate::pipeline::write_data;
use crate::progress::Progress;
use crate::source::{open_source, Source};
use crate::tree::Kind;
use crate::xattr_writer::XattrWriter;
use bale_squashfs::bytes::PutLe;
use bale_squashfs::superblock::{
    flags, Superblock, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, NO_TABLE, SUPERBLOCK_SIZE,
};
use bale_squashfs::tables::{FragmentEntry, LookupTable};
use bale_squashfs::xattr::XattrTableHeader;
use bale_squashfs::CompressionSpec;
use os_display::Quotable;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Images are padded to a multiple of this, as mksquashfs does, so they
/// can be attached to loop devices.
const PAD_TO: u64 = 4096;

/// What a finished pack reports.
#[derive(Debug)]
pub struct Summary {
    pub entries: u64,
    pub files: u64,
    /// File data packed: sizes as read, without the files left out.
    pub input_bytes: u64,
    /// Of those, zeros stored as holes (nothing in the image).
    pub hole_bytes: u64,
    pub image_bytes: u64,
    pub duplicate_files: u64,
    pub duplicate_bytes: u64,
    /// Entries left out by `--skip-unreadable`, with reasons.
    pub skipped: Vec<PackError>,
    /// Mount points not descended into (`--one-file-system`).
    pub other_fs: Vec<PathBuf>,
    /// Files that changed while they were read: the image holds what was
    /// read, which may mix old and new content.
    pub changed: Vec<PathBuf>,
    /// Attributes in namespaces squashfs cannot store.
    pub dropped_xattrs: u64,
    /// Entries whose mtime squashfs cannot hold (before 1970, after 2106),
    /// stored as the nearest it can.
    pub clamped_times: u64,
    pub elapsed: Duration,
    /// How long the scan, data and metadata phases took.
    pub phases: [(&'static str, Duration); 3],
}

fn check(opts: &PackOptions) -> Result<()> {
    let bs = opts.block_size;
    if !bs.is_power_of_two() || !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&bs) {
        return Err(PackError::Limit(format!(
            "block size {bs} is not a power of two between 4 KiB and 1 MiB"
        )));
    }
    if let Some(level) = opts.level {
        match opts.codec.level_range() {
            Some(r) if r.contains(&level) => {}
            Some(r) => {
                return Err(PackError::Limit(format!(
                    "{} level {level}: expected {} to {}",
                    opts.codec.name(),
                    r.start(),
                    r.end()
                )))
            }
            None => {
                return Err(PackError::Limit(format!(
                    "{} has no levels",
                    opts.codec.name()
                )))
            }
        }
    }
    opts.compression().compressor()?;
    Ok(())
}

/// Packs `opts.source` into `opts.image`. On any error, or when
/// `progress.cancelled` is set, no file is left at the destination.
pub fn pack(opts: &PackOptions, progress: &Progress) -> Result<Summary> {
    let started = Instant::now();
    let opts = &opts.fitted_to_limits();
    check(opts)?;
    let existing = opts.image.metadata();
    if existing.as_ref().is_ok_and(|m| m.is_dir()) {
        return Err(PackError::Limit(format!(
            "{}: is a directory; name the image file (e.g. {})",
            opts.image.maybe_quote(),
            opts.image.join("NAME.sqfs").maybe_quote()
        )));
    }
    if let (Ok(image), Ok(source)) = (existing, opts.source.metadata()) {
        if (image.dev(), image.ino()) == (source.dev(), source.ino()) {
            return Err(PackError::Limit(format!(
                "{}: is the archive being packed; name another image file",
                opts.image.maybe_quote()
            )));
        }
    }
    if !opts.force && opts.image.symlink_metadata().is_ok() {
        return Err(PackError::Exists(opts.image.clone()));
    }
    let source = open_source(opts, progress)?;
    let scanned = Instant::now();
    if let Source::Tree { tree, .. } = &source {
        let bytes: u64 = tree
            .files
            .iter()
            .map(|&i| match tree.entries[i as usize].kind {
                Kind::File { size, .. } => size,
                _ => 0,
            })
            .sum();
        progress
            .total_files
            .store(tree.files.len() as u64, Ordering::Relaxed);
        progress.total_bytes.store(bytes, Ordering::Relaxed);
    }

    let image = ImageFile::create(&opts.image, opts.force)?;
    let spec = opts.compression();
    let options_block = spec.options_block();
    let data_start =
        SUPERBLOCK_SIZE as u64 + options_block.as_ref().map_or(0, |b| 2 + b.len() as u64);
    let (mut tree, scan_report, mut data) = write_data(source, opts, &image, data_start, progress)?;
    let written = Instant::now();

    // Regular files' attributes were read through the open files.
    let dropped_xattrs = scan_report.dropped_xattrs + data.dropped_xattrs;
    for (ordinal, f) in data.files.iter_mut().enumerate() {
        tree.entries[tree.files[ordinal] as usize].xattrs = std::mem::take(&mut f.xattrs);
    }

    let mut ids = IdTable::default();
    let mut xattrs = XattrWriter::new(spec.compressor()?);
    let tables = write_inodes(&tree, &data, &mut ids, &mut xattrs, spec)?;

    let mut out = TableWriter {
        image: &image,
        pos: data.end,
        spec,
    };
    let inode_table = out.put(&tables.inode_table)?;
    let directory_table = out.put(&tables.directory_table)?;
    let mut fragment_entries = Vec::with_capacity(data.fragments.len() * FragmentEntry::SIZE);
    for f in &data.fragments {
        f.encode(&mut fragment_entries);
    }
    let fragment_table = out.lookup_table(&fragment_entries, &[])?;
    let mut export_entries = Vec::with_capacity(tables.export.len() * 8);
    for &r in &tables.export {
        export_entries.put_u64(r);
    }
    let export_table = out.lookup_table(&export_entries, &[])?;
    let id_table = out.lookup_table(&ids.encode(), &[])?;
    let xattr_id_table = if xattrs.is_empty() {
        NO_TABLE
    } else {
        let (pairs, entries, id_count) = xattrs.finish()?;
        let table_start = out.put(&pairs)?;
        let mut header = Vec::new();
        XattrTableHeader {
            table_start,
            id_count,
        }
        .encode(&mut header);
        out.lookup_table(&entries, &header)?
    };
    let bytes_used = out.pos;

    let mut sb_flags = flags::EXPORTABLE | flags::DUPLICATES;
    if xattr_id_table == NO_TABLE {
        sb_flags |= flags::NO_XATTRS;
    }
    if options_block.is_some() {
        sb_flags |= flags::COMPRESSOR_OPTIONS;
    }
    if spec.raw {
        sb_flags |= flags::UNCOMPRESSED_INODES
            | flags::UNCOMPRESSED_DATA
            | flags::UNCOMPRESSED_FRAGMENTS
            | flags::UNCOMPRESSED_XATTRS
            | flags::UNCOMPRESSED_IDS;
    }
    let newest = tree.entries.iter().map(|e| e.meta.mtime).max().unwrap_or(0);
    let superblock = Superblock {
        inode_count: tables.inode_count,
        mod_time: opts.mtime.unwrap_or(newest),
        block_size: opts.block_size,
        fragment_count: data.fragments.len() as u32,
        codec: opts.codec,
        flags: sb_flags,
        id_count: ids.len() as u16,
        root_inode: tables.root.to_inode_ref(),
        bytes_used,
        id_table,
        xattr_id_table,
        inode_table,
        directory_table,
        fragment_table,
        export_table,
    };
    image.write_at(0, &superblock.encode())?;
    if let Some(block) = &options_block {
        let mut raw = (block.len() as u16 | 0x8000).to_le_bytes().to_vec();
        raw.extend_from_slice(block);
        image.write_at(SUPERBLOCK_SIZE as u64, &raw)?;
    }
    if progress.cancelled.load(Ordering::Relaxed) {
        return Err(PackError::Cancelled);
    }
    let image_bytes = bytes_used.next_multiple_of(PAD_TO);
    image.commit(image_bytes, opts.force)?;

    let input_bytes = data
        .files
        .iter()
        .filter(|f| !f.skipped)
        .map(|f| f.size)
        .sum();
    let skipped_files = data.skipped.len() as u64;
    let mut skipped = scan_report.skipped;
    skipped.extend(data.skipped);
    Ok(Summary {
        entries: tree.entries.len() as u64 - skipped_files,
        files: tree.files.len() as u64 - skipped_files,
        input_bytes,
        hole_bytes: data.runs.values().map(|run| run.sparse).sum(),
        image_bytes,
        duplicate_files: data.report.duplicate_files,
        duplicate_bytes: data.report.duplicate_bytes,
        skipped,
        other_fs: scan_report.other_fs,
        changed: data.changed,
        dropped_xattrs,
        clamped_times: scan_report.clamped_times,
        elapsed: started.elapsed(),
        phases: [
            ("scan", scanned - started),
            ("data", written - scanned),
            ("metadata", written.elapsed()),
        ],
    })
}

/// Appends tables after the data, tracking the position.
struct TableWriter<'a> {
    image: &'a ImageFile,
    pos: u64,
    spec: CompressionSpec,
}

impl TableWriter<'_> {
    /// Writes `bytes` and returns where they start.
    fn put(&mut self, bytes: &[u8]) -> Result<u64> {
        let at = self.pos;
        self.image.write_at(at, bytes)?;
        self.pos += bytes.len() as u64;
        Ok(at)
    }

    /// Writes a lookup table's blocks, then `header` and the index; returns
    /// the position the superblock records (the header's, or the index's).
    fn lookup_table(&mut self, entries: &[u8], header: &[u8]) -> Result<u64> {
        let table = LookupTable::encode(entries, self.pos, self.spec.compressor()?)?;
        self.put(&table.blocks)?;
        let at = self.put(header)?;
        self.put(&table.index)?;
        Ok(at)
    }
}
