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
    fn job(&self, job: &str) -> Result<Option<Job>, String> {
        let out = Command::new(&self.scontrol)
            .args(["show", "job", "-o", job])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .map_err(|e| format!("cannot ask SLURM ({}): {e}", self.scontrol.display()))?;
        let said = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            // What slurmctld answers for an id it has no job for (never
            // had, or forgot MinJobAge after the job ended).
            if said.contains("Invalid job id specified") {
                return Ok(None);
            }
            return Err(format!("cannot ask SLURM ({})", said.trim()));
        }
        parse(&String::from_utf8_lossy(&out.stdout), job)
            .map(Some)
            .ok_or_else(|| {
                "cannot read scontrol's answer (a job whose name holds '=' is not taken)".into()
            })
    }
}

/// The owner and state in `scontrol show job -o`'s answer for `job`: one
/// line, `JobId=JOB … JobName=NAME UserId=USER(UID) … JobState=STATE …`.
/// The name comes before the fields read and is the user's to choose, so
/// an answer with more than one ` UserId=` or ` JobState=` (a name such as
/// `x UserId=root(0) JobState=RUNNING`, a newline in it) is not read.
fn parse(text: &str, job: &str) -> Option<Job> {
    let once = |field: &str| text.matches(field).count() == 1;
    if !(text.starts_with(&format!("JobId={job} ")) && once(" UserId=") && once(" JobState=")) {
        return None;
    }
    let mut fields = text[text.find(" UserId=")? + 1..].split([' ', '\n']);
    let user = fields.next()?.strip_prefix("UserId=")?;
    let uid = user.rsplit_once('(')?.1.strip_suffix(')')?;
    Some(Job {
        owner: uid.parse().ok()?,
        state: fields
            .find_map(|f| f.strip_prefix("JobState="))?
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_and_state_fields() {
        let running = Some(Job {
            owner: 1001,
            state: "RUNNING".into(),
        });
        assert_eq!(
            parse("JobId=5 JobName=x y UserId=alice(1001) GroupId=alice(1001) MCS_label=N/A Priority=1 JobState=RUNNING Reason=None", "5"),
            running
        );
        // An array task's line: its own id first.
        assert_eq!(
            parse("JobId=15 ArrayJobId=12 ArrayTaskId=3 JobName=a UserId=alice(1001) JobState=RUNNING", "15"),
            running
        );
        assert_eq!(
            parse("JobId=5 JobName=x UserId=alice(1001) JobState=RUNNING", "6"),
            None
        );
        assert_eq!(
            parse("JobId=5 JobName=x UserId=alice JobState=RUNNING", "5"),
            None
        );
        assert_eq!(parse("JobId=5 JobName=x UserId=alice(1001)", "5"), None);
        assert_eq!(parse("", "5"), None);
    }

    #[test]
    fn a_job_name_cannot_pass_for_fields() {
        for name in [
            "x JobState=RUNNING",
            "x UserId=root(0) JobState=RUNNING",
            "x\nJobId=5 JobName=y UserId=root(0) JobState=RUNNING",
        ] {
            let line = format!(
                "JobId=5 JobName={name} UserId=alice(1001) GroupId=alice(1001) JobState=COMPLETED"
            );
            assert_eq!(parse(&line, "5"), None, "{name}");
        }
    }
}
