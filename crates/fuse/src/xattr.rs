//! Extended attributes as the kernel's squashfs shows them: `user.`,
//! `security.` and, for root only, `trusted.` names; values answered with
//! the size-probe protocol of getxattr/listxattr (size 0 asks for the
//! length, a too-small buffer is ERANGE).

use bale_squashfs::xattr::Xattr;
use fuser::{Errno, ReplyXattr};

/// Whether a caller with `uid` may see attribute `name`.
fn visible(name: &[u8], uid: u32) -> bool {
    !name.starts_with(b"trusted.") || uid == 0
}

/// The value of attribute `name`, as seen by `uid`. A name of any other
/// namespace has none (ENODATA), although the kernel's squashfs answers
/// EOPNOTSUPP for them: the kernel asks a FUSE server for
/// `system.posix_acl_*` on every access, and any answer but ENODATA there
/// fails the access itself.
pub(crate) fn get<'a>(xattrs: &'a [Xattr], name: &[u8], uid: u32) -> Option<&'a [u8]> {
    xattrs
        .iter()
        .find(|x| x.name == name && visible(&x.name, uid))
        .map(|x| x.value.as_slice())
}

/// The NUL-terminated names visible to `uid`, concatenated.
pub(crate) fn list(xattrs: &[Xattr], uid: u32) -> Vec<u8> {
    let mut names = Vec::new();
    for x in xattrs.iter().filter(|x| visible(&x.name, uid)) {
        names.extend_from_slice(&x.name);
        names.push(0);
    }
    names
}

/// Answers a request for `data` into a buffer of `size` bytes.
pub(crate) fn reply(reply: ReplyXattr, data: &[u8], size: u32) {
    match u32::try_from(data.len()) {
        Err(_) => reply.error(Errno::E2BIG),
        Ok(len) if size == 0 => reply.size(len),
        Ok(len) if len > size => reply.error(Errno::ERANGE),
        Ok(_) => reply.data(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(name: &str, value: &str) -> Xattr {
        Xattr {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn trusted_names_are_for_root_only() {
        let all = [x("user.a", "1"), x("trusted.b", "2"), x("security.c", "3")];
        assert_eq!(list(&all, 1000), b"user.a\0security.c\0");
        assert_eq!(list(&all, 0), b"user.a\0trusted.b\0security.c\0");
        assert_eq!(get(&all, b"trusted.b", 1000), None);
        assert_eq!(get(&all, b"trusted.b", 0), Some(&b"2"[..]));
        assert_eq!(get(&all, b"user.a", 1000), Some(&b"1"[..]));
        assert_eq!(get(&all, b"user.zz", 0), None);
    }
}
