//! Options `bale du` and `bale rm` share, and turning them into the
//! library's settings.

use bale_gentle::session::{limiter, CommonOptions, DEFAULT_WORKERS};
use bale_gentle::units::Units;

#[derive(clap::Args, Debug)]
pub struct Gentle {
    /// Print less: no per-path error lines (failures are still counted and
    /// summarised) and no progress display.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print more: progress even when not on a terminal and the final rates
    /// (repeat for more detail).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Sizes in kibibytes (1024-byte units).
    #[arg(short = 'k', long, overrides_with = "human_readable")]
    pub kilobytes: bool,
    /// Sizes like 1.5K, 23M, 4.0G (powers of 1024); -H is accepted too.
    #[arg(short = 'h', short_alias = 'H', long, overrides_with = "kilobytes")]
    pub human_readable: bool,
    /// At most RATE stat calls per second, evenly spaced (0 = no limit).
    #[arg(short = 'S', long, value_name = "RATE", value_parser = rate,
          allow_negative_numbers = true)]
    pub stat_limit: Option<f64>,
    /// Always print the final call rates.
    #[arg(short = 'R', long)]
    pub rate_report: bool,
    /// Worker threads for the walk.
    #[arg(short = 'j', long, value_name = "N", default_value_t = DEFAULT_WORKERS as u16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: u16,
    /// Print help (-h is --human-readable, as in du).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// A rate option's value: calls per second a limiter can keep, or 0 for
/// no limit. Checked while parsing so that a bad one is a usage error like
/// any other (`-S -1` too: negative numbers are taken as values).
pub fn rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value.parse().map_err(|e| format!("{e}"))?;
    limiter(Some(rate)).map(|_| rate).map_err(|e| e.to_string())
}

impl Gentle {
    pub fn common(&self) -> CommonOptions {
        CommonOptions {
            quiet: self.quiet,
            verbose: self.verbose,
            stat_limit: self.stat_limit,
            rate_report: self.rate_report,
            workers: usize::from(self.jobs),
            quiet_progress: false,
        }
    }

    /// The units chosen, or `default` when neither -k nor -H was given.
    pub fn units(&self, default: Units) -> Units {
        if self.human_readable {
            Units::Human
        } else if self.kilobytes {
            Units::Kilobytes
        } else {
            default
        }
    }
}
