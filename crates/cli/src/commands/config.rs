//! `bale config`: the effective site configuration, one `key = value`
//! line each, with where the value came from (default, file, environment).

use crate::output;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    for (key, value, source) in config.entries() {
        let bare =
            value.starts_with('[') || value.parse::<u64>().is_ok() || value.parse::<bool>().is_ok();
        let value = if bare { value } else { format!("{value:?}") };
        writeln!(output::stdout(), "{key} = {value}  # {source}")?;
    }
    Ok(ExitCode::SUCCESS)
}
