//! `bale-site`: the site configuration of the image framework.
//!
//! Values come from three places, later ones winning: built-in defaults,
//! the configuration file (`/etc/bale/config.toml`), and — for the three
//! locations of the original framework — the `SI_IMAGE_PATH`,
//! `SI_MOUNT_PATH` and `SI_USR_MOUNT_PATH` environment variables. Every
//! value remembers where it came from, so `bale config` can tell.
//!
//! The privileged helper loads with [`Trust::Helper`]: the fixed file path
//! only, never the environment (it belongs to the unprivileged caller).

mod config;
mod load;
mod size;

pub use config::{Backend, Config, Source, Value};
pub use load::{load, load_from, Error, Trust, DEFAULT_PATH};
pub use size::parse_size;
