//! bale on a real SLURM cluster (support/slurm.rs: slurmctld, munged and
//! two simulated nodes with a slurmd each), with contrib/slurm's TaskProlog
//! and Epilog: jobs of unprivileged users load a module (LOADEDMODULES),
//! read its image on every node of the job, and leave no mount, loop device
//! or record behind, also when cancelled; the helper's job-owner rule
//! against real jobs of two users; and a failing bale never fails a job or
//! drains a node.

mod support;

use std::path::{Path, PathBuf};
use support::frame;
use support::slurm::{self, Cluster, NODES};

/// A software module `name/1.0` with an image; its directory.
fn module(name: &str) -> PathBuf {
    frame::software_module(name)
}

/// A fresh directory of `user` for a job's files.
fn workdir(user: &str, test: &str) -> PathBuf {
    frame::user_dir(user, &format!("slurm-{test}"))
}

fn loaded(module: &Path) -> String {
    let version = module.file_name().unwrap().to_str().unwrap();
    let name = module
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    format!("--export=ALL,LOADEDMODULES=other/2.0:{name}/{version}")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a task prints about `module`: its file, and the mount under it.
fn show(module: &Path) -> String {
    format!(
        "echo host=$(hostname); cat {0}/bin/hello; grep ' {0} ' /proc/self/mountinfo || echo not mounted",
        module.display()
    )
}

/// No mount of `module` on any node, no record of `job`, no loop device
/// of the module's image, and no line in its lock file.
fn nothing_left(cluster: &Cluster, job: &str, module: &Path) {
    let target = format!(" {} ", module.display());
    for node in NODES {
        let mounts = support::ok(cluster.on(node, "cat", &["/proc/self/mountinfo"]));
        assert!(!mounts.contains(&target), "{node} still mounts {target}");
        let listed = support::ok(cluster.on(
            node,
            env!("CARGO_BIN_EXE_bale"),
            &["list", "--job-id", job, "--json"],
        ));
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed["mounts"], serde_json::json!([]), "{node}: {listed}");
    }
    let image = image_of(module);
    assert_eq!(
        frame::loops_below(&image),
        Vec::<PathBuf>::new(),
        "loop devices"
    );
    let lock = std::fs::read_to_string(format!("{}.lock", image.display())).unwrap_or_default();
    assert!(
        lock.lines().all(|l| l.starts_with('#')),
        "lock lines left: {lock}"
    );
}

fn image_of(module: &Path) -> PathBuf {
    let version = module.file_name().unwrap().to_str().unwrap();
    let name = module.parent().unwrap().file_name().unwrap();
    frame::images().join(name).join(format!("{version}.sqfs"))
}

#[test]
fn a_single_node_job_reads_its_module_from_the_image_and_leaves_nothing() {
    let cluster = slurm::cluster();
    let module = module("slurm-single");
    let dir = workdir("bale-test", "single");
    let out = dir.join("job.out");
    let job = cluster.submit(
        "bale-test",
        &dir,
        &[
            "-N1",
            "-w",
            "node1",
            "-o",
            out.to_str().unwrap(),
            &loaded(&module),
            "--wrap",
            &show(&module),
        ],
    );
    assert_eq!(cluster.wait_done(&job), "COMPLETED");
    let printed = read(&out);
    assert!(printed.contains("hello from slurm-single"), "{printed}");
    assert!(printed.contains(" - squashfs /dev/loop"), "{printed}");
    nothing_left(&cluster, &job, &module);
}
