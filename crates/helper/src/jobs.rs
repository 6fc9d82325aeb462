//! Who owns a SLURM job: `scontrol show job -o ID`, run with an explicit
//! argv and an empty environment, its `UserId=name(uid)` field.

use bale_policy::JobOwners;
use std::path::PathBuf;
use std::process::Command;

pub struct Slurm {
    pub scontrol: PathBuf,
}

impl JobOwners for Slurm {
    fn owner(&self, job: &str) -> Result<u32, String> {
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
        parse_owner(&String::from_utf8_lossy(&out.stdout))
            .ok_or_else(|| "no UserId in scontrol's answer".into())
    }
}

fn parse_owner(text: &str) -> Option<u32> {
    let field = text
        .split_whitespace()
        .find_map(|f| f.strip_prefix("UserId="))?;
    let uid = field.split_once('(')?.1.strip_suffix(')')?;
    uid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_owner;

    #[test]
    fn user_id_field() {
        assert_eq!(
            parse_owner("JobId=5 JobName=x UserId=alice(1001) GroupId=alice(1001)"),
            Some(1001)
        );
        assert_eq!(parse_owner("JobId=5 UserId=alice"), None);
        assert_eq!(parse_owner(""), None);
    }
}
