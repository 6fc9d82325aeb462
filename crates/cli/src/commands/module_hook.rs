//! `bale module-hook load|unload NAME/VERSION [--job-id ID]`: what a
//! modulefile runs (see `bale modulefile` and `contrib/modules/`).
//!
//! `load` mounts the module's software image over its directory through
//! the helper, `unload` releases it; the mount is shared and counted by
//! owner (a user, or a SLURM job), so the last release unmounts. A module
//! without an image is left alone. Inside a SLURM job step (`SLURMD_NODENAME`
//! set) the mount is recorded for `$SLURM_JOB_ID`, so the job's epilog
//! releases it on every node.
//!
//! A `load` that would change nothing — the owner's record holds the
//! module and its image is mounted (`module_loaded.rs`) — returns at once
//! without running the helper: the TaskProlog loads the job's modules
//! before every task of the job.
//!
//! An `unload` of a module its owner does not hold (released in another
//! of their shells: shares are per owner, not per shell) succeeds quietly.
//!
//! A module must keep working when its image cannot be mounted (the
//! original files are still there): unless the site sets
//! `strict_modules = true`, a failure goes to syslog (tag `bale`) and the
//! hook exits 0 without a word on stderr, which some module systems take
//! as failure (`-v` prints it too).

use super::{helper, hook_turn, module_loaded};
use bale_policy::ModuleName;
use bale_site::Config;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// What the module system is doing.
    pub action: Action,
    /// The software module, NAME/VERSION.
    pub module: String,
    /// Record the mount for this SLURM job (default: $SLURM_JOB_ID inside a job step).
    #[arg(long, value_name = "ID")]
    pub job_id: Option<String>,
    /// Also print a failure on stderr (it always goes to syslog).
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Action {
    Load,
    Unload,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    match hook(&config, &args) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(failure) => {
            let message = format!("module-hook: {}: {failure}", args.module);
            bale_helper::log::open(c"bale", libc::LOG_USER);
            bale_helper::log::notice(&message);
            if config.strict_modules.value || args.verbose {
                eprintln!("bale: {message}");
            }
            Ok(if config.strict_modules.value {
                failure.code
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// Why the hook could not do its work, and the exit status in strict mode.
struct Failure {
    why: String,
    code: ExitCode,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

fn hook(config: &Config, args: &Args) -> Result<(), Failure> {
    let module = bale_policy::module_name(&args.module).map_err(|e| Failure {
        why: e.to_string(),
        code: ExitCode::from(2),
    })?;
    let image = config
        .image_path
        .value
        .join(&module.name)
        .join(format!("{}.sqfs", module.version));
    if !image.is_file() {
        // Left alone; `-v` says where the image was looked for (a stale
        // SI_IMAGE_PATH in the environment would silently point elsewhere).
        if args.verbose {
            eprintln!(
                "bale: module-hook: {}: no image at {} (image_path from {}): left alone",
                args.module,
                image.display(),
                config.image_path.source
            );
        }
        return Ok(());
    }
    let job = args.job_id.clone().or_else(job_of_this_step);
    match (
        ask_helper(config, args.action, job.as_deref(), &module, &image),
        args.action,
    ) {
        // Released in another of the owner's shells, or never loaded here:
        // what an unload is for (docs/admin.md: a user who unloads in one
        // shell releases their share for all their shells).
        (Err(_), Action::Unload) if module_loaded::not_held(config, job.as_deref(), &module) => {
            Ok(())
        }
        (done, _) => done,
    }
}

/// Has the helper mount or release `module` for `job` (or the caller),
/// unless a load would change nothing.
fn ask_helper(
    config: &Config,
    action: Action,
    job: Option<&str>,
    module: &ModuleName,
    image: &Path,
) -> Result<(), Failure> {
    let fail = |why: String| Failure {
        why,
        code: ExitCode::FAILURE,
    };
    if !helper::available(config) {
        return Err(fail(format!(
            "the helper {} is not installed",
            config.helper.value.display()
        )));
    }
    let _turn = matches!(action, Action::Load).then(hook_turn::take);
    let verb = match action {
        Action::Load if module_loaded::already(config, job, module, image) => {
            return Ok(());
        }
        Action::Load => "mount",
        // Nothing of the owner's to release (the load failed, or another
        // shell released the share): no helper run, no "failed" in the log.
        Action::Unload if module_loaded::not_held(config, job, module) => return Ok(()),
        Action::Unload => "umount",
    };
    let mut argv = vec![verb.to_string()];
    if let Some(job) = job {
        argv.extend(["--job-id".into(), job.to_string()]);
    }
    argv.extend(["--module".into(), module.full()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let output = helper::output(config, &argv).map_err(|e| fail(e.to_string()))?;
    if output.status.success() {
        return Ok(());
    }
    let complaint = String::from_utf8_lossy(&output.stderr);
    Err(Failure {
        why: complaint
            .trim()
            .trim_start_matches("bale-helper: ")
            .to_string(),
        code: helper::exit_code(output.status),
    })
}

/// `$SLURM_JOB_ID` when running in a job step on a node of the job
/// (slurmd sets `SLURMD_NODENAME`; an `salloc` shell on a login node has
/// the job id but is not on the job's nodes, whose epilog would never
/// release its mounts).
fn job_of_this_step() -> Option<String> {
    std::env::var_os("SLURMD_NODENAME")?;
    std::env::var("SLURM_JOB_ID")
        .ok()
        .filter(|id| !id.is_empty())
}
