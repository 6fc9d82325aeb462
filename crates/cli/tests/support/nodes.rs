//! Simulated compute nodes on one machine: each is a `sleep` in its own
//! UTS and mount namespace (`unshare --uts --mount --propagation private`)
//! with its own host name (resolvable there: its own `/etc/hosts`, as sudo
//! wants) and its own node-local state directory (a tmpfs over the site's
//! state dir); `/tmp`, and so the "parallel file system" holding images and
//! lock files, is shared. Commands run in a node via `nsenter` (which execs
//! the program: a spawned daemon is the child). Dropping a node unmounts
//! what it mounted, then ends it; [`SimNode::crash`] ends it without
//! unmounting, like a node that died.

use std::path::Path;
use std::process::{Child, Command, Output};

pub struct SimNode {
    pub name: String,
    child: Option<Child>,
}

impl SimNode {
    pub fn start(name: &str, state_dir: &Path) -> SimNode {
        let hosts = tempfile::NamedTempFile::new().unwrap();
        let known = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        std::fs::write(hosts.path(), format!("{known}127.0.1.1 {name}\n")).unwrap();
        super::run_ok("chmod", &["644", hosts.path().to_str().unwrap()]);
        // A new mount namespace starts with a copy of every mount of this
        // one: the test site's mounts (other tests') are another node's
        // and go, or a read-write image would stay in use here after its
        // node unmounted it.
        let base = state_dir
            .parent()
            .expect("the state directory is in the test site");
        let script = format!(
            "awk -v b={}/ 'index($5, b) == 1 {{print $5}}' /proc/self/mountinfo | sort -r | while read m; do umount -l \"$m\"; done; hostname {name} && mount --bind {} /etc/hosts && mount -t tmpfs -o mode=0755 bale-state {} && echo ready && exec sleep infinity",
            base.display(),
            hosts.path().display(),
            state_dir.display()
        );
        let mut child = Command::new("unshare")
            .args([
                "--uts",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("unshare (util-linux)");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready", "node {name} did not start");
        let node = SimNode {
            name: name.to_string(),
            child: Some(child),
        };
        assert_eq!(
            String::from_utf8_lossy(&node.run("hostname", &[]).stdout).trim(),
            name
        );
        node
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("node is running").id()
    }

    /// `program ARGS` on the node, as root, ready to run.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new("nsenter");
        command
            .args(["-t", &self.pid().to_string(), "-u", "-m", "--", program])
            .args(args);
        command
    }

    /// Runs `program ARGS` on the node, as root.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args).output().expect("nsenter")
    }

    /// Runs `bale ARGS` on the node.
    pub fn bale(&self, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_bale"), args)
    }

    /// Ends the node without unmounting anything.
    pub fn crash(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for SimNode {
    fn drop(&mut self) {
        if self.child.is_none() {
            return;
        }
        // Unmount inside the node first (deepest first), then end it.
        let out = self.run("sh", &["-c", "grep -o ' /tmp/bale-frame-test/user/[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"]);
        let _ = out;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
