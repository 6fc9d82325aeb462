//! Positioned reads from an image: a file, or bytes in memory for tests.
//! Every access is `read_at(offset)`, so one source serves many threads.

use rustix::fs::{FileType, Mode, OFlags};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Opens the image file at `path` for reading. Only a regular file or a
/// block device can be one: opening a FIFO would wait for a writer and a
/// terminal would be read from, so those are refused at once (the open
/// does not block), as is a directory, with the reason.
pub fn open_image_file(path: &Path) -> io::Result<std::fs::File> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let kind = match FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) {
        FileType::RegularFile | FileType::BlockDevice => None,
        FileType::Directory => Some("is a directory"),
        FileType::Fifo => Some("is a FIFO, not an image file"),
        FileType::CharacterDevice => Some("is a character device, not an image file"),
        _ => Some("is not an image file"),
    };
    if let Some(why) = kind {
        return Err(io::Error::other(why));
    }
    rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
    Ok(std::fs::File::from(fd))
}

/// A byte source read at absolute positions, shareable between threads.
pub trait ReadAt: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; 0 means end of source.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Length of the source in bytes.
    fn size(&self) -> io::Result<u64>;

    /// Fills `buf` from `offset`, failing with `UnexpectedEof` at the end.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.as_slice().read_at(buf, offset)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(Vec::len(self) as u64)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }

    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }

    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_reads_stop_at_the_end() {
        let data = vec![1u8, 2, 3, 4];
        let mut buf = [0u8; 3];
        assert_eq!(data.read_at(&mut buf, 2).unwrap(), 2);
        assert_eq!(&buf[..2], &[3, 4]);
        assert_eq!(data.read_at(&mut buf, 10).unwrap(), 0);
        assert_eq!(
            data.read_exact_at(&mut buf, 2).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        data.read_exact_at(&mut buf, 1).unwrap();
        assert_eq!(buf, [2, 3, 4]);
    }
}
