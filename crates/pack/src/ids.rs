//! The id table: every distinct uid and gid, stored once; inodes refer to
//! them by a 16-bit index.

use crate::error::{PackError, Result};
use bale_squashfs::bytes::PutLe;
use std::collections::HashMap;

#[derive(Default)]
pub struct IdTable {
    ids: Vec<u32>,
    index: HashMap<u32, u16>,
}

impl IdTable {
    /// The index of `id`, adding it on first use.
    pub fn index_of(&mut self, id: u32) -> Result<u16> {
        if let Some(&i) = self.index.get(&id) {
            return Ok(i);
        }
        let i = u16::try_from(self.ids.len())
            .ok()
            .filter(|&i| i < u16::MAX)
            .ok_or_else(|| PackError::Limit("more than 65535 distinct uids and gids".into()))?;
        self.ids.push(id);
        self.index.insert(id, i);
        Ok(i)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Serialized entries, ready for a lookup table.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ids.len() * 4);
        for &id in &self.ids {
            out.put_u32(id);
        }
        out
    }
}
