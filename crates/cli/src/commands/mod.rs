//! One module per subcommand, and the helpers they share for opening an
//! image, naming paths inside it and parsing sizes.

pub mod cat;
pub mod du;
pub mod extract;
mod gentle_args;
pub mod info;
pub mod ls;
pub mod mount;
pub mod pack;
pub mod rm;
pub mod umount;
pub mod verify;

use anyhow::Context;
use bale_squashfs::reader::Archive;
use bale_squashfs::Inode;
use std::fs::File;
use std::path::Path;

/// Opens an image; errors name it.
pub fn open_image(path: &Path) -> anyhow::Result<Archive<File>> {
    let file = File::open(path).with_context(|| path.display().to_string())?;
    Archive::open(file).with_context(|| path.display().to_string())
}

/// Resolves `path` inside the image (symlinks are not followed).
pub fn resolve(archive: &Archive<File>, image: &Path, path: &str) -> anyhow::Result<(u64, Inode)> {
    archive
        .lookup_path(path.as_bytes())
        .with_context(|| format!("{}: {path}", image.display()))?
        .with_context(|| format!("{}: {path}: no such file or directory", image.display()))
}

/// Parses sizes like `131072`, `128K`, `64M`, `2G`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("invalid size unit in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))
}
