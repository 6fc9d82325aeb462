//! A tar archive as a pack source: the file, its compression (recognised
//! by its first bytes: gzip, xz, zstd, bzip2, or none), and its members
//! read from the front ([`crate::tar_members`]). Skipping a member's data
//! (an excluded one's) seeks in a plain archive and decompresses past it
//! in a compressed one.

use crate::source_xattrs::SourceXattrs;
use crate::tar_members::{Member, Members};
use bale_squashfs::xattr::{split_name, Xattr};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compression {
    fn detect(head: &[u8]) -> Compression {
        const MAGIC: [(&[u8], Compression); 4] = [
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0], Compression::Xz),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
            (b"BZh", Compression::Bzip2),
        ];
        MAGIC
            .iter()
            .find(|(magic, _)| head.starts_with(magic))
            .map_or(Compression::None, |&(_, c)| c)
    }
}

/// An open tar archive.
pub struct Archive {
    path: PathBuf,
    file: File,
    compression: Compression,
}

/// The archive's members, from a stream readable front to back and
/// seekable forward (all a tar reader needs to skip data).
pub type Stream<'a> = Members<Box<dyn ReadForward + Send + 'a>>;

pub trait ReadForward: Read + Seek {}
impl<T: Read + Seek> ReadForward for T {}

impl Archive {
    pub fn open(path: &Path) -> io::Result<Archive> {
        let file = File::open(path)?;
        let mut head = [0u8; 6];
        let mut got = 0;
        while got < head.len() {
            match file.read_at(&mut head[got..], got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        Ok(Archive {
            path: path.to_path_buf(),
            file,
            compression: Compression::detect(&head[..got]),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// The members from the first one on. One stream at a time: each
    /// call rewinds the file.
    pub fn stream(&self) -> io::Result<Stream<'_>> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        let bytes: Box<dyn ReadForward + Send> = match self.compression {
            Compression::None => Box::new(Plain {
                file,
                len: file.metadata()?.len(),
                pos: 0,
            }),
            Compression::Gzip => Box::new(Forward::new(flate2::read::MultiGzDecoder::new(file))),
            Compression::Xz => Box::new(Forward::new(liblzma::read::XzDecoder::new_multi_decoder(
                file,
            ))),
            Compression::Zstd => Box::new(Forward::new(zstd::stream::read::Decoder::new(file)?)),
            Compression::Bzip2 => Box::new(Forward::new(bzip2::read::MultiBzDecoder::new(file))),
        };
        Ok(Members::new(bytes))
    }
}

/// An uncompressed archive: seeking skips data without reading it, and
/// never past the end (a cut archive must not look like a complete one).
struct Plain<'a> {
    file: &'a File,
    len: u64,
    pos: u64,
}

impl Read for Plain<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Plain<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Current(d) if d >= 0 => self.pos + d as u64,
            _ => return Err(io::Error::other("an archive is read forward only")),
        };
        if target > self.len {
            return Err(cut_short());
        }
        self.pos = self.file.seek(SeekFrom::Start(target))?;
        Ok(self.pos)
    }
}

/// A decompressed stream that "seeks" forward by reading past the bytes.
struct Forward<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Forward<R> {
    fn new(inner: R) -> Forward<R> {
        Forward { inner, pos: 0 }
    }
}

impl<R: Read> Read for Forward<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> Seek for Forward<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Current(d) if d >= 0 => self.pos + d as u64,
            SeekFrom::Start(at) if at >= self.pos => at,
            _ => {
                return Err(io::Error::other(
                    "a compressed archive is read forward only",
                ))
            }
        };
        let want = target - self.pos;
        let skipped = io::copy(&mut self.by_ref().take(want), &mut io::sink())?;
        if skipped < want {
            return Err(cut_short());
        }
        Ok(self.pos)
    }
}

fn cut_short() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the archive is cut short")
}

/// A member's extended attributes: those squashfs can store, sorted (a
/// name given twice keeps its last value), and how many others there were.
pub fn member_xattrs(member: &Member) -> SourceXattrs {
    let mut kept = BTreeMap::new();
    let mut dropped = 0;
    for (name, value) in &member.xattrs {
        match split_name(name) {
            Some(_) => {
                kept.insert(name.clone(), value.clone());
            }
            None => dropped += 1,
        }
    }
    SourceXattrs {
        kept: kept
            .into_iter()
            .map(|(name, value)| Xattr { name, value })
            .collect(),
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_recognised_by_its_magic() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(Compression::detect(b"\xfd7zXZ\0"), Compression::Xz);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(Compression::detect(b"usr/\0\0"), Compression::None);
        assert_eq!(Compression::detect(b""), Compression::None);
    }

    #[test]
    fn forward_seeks_by_reading_and_refuses_to_go_back() {
        let mut f = Forward::new(&b"0123456789"[..]);
        assert_eq!(f.seek(SeekFrom::Current(3)).unwrap(), 3);
        let mut two = [0u8; 2];
        f.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"34");
        assert_eq!(f.seek(SeekFrom::Current(2)).unwrap(), 7);
        assert!(f.seek(SeekFrom::Current(-1)).is_err());
        assert!(f.seek(SeekFrom::Current(9)).is_err());
    }
}
