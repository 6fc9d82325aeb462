//! Why a command could not start, said as a shell says it: exit status 127
//! when the program is not found, 126 when it cannot be run, and a script
//! whose `#!` interpreter is missing named as such ("bad interpreter")
//! rather than as a missing script. Shared by both `bale run` backends.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The one-line reason `command` failed to start with `err`, and the exit
/// status to report. A program searched for in `PATH` and found nowhere
/// is "command not found", as shells say, also when the search met a
/// directory the caller may not read (exec then reports EACCES).
pub fn failure(command: &Command, err: &std::io::Error) -> (String, u8) {
    let file = resolve(command);
    let searched = !has_slash(command.get_program());
    let missing = matches!(
        err.kind(),
        ErrorKind::NotFound | ErrorKind::PermissionDenied
    );
    let system = bale_os::reason::of(err);
    let (reason, status) = if searched && file.is_none() && missing {
        ("command not found".to_string(), 127)
    } else if err.kind() != ErrorKind::NotFound {
        (system, 126)
    } else if let Some(interp) = file.as_deref().and_then(interpreter) {
        (format!("{interp}: bad interpreter: {system}"), 126)
    } else {
        (system, 127)
    };
    let program = Path::new(command.get_program()).display();
    (format!("{program}: {reason}"), status)
}

fn has_slash(program: &OsStr) -> bool {
    program.as_encoded_bytes().contains(&b'/')
}

/// The file `command` names: its program if that has a `/`, else the
/// first match in the `PATH` the command runs with.
fn resolve(command: &Command) -> Option<PathBuf> {
    let program = command.get_program();
    if has_slash(program) {
        return Some(PathBuf::from(program));
    }
    let path: Option<OsString> = command
        .get_envs()
        .find(|(key, _)| *key == OsStr::new("PATH"))
        .map(|(_, value)| value.map(OsStr::to_os_string))
        .unwrap_or_else(|| std::env::var_os("PATH"));
    std::env::split_paths(&path?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The interpreter a script's `#!` line names, if the script exists.
fn interpreter(script: &Path) -> Option<String> {
    let mut line = Vec::new();
    BufReader::new(std::fs::File::open(script).ok()?)
        .take(256)
        .read_until(b'\n', &mut line)
        .ok()?;
    let rest = line.strip_prefix(b"#!")?;
    let text = String::from_utf8_lossy(rest);
    text.split_whitespace().next().map(str::to_string)
}
