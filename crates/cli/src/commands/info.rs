//! `bale info IMAGE`: superblock fields, codec and options, counts of
//! inodes by kind, table sizes and flags.

use super::open_image;
use crate::output;
use anyhow::Context;
use bale_squashfs::superblock::flags;
use bale_squashfs::InodeKind;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to describe.
    pub image: PathBuf,
}

const FLAG_NAMES: [(u16, &str); 11] = [
    (flags::UNCOMPRESSED_INODES, "uncompressed-inodes"),
    (flags::UNCOMPRESSED_DATA, "uncompressed-data"),
    (flags::UNCOMPRESSED_FRAGMENTS, "uncompressed-fragments"),
    (flags::NO_FRAGMENTS, "no-fragments"),
    (flags::ALWAYS_FRAGMENTS, "always-fragments"),
    (flags::DUPLICATES, "duplicates"),
    (flags::EXPORTABLE, "exportable"),
    (flags::UNCOMPRESSED_XATTRS, "uncompressed-xattrs"),
    (flags::NO_XATTRS, "no-xattrs"),
    (flags::COMPRESSOR_OPTIONS, "compressor-options"),
    (flags::UNCOMPRESSED_IDS, "uncompressed-ids"),
];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let archive = open_image(&args.image)?;
    let sb = archive.superblock();
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for step in archive.inodes() {
        let (_, inode) = step.with_context(|| args.image.display().to_string())?;
        let name = match inode.kind() {
            InodeKind::Directory => "directories",
            InodeKind::File => "files",
            InodeKind::Symlink => "symlinks",
            InodeKind::BlockDevice => "block devices",
            InodeKind::CharDevice => "char devices",
            InodeKind::Fifo => "fifos",
            InodeKind::Socket => "sockets",
        };
        *kinds.entry(name).or_default() += 1;
    }
    let compression = match archive.compressor_options() {
        Some(options) => format!("{} ({options})", sb.codec.name()),
        None => format!("{} (default options)", sb.codec.name()),
    };
    let flag_list: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(bit, _)| sb.has_flag(*bit))
        .map(|(_, name)| *name)
        .collect();
    let mut out = String::new();
    writeln!(out, "image: {}", args.image.display())?;
    writeln!(out, "version: 4.0")?;
    writeln!(out, "compression: {compression}")?;
    writeln!(out, "block size: {}", sb.block_size)?;
    writeln!(out, "inodes: {}", sb.inode_count)?;
    for (kind, count) in &kinds {
        writeln!(out, "  {kind}: {count}")?;
    }
    writeln!(out, "fragments: {}", sb.fragment_count)?;
    writeln!(out, "ids: {}", sb.id_count)?;
    writeln!(out, "xattr ids: {}", archive.xattr_id_count())?;
    let used = indicatif::HumanBytes(sb.bytes_used);
    writeln!(out, "bytes used: {} ({used})", sb.bytes_used)?;
    let made = chrono::DateTime::from_timestamp(sb.mod_time.into(), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    writeln!(out, "modification time: {made} ({})", sb.mod_time)?;
    writeln!(out, "root inode: {:#x}", sb.root_inode)?;
    writeln!(out, "flags: {:#06x} {}", sb.flags, flag_list.join(" "))?;
    writeln!(out, "tables:")?;
    for region in archive.regions() {
        writeln!(
            out,
            "  {}: {} bytes at {}",
            region.name,
            region.end.saturating_sub(region.start),
            region.start
        )?;
    }
    output::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
