//! Extended attributes: key/value records in the xattr table, one id entry
//! per distinct attribute set, and the header of the xattr id table.

use crate::bytes::{GetLe, PutLe};
use crate::error::{corrupt, Result};
use std::io::Read;

/// Set on a key's type when its value is stored elsewhere (a u64 reference).
const OUT_OF_LINE: u16 = 0x100;
/// Largest attribute value accepted when decoding (the Linux limit).
pub const MAX_VALUE_LEN: u32 = 65536;
/// Largest attribute name accepted when decoding.
pub const MAX_NAME_LEN: u16 = 255;

/// The namespaces squashfs can store, with the prefix each one strips.
const PREFIXES: [(&[u8], u16); 3] = [(b"user.", 0), (b"trusted.", 1), (b"security.", 2)];

/// Splits a full attribute name into its stored type and suffix; `None`
/// for namespaces the format cannot hold (system., lustre., …).
pub fn split_name(full: &[u8]) -> Option<(u16, &[u8])> {
    PREFIXES.iter().find_map(|(p, t)| {
        full.strip_prefix(*p)
            .filter(|s| !s.is_empty())
            .map(|s| (*t, s))
    })
}

fn prefix_of(kind: u16) -> Result<&'static [u8]> {
    PREFIXES
        .iter()
        .find(|(_, t)| *t == kind & !OUT_OF_LINE)
        .map(|(p, _)| *p)
        .ok_or_else(|| corrupt(format!("xattr type {kind}")))
}

/// One attribute with its full name (prefix included).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xattr {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// Appends the key/value record of an attribute whose name passed
/// [`split_name`]; values are always stored inline.
pub fn encode_xattr(x: &Xattr, out: &mut Vec<u8>) {
    let (kind, suffix) = split_name(&x.name).expect("caller filters namespaces");
    out.put_u16(kind);
    out.put_u16(suffix.len() as u16);
    out.extend_from_slice(suffix);
    out.put_u32(x.value.len() as u32);
    out.extend_from_slice(&x.value);
}

/// A decoded key: full name, and whether the value is a reference.
pub struct XattrKey {
    pub name: Vec<u8>,
    pub out_of_line: bool,
}

pub fn decode_key(r: &mut impl Read) -> Result<XattrKey> {
    let kind = r.get_u16()?;
    let len = r.get_u16()?;
    if len == 0 || len > MAX_NAME_LEN {
        return Err(corrupt(format!("xattr name of {len} bytes")));
    }
    let mut name = prefix_of(kind)?.to_vec();
    let suffix = r.get_bytes(usize::from(len))?;
    // The name is handed to setxattr(2) as a C string.
    if suffix.contains(&0) {
        return Err(corrupt("xattr name holding a NUL byte"));
    }
    name.extend(suffix);
    Ok(XattrKey {
        name,
        out_of_line: kind & OUT_OF_LINE != 0,
    })
}

/// Reads an inline value (size and bytes).
pub fn decode_value(r: &mut impl Read) -> Result<Vec<u8>> {
    let len = r.get_u32()?;
    if len > MAX_VALUE_LEN {
        return Err(corrupt(format!("xattr value of {len} bytes")));
    }
    r.get_bytes(len as usize)
}

/// One entry of the xattr id table: where an attribute set starts in the
/// xattr table, how many attributes it has, and its size: the sum over
/// its attributes of full name length + 1 + value length (what
/// mksquashfs 4.5 writes; e.g. `user.mime=ab` counts 9 + 1 + 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XattrId {
    pub xattr_ref: u64,
    pub count: u32,
    pub size: u32,
}

impl XattrId {
    pub const SIZE: usize = 16;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.xattr_ref);
        out.put_u32(self.count);
        out.put_u32(self.size);
    }

    pub fn decode(mut raw: &[u8]) -> Result<XattrId> {
        Ok(XattrId {
            xattr_ref: raw.get_u64()?,
            count: raw.get_u32()?,
            size: raw.get_u32()?,
        })
    }
}

/// The 16 bytes at the superblock's xattr id table position, followed on
/// disk by the index of the id table's metadata blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XattrTableHeader {
    /// Absolute start of the key/value metadata blocks.
    pub table_start: u64,
    pub id_count: u32,
}

impl XattrTableHeader {
    pub const SIZE: usize = 16;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.table_start);
        out.put_u32(self.id_count);
        out.put_u32(0);
    }

    pub fn decode(mut raw: &[u8]) -> Result<XattrTableHeader> {
        let table_start = raw.get_u64()?;
        let id_count = raw.get_u32()?;
        Ok(XattrTableHeader {
            table_start,
            id_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_by_namespace() {
        assert_eq!(split_name(b"user.foo"), Some((0, &b"foo"[..])));
        assert_eq!(split_name(b"security.selinux"), Some((2, &b"selinux"[..])));
        assert_eq!(split_name(b"trusted.x"), Some((1, &b"x"[..])));
        assert_eq!(split_name(b"lustre.lov"), None);
        assert_eq!(split_name(b"user."), None);
        assert_eq!(split_name(b"system.posix_acl_access"), None);
    }

    #[test]
    fn records_round_trip() {
        let x = Xattr {
            name: b"user.mime".to_vec(),
            value: b"text/plain".to_vec(),
        };
        let mut buf = Vec::new();
        encode_xattr(&x, &mut buf);
        let mut r = &buf[..];
        let key = decode_key(&mut r).unwrap();
        assert_eq!(key.name, x.name);
        assert!(!key.out_of_line);
        assert_eq!(decode_value(&mut r).unwrap(), x.value);
        assert!(r.is_empty());
    }

    /// setxattr(2) takes the name as a C string: one with a NUL inside
    /// cannot be restored, so it is corruption.
    #[test]
    fn a_name_holding_a_nul_byte_is_corrupt() {
        let x = Xattr {
            name: b"user.a\0b".to_vec(),
            value: b"v".to_vec(),
        };
        let mut buf = Vec::new();
        encode_xattr(&x, &mut buf);
        let Err(err) = decode_key(&mut &buf[..]) else {
            panic!("decoded");
        };
        assert!(err.to_string().contains("NUL"), "{err}");
    }
}
