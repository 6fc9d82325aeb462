//! One module per subcommand, and the helpers they share for opening an
//! image, naming paths inside it and parsing sizes.

pub mod cat;
pub mod cleanup;
pub mod config;
pub mod create;
pub mod create_software;
pub mod du;
mod e2fs;
pub mod extract;
pub mod generate;
mod gentle_args;
mod helper;
mod hook_turn;
pub mod info;
mod json_path;
pub mod list;
pub mod lock_status;
pub mod ls;
pub mod module_hook;
mod module_loaded;
pub mod modulefile;
pub mod mount;
pub mod pack;
pub mod resize;
pub mod rm;
pub mod run;
mod supervise;
pub mod umount;
pub mod umount_all;
pub mod unlock;
mod unmounted;
pub mod verify;

use anyhow::Context;
use bale_squashfs::reader::Archive;
use bale_squashfs::Inode;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Opens an image; errors name it.
pub fn open_image(path: &Path) -> anyhow::Result<Archive<File>> {
    let file =
        bale_squashfs::reader::open_image_file(path).with_context(|| path.display().to_string())?;
    Archive::open(file).with_context(|| path.display().to_string())
}

/// The name of user `uid`, if it has one.
pub fn user_name(uid: u32) -> Option<String> {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => Some(user.name),
        _ => None,
    }
}

/// The read engine's outcome, its error naming `image` when it is about the
/// image (a local path named by the error is enough for the others).
pub fn of_image<T>(image: &Path, result: bale_unpack::Result<T>) -> anyhow::Result<T> {
    result.map_err(|e| match e {
        bale_unpack::Error::Io { .. } | bale_unpack::Error::Refused { .. } => e.into(),
        _ => anyhow::Error::from(e).context(image.display().to_string()),
    })
}

/// Resolves `path` inside the image, following symlinks within it (the
/// last one too when `follow_last`).
pub fn resolve(
    archive: &Archive<File>,
    image: &Path,
    path: &Path,
    follow_last: bool,
) -> anyhow::Result<(u64, Inode)> {
    let shown = || format!("{}: {}", image.display(), path.display());
    archive
        .lookup_path(path.as_os_str().as_bytes(), follow_last)
        .with_context(shown)?
        .with_context(|| format!("{}: no such file or directory", shown()))
}

/// `n` with its noun: "1 file", "2 files".
pub fn counted(n: u64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        _ => format!("{n} {many}"),
    }
}

/// Parses sizes like `131072`, `128K`, `64M`, `2G` (shared with the site configuration).
pub use bale_site::parse_size as parse_bytes;
