//! The rules, one function each.

use crate::Refusal;
use std::path::{Component, Path};

/// What kind of image a superblock says a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Squashfs,
    Ext4,
}

/// A software module `NAME/VERSION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleName {
    pub name: String,
    pub version: String,
}

impl ModuleName {
    /// `NAME/VERSION` again.
    pub fn full(&self) -> String {
        format!("{}/{}", self.name, self.version)
    }
}

/// Rule `module-name`: exactly one `/`, two non-empty parts, no `.` or `..`,
/// not absolute, printable characters only (no spaces, no control bytes).
pub fn module_name(text: &str) -> Result<ModuleName, Refusal> {
    let refuse = |why: &str| Err(Refusal::new("module-name", format!("{text:?}: {why}")));
    let Some((name, version)) = text.split_once('/') else {
        return refuse("a module is NAME/VERSION");
    };
    if version.contains('/') {
        return refuse("exactly one '/' allowed");
    }
    for part in [name, version] {
        if part.is_empty() {
            return refuse("empty NAME or VERSION (absolute paths are not module names)");
        }
        if part == "." || part == ".." {
            return refuse("'.' and '..' are not allowed");
        }
        if part.starts_with('.') {
            return refuse("parts may not start with '.'");
        }
        if !part.chars().all(|c| c.is_ascii_graphic() && c != '\\') {
            return refuse("only printable ASCII without spaces or '\\'");
        }
    }
    Ok(ModuleName {
        name: name.to_string(),
        version: version.to_string(),
    })
}

/// Rule `software-ro`: software images are only ever mounted read-only.
pub fn software_read_only(rw: bool) -> Result<(), Refusal> {
    if rw {
        return Err(Refusal::new(
            "software-ro",
            "software images are mounted read-only only",
        ));
    }
    Ok(())
}

/// Rule `image-by-path`: an image under `SI_IMAGE_PATH` is mounted by its
/// module name only. `image` is the path the kernel reports for the opened
/// file (symlinks resolved).
pub fn not_software_image(image: &Path, image_root: &Path) -> Result<(), Refusal> {
    if image.starts_with(image_root) {
        return Err(Refusal::new(
            "image-by-path",
            format!(
                "{} is a software image; mount it by its module name NAME/VERSION",
                image.display()
            ),
        ));
    }
    Ok(())
}

/// Rule `user-mount-root`: a user mounts only directly in
/// `SI_USR_MOUNT_PATH/<user>/` (`target` is the resolved mount point).
/// Directly, because a user may rename any directory of theirs that holds
/// a mount point (only the mount point itself is pinned): a mount moved so
/// would no longer be where its record says — unreleasable by its owner,
/// and "forgotten" to cleanup. The directory it is in cannot be renamed:
/// its parent is root's.
pub fn user_mountpoint(target: &Path, usr_root: &Path, user: &str) -> Result<(), Refusal> {
    let own = usr_root.join(user);
    let directly_inside = target.strip_prefix(&own).ok().is_some_and(|rest| {
        matches!(
            rest.components().collect::<Vec<_>>()[..],
            [Component::Normal(_)]
        )
    });
    if !directly_inside {
        return Err(Refusal::new(
            "user-mount-root",
            format!(
                "{}: user mounts go directly in {}/",
                target.display(),
                own.display()
            ),
        ));
    }
    Ok(())
}

/// What was learnt about a mount point from its `O_PATH|O_NOFOLLOW` file
/// descriptor and mountinfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountpointFacts {
    pub is_dir: bool,
    pub owner: u32,
    /// Something is already mounted there.
    pub mounted: bool,
}

/// Rule `mountpoint`: a directory (never a symlink: it was opened with
/// `O_NOFOLLOW`), owned by `owner`, with nothing mounted on it yet.
pub fn mountpoint(path: &Path, facts: MountpointFacts, owner: u32) -> Result<(), Refusal> {
    let refuse = |why: String| {
        Err(Refusal::new(
            "mountpoint",
            format!("{}: {why}", path.display()),
        ))
    };
    if !facts.is_dir {
        return refuse("not a directory".into());
    }
    if facts.owner != owner {
        return refuse(format!("owned by uid {}, not {owner}", facts.owner));
    }
    if facts.mounted {
        return refuse("something is already mounted there".into());
    }
    Ok(())
}

/// Rule `backends`: a user's image reaches the kernel's file systems only
/// while the site allows the kernel backend (`backends` in the site
/// configuration): an image's superblock is input the kernel parses.
/// Software modules, made by the admin, are mounted by the kernel
/// whatever `backends` says.
pub fn kernel_backend(image: &Path, kernel_allowed: bool) -> Result<(), Refusal> {
    if !kernel_allowed {
        return Err(Refusal::new(
            "backends",
            format!(
                "{}: this site mounts users' images with the FUSE backend only (backends in the site configuration)",
                image.display()
            ),
        ));
    }
    Ok(())
}

/// Rule `image-file`: only regular files are images (no devices, FIFOs,
/// directories; symlinks were refused when opening with `O_NOFOLLOW`).
pub fn image_file(path: &Path, is_regular: bool) -> Result<(), Refusal> {
    if !is_regular {
        return Err(Refusal::new(
            "image-file",
            format!("{}: not a regular file", path.display()),
        ));
    }
    Ok(())
}

/// Rule `superblock`: the file must carry a valid squashfs or ext4
/// superblock; read-write needs ext4 (squashfs is read-only by nature).
pub fn image_kind(
    path: &Path,
    kind: Result<ImageKind, String>,
    rw: bool,
) -> Result<ImageKind, Refusal> {
    let kind =
        kind.map_err(|why| Refusal::new("superblock", format!("{}: {why}", path.display())))?;
    if rw && kind == ImageKind::Squashfs {
        return Err(Refusal::new(
            "superblock",
            format!(
                "{}: squashfs images are read-only; --rw needs an ext4 image",
                path.display()
            ),
        ));
    }
    Ok(kind)
}

/// Rule `loop-budget`: at most `budget` loop devices of bale in use on a
/// node.
pub fn loop_budget(in_use: usize, budget: u32) -> Result<(), Refusal> {
    if in_use >= budget as usize {
        return Err(Refusal::new(
            "loop-budget",
            format!(
                "{in_use} loop devices of bale in use on this node, its budget (loop_budget) is {budget}"
            ),
        ));
    }
    Ok(())
}

/// Rule `lazy-read-only`: only a read-only mount is detached lazily. A
/// read-write image detached while files are open would still be written
/// after its cluster lock line is gone, when another node may take it.
pub fn lazy_unmount(mountpoint: &Path, rw: bool) -> Result<(), Refusal> {
    if rw {
        return Err(Refusal::new(
            "lazy-read-only",
            format!(
                "{}: a read-write image is unmounted only when nothing uses it (its cluster lock must hold until then)",
                mountpoint.display()
            ),
        ));
    }
    Ok(())
}

/// What the helper needs to know of a SLURM job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub owner: u32,
    /// `JobState` as SLURM names it: `RUNNING`, `COMPLETING`, …
    pub state: String,
}

/// SLURM's jobs (`scontrol` in production, a table in tests).
pub trait Jobs {
    /// The job; `None` when SLURM does not know it (no such job, or one
    /// that ended long enough ago to be forgotten); `Err` says why SLURM
    /// could not be asked.
    fn job(&self, id: &str) -> Result<Option<Job>, String>;
}

/// `job` as SLURM knows it, or the refusal of rule `job-owner`.
fn known(job: &str, jobs: &dyn Jobs) -> Result<Job, Refusal> {
    match jobs.job(job) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(Refusal::new(
            "job-owner",
            format!("job {job}: SLURM does not know it"),
        )),
        Err(why) => Err(Refusal::new("job-owner", format!("job {job}: {why}"))),
    }
}

/// Rule `job-owner`: `--job-id` names a job of the caller (root may act
/// for any job, as the SLURM epilog does).
pub fn job_owner(job: &str, caller: u32, jobs: &dyn Jobs) -> Result<(), Refusal> {
    if caller == 0 {
        return Ok(());
    }
    owned(job, &known(job, jobs)?, caller)
}

fn owned(job: &str, found: &Job, caller: u32) -> Result<(), Refusal> {
    if caller == 0 || found.owner == caller {
        return Ok(());
    }
    Err(Refusal::new(
        "job-owner",
        format!("job {job} belongs to uid {}, not {caller}", found.owner),
    ))
}

/// Rule `job-running` (with `job-owner`): a mount for a job needs the job
/// to be running (`RUNNING`, `CONFIGURING` or `SUSPENDED`). Asked under
/// the node's records lock, which the job's epilog also takes: a job that
/// ends while its mount waits (for the image's lock, say) is either still
/// running at the question — and its epilog, coming after, releases the
/// mount — or is refused; never mounted after its epilog has run.
pub fn job_running(job: &str, caller: u32, jobs: &dyn Jobs) -> Result<(), Refusal> {
    let found = known(job, jobs)?;
    owned(job, &found, caller)?;
    match found.state.as_str() {
        "RUNNING" | "CONFIGURING" | "SUSPENDED" => Ok(()),
        state => Err(Refusal::new(
            "job-running",
            format!(
                "job {job} is {state}, not running: nothing is mounted for it any more \
                 (its epilog releases what it had)"
            ),
        )),
    }
}

/// Whether `job` is over, so that records left for it on a node (its
/// epilog failed or never ran there) are nobody's: SLURM names it in a
/// final state (`COMPLETED`, `CANCELLED`, `TIMEOUT`, …) or no longer knows
/// it (`found` is `None`). Then `Some(what SLURM said)`. A job still
/// running, completing (its epilog is under way), pending or in any state
/// not known to be final keeps its records.
pub fn job_over(job: &str, found: Option<&Job>) -> Option<String> {
    const FINAL: [&str; 9] = [
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
    ];
    match found {
        None => Some(format!("SLURM no longer knows job {job}")),
        Some(found) if FINAL.contains(&found.state.as_str()) => {
            Some(format!("job {job} is {}", found.state))
        }
        Some(_) => None,
    }
}

/// Rule `cluster-lock`: read-write excludes every other mount of the image
/// (on any node, this one included: two mounts of one ext4 file system
/// corrupt it); read-only is refused while some node has it read-write.
/// `listed` are the lock file's `(rw, host)` lines.
pub fn cluster_lock<'a>(
    image: &Path,
    listed: impl IntoIterator<Item = (bool, &'a str)>,
    rw: bool,
) -> Result<(), Refusal> {
    for (other_rw, host) in listed {
        // A line may be stale (a crash, a reboot): lock-status tells.
        let refuse = |why: String| {
            Err(Refusal::new(
                "cluster-lock",
                format!(
                    "{}: {why} (if that is no longer so: bale lock-status, then bale unlock --stale)",
                    image.display()
                ),
            ))
        };
        if other_rw {
            return refuse(format!("mounted read-write on {host}"));
        }
        if rw {
            return refuse(format!(
                "mounted read-only on {host}; read-write needs it mounted nowhere"
            ));
        }
    }
    Ok(())
}

/// Rule `image-size`: user images are at most the site's limit.
pub fn image_size(size: u64, limit: u64) -> Result<(), Refusal> {
    if size > limit {
        return Err(Refusal::new(
            "image-size",
            format!("{size} bytes is over the site's limit of {limit} bytes for user images"),
        ));
    }
    Ok(())
}

/// Rule `admin-only`: some actions (other users' records, cleanup of the
/// whole node, breaking locks) are root's.
pub fn admin_only(action: &str, caller: u32) -> Result<(), Refusal> {
    if caller != 0 {
        return Err(Refusal::new("admin-only", format!("{action} needs root")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn module_names() {
        let ok = module_name("gcc/6.1.0").unwrap();
        assert_eq!((ok.name.as_str(), ok.version.as_str()), ("gcc", "6.1.0"));
        assert_eq!(ok.full(), "gcc/6.1.0");
        for bad in [
            "gcc",
            "a/b/c",
            "/etc/passwd",
            "../x",
            "gcc/..",
            "./x",
            "gcc/",
            "/x",
            "a/.hidden",
            "a b/1",
            "a/1\n",
            "a\\b/1",
            "",
        ] {
            let refusal = module_name(bad).unwrap_err();
            assert_eq!(refusal.rule, "module-name", "{bad}");
        }
    }

    #[test]
    fn software_is_read_only() {
        assert!(software_read_only(false).is_ok());
        assert_eq!(software_read_only(true).unwrap_err().rule, "software-ro");
    }

    #[test]
    fn software_images_not_by_path() {
        let root = Path::new("/pfs/IMAGES");
        assert!(not_software_image(Path::new("/home/a/x.sqfs"), root).is_ok());
        assert!(not_software_image(Path::new("/pfs/IMAGES2/x.sqfs"), root).is_ok());
        let r = not_software_image(Path::new("/pfs/IMAGES/gcc/6.1.0.sqfs"), root).unwrap_err();
        assert_eq!(r.rule, "image-by-path");
        assert!(r.to_string().contains("NAME/VERSION"));
    }

    #[test]
    fn user_mount_root() {
        let root = Path::new("/var/run/user_images");
        assert!(
            user_mountpoint(Path::new("/var/run/user_images/alice/data"), root, "alice").is_ok()
        );
        for bad in [
            "/var/run/user_images/alice",
            "/var/run/user_images/bob/data",
            "/var/run/user_images/alice2/data",
            "/etc",
            "/var/run/user_images/alice/../bob/x",
            "/var/run/user_images/alice/a/data",
        ] {
            assert_eq!(
                user_mountpoint(Path::new(bad), root, "alice")
                    .unwrap_err()
                    .rule,
                "user-mount-root",
                "{bad}"
            );
        }
    }

    #[test]
    fn mountpoints() {
        let p = Path::new("/m");
        let good = MountpointFacts {
            is_dir: true,
            owner: 1000,
            mounted: false,
        };
        assert!(mountpoint(p, good, 1000).is_ok());
        for bad in [
            MountpointFacts {
                is_dir: false,
                ..good
            },
            MountpointFacts { owner: 0, ..good },
            MountpointFacts {
                mounted: true,
                ..good
            },
        ] {
            assert_eq!(mountpoint(p, bad, 1000).unwrap_err().rule, "mountpoint");
        }
    }

    #[test]
    fn image_files_and_kinds() {
        let p = Path::new("/i");
        assert!(image_file(p, true).is_ok());
        assert_eq!(image_file(p, false).unwrap_err().rule, "image-file");
        assert_eq!(
            image_kind(p, Ok(ImageKind::Ext4), true),
            Ok(ImageKind::Ext4)
        );
        assert_eq!(
            image_kind(p, Ok(ImageKind::Squashfs), false),
            Ok(ImageKind::Squashfs)
        );
        assert_eq!(
            image_kind(p, Ok(ImageKind::Squashfs), true)
                .unwrap_err()
                .rule,
            "superblock"
        );
        assert_eq!(
            image_kind(p, Err("bad magic".into()), false)
                .unwrap_err()
                .rule,
            "superblock"
        );
    }

    #[test]
    fn loop_budgets() {
        assert!(loop_budget(3, 4).is_ok());
        assert_eq!(loop_budget(4, 4).unwrap_err().rule, "loop-budget");
        assert_eq!(loop_budget(0, 0).unwrap_err().rule, "loop-budget");
    }

    #[test]
    fn only_read_only_mounts_are_detached_lazily() {
        assert!(lazy_unmount(Path::new("/m"), false).is_ok());
        assert_eq!(
            lazy_unmount(Path::new("/m"), true).unwrap_err().rule,
            "lazy-read-only"
        );
    }

    struct Table(HashMap<&'static str, (u32, &'static str)>);
    impl Jobs for Table {
        fn job(&self, id: &str) -> Result<Option<Job>, String> {
            if id == "666" {
                return Err("slurmctld is down".into());
            }
            Ok(self.0.get(id).map(|&(owner, state)| Job {
                owner,
                state: state.into(),
            }))
        }
    }

    #[test]
    fn job_owners() {
        let jobs = Table(HashMap::from([
            ("10", (1000, "RUNNING")),
            ("11", (1001, "RUNNING")),
        ]));
        assert!(job_owner("10", 1000, &jobs).is_ok());
        assert!(job_owner("11", 0, &jobs).is_ok());
        assert_eq!(job_owner("11", 1000, &jobs).unwrap_err().rule, "job-owner");
        assert!(job_owner("12", 1000, &jobs)
            .unwrap_err()
            .to_string()
            .contains("job 12: SLURM does not know it"));
        assert!(job_owner("666", 1000, &jobs)
            .unwrap_err()
            .to_string()
            .contains("slurmctld is down"));
    }

    #[test]
    fn a_job_is_over_in_a_final_state_or_once_forgotten() {
        let jobs = Table(HashMap::from([
            ("10", (1000, "RUNNING")),
            ("11", (1000, "COMPLETING")),
            ("12", (1000, "CANCELLED")),
            ("13", (1000, "PENDING")),
            ("14", (1000, "TIMEOUT")),
            ("15", (1000, "REQUEUE_HOLD")),
        ]));
        let over = |id| job_over(id, jobs.job(id).unwrap().as_ref());
        for kept in ["10", "11", "13", "15"] {
            assert_eq!(over(kept), None, "{kept}");
        }
        assert_eq!(over("12"), Some("job 12 is CANCELLED".into()));
        assert_eq!(over("14"), Some("job 14 is TIMEOUT".into()));
        assert_eq!(over("99"), Some("SLURM no longer knows job 99".into()));
    }

    #[test]
    fn mounts_are_for_running_jobs_of_the_caller() {
        let jobs = Table(HashMap::from([
            ("10", (1000, "RUNNING")),
            ("11", (1000, "COMPLETING")),
            ("12", (1000, "CANCELLED")),
            ("13", (1000, "PENDING")),
            ("14", (1001, "RUNNING")),
        ]));
        assert!(job_running("10", 1000, &jobs).is_ok());
        assert!(job_running("14", 0, &jobs).is_ok());
        assert_eq!(
            job_running("14", 1000, &jobs).unwrap_err().rule,
            "job-owner"
        );
        for ended in ["11", "12", "13"] {
            let refusal = job_running(ended, 1000, &jobs).unwrap_err();
            assert_eq!(refusal.rule, "job-running", "{ended}");
        }
        assert!(job_running("12", 0, &jobs).is_err(), "root too");
        assert_eq!(job_running("99", 0, &jobs).unwrap_err().rule, "job-owner");
    }

    #[test]
    fn cluster_locks() {
        let i = Path::new("/pfs/u.img");
        let refused =
            |listed: &[(bool, &str)], rw| cluster_lock(i, listed.iter().copied(), rw).is_err();
        assert!(!refused(&[], true));
        assert!(!refused(&[(false, "n2"), (false, "n3")], false));
        assert!(
            refused(&[(false, "n2")], true),
            "rw while another node has it ro"
        );
        assert!(
            refused(&[(false, "n1")], true),
            "rw while this node has it ro"
        );
        assert!(
            refused(&[(true, "n2")], false),
            "ro while another node has it rw"
        );
        assert!(
            refused(&[(true, "n2")], true),
            "rw while another node has it rw"
        );
        assert_eq!(
            cluster_lock(i, [(true, "n2")], false).unwrap_err().rule,
            "cluster-lock"
        );
    }

    #[test]
    fn sizes_and_admin() {
        assert!(image_size(10, 10).is_ok());
        assert_eq!(image_size(11, 10).unwrap_err().rule, "image-size");
        assert!(admin_only("cleanup", 0).is_ok());
        assert_eq!(admin_only("cleanup", 1000).unwrap_err().rule, "admin-only");
    }
}
