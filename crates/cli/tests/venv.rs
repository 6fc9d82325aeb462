//! The Python venv workflow of docs/venv.md, as the unprivileged user
//! `bale-test`: make a venv, `pip install` a local package into it (no
//! network), pack it as v1, upgrade the package and pack v2, empty the
//! venv's directory, then import the package with each image mounted over
//! the venv's path by `bale run` — v2, and v1 again to roll back.

mod support;

use std::path::Path;
use support::frame::{self, as_user, bale_as, Mounts};

const USER: &str = "bale-test";
const PACKAGE: &str = "baletestpkg";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `program args` as `USER`, asserting success; returns stdout.
fn ok_as(program: &str, args: &[&str]) -> String {
    let out = as_user(USER, program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes version `version` of the package's source to `src` (as the user).
fn package_source(src: &Path, version: u32) {
    let module = src.join(PACKAGE);
    ok_as("mkdir", &["-p", s(&module)]);
    let setup = format!(
        "from setuptools import setup\nsetup(name=\"{PACKAGE}\", version=\"{version}\", packages=[\"{PACKAGE}\"])\n"
    );
    for (file, text) in [
        (src.join("setup.py"), setup),
        (module.join("__init__.py"), format!("VERSION = {version}\n")),
    ] {
        ok_as(
            "sh",
            &["-c", &format!("cat > {} <<'EOF'\n{text}EOF", s(&file))],
        );
    }
}

/// `pip install` offline with the venv's own setuptools (Debian 12's venv
/// has no `wheel`, hence the legacy, non-PEP 517 build).
fn pip_install(venv: &Path, src: &Path) {
    ok_as(
        "env",
        &[
            "PIP_DISABLE_PIP_VERSION_CHECK=1",
            s(&venv.join("bin/pip")),
            "install",
            "--quiet",
            "--no-index",
            "--no-use-pep517",
            s(src),
        ],
    );
}

fn import_version(image: &Path, venv: &Path, backend: &str) -> String {
    let code = format!("import {PACKAGE}; print({PACKAGE}.VERSION)");
    let out = bale_as(
        USER,
        &[
            "run",
            "--backend",
            backend,
            &format!("{}:{}", s(image), s(venv)),
            "--",
            s(&venv.join("bin/python")),
            "-c",
            &code,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_packed_venv_is_imported_from_and_rolled_back() {
    let _site = frame::site();
    let home = frame::user_dir(USER, "venv-workflow");
    let _m = Mounts {
        prefixes: vec![home.clone()],
    };
    let venv = home.join("venv");
    let src = home.join("src");
    // The system Python: root's PATH may lead to a per-user pyenv.
    ok_as("/usr/bin/python3", &["-m", "venv", s(&venv)]);

    package_source(&src, 1);
    pip_install(&venv, &src);
    let v1 = home.join("v1.sqfs");
    assert!(bale_as(USER, &["pack", "-q", s(&venv), s(&v1)])
        .status
        .success());
    package_source(&src, 2);
    pip_install(&venv, &src);
    let v2 = home.join("v2.sqfs");
    assert!(bale_as(USER, &["pack", "-q", s(&venv), s(&v2)])
        .status
        .success());

    // The directory stays as the mount point; its files now live in images.
    ok_as("find", &[s(&venv), "-mindepth", "1", "-delete"]);
    for backend in ["kernel", "fuse"] {
        assert_eq!(import_version(&v2, &venv, backend), "2", "{backend}");
        assert_eq!(import_version(&v1, &venv, backend), "1", "{backend}");
    }
    assert!(frame::mounts_below(&venv).is_empty());
}
