//! Drop-in names of the original image framework's tools. Sites migrating
//! from it keep their scripts: `bale` installed (symlinked) as
//! `mount_image`, `umount_image`, `umount_all_images`, `list_images`,
//! `cleanup_images`, `create_user_image` or `create_software_image` reads
//! the original flags and rewrites its argument vector into the equivalent
//! `bale SUBCOMMAND …`, which is then parsed like any other. Unknown flags
//! are refused with one line naming the tool and the flag.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// What an original flag becomes.
#[derive(Clone, Copy)]
enum Map {
    /// A switch, passed on as this bale flag.
    Switch(&'static str),
    /// A flag with a value, passed on as this bale flag and the value.
    Value(&'static str),
    /// `-s/--size` in MB: becomes `--size NM`.
    SizeMb,
    /// `--verbosity N`: this bale switch when N > 0 (or nothing at all).
    Verbosity(Option<&'static str>),
}

struct Tool {
    name: &'static str,
    subcommand: &'static str,
    /// (original spellings, what they become).
    flags: &'static [(&'static [&'static str], Map)],
}

const JOB_ID: (&[&str], Map) = (&["--job_id", "--job-id"], Map::Value("--job-id"));
const QUIET: (&[&str], Map) = (&["--verbosity"], Map::Verbosity(None));
const OVERWRITE: (&[&str], Map) = (&["-f", "--overwrite"], Map::Switch("-f"));
const OVERSIZE: (&[&str], Map) = (&["--oversize"], Map::Value("--oversize"));

const TOOLS: &[Tool] = &[
    Tool {
        name: "mount_image",
        subcommand: "mount",
        flags: &[JOB_ID, QUIET, (&["--rw"], Map::Switch("--rw"))],
    },
    Tool {
        name: "umount_image",
        subcommand: "umount",
        flags: &[JOB_ID, QUIET],
    },
    Tool {
        name: "umount_all_images",
        subcommand: "umount-all",
        flags: &[
            JOB_ID,
            QUIET,
            (&["--cleanup"], Map::Switch("--cleanup")),
            (&["--kill"], Map::Switch("--kill")),
        ],
    },
    Tool {
        name: "list_images",
        subcommand: "list",
        flags: &[
            JOB_ID,
            QUIET,
            (&["--unreported"], Map::Switch("--unreported")),
        ],
    },
    Tool {
        name: "cleanup_images",
        subcommand: "cleanup",
        flags: &[
            (&["--verbosity"], Map::Verbosity(Some("-v"))),
            (&["--cleanup"], Map::Switch("--cleanup")),
            (&["--kill"], Map::Switch("--kill")),
        ],
    },
    Tool {
        name: "create_user_image",
        subcommand: "create",
        flags: &[
            QUIET,
            OVERWRITE,
            OVERSIZE,
            (&["-s", "--size"], Map::SizeMb),
            (&["--from"], Map::Value("--from")),
        ],
    },
    Tool {
        name: "create_software_image",
        subcommand: "create-software",
        flags: &[
            QUIET,
            OVERWRITE,
            OVERSIZE,
            (&["--workdir"], Map::Value("--workdir")),
        ],
    },
];

/// `argv` unchanged unless its program name is a drop-in name; then the
/// equivalent `bale` argument vector, or the one-line reason it has none.
pub fn rewrite(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let program = argv.first().map(Path::new).and_then(Path::file_name);
    let Some(tool) = TOOLS.iter().find(|t| program == Some(OsStr::new(t.name))) else {
        return Ok(argv);
    };
    let mut out: Vec<OsString> = vec!["bale".into(), tool.subcommand.into()];
    let mut args = argv.into_iter().skip(1);
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            out.push(arg);
            out.extend(args.by_ref());
            break;
        }
        if !text.starts_with('-') || text == "-" {
            out.push(arg);
            continue;
        }
        if text == "-h" || text == "--help" {
            out.push(arg);
            continue;
        }
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(OsString::from(v))),
            _ => (text.to_string(), None),
        };
        let Some(&(_, map)) = tool.flags.iter().find(|(names, _)| names.contains(&&*flag)) else {
            return Err(format!("{}: unknown flag {flag}", tool.name));
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{}: {flag} needs a value", tool.name))
        };
        match map {
            Map::Switch(to) => {
                if inline.is_some() {
                    return Err(format!("{}: {flag} takes no value", tool.name));
                }
                out.push(to.into());
            }
            Map::Value(to) => {
                let v = value()?;
                out.extend([to.into(), v]);
            }
            Map::SizeMb => {
                let v = value()?;
                let mb: u64 = v
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("{}: {flag} is a size in MB, not {v:?}", tool.name))?;
                out.extend(["--size".into(), format!("{mb}M").into()]);
            }
            Map::Verbosity(to) => {
                let v = value()?;
                let level: u32 = v
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("{}: {flag} is a number, not {v:?}", tool.name))?;
                if let (Some(to), true) = (to, level > 0) {
                    out.push(to.into());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bale(args: &[&str]) -> Result<Vec<String>, String> {
        rewrite(args.iter().map(OsString::from).collect()).map(|v| {
            v.into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        })
    }

    #[test]
    fn original_flags_become_bales() {
        assert_eq!(
            bale(&[
                "/usr/local/bin/mount_image",
                "i.img",
                "m",
                "--rw",
                "--job_id",
                "12"
            ])
            .unwrap(),
            ["bale", "mount", "i.img", "m", "--rw", "--job-id", "12"]
        );
        assert_eq!(
            bale(&["create_user_image", "i.img", "-s", "2048", "--overwrite"]).unwrap(),
            ["bale", "create", "i.img", "--size", "2048M", "-f"]
        );
        assert_eq!(
            bale(&["cleanup_images", "--verbosity=2", "--cleanup"]).unwrap(),
            ["bale", "cleanup", "-v", "--cleanup"]
        );
        assert_eq!(
            bale(&["list_images", "--verbosity", "0", "--unreported"]).unwrap(),
            ["bale", "list", "--unreported"]
        );
        assert_eq!(bale(&["bale", "list"]).unwrap(), ["bale", "list"]);
    }

    #[test]
    fn unknown_flags_and_bad_values_are_one_line() {
        assert_eq!(
            bale(&["umount_image", "m", "--bogus"]).unwrap_err(),
            "umount_image: unknown flag --bogus"
        );
        assert_eq!(
            bale(&["mount_image", "i", "--backend", "fuse"]).unwrap_err(),
            "mount_image: unknown flag --backend"
        );
        assert!(bale(&["create_user_image", "i", "-s", "2G"])
            .unwrap_err()
            .contains("size in MB"));
    }
}
