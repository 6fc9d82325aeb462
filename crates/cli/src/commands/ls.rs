//! `bale ls IMAGE [PATH] [-l] [-R]`: lists a directory of the image, like
//! `ls` (numeric owners, UTC times), optionally recursively. Names go into
//! a pipe as they are, and to a terminal quoted as a shell needs them when
//! they must be (as GNU ls does): a crafted name holding escape sequences
//! cannot rewrite the screen.

use super::{open_image, resolve};
use crate::output;
use anyhow::Context;
use bale_squashfs::inode::{decode_rdev, InodeData};
use bale_squashfs::reader::{Archive, Node, Visitor};
use bale_squashfs::{Inode, InodeKind};
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to list.
    pub image: PathBuf,
    /// Directory or file inside the image.
    #[arg(default_value = "/")]
    pub path: PathBuf,
    /// Long format: mode, links, uid, gid, size, mtime, name, link target.
    #[arg(short = 'l')]
    pub long: bool,
    /// List subdirectories recursively.
    #[arg(short = 'R')]
    pub recursive: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let archive = open_image(&args.image)?;
    // As ls does with a name it is given: a symlink is followed, except
    // that -l shows the link itself, and so does a link leading nowhere.
    let (mut inode_ref, mut inode) = resolve(&archive, &args.image, &args.path, false)?;
    if !args.long && inode.kind() == InodeKind::Symlink {
        if let Ok(Some(target)) = archive.lookup_path(args.path.as_os_str().as_bytes(), true) {
            (inode_ref, inode) = target;
        }
    }
    let mut lister = Lister {
        archive: &archive,
        args: &args,
        out: std::io::BufWriter::new(output::stdout()),
        first: true,
        quote: std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    let context = || format!("{}: {}", args.image.display(), args.path.display());
    if inode.kind() != InodeKind::Directory {
        lister
            .line(args.path.as_os_str().as_bytes(), &inode)
            .with_context(context)?;
    } else if args.recursive {
        archive
            .walk_from(inode_ref, &mut lister)
            .with_context(context)?;
    } else {
        lister.list(&inode).with_context(context)?;
    }
    lister.out.flush()?;
    Ok(ExitCode::SUCCESS)
}

struct Lister<'a, W> {
    archive: &'a Archive<File>,
    args: &'a Args,
    out: W,
    first: bool,
    /// Whether names are quoted (the output is a terminal).
    quote: bool,
}

impl<W: Write> Visitor for Lister<'_, W> {
    type Error = anyhow::Error;

    fn visit(&mut self, node: &Node<'_>) -> anyhow::Result<()> {
        if node.inode.kind() != InodeKind::Directory {
            return Ok(());
        }
        let path = self.args.path.as_os_str().as_bytes();
        let base = &path[..path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1)];
        let mut header = base.to_vec();
        if !node.path.is_empty() || base.is_empty() {
            header.push(b'/');
        }
        header.extend_from_slice(node.path);
        if !self.first {
            writeln!(self.out)?;
        }
        self.first = false;
        self.name(&header)?;
        writeln!(self.out, ":")?;
        self.list(node.inode)
    }
}

impl<W: Write> Lister<'_, W> {
    fn list(&mut self, dir: &Inode) -> anyhow::Result<()> {
        for entry in self.archive.read_dir(dir)? {
            let inode = self.archive.inode(entry.inode_ref)?;
            self.line(&entry.name, &inode)?;
        }
        Ok(())
    }

    /// A name or link target: its bytes (not necessarily UTF-8) into a
    /// pipe, as ls does; quoted when it must be on a terminal.
    fn name(&mut self, name: &[u8]) -> std::io::Result<()> {
        match self.quote {
            true => {
                use os_display::Quotable;
                let shown = std::ffi::OsStr::from_bytes(name).maybe_quote();
                write!(self.out, "{shown}")
            }
            false => self.out.write_all(name),
        }
    }

    /// One entry.
    fn line(&mut self, name: &[u8], inode: &Inode) -> anyhow::Result<()> {
        if !self.args.long {
            self.name(name)?;
            writeln!(self.out)?;
            return Ok(());
        }
        let size = match &inode.data {
            InodeData::BlockDevice { rdev } | InodeData::CharDevice { rdev } => {
                let (major, minor) = decode_rdev(*rdev);
                format!("{major}, {minor}")
            }
            InodeData::File(f) => f.size.to_string(),
            InodeData::Directory(d) => d.size.to_string(),
            InodeData::Symlink { target } => target.len().to_string(),
            InodeData::Fifo | InodeData::Socket => "0".into(),
        };
        let mtime = chrono::DateTime::from_timestamp(inode.mtime.into(), 0)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        write!(
            self.out,
            "{} {:>3} {:>5} {:>5} {:>10} {mtime} ",
            mode_string(inode),
            inode.link_count,
            self.archive.uid(inode)?,
            self.archive.gid(inode)?,
            size,
        )?;
        self.name(name)?;
        if let InodeData::Symlink { target } = &inode.data {
            self.out.write_all(b" -> ")?;
            self.name(target)?;
        }
        writeln!(self.out)?;
        Ok(())
    }
}

/// `ls -l`'s mode column: type letter, then rwx triplets with s/S/t/T.
fn mode_string(inode: &Inode) -> String {
    let mode = inode.mode();
    let mut s = String::from(match inode.kind() {
        InodeKind::Directory => 'd',
        InodeKind::File => '-',
        InodeKind::Symlink => 'l',
        InodeKind::BlockDevice => 'b',
        InodeKind::CharDevice => 'c',
        InodeKind::Fifo => 'p',
        InodeKind::Socket => 's',
    });
    for (shift, special, letter) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(match (mode & special != 0, bits & 1 != 0) {
            (true, true) => letter,
            (true, false) => letter.to_ascii_uppercase(),
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_squashfs::inode::NO_XATTR;

    #[test]
    fn mode_strings_match_ls() {
        let mut inode = Inode {
            permissions: 0o4755,
            uid_index: 0,
            gid_index: 0,
            mtime: 0,
            number: 1,
            link_count: 1,
            xattr: NO_XATTR,
            data: InodeData::Fifo,
        };
        assert_eq!(mode_string(&inode), "prwsr-xr-x");
        inode.permissions = 0o1776;
        inode.data = InodeData::Directory(Default::default());
        assert_eq!(mode_string(&inode), "drwxrwxrwT");
    }
}
