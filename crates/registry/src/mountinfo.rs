//! `/proc/self/mountinfo`: the mounts of our mount namespace, as the kernel
//! reports them (never parsed from `mount` output).
//!
//! Read as bytes: a mount point is whatever bytes its directory's name
//! holds, and any user can mount FUSE on a directory whose name is not
//! UTF-8. Reading the table as text would then fail for every user of the
//! node; a path is kept as the bytes the kernel gave.

use crate::Error;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub id: u64,
    pub parent: u64,
    pub major: u32,
    pub minor: u32,
    pub root: PathBuf,
    pub target: PathBuf,
    /// The option fields are text for matching ASCII words (`ro`,
    /// `user_id=`, `fuse.bale`): bytes that are not UTF-8 (a FUSE subtype,
    /// an overlay's directory) become U+FFFD, which matches none of them.
    pub options: String,
    pub fstype: String,
    pub source: PathBuf,
    pub super_options: String,
}

impl Mount {
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// Reads `/proc/self/mountinfo`.
pub fn read() -> Result<Vec<Mount>, Error> {
    let path = Path::new("/proc/self/mountinfo");
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&text).map_err(|(line, reason)| Error::Parse {
        path: path.into(),
        line,
        reason,
    })
}

/// The last mount on `target` (the one visible there), if any.
pub fn mounted_at<'a>(mounts: &'a [Mount], target: &Path) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.target == target)
}

/// Parses mountinfo; errors carry the 1-based line number and the line,
/// its bytes escaped so that it stays one line of text.
pub fn parse(text: &[u8]) -> Result<Vec<Mount>, (usize, String)> {
    text.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| {
            parse_line(line).ok_or_else(|| (i + 1, format!("malformed: {}", line.escape_ascii())))
        })
        .collect()
}

fn parse_line(line: &[u8]) -> Option<Mount> {
    let at = line.windows(3).position(|w| w == b" - ")?;
    let (before, after) = (&line[..at], &line[at + 3..]);
    let mut f = before.split(|&b| b == b' ');
    let id = number(f.next()?)?;
    let parent = number(f.next()?)?;
    let (major, minor) = std::str::from_utf8(f.next()?).ok()?.split_once(':')?;
    let root = unescape(f.next()?);
    let target = unescape(f.next()?);
    let options = text(f.next()?);
    let mut a = after.split(|&b| b == b' ');
    let fstype = text(a.next()?);
    let source = unescape(a.next()?);
    let super_options = a.next().map(text).unwrap_or_default();
    Some(Mount {
        id,
        parent,
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root,
        target,
        options,
        fstype,
        source,
        super_options,
    })
}

fn number<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// The kernel escapes space, tab, newline and backslash as `\ooo`; every
/// other byte is the path's own.
fn unescape(b: &[u8]) -> PathBuf {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_optional_fields_and_escapes() {
        let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                    97 22 7:3 / /var/run/user_images/a\\040b ro,nosuid,nodev,relatime - squashfs /dev/loop3 ro,errors=continue\n";
        let mounts = parse(text.as_bytes()).unwrap();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[1].target, Path::new("/var/run/user_images/a b"));
        assert_eq!((mounts[1].major, mounts[1].minor), (7, 3));
        assert!(mounts[1].read_only() && !mounts[0].read_only());
        assert_eq!(mounts[1].fstype, "squashfs");
        assert_eq!(mounts[1].source, Path::new("/dev/loop3"));
        assert_eq!(mounted_at(&mounts, Path::new("/")).unwrap().id, 22);
        assert_eq!(parse(b"garbage\n"), Err((1, "malformed: garbage".into())));
    }

    #[test]
    fn paths_are_bytes_and_octal_escapes_are_decoded() {
        let text = b"40 22 0:52 / /home/u/m\xfe\\040\\011\\012\\134x rw,nosuid - fuse.s\xfe /i\xff.sqfs ro,user_id=1001\n";
        let mounts = parse(text).unwrap();
        assert_eq!(
            mounts[0].target.as_os_str().as_encoded_bytes(),
            b"/home/u/m\xfe \t\n\\x"
        );
        assert_eq!(
            mounts[0].source.as_os_str().as_encoded_bytes(),
            b"/i\xff.sqfs"
        );
        assert_eq!(mounts[0].fstype, "fuse.s\u{fffd}");
        assert_eq!(mounts[0].super_options, "ro,user_id=1001");
        // A backslash not followed by three octal digits is itself.
        let odd = parse(b"1 0 0:1 / /a\\9b\\01 rw - tmpfs t rw\n").unwrap();
        assert_eq!(odd[0].target, Path::new("/a\\9b\\01"));
        assert_eq!(
            parse(b"bad \xff\tline\n"),
            Err((1, "malformed: bad \\xff\\tline".into()))
        );
    }

    #[test]
    fn reads_our_own() {
        let mounts = read().unwrap();
        assert!(mounts.iter().any(|m| m.target == Path::new("/")));
    }
}
