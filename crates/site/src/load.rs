//! Loading: defaults, then the file, then (unprivileged only) `SI_*`.

use crate::config::{Backend, Config, Source, Value};
use crate::size::parse_size;
use std::path::{Path, PathBuf};

/// The configuration file of a site.
pub const DEFAULT_PATH: &str = "/etc/bale/config.toml";

/// Who is loading, which decides what may influence the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// An unprivileged command: `BALE_CONFIG` may name another file and the
    /// `SI_*` variables override the file.
    User,
    /// The privileged helper: [`DEFAULT_PATH`] only, no environment.
    Helper,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("environment {var}: {reason}")]
    Env { var: &'static str, reason: String },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    image_path: Option<PathBuf>,
    mount_path: Option<PathBuf>,
    usr_mount_path: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    backends: Option<Vec<Backend>>,
    max_user_image_size: Option<Size>,
    loop_budget: Option<u32>,
    helper: Option<PathBuf>,
    scontrol: Option<PathBuf>,
    strict_modules: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Text(String),
}

/// Loads the configuration the way `trust` allows, from the real
/// environment.
pub fn load(trust: Trust) -> Result<Config, Error> {
    let env = |var: &str| std::env::var_os(var).map(PathBuf::from);
    match trust {
        Trust::Helper => load_from(Path::new(DEFAULT_PATH), false, &|_| None),
        Trust::User => match env("BALE_CONFIG") {
            // Named by the variable, which the user may not know is set.
            Some(path) => load_from(&path, true, &env).map_err(|e| match e {
                Error::Read { path, source } => Error::Env {
                    var: "BALE_CONFIG",
                    reason: format!("{}: {source}", path.display()),
                },
                e => e,
            }),
            None => load_from(Path::new(DEFAULT_PATH), false, &env),
        },
    }
}

/// Loads `path` (which may be missing unless `required`) over the
/// defaults, then applies `SI_*` values that `env` returns.
pub fn load_from(
    path: &Path,
    required: bool,
    env: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<Config, Error> {
    let mut config = Config::default();
    match std::fs::read_to_string(path) {
        Ok(text) => apply_file(&mut config, path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
        Err(source) => {
            return Err(Error::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    for (var, slot) in [
        ("SI_IMAGE_PATH", &mut config.image_path),
        ("SI_MOUNT_PATH", &mut config.mount_path),
        ("SI_USR_MOUNT_PATH", &mut config.usr_mount_path),
    ] {
        if let Some(value) = env(var).filter(|v| !v.as_os_str().is_empty()) {
            if !value.is_absolute() {
                return Err(Error::Env {
                    var,
                    reason: format!("{} is not an absolute path", value.display()),
                });
            }
            *slot = Value {
                value,
                source: Source::Env(var),
            };
        }
    }
    Ok(config)
}

fn apply_file(config: &mut Config, path: &Path, text: &str) -> Result<(), Error> {
    let invalid = |reason: String| Error::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let file: File = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
    let from_file = || Source::File(path.to_path_buf());
    for (key, slot, value) in [
        ("image_path", &mut config.image_path, file.image_path),
        ("mount_path", &mut config.mount_path, file.mount_path),
        (
            "usr_mount_path",
            &mut config.usr_mount_path,
            file.usr_mount_path,
        ),
        ("state_dir", &mut config.state_dir, file.state_dir),
        ("helper", &mut config.helper, file.helper),
        ("scontrol", &mut config.scontrol, file.scontrol),
    ] {
        if let Some(value) = value {
            if !value.is_absolute() {
                return Err(invalid(format!(
                    "{key}: {} is not absolute",
                    value.display()
                )));
            }
            *slot = Value {
                value,
                source: from_file(),
            };
        }
    }
    if let Some(backends) = file.backends {
        if backends.is_empty() {
            return Err(invalid("backends: needs at least one backend".into()));
        }
        config.backends = Value {
            value: backends,
            source: from_file(),
        };
    }
    if let Some(size) = file.max_user_image_size {
        let value = match size {
            Size::Bytes(n) => n,
            Size::Text(s) => {
                parse_size(&s).map_err(|e| invalid(format!("max_user_image_size: {e}")))?
            }
        };
        config.max_user_image_size = Value {
            value,
            source: from_file(),
        };
    }
    if let Some(value) = file.loop_budget {
        config.loop_budget = Value {
            value,
            source: from_file(),
        };
    }
    if let Some(value) = file.strict_modules {
        config.strict_modules = Value {
            value,
            source: from_file(),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn missing_default_file_gives_defaults() {
        let config = load_from(Path::new("/nonexistent/bale.toml"), false, &|_| None).unwrap();
        assert_eq!(config, Config::default());
        assert!(load_from(Path::new("/nonexistent/bale.toml"), true, &|_| None).is_err());
    }

    #[test]
    fn file_then_environment() {
        let file = write(
            "image_path = \"/pfs/IMAGES\"\nmount_path = \"/pfs/VERSIONS\"\n\
             backends = [\"fuse\"]\nmax_user_image_size = \"20G\"\nloop_budget = 8\n\
             strict_modules = true\n",
        );
        let env = |var: &str| (var == "SI_MOUNT_PATH").then(|| PathBuf::from("/env/VERSIONS"));
        let config = load_from(file.path(), true, &env).unwrap();
        assert_eq!(config.image_path.value, Path::new("/pfs/IMAGES"));
        assert_eq!(config.image_path.source, Source::File(file.path().into()));
        assert_eq!(config.mount_path.value, Path::new("/env/VERSIONS"));
        assert_eq!(config.mount_path.source, Source::Env("SI_MOUNT_PATH"));
        assert_eq!(config.usr_mount_path.source, Source::Default);
        assert_eq!(config.backends.value, vec![Backend::Fuse]);
        assert_eq!(config.max_user_image_size.value, 20 << 30);
        assert_eq!(config.loop_budget.value, 8);
        assert!(config.strict_modules.value);
    }

    #[test]
    fn bad_files_name_the_file_and_the_reason() {
        for (text, reason) in [
            ("colour = 1\n", "unknown field"),
            ("image_path = \"relative\"\n", "not absolute"),
            ("backends = []\n", "at least one"),
            ("backends = [\"nfs\"]\n", "unknown variant"),
            ("max_user_image_size = \"12Q\"\n", "invalid size"),
        ] {
            let file = write(text);
            let err = load_from(file.path(), true, &|_| None)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&file.path().display().to_string()), "{err}");
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn relative_environment_value_is_refused() {
        let env = |var: &str| (var == "SI_IMAGE_PATH").then(|| PathBuf::from("images"));
        let err = load_from(Path::new("/nonexistent"), false, &env).unwrap_err();
        assert!(err.to_string().contains("SI_IMAGE_PATH"), "{err}");
    }
}
