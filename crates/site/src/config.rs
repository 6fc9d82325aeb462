//! The configuration model: every value with its [`Source`].

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "environment {var}"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Value<T> {
    pub fn default(value: T) -> Value<T> {
        Value {
            value,
            source: Source::Default,
        }
    }
}

/// A way of mounting an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Loop device + kernel file system, through the privileged helper.
    Kernel,
    /// The unprivileged FUSE driver (read-only squashfs only).
    Fuse,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Kernel => "kernel",
            Backend::Fuse => "fuse",
        })
    }
}

/// The effective site configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `SI_IMAGE_PATH`: software images, `NAME/VERSION.sqfs`.
    pub image_path: Value<PathBuf>,
    /// `SI_MOUNT_PATH`: software modules, where their images are mounted.
    pub mount_path: Value<PathBuf>,
    /// `SI_USR_MOUNT_PATH`: root of user mounts, one directory per user.
    pub usr_mount_path: Value<PathBuf>,
    /// Per-node records and their lock file.
    pub state_dir: Value<PathBuf>,
    /// Mount backends in order of preference.
    pub backends: Value<Vec<Backend>>,
    /// Largest user image `bale create` makes, in bytes.
    pub max_user_image_size: Value<u64>,
    /// Loop devices the framework may use on one node.
    pub loop_budget: Value<u32>,
    /// The privileged helper `bale` runs (through sudo unless setuid).
    pub helper: Value<PathBuf>,
    /// SLURM's `scontrol`, asked who owns a job.
    pub scontrol: Value<PathBuf>,
    /// Whether `bale module-hook` fails a module load whose image cannot be
    /// mounted (otherwise the module runs on its original files).
    pub strict_modules: Value<bool>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            image_path: Value::default("/cluster/software/IMAGES".into()),
            mount_path: Value::default("/cluster/software/VERSIONS".into()),
            usr_mount_path: Value::default("/var/run/user_images".into()),
            state_dir: Value::default("/var/lock/bale".into()),
            backends: Value::default(vec![Backend::Kernel, Backend::Fuse]),
            max_user_image_size: Value::default(1 << 40),
            loop_budget: Value::default(64),
            helper: Value::default("/usr/sbin/bale-helper".into()),
            scontrol: Value::default("/usr/bin/scontrol".into()),
            strict_modules: Value::default(false),
        }
    }
}

/// The framework's places as the kernel spells them, symlinks resolved —
/// as mount tables and loop devices report them. A place that does not
/// resolve (not made yet) is taken as written.
pub struct RealPlaces {
    pub images: PathBuf,
    pub modules: PathBuf,
    pub users: PathBuf,
}

impl Config {
    /// [`RealPlaces`] of `image_path`, `mount_path` and `usr_mount_path`.
    pub fn real_places(&self) -> RealPlaces {
        let real = |v: &Value<PathBuf>| std::fs::canonicalize(&v.value).unwrap_or(v.value.clone());
        RealPlaces {
            images: real(&self.image_path),
            modules: real(&self.mount_path),
            users: real(&self.usr_mount_path),
        }
    }

    /// Whether the site lets users' images reach the kernel (`backends`
    /// lists `kernel`).
    pub fn kernel_backend_allowed(&self) -> bool {
        self.backends.value.contains(&Backend::Kernel)
    }

    /// `(key, value, source)` for every setting, in file order.
    pub fn entries(&self) -> Vec<(&'static str, String, &Source)> {
        let path = |v: &Value<PathBuf>| v.value.display().to_string();
        let backends = self
            .backends
            .value
            .iter()
            .map(|b| format!("\"{b}\""))
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            (
                "image_path",
                path(&self.image_path),
                &self.image_path.source,
            ),
            (
                "mount_path",
                path(&self.mount_path),
                &self.mount_path.source,
            ),
            (
                "usr_mount_path",
                path(&self.usr_mount_path),
                &self.usr_mount_path.source,
            ),
            ("state_dir", path(&self.state_dir), &self.state_dir.source),
            ("backends", format!("[{backends}]"), &self.backends.source),
            (
                "max_user_image_size",
                crate::size::format_size(self.max_user_image_size.value),
                &self.max_user_image_size.source,
            ),
            (
                "loop_budget",
                self.loop_budget.value.to_string(),
                &self.loop_budget.source,
            ),
            ("helper", path(&self.helper), &self.helper.source),
            ("scontrol", path(&self.scontrol), &self.scontrol.source),
            (
                "strict_modules",
                self.strict_modules.value.to_string(),
                &self.strict_modules.source,
            ),
        ]
    }
}
