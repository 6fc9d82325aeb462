//! A tar archive's members, read front to back from a stream that seeks
//! forward only: extension headers (pax, GNU long names) are merged into
//! the member they precede, sparse maps (old GNU headers, and the pax
//! formats 0.0, 0.1 and 1.0) are read, and a member's content is read
//! with its holes filled with zeros.

use crate::tar_format::{
    decode_header, decode_sparse_extension, pax_number, pax_records, Block, Header, BLOCK,
};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

/// Largest extension data taken (long names, pax records, sparse maps).
const MAX_EXTENSION: u64 = 16 << 20;
/// Most sparse segments one member may have.
const MAX_SEGMENTS: usize = 1 << 20;
const PAX_XATTR: &[u8] = b"SCHILY.xattr.";

/// One member, its extensions applied.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its number among the archive's members, from 0.
    pub position: u64,
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Content size, holes included.
    pub size: u64,
    /// Attributes from `SCHILY.xattr.` pax records, in archive order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The stored parts of the content, ascending and apart.
    segments: Vec<Segment>,
    /// Where the stored parts start in the stream.
    data_start: u64,
}

/// A stored part of a member's content.
#[derive(Debug, Clone, Copy)]
struct Segment {
    offset: u64,
    len: u64,
    /// Bytes stored before it (where it starts in the member's data).
    stored: u64,
}

/// Reads members one after the other.
pub struct Members<R> {
    inner: R,
    pos: u64,
    next_header: u64,
    count: u64,
}

fn invalid(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

impl<R: Read + Seek> Members<R> {
    pub fn new(inner: R) -> Members<R> {
        Members {
            inner,
            pos: 0,
            next_header: 0,
            count: 0,
        }
    }

    /// The next member (skipping what is left of the previous one's
    /// data), or `None` at the end of the archive.
    pub fn next_member(&mut self) -> io::Result<Option<Member>> {
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let (mut long_name, mut long_link) = (None, None);
        loop {
            self.skip_to(self.next_header)?;
            let header = match self.read_block()?.map(|b| decode_header(&b)) {
                None | Some(Ok(Block::End)) if pax.is_empty() && long_name.is_none() => {
                    return Ok(None)
                }
                None | Some(Ok(Block::End)) => {
                    return Err(invalid("the archive ends after an extension header"))
                }
                Some(Ok(Block::Header(h))) => h,
                Some(Err(reason)) => return Err(invalid(reason)),
            };
            self.next_header = self.pos + padded(header.size);
            match header.typeflag {
                b'x' => {
                    let body = self.read_extension(header.size)?;
                    let records = pax_records(&body).map_err(invalid)?;
                    pax.extend(records.into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())));
                }
                b'L' => long_name = Some(trim_nuls(self.read_extension(header.size)?)),
                b'K' => long_link = Some(trim_nuls(self.read_extension(header.size)?)),
                // Global pax records: none of them changes what we store.
                b'g' => {}
                _ => return self.member(header, &pax, long_name, long_link).map(Some),
            }
        }
    }

    /// Fills `buf` with up to `len` bytes of `member`'s content from
    /// `offset` on (reads must go forward: each from where the last ended,
    /// or later); fewer only at the end of the content.
    pub fn read_content(
        &mut self,
        member: &Member,
        offset: u64,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        let end = member.size.min(offset + len as u64);
        let mut at = offset;
        let first = member.segments.partition_point(|g| g.offset + g.len <= at);
        for g in &member.segments[first..] {
            if g.offset > at {
                let hole = g.offset.min(end) - at;
                buf.resize(buf.len() + hole as usize, 0);
                at += hole;
            }
            if at >= end {
                break;
            }
            let n = (g.offset + g.len).min(end) - at;
            self.skip_to(member.data_start + g.stored + (at - g.offset))?;
            let start = buf.len();
            buf.resize(start + n as usize, 0);
            self.read_exact(&mut buf[start..], "the archive ends inside this member")?;
            at += n;
        }
        // A hole at the end of the content.
        buf.resize(buf.len() + (end - at) as usize, 0);
        Ok(())
    }

    fn member(
        &mut self,
        h: Header,
        pax: &[(Vec<u8>, Vec<u8>)],
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
    ) -> io::Result<Member> {
        let last = |key: &[u8]| pax.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v);
        let number = |key: &[u8]| {
            last(key)
                .map(|v| pax_number(v).map_err(invalid))
                .transpose()
        };
        let unsigned = |key: &[u8], default: u64| -> io::Result<u64> {
            match number(key)? {
                Some(n) => u64::try_from(n).map_err(|_| invalid("a pax number is negative")),
                None => Ok(default),
            }
        };
        let stored = unsigned(b"size", h.size)?;
        self.next_header = self.pos + padded(stored);
        let mut member = Member {
            position: self.count,
            path: last(b"GNU.sparse.name")
                .or(last(b"path"))
                .cloned()
                .or(long_name)
                .unwrap_or(h.name),
            link: last(b"linkpath")
                .cloned()
                .or(long_link)
                .unwrap_or(h.linkname),
            typeflag: h.typeflag,
            mode: h.mode,
            uid: unsigned(b"uid", h.uid)?,
            gid: unsigned(b"gid", h.gid)?,
            mtime: number(b"mtime")?.unwrap_or(h.mtime),
            dev_major: h.dev_major,
            dev_minor: h.dev_minor,
            size: stored,
            xattrs: pax
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(PAX_XATTR)?.to_vec(), v.clone())))
                .collect(),
            segments: vec![Segment {
                offset: 0,
                len: stored,
                stored: 0,
            }],
            data_start: self.pos,
        };
        self.count += 1;
        if let Some(gnu) = h.gnu_sparse {
            let mut segments = gnu.segments;
            let mut more = gnu.extended;
            while more {
                let block = self
                    .read_block()?
                    .ok_or_else(|| invalid("a sparse map is cut"))?;
                let (next, again) = decode_sparse_extension(&block).map_err(invalid)?;
                check_segment_count(segments.len() + next.len())?;
                segments.extend(next);
                more = again;
            }
            member.data_start = self.pos;
            self.next_header = self.pos + padded(stored);
            member.set_sparse(segments, gnu.real_size, stored)?;
        } else if last(b"GNU.sparse.major").is_some_and(|v| v == b"1") {
            let real = unsigned(b"GNU.sparse.realsize", 0)?;
            let (segments, map_bytes) = self.sparse_map_1_0(stored)?;
            member.data_start = self.pos;
            let data = stored
                .checked_sub(map_bytes)
                .ok_or_else(|| invalid("a sparse map is cut"))?;
            member.set_sparse(segments, real, data)?;
        } else if let Some(real) = number(b"GNU.sparse.size")? {
            let segments = match last(b"GNU.sparse.map") {
                Some(map) => pairs(map.split(|&c| c == b','))?,
                None => pairs(pax.iter().filter_map(|(k, v)| {
                    (k == b"GNU.sparse.offset" || k == b"GNU.sparse.numbytes").then_some(&v[..])
                }))?,
            };
            let real = u64::try_from(real).map_err(|_| invalid("a sparse size is negative"))?;
            member.set_sparse(segments, real, stored)?;
        }
        Ok(member)
    }

    /// The sparse map of pax format 1.0 at the start of the data: decimal
    /// numbers on lines (count, then offset and length pairs), padded to
    /// a block. Returns the segments and the bytes the map took.
    fn sparse_map_1_0(&mut self, stored: u64) -> io::Result<(Vec<(u64, u64)>, u64)> {
        let mut text = Vec::new();
        let mut numbers: Vec<u64> = Vec::new();
        // Where the first line not yet parsed starts.
        let mut line = 0;
        loop {
            if text.len() as u64 >= stored.min(MAX_EXTENSION) {
                return Err(invalid("a sparse map is cut"));
            }
            let block = self
                .read_block()?
                .ok_or_else(|| invalid("a sparse map is cut"))?;
            text.extend_from_slice(&block);
            // Whole lines only: the last one may go on in the next block.
            while let Some(len) = text[line..].iter().position(|&c| c == b'\n') {
                numbers.push(parse_decimal(&text[line..line + len])?);
                line += len + 1;
                let count = numbers[0];
                check_segment_count(usize::try_from(count).unwrap_or(usize::MAX))?;
                if numbers.len() as u64 == 2 * count + 1 {
                    let segments = numbers[1..].chunks_exact(2).map(|p| (p[0], p[1]));
                    return Ok((segments.collect(), text.len() as u64));
                }
            }
        }
    }

    fn skip_to(&mut self, at: u64) -> io::Result<()> {
        if at < self.pos {
            return Err(invalid("a member is read backwards"));
        }
        if at > self.pos {
            self.inner.seek(SeekFrom::Current((at - self.pos) as i64))?;
            self.pos = at;
        }
        Ok(())
    }

    /// The next block, or `None` at the very end of the stream.
    fn read_block(&mut self) -> io::Result<Option<[u8; BLOCK]>> {
        let mut block = [0u8; BLOCK];
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut block[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(invalid("the archive ends inside a header")),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += BLOCK as u64;
        Ok(Some(block))
    }

    fn read_extension(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > MAX_EXTENSION {
            return Err(invalid("an extension header is implausibly large"));
        }
        let mut body = vec![0u8; size as usize];
        self.read_exact(&mut body, "the archive ends inside an extension header")?;
        Ok(body)
    }

    /// Fills `buf`; the stream ending first is the error `cut`.
    fn read_exact(&mut self, buf: &mut [u8], cut: &'static str) -> io::Result<()> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid(cut),
            _ => e,
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }
}

impl Member {
    /// The first hole of the content at or after `offset` (a non-empty
    /// range no segment covers), if any.
    pub fn next_hole(&self, offset: u64) -> Option<Range<u64>> {
        let first = self
            .segments
            .partition_point(|g| g.offset + g.len <= offset);
        let mut at = offset;
        // An empty segment (GNU tar ends some maps with one) splits nothing.
        for g in self.segments[first..].iter().filter(|g| g.len > 0) {
            if g.offset > at {
                return Some(at..g.offset);
            }
            at = at.max(g.offset + g.len);
        }
        (at < self.size).then_some(at..self.size)
    }

    /// Takes a sparse map: segments ascending, apart, inside the content,
    /// and together as long as the data stored.
    fn set_sparse(&mut self, map: Vec<(u64, u64)>, real: u64, stored: u64) -> io::Result<()> {
        let mut end = 0;
        let mut total = 0u64;
        let mut segments = Vec::with_capacity(map.len());
        for (offset, len) in map {
            let seg_end = offset.checked_add(len);
            if offset < end || seg_end.is_none_or(|e| e > real) {
                return Err(invalid("a sparse map does not fit its file"));
            }
            segments.push(Segment {
                offset,
                len,
                stored: total,
            });
            end = offset + len;
            total += len;
        }
        if total != stored {
            return Err(invalid("a sparse map does not match its data"));
        }
        self.size = real;
        self.segments = segments;
        Ok(())
    }
}

fn check_segment_count(n: usize) -> io::Result<()> {
    match n > MAX_SEGMENTS {
        true => Err(invalid("a sparse map is implausibly long")),
        false => Ok(()),
    }
}

/// Consecutive decimal numbers taken as (offset, length) pairs.
fn pairs<'a>(numbers: impl Iterator<Item = &'a [u8]>) -> io::Result<Vec<(u64, u64)>> {
    let numbers: Vec<u64> = numbers.map(parse_decimal).collect::<io::Result<_>>()?;
    if !numbers.len().is_multiple_of(2) {
        return Err(invalid("a sparse map has an odd count of numbers"));
    }
    check_segment_count(numbers.len() / 2)?;
    Ok(numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}

fn parse_decimal<T: std::str::FromStr>(text: &[u8]) -> io::Result<T> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| invalid("a sparse map is unreadable"))
}

fn padded(size: u64) -> u64 {
    size.next_multiple_of(BLOCK as u64)
}

fn trim_nuls(mut name: Vec<u8>) -> Vec<u8> {
    while name.last() == Some(&0) {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;
    use std::process::Command;
    use std::sync::OnceLock;

    /// Archives GNU tar wrote of a small tree with long names, attributes
    /// and a sparse file: pax with sparse format 1.0, and GNU format.
    fn archives() -> &'static [Vec<u8>; 2] {
        static ARCHIVES: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
        ARCHIVES.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let src = dir.path().join("src");
            let deep = src.join("d".repeat(120)).join("e".repeat(120));
            std::fs::create_dir_all(&deep).unwrap();
            std::fs::write(deep.join("f".repeat(130)), "long").unwrap();
            std::fs::write(src.join("small"), "x".repeat(700)).unwrap();
            let _ = xattr::set(src.join("small"), "user.note", b"a\nb");
            let sparse = std::fs::File::create(src.join("sparse")).unwrap();
            sparse.set_len(3 << 20).unwrap();
            std::os::unix::fs::FileExt::write_all_at(&sparse, b"data", 1 << 20).unwrap();
            std::os::unix::fs::symlink("small", src.join("link")).unwrap();
            let make = |format: &[&str]| {
                let out = Command::new("tar")
                    .args(format)
                    .args(["--sparse", "-cf", "-", "-C"])
                    .arg(&src)
                    .arg(".")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            };
            [
                make(&["--format=posix", "--xattrs", "--sparse-version=1.0"]),
                make(&["--format=gnu"]),
            ]
        })
    }

    /// Reads every member and up to 1 MiB of each one's content.
    fn read_all(bytes: Vec<u8>) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut members = Members::new(Cursor::new(bytes));
        let mut out = Vec::new();
        while let Some(m) = members.next_member()? {
            let mut content = Vec::new();
            while (content.len() as u64) < m.size.min(1 << 20) {
                let before = content.len();
                members.read_content(&m, before as u64, 65536, &mut content)?;
                assert!(content.len() > before, "no progress");
            }
            out.push((m.path.clone(), content));
            assert!(out.len() < 10_000, "endless members");
        }
        Ok(out)
    }

    #[test]
    fn holes_are_what_no_segment_covers() {
        let mut member = Member {
            position: 0,
            path: Vec::new(),
            link: Vec::new(),
            typeflag: b'0',
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            dev_major: 0,
            dev_minor: 0,
            size: 0,
            xattrs: Vec::new(),
            segments: Vec::new(),
            data_start: 0,
        };
        // Touching segments, an empty one, and a hole at the end.
        let map = vec![(10, 5), (15, 5), (30, 0), (40, 10)];
        member.set_sparse(map, 100, 20).unwrap();
        let holes: Vec<_> = [0, 12, 20, 25, 30, 45, 50, 99, 100]
            .iter()
            .map(|&at| member.next_hole(at))
            .collect();
        assert_eq!(
            holes,
            [
                Some(0..10),
                Some(20..40),
                Some(20..40),
                Some(25..40),
                Some(30..40),
                Some(50..100),
                Some(50..100),
                Some(99..100),
                None
            ]
        );
        member.set_sparse(vec![(0, 100)], 100, 100).unwrap();
        assert_eq!(member.next_hole(0), None);
    }

    #[test]
    fn gnu_tars_archives_read_back() {
        for archive in archives() {
            let members = read_all(archive.clone()).unwrap();
            let content = |name: &str| {
                let m = members.iter().find(|(p, _)| p.ends_with(name.as_bytes()));
                m.unwrap_or_else(|| panic!("{name} missing")).1.clone()
            };
            assert_eq!(content(&"f".repeat(130)), b"long");
            assert_eq!(content("small"), "x".repeat(700).as_bytes());
            let sparse = content("sparse");
            assert_eq!(sparse.len(), 1 << 20, "read up to 1 MiB");
            assert!(sparse.iter().all(|&b| b == 0));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Damage anywhere — bytes changed, the end cut off — gives an
        /// error or other members, never a panic or an endless loop.
        #[test]
        fn damaged_archives_never_panic(
            which in 0..2usize,
            changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in prop::option::of(any::<prop::sample::Index>()),
        ) {
            let mut bytes = archives()[which].clone();
            for (at, value) in changes {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            let _ = read_all(bytes);
        }
    }
}
