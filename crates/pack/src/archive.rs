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
    /// What was read to recognise the compression of a pipe, which cannot
    /// be read again; `None` for a file (read from its start by offset).
    pipe_head: Option<Vec<u8>>,
}

/// The archive's members, from a stream readable front to back and
/// seekable forward (all a tar reader needs to skip data).
pub type Stream<'a> = Members<Box<dyn ReadForward + Send + 'a>>;

pub trait ReadForward: Read + Seek {}
impl<T: Read + Seek> ReadForward for T {}

/// Bytes enough to recognise every compression.
const MAGIC_LEN: usize = 6;

/// How the archive on standard input is named in messages.
pub const STDIN_NAME: &str = "stdin";

impl Archive {
    pub fn open(path: &Path) -> io::Result<Archive> {
        Archive::new(path.to_path_buf(), File::open(path)?)
    }

    /// The archive on standard input: a pipe, or a redirected file.
    pub fn stdin() -> io::Result<Archive> {
        use std::io::IsTerminal;
        use std::os::fd::AsFd;
        if io::stdin().is_terminal() {
            return Err(io::Error::other(
                "is a terminal; pipe a tar archive in, or name one",
            ));
        }
        let file = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        Archive::new(PathBuf::from(STDIN_NAME), file)
    }

    fn new(path: PathBuf, file: File) -> io::Result<Archive> {
        let mut head = Vec::with_capacity(MAGIC_LEN);
        let pipe = !file.metadata()?.is_file();
        while head.len() < MAGIC_LEN {
            let mut byte = [0u8; MAGIC_LEN];
            let want = &mut byte[..MAGIC_LEN - head.len()];
            let n = match pipe {
                true => (&file).read(want)?,
                false => file.read_at(want, head.len() as u64)?,
            };
            if n == 0 {
                break;
            }
            head.extend_from_slice(&want[..n]);
        }
        if head.is_empty() {
            // A failed download or a broken pipe, not an empty tree.
            return Err(io::Error::other("is empty, not a tar archive"));
        }
        Ok(Archive {
            path,
            file,
            compression: Compression::detect(&head),
            pipe_head: pipe.then_some(head),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// The members from the first one on (a pipe can be read only once).
    pub fn stream(&self) -> io::Result<Stream<'_>> {
        if self.pipe_head.is_none() {
            (&self.file).seek(SeekFrom::Start(0))?;
        }
        let bytes: Box<dyn ReadForward + Send> = match (&self.pipe_head, self.compression) {
            (Some(head), c) => decoded(c, io::Cursor::new(head.clone()).chain(&self.file))?,
            (None, Compression::None) => Box::new(Plain {
                file: &self.file,
                len: self.file.metadata()?.len(),
                pos: 0,
            }),
            (None, c) => decoded(c, &self.file)?,
        };
        Ok(Members::new(bytes))
    }
}

/// `bytes` decompressed, seekable forward by reading.
fn decoded<'a, R: Read + Send + 'a>(
    c: Compression,
    bytes: R,
) -> io::Result<Box<dyn ReadForward + Send + 'a>> {
    Ok(match c {
        Compression::None => Box::new(Forward::new(bytes)),
        Compression::Gzip => Box::new(Forward::new(flate2::read::MultiGzDecoder::new(bytes))),
        Compression::Xz => Box::new(Forward::new(liblzma::read::XzDecoder::new_multi_decoder(
            bytes,
        ))),
        Compression::Zstd => Box::new(Forward::new(zstd::stream::read::Decoder::new(bytes)?)),
        Compression::Bzip2 => Box::new(Forward::new(bzip2::read::MultiBzDecoder::new(bytes))),
    })
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
