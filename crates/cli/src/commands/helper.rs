//! Running the privileged helper for the kernel backend: directly when we
//! are root or the helper is setuid root, otherwise through `sudo -n`
//! (the site's sudo rule allows exactly that binary). The helper's one-line
//! answer is passed on and its exit status kept (3 = refused by a rule,
//! 4 = busy).

use bale_site::Config;
use std::cell::OnceCell;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Output, Stdio};

/// Whether the helper is installed where the configuration says.
pub fn available(config: &Config) -> bool {
    config.helper.value.is_file()
}

/// Runs the helper with `args`, printing its answer (its complaint once
/// it has ended, unless sudo refused to run it at all). Arguments are
/// `OsStr`: a path given to the helper need not be UTF-8.
pub fn run<S: AsRef<OsStr>>(config: &Config, args: &[S]) -> anyhow::Result<ExitCode> {
    installed(config)?;
    let mut output = command(config, args)
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| cannot_run(config, e))?;
    refused_by_sudo(config, output.status)?;
    explain_silence(&mut output);
    std::io::stderr().write_all(&output.stderr)?;
    Ok(exit_code(output.status))
}

/// Runs the helper with `args`, keeping its answer and complaint.
pub fn output<S: AsRef<OsStr>>(config: &Config, args: &[S]) -> anyhow::Result<Output> {
    installed(config)?;
    let mut output = command(config, args)
        .output()
        .map_err(|e| cannot_run(config, e))?;
    refused_by_sudo(config, output.status)?;
    explain_silence(&mut output);
    Ok(output)
}

/// A helper that failed without a word (killed outright: its signals from
/// the terminal are held, but not SIGKILL) gets one line saying so, rather
/// than an empty message.
fn explain_silence(output: &mut Output) {
    if output.status.success() || !output.stderr.is_empty() {
        return;
    }
    use std::os::unix::process::ExitStatusExt;
    let how = match (output.status.signal(), output.status.code()) {
        (Some(signal), _) => format!("killed by signal {signal}"),
        (None, Some(code)) => format!("exit status {code}"),
        (None, None) => "no exit status".into(),
    };
    output.stderr = format!(
        "bale-helper: ended without an answer ({how}); `bale list` shows what is mounted\n"
    )
    .into_bytes();
}

/// After a failure through sudo: whether sudo ran the helper at all. Its
/// own refusal ("a password is required") does not tell a user what is
/// wrong: the site's sudo rule is missing.
fn refused_by_sudo(config: &Config, status: ExitStatus) -> anyhow::Result<()> {
    let helper = &config.helper.value;
    if status.success() || !through_sudo(helper) || sudo_allows(helper) {
        return Ok(());
    }
    anyhow::bail!(no_sudo_rule(helper))
}

/// Whether we can run the helper, found out at most once and only when a
/// backend that needs it is considered (through sudo that is a call to
/// sudo, a few ms). A backend that needs the helper is otherwise not an
/// option.
pub struct Usability<'a> {
    config: &'a Config,
    unusable: OnceCell<Option<String>>,
}

impl<'a> Usability<'a> {
    pub fn new(config: &'a Config) -> Self {
        Usability {
            config,
            unusable: OnceCell::new(),
        }
    }

    /// Whether the helper can be run (finds out on the first call).
    pub fn ok(&self) -> bool {
        self.unusable
            .get_or_init(|| unusable(self.config))
            .is_none()
    }

    /// Why it cannot, if [`Usability::ok`] was asked and said no.
    pub fn why_not(&self) -> Option<&str> {
        self.unusable.get()?.as_deref()
    }
}

/// Why we cannot run the helper, if we cannot: it is not installed, or it
/// must go through sudo and no sudo rule lets us.
fn unusable(config: &Config) -> Option<String> {
    let helper = &config.helper.value;
    if !available(config) {
        Some(not_installed(helper))
    } else if through_sudo(helper) && !sudo_allows(helper) {
        Some(no_sudo_rule(helper))
    } else {
        None
    }
}

/// Whether `sudo -n` would run the helper for us.
fn sudo_allows(helper: &Path) -> bool {
    Command::new("sudo")
        .arg("-n")
        .arg("-l")
        .arg(helper)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn no_sudo_rule(helper: &Path) -> String {
    format!(
        "{}: sudo does not let you run the helper (no sudo rule for it: docs/admin.md)",
        helper.display()
    )
}

fn not_installed(helper: &Path) -> String {
    format!(
        "the helper {} is not installed (docs/admin.md)",
        helper.display()
    )
}

/// The helper's exit status as ours.
pub fn exit_code(status: ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}

/// The helper with `args` as a command: itself, or `sudo -n HELPER`.
pub fn command<S: AsRef<OsStr>>(config: &Config, args: &[S]) -> Command {
    let helper = &config.helper.value;
    let mut command = if through_sudo(helper) {
        let mut sudo = Command::new("sudo");
        sudo.arg("-n").arg(helper);
        sudo
    } else {
        Command::new(helper)
    };
    command.args(args);
    command
}

/// Whether the helper must be run through sudo: we are not root, and it
/// is not setuid root.
fn through_sudo(helper: &Path) -> bool {
    !rustix::process::geteuid().is_root() && !setuid_root(helper)
}

/// Fails unless the helper is installed: sudo would only say "command not
/// found" or ask for a password.
fn installed(config: &Config) -> anyhow::Result<()> {
    if !available(config) {
        anyhow::bail!(not_installed(&config.helper.value));
    }
    Ok(())
}

fn cannot_run(config: &Config, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: cannot run the helper: {e}",
        config.helper.value.display()
    )
}

fn setuid_root(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o4000 != 0)
}

/// What the user named: an image file, a software module, or a path.
#[derive(Debug)]
pub enum Named {
    Module(String),
    Path(std::path::PathBuf),
}

/// What `bale mount` and `bale run` are given, an image or a software
/// module: text of the form `NAME/VERSION` (relative, one `/`) is the
/// module unless it names a file (also through a symlink), which is then
/// the image. A directory of that name is no image — it is the module's
/// own place when run in `$SI_MOUNT_PATH`. Anything else is a path, also
/// one the caller cannot look at, or one whose name is not UTF-8.
pub fn classify(text: impl AsRef<OsStr>) -> Named {
    named(text.as_ref(), |path| match path.metadata() {
        Ok(meta) => meta.is_dir(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    })
}

/// What `bale umount` is given: `NAME/VERSION` that names nothing is the
/// module; anything that exists is a path, a file the image and a
/// directory the mount point (a module's own place releases the module) —
/// also one the caller cannot look at, such as another user's FUSE mount.
pub fn classify_target(text: &OsStr) -> Named {
    named(
        text,
        |path| matches!(path.symlink_metadata(), Err(e) if e.kind() == std::io::ErrorKind::NotFound),
    )
}

/// `text` as a module when it has a module's form and `leaves_a_module`
/// accepts what is (or is not) at that path; otherwise as an absolute path.
fn named(text: &OsStr, leaves_a_module: impl Fn(&Path) -> bool) -> Named {
    let path = Path::new(text);
    match text.to_str() {
        Some(module) if bale_policy::module_name(module).is_ok() && leaves_a_module(path) => {
            Named::Module(module.to_string())
        }
        _ => Named::Path(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())),
    }
}
