//! Property tests: arbitrary byte strings and arbitrary edits of a real
//! image never panic; reads at any offset and listings resumed at any
//! entry agree with the whole.

use crate::fixture::fixture;
use crate::mutation::exercise;
use bale_squashfs::reader::Archive;
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

/// One zstd image (4 KiB blocks, a big directory) kept in memory.
fn image() -> &'static (Arc<Vec<u8>>, Vec<u8>) {
    static IMAGE: OnceLock<(Arc<Vec<u8>>, Vec<u8>)> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let f = fixture("zstd", 4096, true, &[]);
        let content = std::fs::read(f.src.join("a/b/c/multi")).unwrap();
        (Arc::new(std::fs::read(&f.image).unwrap()), content)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = exercise(bytes);
    }

    #[test]
    fn arbitrary_edits_never_panic(
        edits in proptest::collection::vec((any::<u64>(), any::<u8>()), 1..12),
        cut in any::<u64>(),
    ) {
        let mut bytes = image().0.as_ref().clone();
        for (at, value) in edits {
            let len = bytes.len() as u64;
            bytes[(at % len) as usize] = value;
        }
        if cut % 4 == 0 {
            bytes.truncate((cut / 4 % bytes.len() as u64) as usize);
        }
        let _ = exercise(bytes);
    }

    #[test]
    fn reads_at_any_offset_match(offset in 0u64..20_000, len in 0usize..20_000) {
        let (bytes, content) = image();
        let archive = Archive::open(bytes.clone()).unwrap();
        let (_, inode) = archive.lookup_path(b"a/b/c/multi", false).unwrap().unwrap();
        let mut buf = vec![0u8; len];
        let n = archive.read_at(&inode, offset, &mut buf).unwrap();
        let start = (offset as usize).min(content.len());
        let end = (start + len).min(content.len());
        prop_assert_eq!(&buf[..n], &content[start..end]);
    }

    #[test]
    fn listings_resume_at_any_entry(skip in 0usize..1500) {
        let archive = Archive::open(image().0.clone()).unwrap();
        let (_, dir) = archive.lookup_path(b"big", false).unwrap().unwrap();
        let all = archive.read_dir(&dir).unwrap();
        let mut entries = archive.read_dir_at(&dir, 0).unwrap();
        for _ in 0..skip {
            entries.next().unwrap().unwrap();
        }
        let rest: Vec<_> = archive
            .read_dir_at(&dir, entries.cookie())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(&rest[..], &all[skip..]);
    }
}
