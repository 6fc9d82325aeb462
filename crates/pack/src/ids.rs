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
            .ok_or_else(|| {
                PackError::Limit(
                    "more than 65535 distinct uids and gids, which squashfs cannot hold \
                 (--owner/--group or --all-root store one for every entry)"
                        .into(),
                )
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_65536th_id_is_refused_with_the_way_out() {
        let mut ids = IdTable::default();
        for id in 0..65535 {
            ids.index_of(id * 3).unwrap();
        }
        assert_eq!(ids.index_of(3).unwrap(), 1);
        let err = ids.index_of(1).unwrap_err().to_string();
        assert!(
            err.contains("more than 65535 distinct uids and gids") && err.contains("--all-root"),
            "{err}"
        );
    }
}
