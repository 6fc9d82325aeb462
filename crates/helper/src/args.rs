//! The helper's command line. Deliberately small and strict: no
//! environment, no abbreviations, every value validated by the caller of
//! the parsed request. Paths are taken as the bytes they are (a mount
//! point's name need not be UTF-8); every other argument must be text.
//!
//! ```text
//! bale-helper mount  [--rw] [--job-id ID] --module NAME/VERSION
//! bale-helper mount  [--rw] [--job-id ID] --image PATH [--mountpoint PATH]
//! bale-helper umount [--lazy] [--job-id ID] (--module NAME/VERSION | --mountpoint PATH)
//! bale-helper umount-all [--job-id ID] [--kill]
//! bale-helper cleanup [--kill]
//! bale-helper run [--env-from PID] (--module NAME/VERSION | --image PATH [--mountpoint PATH])... -- COMMAND [ARG...]
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;

/// What to mount or unmount.
#[derive(Debug)]
pub enum Target {
    Module(String),
    Image {
        image: PathBuf,
        mountpoint: Option<PathBuf>,
    },
    Mountpoint(PathBuf),
}

#[derive(Debug)]
pub struct MountRequest {
    pub target: Target,
    pub rw: bool,
    pub job: Option<String>,
}

#[derive(Debug)]
pub struct UmountRequest {
    pub target: Target,
    pub job: Option<String>,
    /// Detach a busy mount now; it goes when its files are closed.
    pub lazy: bool,
}

#[derive(Debug)]
pub enum Request {
    Mount(MountRequest),
    Umount(UmountRequest),
    /// Everything of a job or of the caller.
    UmountAll {
        job: Option<String>,
        kill: bool,
    },
    /// Repair what no record explains (root only).
    Cleanup {
        kill: bool,
    },
    /// Images mounted privately for one command.
    Run(RunRequest),
}

/// `bale-helper run`: what to mount, and the command to run as the caller.
#[derive(Debug)]
pub struct RunRequest {
    /// Modules and images (never [`Target::Mountpoint`]), in order.
    pub targets: Vec<Target>,
    /// A process of the caller whose environment the command gets (read
    /// with the caller's rights once root is given up).
    pub env_from: Option<u32>,
    /// The program and its arguments (never empty).
    pub command: Vec<String>,
}

const USAGE: &str = "usage: bale-helper mount [--rw] [--job-id ID] (--module NAME/VERSION | --image PATH [--mountpoint PATH]) | umount [--lazy] [--job-id ID] (--module NAME/VERSION | --mountpoint PATH) | umount-all [--job-id ID] [--kill] | cleanup [--kill] | run [--env-from PID] (--module NAME/VERSION | --image PATH [--mountpoint PATH])... -- COMMAND [ARG...]";

pub fn parse(argv: &[OsString]) -> Result<Request, String> {
    let (command, rest) = argv.split_first().ok_or(USAGE)?;
    let command = text(command)?;
    if command == "run" {
        return parse_run(rest);
    }
    let mut rw = false;
    let mut kill = false;
    let mut lazy = false;
    let mut job = None;
    let mut module = None;
    let mut image = None;
    let mut mountpoint = None;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let arg = text(arg)?;
        let mut value = |slot: &mut Option<OsString>| -> Result<(), String> {
            let v = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
            if slot.replace(v.clone()).is_some() {
                return Err(format!("{arg} given twice"));
            }
            Ok(())
        };
        match arg {
            "--rw" => rw = true,
            "--kill" => kill = true,
            "--lazy" if command == "umount" => lazy = true,
            "--job-id" => value(&mut job)?,
            "--module" => value(&mut module)?,
            "--image" => value(&mut image)?,
            "--mountpoint" => value(&mut mountpoint)?,
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let job = job.as_deref().map(text).transpose()?.map(str::to_string);
    let module = module.as_deref().map(text).transpose()?.map(str::to_string);
    let mountpoint = mountpoint.map(absolute).transpose()?;
    let bare = module.is_none() && image.is_none() && mountpoint.is_none() && !rw;
    match command {
        "umount-all" if bare => return Ok(Request::UmountAll { job, kill }),
        "cleanup" if bare && job.is_none() => return Ok(Request::Cleanup { kill }),
        "umount-all" | "cleanup" => return Err(USAGE.into()),
        _ if kill => return Err(USAGE.into()),
        _ => {}
    }
    let target = match (module, image, mountpoint) {
        (Some(m), None, None) => Target::Module(m),
        (None, Some(i), mp) if command == "mount" => Target::Image {
            image: absolute(i)?,
            mountpoint: mp,
        },
        (None, None, Some(mp)) if command == "umount" => Target::Mountpoint(mp),
        _ => return Err(USAGE.into()),
    };
    match command {
        "mount" => Ok(Request::Mount(MountRequest { target, rw, job })),
        "umount" if !rw => Ok(Request::Umount(UmountRequest { target, job, lazy })),
        _ => Err(USAGE.into()),
    }
}

/// `run`'s options up to `--`, then the command. Each `--mountpoint`
/// belongs to the `--image` just before it.
fn parse_run(rest: &[OsString]) -> Result<Request, String> {
    let dash = rest.iter().position(|a| a == "--").ok_or(USAGE)?;
    let (options, command) = (&rest[..dash], &rest[dash + 1..]);
    let mut targets = Vec::new();
    let mut env_from = None;
    let mut it = options.iter();
    while let Some(arg) = it.next() {
        let arg = text(arg)?;
        let value = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg {
            "--module" => targets.push(Target::Module(text(value)?.to_string())),
            "--image" => targets.push(Target::Image {
                image: absolute(value.clone())?,
                mountpoint: None,
            }),
            "--mountpoint" => match targets.last_mut() {
                Some(Target::Image {
                    mountpoint: slot @ None,
                    ..
                }) => *slot = Some(absolute(value.clone())?),
                _ => return Err(format!("--mountpoint must follow an --image; {USAGE}")),
            },
            "--env-from" if env_from.is_none() => {
                env_from = Some(
                    value
                        .to_str()
                        .and_then(|v| v.parse::<u32>().ok())
                        .ok_or_else(|| format!("--env-from needs a process id, not {value:?}"))?,
                )
            }
            other => return Err(format!("unknown or repeated argument {other:?}; {USAGE}")),
        }
    }
    if targets.is_empty() || command.is_empty() {
        return Err(USAGE.into());
    }
    Ok(Request::Run(RunRequest {
        targets,
        env_from,
        command: command
            .iter()
            .map(|a| text(a).map(str::to_string))
            .collect::<Result<_, _>>()?,
    }))
}

/// An argument that is not a path: options, module names, job ids and
/// `run`'s command are text.
fn text(arg: &OsStr) -> Result<&str, String> {
    arg.to_str()
        .ok_or_else(|| format!("{arg:?}: not UTF-8 (only paths may be any bytes)"))
}

fn absolute(p: OsString) -> Result<PathBuf, String> {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        Ok(p)
    } else {
        Err(format!(
            "{}: paths given to the helper must be absolute",
            p.display()
        ))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Module(m) => write!(f, "module {m:?}"),
            Target::Image { image, mountpoint } => {
                write!(f, "image {}", image.display())?;
                match mountpoint {
                    Some(mp) => write!(f, " on {}", mp.display()),
                    None => Ok(()),
                }
            }
            Target::Mountpoint(mp) => write!(f, "mount point {}", mp.display()),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, target, rw, job) = match self {
            Request::Mount(m) => ("mount", &m.target, m.rw, &m.job),
            Request::Umount(u) if u.lazy => ("umount lazily", &u.target, false, &u.job),
            Request::Umount(u) => ("umount", &u.target, false, &u.job),
            Request::UmountAll { job, kill } => {
                f.write_str("umount-all")?;
                if let Some(job) = job {
                    write!(f, " for job {job}")?;
                }
                return if *kill {
                    f.write_str(" killing holders")
                } else {
                    Ok(())
                };
            }
            Request::Run(r) => {
                let targets: Vec<String> = r.targets.iter().map(Target::to_string).collect();
                return write!(f, "run {} command {:?}", targets.join(", "), r.command);
            }
            Request::Cleanup { kill } => {
                f.write_str("cleanup")?;
                return if *kill {
                    f.write_str(" killing holders")
                } else {
                    Ok(())
                };
            }
        };
        write!(f, "{verb} {target}")?;
        if rw {
            f.write_str(" read-write")?;
        }
        if let Some(job) = job {
            write!(f, " for job {job}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Request, String> {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn accepted_and_refused_lines() {
        assert!(matches!(
            p(&["mount", "--module", "gcc/6.1.0"]),
            Ok(Request::Mount(_))
        ));
        assert!(matches!(
            p(&["mount", "--rw", "--image", "/a.img", "--mountpoint", "/m"]),
            Ok(Request::Mount(_))
        ));
        assert!(matches!(
            p(&["umount", "--job-id", "5", "--mountpoint", "/m"]),
            Ok(Request::Umount(UmountRequest { lazy: false, .. }))
        ));
        assert!(matches!(
            p(&["umount", "--lazy", "--module", "a/b"]),
            Ok(Request::Umount(UmountRequest { lazy: true, .. }))
        ));
        let Ok(Request::Run(run)) = p(&[
            "run",
            "--env-from",
            "42",
            "--image",
            "/a.sqfs",
            "--mountpoint",
            "/m",
            "--module",
            "gcc/6.1.0",
            "--image",
            "/b.sqfs",
            "--",
            "python",
            "-c",
            "--image",
        ]) else {
            panic!("run not parsed");
        };
        assert_eq!(run.env_from, Some(42));
        assert_eq!(run.command, ["python", "-c", "--image"]);
        assert_eq!(
            run.targets
                .iter()
                .map(Target::to_string)
                .collect::<Vec<_>>(),
            [
                "image /a.sqfs on /m",
                "module \"gcc/6.1.0\"",
                "image /b.sqfs"
            ]
        );
        for bad in [
            &["mount"][..],
            &["mount", "--image", "rel.img"],
            &["mount", "--module", "a/b", "--image", "/x"],
            &["umount", "--image", "/x"],
            &["umount", "--rw", "--module", "a/b"],
            &["mount", "--lazy", "--module", "a/b"],
            &["umount-all", "--lazy"],
            &["mount", "--module", "a/b", "--module", "c/d"],
            &["mount", "--modul", "a/b"],
            &["shell", "--module", "a/b"],
            &["mount", "--job-id"],
            &["mount", "--kill", "--module", "a/b"],
            &["cleanup", "--job-id", "5"],
            &["umount-all", "--module", "a/b"],
            &["run", "--image", "/a.sqfs"],
            &["run", "--image", "/a.sqfs", "--"],
            &["run", "--", "true"],
            &[
                "run",
                "--mountpoint",
                "/m",
                "--image",
                "/a.sqfs",
                "--",
                "true",
            ],
            &[
                "run",
                "--image",
                "/a",
                "--mountpoint",
                "/m",
                "--mountpoint",
                "/n",
                "--",
                "true",
            ],
            &["run", "--module", "a/b", "--mountpoint", "/m", "--", "true"],
            &["run", "--image", "a.sqfs", "--", "true"],
            &["run", "--rw", "--image", "/a.sqfs", "--", "true"],
            &["run", "--env-from", "x", "--image", "/a.sqfs", "--", "true"],
            &[
                "run",
                "--env-from",
                "1",
                "--env-from",
                "2",
                "--module",
                "a/b",
                "--",
                "true",
            ],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_may_be_any_bytes_and_nothing_else() {
        use std::os::unix::ffi::OsStrExt;
        let raw = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
        let line = |args: &[&[u8]]| parse(&args.iter().map(|a| raw(a)).collect::<Vec<_>>());
        let Ok(Request::Umount(u)) = line(&[b"umount", b"--mountpoint", b"/u/m\xfe"]) else {
            panic!("umount not parsed");
        };
        assert!(matches!(u.target, Target::Mountpoint(mp) if mp.as_os_str() == raw(b"/u/m\xfe")));
        assert!(matches!(
            line(&[
                b"mount",
                b"--image",
                b"/\xff/i.sqfs",
                b"--mountpoint",
                b"/u/\xfe"
            ]),
            Ok(Request::Mount(_))
        ));
        for bad in [
            &[&b"mount"[..], b"--module", b"a/\xfe"][..],
            &[b"umount", b"--job-id", b"1\xfe", b"--mountpoint", b"/m"],
            &[b"mount\xfe"],
            &[b"umount", b"--lazy\xfe", b"--mountpoint", b"/m"],
            &[b"run", b"--image", b"/a", b"--", b"echo", b"\xfe"],
        ] {
            assert!(line(bad).is_err_and(|e| e.contains("not UTF-8")), "{bad:?}");
        }
    }
}
