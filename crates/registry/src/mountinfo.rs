//! `/proc/self/mountinfo`: the mounts of our mount namespace, as the kernel
//! reports them (never parsed from `mount` output).

use crate::Error;
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
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
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

/// Parses mountinfo text; errors carry the 1-based line number.
pub fn parse(text: &str) -> Result<Vec<Mount>, (usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| parse_line(line).ok_or((i + 1, format!("malformed: {line}"))))
        .collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let mut f = before.split(' ');
    let id = f.next()?.parse().ok()?;
    let parent = f.next()?.parse().ok()?;
    let (major, minor) = f.next()?.split_once(':')?;
    let root = unescape(f.next()?);
    let target = unescape(f.next()?);
    let options = f.next()?.to_string();
    let mut a = after.split(' ');
    let fstype = a.next()?.to_string();
    let source = unescape(a.next()?);
    let super_options = a.next().unwrap_or("").to_string();
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

/// The kernel escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = field.as_bytes();
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
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_optional_fields_and_escapes() {
        let text = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                    97 22 7:3 / /var/run/user_images/a\\040b ro,nosuid,nodev,relatime - squashfs /dev/loop3 ro,errors=continue\n";
        let mounts = parse(text).unwrap();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[1].target, Path::new("/var/run/user_images/a b"));
        assert_eq!((mounts[1].major, mounts[1].minor), (7, 3));
        assert!(mounts[1].read_only() && !mounts[0].read_only());
        assert_eq!(mounts[1].fstype, "squashfs");
        assert_eq!(mounts[1].source, Path::new("/dev/loop3"));
        assert_eq!(mounted_at(&mounts, Path::new("/")).unwrap().id, 22);
        assert_eq!(parse("garbage\n"), Err((1, "malformed: garbage".into())));
    }

    #[test]
    fn reads_our_own() {
        let mounts = read().unwrap();
        assert!(mounts.iter().any(|m| m.target == Path::new("/")));
    }
}
