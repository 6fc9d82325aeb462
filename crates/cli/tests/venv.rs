//! The Python venv workflow of docs/venv.md, as the unprivileged user
//! `bale-test`, with both ways of making a venv it names: make the venv,
//! install a local package (a wheel made here: no network), pack it as v1,
//! extract v1 back, upgrade the package and pack v2, and empty the venv's
//! directory. Then, with each image mounted by `bale run` (both backends) —
//! v2, and v1 again to roll back — the venv's `python` imports the package
//! and its console script in `bin/` runs. A `python3 -m venv` is mounted
//! over the path it was made at; a `uv venv --relocatable` somewhere else,
//! with nothing left at its old path.

mod support;

use std::path::{Path, PathBuf};
use support::frame::{self, as_user, bale_as, Mounts};

const USER: &str = "bale-test";
/// The package, its module, and its console script.
const PACKAGE: &str = "baletestpkg";
/// Where `scripts/test.sh` installs uv.
const UV: &str = "/opt/bale-test/uv/bin/uv";

/// Writes the wheel `argv[1]` of package `argv[2]`, version `argv[3]`: a
/// module whose `VERSION` is that version and a console script printing it.
const MAKE_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
path, name, version = sys.argv[1:]
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"VERSION = {version}\n\ndef main():\n    print(VERSION)\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: bale-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    f"{info}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n",
}
record = ""
with zipfile.ZipFile(path, "w") as wheel:
    for file, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{file},sha256={digest},{len(data)}\n"
        wheel.writestr(file, data)
    wheel.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
"#;

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

/// Writes the wheel of version `version` of the package into `dir` (as the
/// user) and returns its path. Made by hand, since nothing here can build
/// one offline: Debian 12 ships no `wheel` package for setuptools, and uv
/// builds only with build requirements from an index.
fn wheel(dir: &Path, version: u32) -> PathBuf {
    let path = dir.join(format!("{PACKAGE}-{version}-py3-none-any.whl"));
    ok_as(
        "/usr/bin/python3",
        &["-c", MAKE_WHEEL, s(&path), PACKAGE, &version.to_string()],
    );
    path
}

/// How a venv is made and filled: the two ways docs/venv.md names.
#[derive(Clone, Copy)]
enum Tool {
    /// `python3 -m venv`, then the venv's own `pip install`.
    Pip,
    /// `uv venv --relocatable`, then `uv pip install --python`.
    Uv,
}

impl Tool {
    fn create(self, venv: &Path) {
        // The system Python: root's PATH (which runuser keeps) may lead to
        // a per-user pyenv.
        match self {
            Tool::Pip => ok_as("/usr/bin/python3", &["-m", "venv", s(venv)]),
            Tool::Uv => uv(&[
                "venv",
                "--relocatable",
                "--python",
                "/usr/bin/python3",
                s(venv),
            ]),
        };
    }

    /// Installs `wheel` offline, replacing an installed version.
    fn install(self, venv: &Path, wheel: &Path) {
        match self {
            Tool::Pip => ok_as(
                "env",
                &[
                    "PIP_DISABLE_PIP_VERSION_CHECK=1",
                    s(&venv.join("bin/pip")),
                    "install",
                    "--quiet",
                    "--no-index",
                    s(wheel),
                ],
            ),
            Tool::Uv => uv(&[
                "pip",
                "install",
                "--python",
                s(&venv.join("bin/python")),
                "--no-index",
                s(wheel),
            ]),
        };
    }
}

/// `uv ARGS` as the user, with a throw-away cache (not the user's).
fn uv(args: &[&str]) -> String {
    assert!(
        Path::new(UV).is_file(),
        "{UV} is missing: run scripts/test.sh (it installs uv)"
    );
    ok_as("env", &[&["UV_NO_CACHE=1", UV], args].concat())
}

/// `bale pack` as the user.
fn pack(dir: &Path, image: &Path) {
    ok_as(
        env!("CARGO_BIN_EXE_bale"),
        &["pack", "-q", s(dir), s(image)],
    );
}

/// Removes everything inside `dir`: it stays as a mount point.
fn empty(dir: &Path) {
    ok_as("find", &[s(dir), "-mindepth", "1", "-delete"]);
}

/// The recipe of docs/venv.md with `tool` in `home`: makes the venv
/// `home/venv` with v1 of the package and packs it, extracts that image
/// into the emptied directory to upgrade to v2 and packs again, and empties
/// the directory. Returns the venv's path and the images of v1 and v2.
fn packed_versions(tool: Tool, home: &Path) -> (PathBuf, [PathBuf; 2]) {
    let venv = home.join("venv");
    let [v1, v2] = [1, 2].map(|version| home.join(format!("v{version}.sqfs")));
    tool.create(&venv);
    tool.install(&venv, &wheel(home, 1));
    pack(&venv, &v1);
    empty(&venv);
    ok_as(env!("CARGO_BIN_EXE_bale"), &["extract", s(&v1), s(&venv)]);
    tool.install(&venv, &wheel(home, 2));
    pack(&venv, &v2);
    empty(&venv);
    (venv, [v1, v2])
}

/// Stdout of `command` run by `bale run --backend BACKEND IMAGE:MOUNTPOINT`.
fn run_in(image: &Path, mountpoint: &Path, backend: &str, command: &[&str]) -> String {
    let item = format!("{}:{}", s(image), s(mountpoint));
    let args = [&["run", "--backend", backend, &item, "--"], command].concat();
    let out = bale_as(USER, &args);
    assert!(
        out.status.success(),
        "{backend}: {command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// With the venv image `image` mounted on `mountpoint` by each backend, the
/// venv's `python` imports version `version` of the package, and so does
/// its console script.
fn runs(image: &Path, mountpoint: &Path, version: &str) {
    let python = mountpoint.join("bin/python");
    let script = mountpoint.join("bin").join(PACKAGE);
    let code = format!("import {PACKAGE}; print({PACKAGE}.VERSION)");
    for backend in ["kernel", "fuse"] {
        let import = run_in(image, mountpoint, backend, &[s(&python), "-c", &code]);
        assert_eq!(import, version, "{backend}: import");
        let printed = run_in(image, mountpoint, backend, &[s(&script)]);
        assert_eq!(printed, version, "{backend}: console script");
    }
    assert!(frame::mounts_below(mountpoint).is_empty());
}

#[test]
fn a_packed_venv_is_imported_from_and_rolled_back() {
    let _site = frame::site();
    let home = frame::user_dir(USER, "venv-workflow");
    let _m = Mounts {
        prefixes: vec![home.clone()],
    };
    let (venv, [v1, v2]) = packed_versions(Tool::Pip, &home);
    runs(&v2, &venv, "2");
    runs(&v1, &venv, "1");
}

#[test]
fn a_relocatable_uv_venv_runs_mounted_at_another_path() {
    let _site = frame::site();
    let home = frame::user_dir(USER, "uv-workflow");
    let _m = Mounts {
        prefixes: vec![home.clone()],
    };
    let (venv, [v1, v2]) = packed_versions(Tool::Uv, &home);
    // Nothing the venv could still name at its old path.
    ok_as("rmdir", &[s(&venv)]);
    let elsewhere = home.join("moved/elsewhere");
    ok_as("mkdir", &["-p", s(&elsewhere)]);
    runs(&v2, &elsewhere, "2");
    runs(&v1, &elsewhere, "1");
}
