//! Byte-bounded, thread-safe caches of decompressed blocks, keyed by the
//! block's position in the image. Loads of the same key are coalesced, so
//! concurrent readers decompress a block once.

use crate::error::Result;
use std::hash::Hash;
use std::sync::Arc;

/// How many bytes of decompressed blocks the reader keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheOptions {
    /// Metadata blocks (inodes, directories, tables): 8 KiB each.
    pub metadata_bytes: u64,
    /// Data and fragment blocks: up to one block size each.
    pub data_bytes: u64,
}

impl Default for CacheOptions {
    fn default() -> CacheOptions {
        CacheOptions {
            metadata_bytes: 8 << 20,
            data_bytes: 64 << 20,
        }
    }
}

/// A cached value that knows how many bytes it holds.
pub(crate) trait Weigh {
    fn bytes(&self) -> u64;
}

#[derive(Clone)]
struct ByWeight;

impl<K, V: Weigh + ?Sized> quick_cache::Weighter<K, Arc<V>> for ByWeight {
    fn weight(&self, _key: &K, value: &Arc<V>) -> u64 {
        value.bytes().max(1)
    }
}

/// A cache of shared values bounded by their total size in bytes.
pub(crate) struct ByteCache<K, V: ?Sized> {
    inner: quick_cache::sync::Cache<K, Arc<V>, ByWeight>,
}

impl<K: Eq + Hash + Clone, V: Weigh + ?Sized> ByteCache<K, V> {
    /// A cache holding about `capacity` bytes of values of about `typical` bytes.
    pub fn new(capacity: u64, typical: u64) -> Self {
        let items = (capacity / typical.max(1)).clamp(1, 1 << 20) as usize;
        ByteCache {
            inner: quick_cache::sync::Cache::with_weighter(items, capacity, ByWeight),
        }
    }

    /// The cached value for `key`, or the result of `load` (then cached).
    pub fn get_or_load(&self, key: K, load: impl FnOnce() -> Result<Arc<V>>) -> Result<Arc<V>> {
        self.inner.get_or_insert_with(&key, load)
    }
}
