//! Path resolution inside an image, as the kernel walks a path on a mount
//! of it: symlinks followed (relative, absolute from the image's root,
//! chained, with ".."), the last one only when asked or before a '/', loops
//! cut short, and nothing resolved through a file.

use crate::fixture::mksquashfs;
use bale_squashfs::reader::Archive;
use std::os::unix::fs::symlink;

#[test]
fn symlinks_resolve_inside_the_image() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(src.join("lib/python3/site")).unwrap();
    std::fs::write(src.join("lib/python3/site/mod.py"), "x = 1\n").unwrap();
    symlink("lib", src.join("lib64")).unwrap();
    symlink("/lib/python3", src.join("abs")).unwrap();
    symlink("../lib/python3/site", src.join("lib/up")).unwrap();
    symlink("lib64", src.join("chain")).unwrap();
    symlink("../../..", src.join("lib/python3/top")).unwrap();
    symlink("loop-b", src.join("loop-a")).unwrap();
    symlink("loop-a", src.join("loop-b")).unwrap();
    symlink("nowhere", src.join("dangling")).unwrap();
    let image = work.path().join("i.sqfs");
    mksquashfs(&src, &image, "gzip", &[]);
    let archive = Archive::open(std::fs::read(&image).unwrap()).unwrap();
    let number = |path: &str, follow: bool| {
        archive
            .lookup_path(path.as_bytes(), follow)
            .unwrap()
            .map(|(_, inode)| inode.number)
    };
    let module = number("lib/python3/site/mod.py", false).expect("plain path");
    for path in [
        "lib64/python3/site/mod.py",
        "abs/site/mod.py",
        "lib/up/mod.py",
        "chain/python3/./site//mod.py",
        "lib/python3/top/lib/python3/site/mod.py",
        "lib/../lib64/python3/site/mod.py",
        "../../lib/python3/site/mod.py",
    ] {
        assert_eq!(number(path, false), Some(module), "{path}");
    }
    // The last component: the link itself unless asked or before a '/'.
    let lib = number("lib", false).unwrap();
    assert_ne!(number("lib64", false), Some(lib));
    assert_eq!(number("lib64", true), Some(lib));
    assert_eq!(number("lib64/", false), Some(lib));
    assert_eq!(number("chain", true), Some(lib));
    // Nothing through a dangling link or at a missing name; a path going on
    // after a file is "not a directory", as the kernel says.
    for below_a_file in ["lib/python3/site/mod.py/", "lib/python3/site/mod.py/x"] {
        let err = archive
            .lookup_path(below_a_file.as_bytes(), false)
            .unwrap_err();
        assert!(err.to_string().contains("Not a directory"), "{err}");
    }
    assert_eq!(number("dangling", true), None);
    assert!(number("dangling", false).is_some());
    // A loop is an error, not a hang.
    let err = archive.lookup_path(b"loop-a", true).unwrap_err();
    assert!(
        err.to_string()
            .contains("Too many levels of symbolic links"),
        "{err}"
    );
    assert!(archive.lookup_path(b"loop-a", false).unwrap().is_some());
}
