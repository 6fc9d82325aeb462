//! Block tables of regular files, cached by FUSE inode number: a read
//! finds where its blocks live without decoding the inode again, and a big
//! file's table is computed once rather than on every read. Bounded by the
//! total number of blocks described.

use bale_squashfs::reader::FileLayout;
use std::sync::Arc;

/// Block entries kept (16 bytes each): 1 MiB of tables.
const MAX_BLOCKS: u64 = 1 << 16;
/// Files whose tables are kept: those being read now, with room to spare
/// (the kernel's page cache keeps what was read).
const MAX_FILES: usize = 4096;

#[derive(Clone)]
struct ByBlocks;

impl quick_cache::Weighter<u64, Arc<FileLayout>> for ByBlocks {
    fn weight(&self, _ino: &u64, layout: &Arc<FileLayout>) -> u64 {
        layout.block_count() as u64 + 1
    }
}

pub(crate) struct Layouts {
    cache: quick_cache::sync::Cache<u64, Arc<FileLayout>, ByBlocks>,
}

impl Layouts {
    pub fn new() -> Layouts {
        Layouts {
            cache: quick_cache::sync::Cache::with_weighter(MAX_FILES, MAX_BLOCKS, ByBlocks),
        }
    }

    /// The layout of file `ino`, computed by `load` on a miss.
    pub fn get<E>(
        &self,
        ino: u64,
        load: impl FnOnce() -> Result<FileLayout, E>,
    ) -> Result<Arc<FileLayout>, E> {
        self.cache.get_or_insert_with(&ino, || load().map(Arc::new))
    }
}
