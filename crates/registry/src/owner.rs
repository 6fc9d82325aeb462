//! Who holds a lock or a mount: host, boot id, pid and time — and whether
//! that holder is still alive, judged from the node we run on.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// An owner record, written as `boot=ID pid=N time=UNIX` after the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub boot: Option<String>,
    pub pid: Option<u32>,
    pub time: Option<u64>,
}

/// The node we run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub host: String,
    pub boot: String,
}

impl Node {
    /// This node: its host name (UTS namespace) and kernel boot id.
    pub fn current() -> std::io::Result<Node> {
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?
            .trim()
            .to_string();
        Ok(Node { host, boot })
    }

    /// Whether `owner` was this node before its last reboot: nothing it
    /// held is held any more.
    pub fn rebooted_since(&self, owner: &Owner) -> bool {
        owner.host == self.host && owner.boot.as_ref().is_some_and(|b| *b != self.boot)
    }

    /// An owner record for process `pid` on this node, now.
    pub fn owner(&self, pid: u32) -> Owner {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Owner {
            host: self.host.clone(),
            boot: Some(self.boot.clone()),
            pid: Some(pid),
            time: Some(time),
        }
    }
}

/// Whether a holder is still there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    Live(String),
    Stale(String),
    /// Held by another node, or a record without owner details: only that
    /// node can tell.
    Unknown(String),
}

impl fmt::Display for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Liveness::Live(why) => write!(f, "live ({why})"),
            Liveness::Stale(why) => write!(f, "stale ({why})"),
            Liveness::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

impl Owner {
    /// Parses `HOST [boot=ID] [pid=N] [time=UNIX]`; unknown fields are
    /// ignored so later versions can add some.
    pub fn parse(text: &str) -> Option<Owner> {
        let mut fields = text.split_whitespace();
        let host = fields.next()?.to_string();
        let mut owner = Owner {
            host,
            boot: None,
            pid: None,
            time: None,
        };
        for field in fields {
            match field.split_once('=') {
                Some(("boot", v)) => owner.boot = Some(v.to_string()),
                Some(("pid", v)) => owner.pid = v.parse().ok(),
                Some(("time", v)) => owner.time = v.parse().ok(),
                _ => {}
            }
        }
        Some(owner)
    }

    /// Judges the holder from `node`. `still_held` says, for a holder on
    /// this node and this boot, whether what it holds is still there (its
    /// process alive, or its mount present).
    pub fn judge(&self, node: &Node, still_held: impl FnOnce(&Owner) -> bool) -> Liveness {
        if self.host != node.host {
            return Liveness::Unknown(format!("held by node {}; ask there", self.host));
        }
        match &self.boot {
            None => Liveness::Unknown("old record without boot id".into()),
            Some(_) if node.rebooted_since(self) => {
                Liveness::Stale(format!("{} rebooted since", self.host))
            }
            Some(_) if still_held(self) => Liveness::Live(format!("held on {}", self.host)),
            Some(_) => Liveness::Stale(format!("holder gone from {}", self.host)),
        }
    }
}

/// Whether process `pid` exists on this node.
pub fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(boot) = &self.boot {
            write!(f, " boot={boot}")?;
        }
        if let Some(pid) = self.pid {
            write!(f, " pid={pid}")?;
        }
        if let Some(time) = self.time {
            write!(f, " time={time}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node {
            host: "node1".into(),
            boot: "b1".into(),
        }
    }

    #[test]
    fn round_trip_and_old_format() {
        let owner = node().owner(42);
        assert_eq!(Owner::parse(&owner.to_string()), Some(owner));
        let old = Owner::parse("node7").unwrap();
        assert_eq!(
            (old.host.as_str(), old.boot, old.pid),
            ("node7", None, None)
        );
        assert_eq!(Owner::parse("  "), None);
    }

    #[test]
    fn judgement() {
        let mine = node().owner(1);
        assert!(matches!(mine.judge(&node(), |_| true), Liveness::Live(_)));
        assert!(matches!(mine.judge(&node(), |_| false), Liveness::Stale(_)));
        let rebooted = Node {
            boot: "b2".into(),
            ..node()
        };
        assert!(matches!(
            mine.judge(&rebooted, |_| true),
            Liveness::Stale(_)
        ));
        let elsewhere = Node {
            host: "node2".into(),
            ..node()
        };
        assert!(matches!(
            mine.judge(&elsewhere, |_| true),
            Liveness::Unknown(_)
        ));
        let old = Owner::parse("node1").unwrap();
        assert!(matches!(old.judge(&node(), |_| true), Liveness::Unknown(_)));
    }

    #[test]
    fn current_node_and_pids() {
        let node = Node::current().unwrap();
        assert!(!node.host.is_empty() && node.boot.len() >= 32);
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(u32::MAX - 1));
    }
}
