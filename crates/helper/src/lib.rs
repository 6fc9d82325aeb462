//! `bale-helper`: the only code of bale that runs as root, installed as a
//! sudo rule or setuid root and called by `bale mount`/`bale umount`/`bale run`.
//!
//! It takes the caller's identity from the real uid (setuid) or `SUDO_UID`
//! (sudo), throws away the environment and the caller's umask (what it
//! creates — records, lock files, directories — gets the modes it names;
//! `run` gives the command the caller's umask back), reads only
//! `/etc/bale/config.toml`,
//! never runs a shell, checks every rule of `bale-policy` on file
//! descriptors it opened itself, and logs every decision to syslog.
//!
//! Exit status: 0 done, 1 failed, 2 usage, 3 refused by a rule, 4 busy;
//! `run` becomes the command, so then it is the command's.
//!
//! The binary is `crates/cli/src/bin/bale-helper.rs`, which only calls
//! [`main`]; it is built with `bale` so the tests always have it.

mod args;
mod attach;
mod cleanup;
mod creds;
mod failure;
mod identity;
mod jobs;
pub mod launch;
pub mod log;
mod mount;
mod open;
mod privileges;
mod records;
mod run;
mod signals;
mod software;
mod umount;
mod umount_all;
mod user_target;

use args::Request;
use failure::Failure;
pub use identity::user_name;
use std::io::Write;
use std::process::ExitCode;

/// The whole helper: identity, environment, request, decision, log.
pub fn main() -> ExitCode {
    signals::hold_off();
    let caller = match identity::establish() {
        Ok(caller) => caller,
        Err(why) => {
            eprintln!("bale-helper: {why}");
            return ExitCode::from(1);
        }
    };
    let caller_umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    log::open(c"bale-helper", libc::LOG_AUTHPRIV);
    let argv: Vec<_> = std::env::args_os().skip(1).collect();
    let request = match args::parse(&argv) {
        Ok(request) => request,
        Err(usage) => {
            eprintln!("bale-helper: {usage}");
            return ExitCode::from(2);
        }
    };
    let what = request.to_string();
    let mut command = None;
    let result = bale_site::load(bale_site::Trust::Helper)
        .map_err(|e| Failure::Error(e.to_string()))
        .and_then(|config| match &request {
            Request::Mount(m) => mount::run(&caller, &config, m),
            Request::Umount(u) => umount::run(&caller, &config, u),
            Request::UmountAll { job, kill } => {
                umount_all::run(&caller, &config, job.as_deref(), *kill)
            }
            Request::Cleanup { kill } => cleanup::run(&caller, &config, *kill),
            Request::Run(r) => run::prepare(&caller, &config, r).map(|(done, ready)| {
                command = Some(ready);
                done
            }),
        });
    match result {
        Ok(done) => {
            log::notice(&format!(
                "allowed uid {} ({}): {what}: {done}",
                caller.uid, caller.name
            ));
            if let Some(command) = command {
                return run::exec(command, caller_umask);
            }
            // The work is done and logged; an output that cannot take the
            // report changes neither (println! would panic).
            let _ = writeln!(std::io::stdout(), "{done}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let (word, code) = match &failure {
                Failure::Refused(_) => ("refused", 3),
                Failure::Busy(_) => ("busy", 4),
                Failure::Error(_) => ("failed", 1),
            };
            let failure = bale_os::reason::without_error_numbers(&failure.to_string());
            log::notice(&format!(
                "{word} uid {} ({}): {what}: {failure}",
                caller.uid, caller.name
            ));
            eprintln!("bale-helper: {failure}");
            ExitCode::from(code)
        }
    }
}
