//! bale on a real SLURM cluster (support/slurm.rs: slurmctld, munged and
//! two simulated nodes with a slurmd each), with contrib/slurm's TaskProlog
//! and Epilog: jobs of unprivileged users load a module (LOADEDMODULES),
//! read its image on every node of the job, and leave no mount, loop device
//! or record behind, also when cancelled; the helper's job-owner rule
//! against real jobs of two users; and a failing bale never fails a job or
//! drains a node.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::frame;
use support::run_ok;
use support::slurm::{self, Cluster, NODES};

/// A software module with an image, made for one test.
struct Module {
    /// `NAME/VERSION`.
    name: String,
    /// Its directory, where the image is mounted.
    dir: PathBuf,
    image: PathBuf,
}

/// The module `name/1.0`.
fn module(name: &str) -> Module {
    Module {
        name: format!("{name}/1.0"),
        dir: frame::software_module(name),
        image: frame::images().join(name).join("1.0.sqfs"),
    }
}

/// A fresh directory of `user` for a job's files.
fn workdir(user: &str, test: &str) -> PathBuf {
    frame::user_dir(user, &format!("slurm-{test}"))
}

/// sbatch's option for a job submitted with `module` (and a module
/// without an image) loaded.
fn loaded(module: &Module) -> String {
    format!("--export=ALL,LOADEDMODULES=other/2.0:{}", module.name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An executable script `dir/name` for a job of `dir`'s owner.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    run_ok("chmod", &["755", path.to_str().unwrap()]);
    path
}

/// What a task prints about `modules`: the node, each module's file and
/// the mount under it, and how many records the job has on the node.
fn show(modules: &[&Module]) -> String {
    let mut lines = vec!["echo host=$(hostname)".to_string()];
    for module in modules {
        lines.push(format!(
            "cat {0}/bin/hello\ngrep ' {0} ' /proc/self/mountinfo || echo not mounted",
            module.dir.display()
        ));
    }
    lines.push(format!(
        "echo records=$({} list --job-id $SLURM_JOB_ID --json | grep -o '\"module\"' | wc -l)",
        env!("CARGO_BIN_EXE_bale")
    ));
    lines.join("\n")
}

/// Waits until a job has created `file` (it runs).
fn wait_for_file(file: &Path) {
    let appeared = slurm::wait_until(Duration::from_secs(60), || file.exists());
    assert!(appeared, "{} never appeared", file.display());
}

fn is_mounted_on(cluster: &Cluster, node: &str, module: &Module) -> bool {
    let mounts = support::ok(cluster.on(node, "cat", &["/proc/self/mountinfo"]));
    mounts.contains(&format!(" {} ", module.dir.display()))
}

/// No mount of `module` on any node, no record of `job`, no loop device
/// of the module's image, and no line in its lock file.
fn nothing_left(cluster: &Cluster, job: &str, module: &Module) {
    for node in NODES {
        assert!(
            !is_mounted_on(cluster, node, module),
            "{node} still mounts {}",
            module.dir.display()
        );
        let listed = support::ok(cluster.on(
            node,
            env!("CARGO_BIN_EXE_bale"),
            &["list", "--job-id", job, "--json"],
        ));
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed["mounts"], serde_json::json!([]), "{node}: {listed}");
    }
    let image = &module.image;
    assert_eq!(
        frame::loops_below(image),
        Vec::<PathBuf>::new(),
        "loop devices"
    );
    let lock = std::fs::read_to_string(format!("{}.lock", image.display())).unwrap_or_default();
    assert!(
        lock.lines().all(|l| l.starts_with('#')),
        "lock lines left: {lock}"
    );
}

/// A job of bale-test on node1, submitted with sbatch's `export` option
/// made for module `name`, reads that module from its image (one record)
/// and leaves nothing behind.
fn a_single_node_job_reads_from_the_image(name: &str, export: impl Fn(&Module) -> String) {
    let cluster = slurm::cluster();
    let module = module(name);
    let dir = workdir("bale-test", name);
    let out = dir.join("job.out");
    let task = script(&dir, "task.sh", &show(&[&module]));
    let job = one_node_job(
        &cluster,
        "bale-test",
        "node1",
        &dir,
        &export(&module),
        &task,
    );
    assert_eq!(cluster.wait_done(&job), "COMPLETED");
    let printed = read(&out);
    assert!(printed.contains(&format!("hello from {name}")), "{printed}");
    assert!(printed.contains(" - squashfs /dev/loop"), "{printed}");
    assert!(printed.contains("records=1"), "{printed}");
    nothing_left(&cluster, &job, &module);
}

#[test]
fn a_single_node_job_reads_its_module_from_the_image_and_leaves_nothing() {
    a_single_node_job_reads_from_the_image("slurm-single", loaded);
}

/// A modulefile whose snippet names another image (a renamed module, one
/// in a category directory) exports the image's name in BALE_MODULES: the
/// TaskProlog mounts that, and skips names that cannot be images.
#[test]
fn the_task_prolog_mounts_the_images_bale_modules_names() {
    a_single_node_job_reads_from_the_image("slurm-renamed", |module| {
        format!(
            "--export=ALL,LOADEDMODULES=mine/1.0:bio/tools/1.0,BALE_MODULES={}",
            module.name
        )
    });
}

#[test]
fn a_two_node_job_reads_its_modules_from_the_images_on_every_node() {
    let cluster = slurm::cluster();
    let submitted = module("slurm-multi");
    let in_script = module("slurm-multi-script");
    let dir = workdir("bale-test", "multi");
    let out = dir.join("job.out");
    let task = script(&dir, "task.sh", &show(&[&submitted, &in_script]));
    // `submitted` was loaded when the job was submitted: the batch step's
    // and the srun step's TaskProlog both mount it on node1. `in_script`
    // is loaded by the job script: the srun step's TaskProlog inherits it.
    let batch = script(
        &dir,
        "batch.sh",
        &format!(
            "export LOADEDMODULES=$LOADEDMODULES:{}\nsrun -l -N2 --ntasks-per-node=1 {}",
            in_script.name,
            task.display()
        ),
    );
    let job = cluster.submit(
        "bale-test",
        &dir,
        &[
            "-N2",
            "-o",
            out.to_str().unwrap(),
            &loaded(&submitted),
            batch.to_str().unwrap(),
        ],
    );
    assert_eq!(cluster.wait_done(&job), "COMPLETED");
    let printed = read(&out);
    for (task, node) in NODES.iter().enumerate() {
        let said: Vec<&str> = printed
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{task}: ")))
            .collect();
        assert_eq!(said.len(), 6, "{printed}");
        assert_eq!(said[0], format!("host={node}"), "{printed}");
        assert_eq!(said[1], "hello from slurm-multi", "{printed}");
        assert!(said[2].contains(" - squashfs /dev/loop"), "{printed}");
        assert_eq!(said[3], "hello from slurm-multi-script", "{printed}");
        assert!(said[4].contains(" - squashfs /dev/loop"), "{printed}");
        assert_eq!(said[5], "records=2", "{printed}");
    }
    nothing_left(&cluster, &job, &submitted);
    nothing_left(&cluster, &job, &in_script);
}

#[test]
fn a_cancelled_job_is_cleaned_up_even_with_a_process_left_in_the_mount() {
    let cluster = slurm::cluster();
    let module = module("slurm-cancel");
    let dir = workdir("bale-test", "cancel");
    let pid_file = dir.join("escaped.pid");
    // A process that leaves the job's process tree (SLURM cannot end it)
    // and keeps a file of the image open.
    let hold = script(
        &dir,
        "hold.sh",
        &format!(
            "setsid sh -c 'sleep 600 <\"$1\" & echo $! >\"$2.new\"; mv \"$2.new\" \"$2\"' _ {} {}\nexec sleep 600",
            module.dir.join("bin/hello").display(),
            pid_file.display()
        ),
    );
    let job = one_node_job(
        &cluster,
        "bale-test",
        "node1",
        &dir,
        &loaded(&module),
        &hold,
    );
    wait_for_file(&pid_file);
    let pid = read(&pid_file).trim().to_string();
    assert!(is_mounted_on(&cluster, "node1", &module));
    support::ok(frame::as_user("bale-test", "scancel", &[&job]));
    assert_eq!(cluster.wait_done(&job), "CANCELLED");
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "the escaped process {pid} still runs: {state}"
    );
    cluster.assert_logged(&format!("killing pid {pid} "));
    nothing_left(&cluster, &job, &module);
}

/// Submits `script` as a one-node job of `user` on `node`, with `export`
/// (sbatch `--export`) and its output in `dir/job.out`; the job id.
fn one_node_job(
    cluster: &Cluster,
    user: &str,
    node: &str,
    dir: &Path,
    export: &str,
    script: &Path,
) -> String {
    cluster.submit(
        user,
        dir,
        &[
            "-N1",
            "-w",
            node,
            "-o",
            dir.join("job.out").to_str().unwrap(),
            export,
            script.to_str().unwrap(),
        ],
    )
}

/// A job of `user` on `node` with `module` loaded that runs until the
/// test creates `dir/go`; its id, once it runs.
fn waiting_job(cluster: &Cluster, user: &str, node: &str, module: &Module) -> (String, PathBuf) {
    let dir = workdir(user, &format!("owner-{node}"));
    let running = dir.join("running");
    let wait = script(
        &dir,
        "wait.sh",
        &format!(
            "touch {}\nwhile [ ! -e {} ]; do sleep 0.1; done",
            running.display(),
            dir.join("go").display()
        ),
    );
    let job = one_node_job(cluster, user, node, &dir, &loaded(module), &wait);
    wait_for_file(&running);
    (job, dir.join("go"))
}

#[test]
fn only_the_owner_of_a_real_job_mounts_and_releases_for_it() {
    let cluster = slurm::cluster();
    let module = module("slurm-owner");
    let name = &module.name;
    let (mine, my_go) = waiting_job(&cluster, "bale-test", "node1", &module);
    let (theirs, their_go) = waiting_job(&cluster, "bale-other", "node2", &module);
    assert!(is_mounted_on(&cluster, "node1", &module));

    for (node, user, job) in [
        ("node1", "bale-other", &mine),
        ("node2", "bale-test", &theirs),
    ] {
        for args in [
            vec!["mount", name, "--job-id", job],
            vec!["umount-all", "--job-id", job],
        ] {
            let out = cluster.bale_on(node, user, &args);
            let complaint = frame::refusal(&out, 3);
            assert!(
                complaint.contains("refused by rule job-owner"),
                "{user} {args:?}: {complaint}"
            );
        }
        assert!(is_mounted_on(&cluster, node, &module), "{node}");
    }
    support::ok(cluster.bale_on("node1", "bale-test", &["umount-all", "--job-id", &mine]));
    assert!(!is_mounted_on(&cluster, "node1", &module));
    support::ok(cluster.bale_on("node1", "bale-test", &["mount", name, "--job-id", &mine]));
    assert!(is_mounted_on(&cluster, "node1", &module));

    for go in [my_go, their_go] {
        std::fs::write(go, "").unwrap();
    }
    for job in [&mine, &theirs] {
        assert_eq!(cluster.wait_done(job), "COMPLETED");
        nothing_left(&cluster, job, &module);
    }
}

#[test]
fn a_failing_bale_neither_fails_the_job_nor_drains_the_node() {
    let cluster = slurm::cluster();
    let module = module("slurm-broken");
    std::fs::write(&module.image, vec![b'x'; 8192]).unwrap();
    let dir = workdir("bale-test", "broken");
    // A strict site: the hook itself fails, and the TaskProlog must not.
    let site = frame::site_with(slurm::SITE);
    let strict = frame::strict_config(&site);
    let out = dir.join("job.out");
    let task = script(&dir, "task.sh", &show(&[&module]));
    let job = one_node_job(
        &cluster,
        "bale-test",
        "node1",
        &dir,
        &format!(
            "{},BALE_CONFIG={}",
            loaded(&module),
            strict.path().display()
        ),
        &task,
    );
    assert_eq!(cluster.wait_done(&job), "COMPLETED");
    let printed = read(&out);
    assert!(printed.contains("hello from slurm-broken"), "{printed}");
    assert!(printed.contains("not mounted"), "{printed}");
    let failed = format!(
        "bale-slurm: task-prolog: job {job}: bale module-hook load {} failed: bale: module-hook: ",
        module.name
    );
    cluster.assert_logged(&failed);

    for (node, state) in cluster.node_states() {
        assert!(
            !state.contains("drain") && !state.contains("down"),
            "{node} is {state}"
        );
    }
    nothing_left(&cluster, &job, &module);
}

#[test]
fn the_scripts_exit_0_and_log_when_bale_fails_or_is_missing() {
    let cluster = slurm::cluster();
    // Root's directory: the epilog copy runs as root.
    let dir = tempfile::tempdir().unwrap();
    run_ok("chmod", &["755", dir.path().to_str().unwrap()]);
    for bale in ["/bin/false", "/nonexistent/bale"] {
        let why = |what: &str| match bale {
            "/bin/false" => format!("bale {what} failed"),
            _ => format!("{bale} is not installed"),
        };
        for (script, user, why) in [
            (
                "task-prolog.sh",
                "bale-test",
                why("module-hook load some/1.0"),
            ),
            (
                "epilog.sh",
                "root",
                why("umount-all --job-id 999 --kill --cleanup"),
            ),
        ] {
            let path = dir.path().join(script);
            slurm::install_script(script, Path::new(bale), &path);
            let out = cluster.on(
                "node1",
                "runuser",
                &[
                    "-u",
                    user,
                    "--",
                    "env",
                    "-i",
                    "SLURM_JOB_ID=999",
                    "LOADEDMODULES=some/1.0",
                    path.to_str().unwrap(),
                ],
            );
            // slurmstepd reads the TaskProlog's stdout: nothing may go there.
            assert_eq!(support::ok(out), "", "{script} with {bale}");
            let name = script.trim_end_matches(".sh");
            cluster.assert_logged(&format!("bale-slurm: {name}: job 999: {why}"));
        }
    }
}
