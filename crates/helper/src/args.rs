//! The helper's command line. Deliberately small and strict: no
//! environment, no abbreviations, every value validated by the caller of
//! the parsed request.
//!
//! ```text
//! bale-helper mount  [--rw] [--job-id ID] --module NAME/VERSION
//! bale-helper mount  [--rw] [--job-id ID] --image PATH [--mountpoint PATH]
//! bale-helper umount [--job-id ID] (--module NAME/VERSION | --mountpoint PATH)
//! bale-helper umount-all [--job-id ID] [--kill]
//! bale-helper cleanup [--kill]
//! ```

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
}

const USAGE: &str = "usage: bale-helper mount [--rw] [--job-id ID] (--module NAME/VERSION | --image PATH [--mountpoint PATH]) | umount [--job-id ID] (--module NAME/VERSION | --mountpoint PATH) | umount-all [--job-id ID] [--kill] | cleanup [--kill]";

pub fn parse(argv: &[String]) -> Result<Request, String> {
    let (command, rest) = argv.split_first().ok_or(USAGE)?;
    let mut rw = false;
    let mut kill = false;
    let mut job = None;
    let mut module = None;
    let mut image = None;
    let mut mountpoint = None;
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let mut value = |slot: &mut Option<String>| -> Result<(), String> {
            let v = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
            if slot.replace(v.clone()).is_some() {
                return Err(format!("{arg} given twice"));
            }
            Ok(())
        };
        match arg.as_str() {
            "--rw" => rw = true,
            "--kill" => kill = true,
            "--job-id" => value(&mut job)?,
            "--module" => value(&mut module)?,
            "--image" => value(&mut image)?,
            "--mountpoint" => value(&mut mountpoint)?,
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    let absolute = |p: String| -> Result<PathBuf, String> {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            Ok(p)
        } else {
            Err(format!(
                "{}: paths given to the helper must be absolute",
                p.display()
            ))
        }
    };
    let mountpoint = mountpoint.map(absolute).transpose()?;
    let bare = module.is_none() && image.is_none() && mountpoint.is_none() && !rw;
    match command.as_str() {
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
    match command.as_str() {
        "mount" => Ok(Request::Mount(MountRequest { target, rw, job })),
        "umount" if !rw => Ok(Request::Umount(UmountRequest { target, job })),
        _ => Err(USAGE.into()),
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
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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
            Ok(Request::Umount(_))
        ));
        for bad in [
            &["mount"][..],
            &["mount", "--image", "rel.img"],
            &["mount", "--module", "a/b", "--image", "/x"],
            &["umount", "--image", "/x"],
            &["umount", "--rw", "--module", "a/b"],
            &["mount", "--module", "a/b", "--module", "c/d"],
            &["mount", "--modul", "a/b"],
            &["shell", "--module", "a/b"],
            &["mount", "--job-id"],
            &["mount", "--kill", "--module", "a/b"],
            &["cleanup", "--job-id", "5"],
            &["umount-all", "--module", "a/b"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }
}
