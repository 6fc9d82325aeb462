//! `bale info IMAGE`: superblock fields, codec and options, counts of
//! inodes by kind, table sizes and flags.

use super::open_image;
use anyhow::Context;
use bale_squashfs::superblock::flags;
use bale_squashfs::InodeKind;
use std::collections::BTreeMap;
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
    println!("image: {}", args.image.display());
    println!("version: 4.0");
    println!("compression: {compression}");
    println!("block size: {}", sb.block_size);
    println!("inodes: {}", sb.inode_count);
    for (kind, count) in &kinds {
        println!("  {kind}: {count}");
    }
    println!("fragments: {}", sb.fragment_count);
    println!("ids: {}", sb.id_count);
    println!("xattr ids: {}", archive.xattr_id_count());
    println!("bytes used: {}", sb.bytes_used);
    println!("modification time: {}", sb.mod_time);
    println!("root inode: {:#x}", sb.root_inode);
    println!("flags: {:#06x} {}", sb.flags, flag_list.join(" "));
    println!("tables:");
    for region in archive.regions() {
        println!(
            "  {}: {} bytes at {}",
            region.name,
            region.end.saturating_sub(region.start),
            region.start
        );
    }
    Ok(ExitCode::SUCCESS)
}
