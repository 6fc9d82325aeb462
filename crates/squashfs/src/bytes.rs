//! Little-endian field helpers shared by every on-disk structure: appending
//! integers to a buffer and reading them back from any `Read`.

use crate::error::{corrupt, Result};
use std::io::Read;

/// Appends little-endian integers and byte strings to a `Vec<u8>`.
pub trait PutLe {
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
}

impl PutLe for Vec<u8> {
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads little-endian integers from any reader; a short read is reported
/// as a corrupt (truncated) structure rather than a plain I/O error.
pub trait GetLe: Read {
    fn get_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.read_exact(&mut buf).map_err(truncated)?;
        Ok(buf)
    }
    fn get_u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.get_array()?))
    }
    fn get_u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.get_array()?))
    }
    fn get_u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.get_array()?))
    }
    /// Reads exactly `len` bytes; `len` must already be bounded by the caller.
    fn get_bytes(&mut self, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf).map_err(truncated)?;
        Ok(buf)
    }
}

impl<R: Read + ?Sized> GetLe for R {}

fn truncated(e: std::io::Error) -> crate::error::Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        corrupt("structure truncated")
    } else {
        crate::error::Error::from_io(e)
    }
}
