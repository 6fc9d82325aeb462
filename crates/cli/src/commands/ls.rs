//! `bale ls IMAGE [PATH] [-l] [-R]`: lists a directory of the image, like
//! `ls` (numeric owners, UTC times), optionally recursively.

use super::{open_image, resolve};
use crate::output;
use anyhow::Context;
use bale_squashfs::inode::{decode_rdev, InodeData};
use bale_squashfs::reader::{Archive, Node, Visitor};
use bale_squashfs::{Inode, InodeKind};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Image to list.
    pub image: PathBuf,
    /// Directory or file inside the image.
    #[arg(default_value = "/")]
    pub path: String,
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
    // that -l shows the link itself.
    let (inode_ref, inode) = resolve(&archive, &args.image, &args.path, !args.long)?;
    let mut lister = Lister {
        archive: &archive,
        args: &args,
        out: std::io::BufWriter::new(output::stdout()),
        first: true,
    };
    let context = || format!("{}: {}", args.image.display(), args.path);
    if inode.kind() != InodeKind::Directory {
        lister
            .line(args.path.as_bytes(), &inode)
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
}

impl<W: Write> Visitor for Lister<'_, W> {
    type Error = anyhow::Error;

    fn visit(&mut self, node: &Node<'_>) -> anyhow::Result<()> {
        if node.inode.kind() != InodeKind::Directory {
            return Ok(());
        }
        let base = self.args.path.trim_end_matches('/');
        let header = match (base.is_empty(), node.path.is_empty()) {
            (true, true) => "/".to_string(),
            (false, true) => base.to_string(),
            (_, false) => format!("{base}/{}", String::from_utf8_lossy(node.path)),
        };
        if !self.first {
            writeln!(self.out)?;
        }
        self.first = false;
        writeln!(self.out, "{header}:")?;
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

    fn line(&mut self, name: &[u8], inode: &Inode) -> anyhow::Result<()> {
        let name = String::from_utf8_lossy(name);
        if !self.args.long {
            writeln!(self.out, "{name}")?;
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
        let target = match &inode.data {
            InodeData::Symlink { target } => format!(" -> {}", String::from_utf8_lossy(target)),
            _ => String::new(),
        };
        writeln!(
            self.out,
            "{} {:>3} {:>5} {:>5} {:>10} {mtime} {name}{target}",
            mode_string(inode),
            inode.link_count,
            self.archive.uid(inode)?,
            self.archive.gid(inode)?,
            size,
        )?;
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
