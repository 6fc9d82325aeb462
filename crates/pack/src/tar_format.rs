//! The tar on-disk structures we read, decoded without I/O: the 512-byte
//! header (v7, ustar and GNU flavours; octal or base-256 numbers), pax
//! extended records (walked by their length prefix, so values may hold
//! any byte, newlines included), and GNU sparse maps.

/// Size of a header and the unit data is padded to.
pub const BLOCK: usize = 512;

/// The fields of one header block.
#[derive(Debug, Clone)]
pub struct Header {
    pub name: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Bytes stored after the header (for a GNU sparse member: the data
    /// segments only).
    pub size: u64,
    pub mtime: i64,
    pub typeflag: u8,
    pub linkname: Vec<u8>,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// GNU sparse ('S'): the first segments, more in extension blocks,
    /// and the file's real size.
    pub gnu_sparse: Option<GnuSparse>,
}

#[derive(Debug, Clone)]
pub struct GnuSparse {
    pub segments: Vec<(u64, u64)>,
    pub extended: bool,
    pub real_size: u64,
}

/// What a block turned out to be.
pub enum Block {
    /// All zero: the end of the archive.
    End,
    Header(Header),
}

pub fn decode_header(b: &[u8; BLOCK]) -> Result<Block, String> {
    if b.iter().all(|&x| x == 0) {
        return Ok(Block::End);
    }
    let stored = number(&b[148..156]).map_err(|_| "a header's checksum is unreadable")?;
    // The checksum field counts as spaces; old writers summed signed bytes.
    let (unsigned, signed) = b.iter().enumerate().fold((0u64, 0i64), |(u, s), (i, &x)| {
        let x = if (148..156).contains(&i) { b' ' } else { x };
        (u + u64::from(x), s + i64::from(x as i8))
    });
    if stored != unsigned && stored as i64 != signed {
        return Err("a header's checksum does not match".into());
    }
    let ustar = &b[257..263] == b"ustar\0";
    let gnu = &b[257..265] == b"ustar  \0";
    let mut name = text(&b[0..100]);
    if ustar && b[345] != 0 {
        let mut full = text(&b[345..500]);
        full.push(b'/');
        full.extend_from_slice(&name);
        name = full;
    }
    let typeflag = b[156];
    let field = |range: std::ops::Range<usize>, what: &str| {
        number(&b[range]).map_err(|_| format!("a header's {what} is unreadable"))
    };
    let device = |range: std::ops::Range<usize>| match ustar || gnu {
        true => number(&b[range]).map(|n| n as u32).unwrap_or(0),
        false => 0,
    };
    let gnu_sparse = match (gnu, typeflag) {
        (true, b'S') => Some(GnuSparse {
            segments: sparse_entries(&b[386..482])?,
            extended: b[482] != 0,
            real_size: field(483..495, "real size")?,
        }),
        _ => None,
    };
    Ok(Block::Header(Header {
        name,
        mode: field(100..108, "mode")? as u32,
        uid: field(108..116, "uid")?,
        gid: field(116..124, "gid")?,
        size: field(124..136, "size")?,
        mtime: signed_number(&b[136..148])
            .map_err(|_| "a header's mtime is unreadable".to_string())?,
        typeflag,
        linkname: text(&b[157..257]),
        dev_major: device(329..337),
        dev_minor: device(337..345),
        gnu_sparse,
    }))
}

/// The segments of a GNU sparse extension block, and whether another
/// follows.
pub fn decode_sparse_extension(b: &[u8; BLOCK]) -> Result<(Vec<(u64, u64)>, bool), String> {
    Ok((sparse_entries(&b[..504])?, b[504] != 0))
}

/// (offset, length) pairs of 12-byte numbers, up to the first empty one.
fn sparse_entries(area: &[u8]) -> Result<Vec<(u64, u64)>, String> {
    let mut out = Vec::new();
    for pair in area.chunks_exact(24) {
        if pair[0] == 0 {
            break;
        }
        let n = |f: &[u8]| number(f).map_err(|_| "a sparse map is unreadable".to_string());
        out.push((n(&pair[..12])?, n(&pair[12..])?));
    }
    Ok(out)
}

/// A NUL-terminated (or full-width) text field.
fn text(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// An octal field (spaces and NULs around the digits), or a base-256 one
/// (high bit of the first byte set; negative values refused).
fn number(field: &[u8]) -> Result<u64, ()> {
    if field.first().is_some_and(|&c| c & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return Err(());
        }
        let mut n: u64 = u64::from(field[0] & 0x3f);
        for &c in &field[1..] {
            n = n.checked_mul(256).ok_or(())? | u64::from(c);
        }
        return Ok(n);
    }
    let digits = field
        .iter()
        .skip_while(|&&c| c == b' ')
        .take_while(|&&c| c != b' ' && c != 0);
    let mut n: u64 = 0;
    let mut any = false;
    for &c in digits {
        if !(b'0'..=b'7').contains(&c) {
            return Err(());
        }
        n = n.checked_mul(8).ok_or(())? + u64::from(c - b'0');
        any = true;
    }
    match any || field.iter().all(|&c| c == 0 || c == b' ') {
        true => Ok(n),
        false => Err(()),
    }
}

/// A number that may be negative: GNU tar writes times before 1970 in
/// base-256 two's complement (a first byte of 0xff).
fn signed_number(field: &[u8]) -> Result<i64, ()> {
    match field {
        [0xff, ..] if field.len() >= 8 => {
            let (sign, low) = field.split_at(field.len() - 8);
            match sign.iter().all(|&c| c == 0xff) {
                true => Ok(i64::from_be_bytes(low.try_into().map_err(|_| ())?)),
                false => Err(()),
            }
        }
        _ => number(field).map(|n| n as i64),
    }
}

/// A pax record: keyword and value.
pub type PaxRecord<'a> = (&'a [u8], &'a [u8]);

/// The records of a pax extended header, in order: `"%d %s=%s\n"`, the
/// length counting the whole record.
pub fn pax_records(mut body: &[u8]) -> Result<Vec<PaxRecord<'_>>, String> {
    let bad = || "a pax extended header is malformed".to_string();
    let mut out = Vec::new();
    // Some writers pad the body with NULs.
    while body.first().is_some_and(|&c| c != 0) {
        let space = body.iter().position(|&c| c == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&body[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > body.len() || body[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &body[space + 1..len - 1];
        let eq = record.iter().position(|&c| c == b'=').ok_or_else(bad)?;
        out.push((&record[..eq], &record[eq + 1..]));
        body = &body[len..];
    }
    Ok(out)
}

/// A pax decimal number; a time may have a fraction (dropped) and a sign.
pub fn pax_number(value: &[u8]) -> Result<i64, String> {
    let whole = value.split(|&c| c == b'.').next().unwrap_or_default();
    std::str::from_utf8(whole)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "pax value {:?} is not a number",
                String::from_utf8_lossy(value)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_block(name: &str, size_field: &[u8], typeflag: u8) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        b[..name.len()].copy_from_slice(name.as_bytes());
        b[100..108].copy_from_slice(b"0000644\0");
        b[108..116].copy_from_slice(b"0001750\0");
        b[116..124].copy_from_slice(b"0001750\0");
        b[124..124 + size_field.len()].copy_from_slice(size_field);
        b[136..148].copy_from_slice(b"14712345670\0");
        b[156] = typeflag;
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        b[345..348].copy_from_slice(b"pre");
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        b
    }

    #[test]
    fn a_ustar_header_decodes_with_prefix_and_octal_fields() {
        let b = header_block("name", b"00000000017\0", b'0');
        let Block::Header(h) = decode_header(&b).unwrap() else {
            panic!("not a header")
        };
        assert_eq!(h.name, b"pre/name");
        assert_eq!((h.mode, h.uid, h.gid, h.size), (0o644, 1000, 1000, 15));
        assert_eq!(h.mtime, 0o14712345670);
        assert_eq!(
            decode_header(&[0; BLOCK])
                .ok()
                .map(|b| matches!(b, Block::End)),
            Some(true)
        );
    }

    #[test]
    fn a_damaged_header_fails_its_checksum() {
        let mut b = header_block("name", b"00000000017\0", b'0');
        b[3] ^= 1;
        assert!(decode_header(&b).is_err());
    }

    #[test]
    fn base_256_numbers_are_read() {
        let mut field = [0u8; 12];
        field[0] = 0x80;
        field[7] = 1;
        field[11] = 1;
        assert_eq!(number(&field), Ok((1 << 32) + 1));
        assert_eq!(number(b"   17 \0"), Ok(15));
        assert_eq!(number(b"\0\0\0"), Ok(0));
        assert!(number(b"12x").is_err());
        let mut before_1970 = [0xffu8; 12];
        before_1970[4..].copy_from_slice(&(-14_256_000i64).to_be_bytes());
        assert_eq!(signed_number(&before_1970), Ok(-14_256_000));
        assert_eq!(signed_number(b"17\0"), Ok(15));
    }

    #[test]
    fn pax_records_may_hold_newlines_and_cannot_forge_others() {
        let value = "a\n22 linkpath=/etc/evil\n";
        let body = pax_body(&[("SCHILY.xattr.user.x", value), ("path", "d/f\nx")]);
        let records = pax_records(&body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].1, value.as_bytes());
        assert_eq!(records[1], (&b"path"[..], &b"d/f\nx"[..]));
        assert!(pax_records(b"99 path=x\n").is_err());
        assert!(pax_records(b"9 path=xy").is_err());
        assert_eq!(pax_number(b"1700000000.123").unwrap(), 1_700_000_000);
        assert_eq!(pax_number(b"-5").unwrap(), -5);
    }

    /// Builds a pax body whose lengths are right.
    fn pax_body(records: &[(&str, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while len.to_string().len() + rest.len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        body
    }
}
