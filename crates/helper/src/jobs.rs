//! A SLURM job's owner and state: `scontrol show job -o ID`, run with an
//! explicit argv and an empty environment, its `UserId=name(uid)` and
//! `JobState=` fields.

use bale_policy::{Job, Jobs};
use std::path::PathBuf;
use std::process::Command;

pub struct Slurm {
    pub scontrol: PathBuf,
}

impl Jobs for Slurm {
    fn job(&self, job: &str) -> Result<Job, String> {
        let out = Command::new(&self.scontrol)
            .args(["show", "job", "-o", job])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .map_err(|e| format!("cannot ask SLURM ({}): {e}", self.scontrol.display()))?;
        if !out.status.success() {
            return Err(format!(
                "SLURM does not know it ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        parse(&String::from_utf8_lossy(&out.stdout))
            .ok_or_else(|| "no UserId or JobState in scontrol's answer".into())
    }
}

fn parse(text: &str) -> Option<Job> {
    let field = |name: &str| text.split_whitespace().find_map(|f| f.strip_prefix(name));
    let uid = field("UserId=")?.split_once('(')?.1.strip_suffix(')')?;
    Some(Job {
        owner: uid.parse().ok()?,
        state: field("JobState=")?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_and_state_fields() {
        assert_eq!(
            parse("JobId=5 JobName=x UserId=alice(1001) GroupId=alice(1001) JobState=RUNNING Reason=None"),
            Some(Job {
                owner: 1001,
                state: "RUNNING".into()
            })
        );
        assert_eq!(parse("JobId=5 UserId=alice JobState=RUNNING"), None);
        assert_eq!(parse("JobId=5 UserId=alice(1001)"), None);
        assert_eq!(parse(""), None);
    }
}
