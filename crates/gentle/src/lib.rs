//! Metadata-gentle tree tools for parallel file systems: `bale du` and
//! `bale rm`. A parallel walker ([`walker`]) does every metadata call
//! relative to directory descriptors, paced by one global, evenly spacing
//! rate limiter ([`limiter`]) shared by all its threads. [`du`] and [`rm`]
//! are visitors of that walk; [`session`] wires them to progress, signals
//! and the final report.

pub mod clock;
pub mod console;
mod dir_fds;
pub mod du;
pub mod limiter;
pub mod monitor;
pub mod prompt;
pub mod rm;
pub mod session;
pub mod stats;
pub mod units;
pub mod walker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use limiter::RateLimiter;
