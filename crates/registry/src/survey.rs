//! The node's records set against what the kernel shows: which records
//! are backed by a mount, and what nobody reported — mounts of framework
//! images without a record, records whose mount is gone, loop devices of
//! framework images that are attached but not mounted. `bale list
//! --unreported` prints it, `bale cleanup` repairs it.

use crate::loops::Loop;
use crate::mountinfo::Mount;
use crate::node::{Key, Record};
use std::path::{Path, PathBuf};

/// A record and whether its mount is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub key: Key,
    pub record: Record,
    /// The loop device mounted at the record's mount point, if mounted.
    pub device: Option<PathBuf>,
}

/// A mount of a framework image that no record names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forgotten {
    pub mountpoint: PathBuf,
    pub image: PathBuf,
    pub device: PathBuf,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Survey {
    pub held: Vec<Held>,
    pub forgotten_mounts: Vec<Forgotten>,
    /// Loop devices of framework images attached but mounted nowhere here.
    pub idle_loops: Vec<Loop>,
}

impl Survey {
    /// Records whose mount is gone.
    pub fn stale_records(&self) -> impl Iterator<Item = &Held> {
        self.held.iter().filter(|h| h.device.is_none())
    }
}

/// Surveys the node. `roots` are where framework mounts live
/// (`SI_MOUNT_PATH`, `SI_USR_MOUNT_PATH`), `is_image` says whether a
/// loop's backing file is a framework image.
pub fn survey(
    records: &[(Key, Vec<Record>)],
    mounts: &[Mount],
    loops: &[Loop],
    roots: &[&Path],
    is_image: impl Fn(&Path) -> bool,
) -> Survey {
    let loop_of = |m: &Mount| crate::mounted::loop_of(loops, m);
    let mut survey = Survey::default();
    for (key, records) in records {
        for record in records {
            // Any image on a loop device there: the recorded one may have
            // been renamed since (the kernel shows the new name), and
            // calling a live read-write mount stale would let cleanup
            // drop its lock line.
            let device = crate::mountinfo::mounted_at(mounts, &record.mountpoint)
                .and_then(loop_of)
                .map(|l| l.device.clone());
            survey.held.push(Held {
                key: key.clone(),
                record: record.clone(),
                device,
            });
        }
    }
    for mount in mounts {
        let Some(device) = loop_of(mount) else {
            continue;
        };
        let under_root = roots.iter().any(|r| mount.target.starts_with(r));
        if !under_root && !is_image(&device.backing_file) {
            continue;
        }
        let recorded = records
            .iter()
            .flat_map(|(_, rs)| rs)
            .any(|r| r.mountpoint == mount.target);
        if !recorded {
            survey.forgotten_mounts.push(Forgotten {
                mountpoint: mount.target.clone(),
                image: device.backing_file.clone(),
                device: device.device.clone(),
            });
        }
    }
    // An autoclear device (every one bale attaches) that is not mounted
    // here is used where this namespace cannot see — a `bale run`, a mount
    // copied into a container — or is going: it detaches itself with its
    // last user, so it is nobody's leftover.
    for l in loops.iter().filter(|l| !l.autoclear) {
        let mounted = mounts
            .iter()
            .any(|m| (m.major, m.minor) == (l.major, l.minor));
        if !mounted && is_image(&l.backing_file) {
            survey.idle_loops.push(l.clone());
        }
    }
    survey
}

/// Whether `path` is an image of the framework: below `SI_IMAGE_PATH`, or
/// with a `<image>.lock` beside it.
pub fn is_framework_image(path: &Path, image_root: &Path) -> bool {
    path.starts_with(image_root) || crate::cluster_lock::path_for(path).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(minor: u32, file: &str) -> Loop {
        Loop {
            device: format!("/dev/loop{minor}").into(),
            major: 7,
            minor,
            backing_file: file.into(),
            read_only: true,
            autoclear: true,
        }
    }

    fn mount(minor: u32, target: &str) -> Mount {
        crate::mountinfo::parse(
            format!("9{minor} 1 7:{minor} / {target} ro - squashfs /dev/loop{minor} ro\n")
                .as_bytes(),
        )
        .unwrap()
        .remove(0)
    }

    fn rec(image: &str, mp: &str) -> Record {
        Record {
            module: None,
            rw: false,
            image: image.into(),
            mountpoint: mp.into(),
        }
    }

    #[test]
    fn finds_each_kind_of_unreported_state() {
        let key = Key::user("alice").unwrap();
        let records = vec![(
            key.clone(),
            vec![
                rec("/img/a.sqfs", "/u/alice/a"),
                rec("/img/gone.sqfs", "/u/alice/gone"),
            ],
        )];
        let by_hand = Loop {
            autoclear: false,
            ..lp(2, "/img/idle.sqfs")
        };
        let loops = vec![
            lp(0, "/img/a.sqfs"),
            lp(1, "/img/forgotten.sqfs"),
            by_hand,
            lp(3, "/elsewhere/x.iso"),
            // A `bale run`'s, mounted in its own namespace only.
            lp(4, "/img/run.sqfs"),
        ];
        let mounts = vec![
            mount(0, "/u/alice/a"),
            mount(1, "/u/alice/forgotten"),
            mount(3, "/mnt/iso"),
        ];
        let s = survey(&records, &mounts, &loops, &[Path::new("/u")], |p| {
            p.starts_with("/img")
        });
        assert_eq!(s.held[0].device.as_deref(), Some(Path::new("/dev/loop0")));
        assert_eq!(
            s.stale_records()
                .map(|h| h.record.mountpoint.clone())
                .collect::<Vec<_>>(),
            [PathBuf::from("/u/alice/gone")]
        );
        assert_eq!(s.forgotten_mounts.len(), 1);
        assert_eq!(
            s.forgotten_mounts[0].mountpoint,
            Path::new("/u/alice/forgotten")
        );
        assert_eq!(
            s.idle_loops.iter().map(|l| l.minor).collect::<Vec<_>>(),
            [2]
        );
    }
}
