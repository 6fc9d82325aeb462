//! `bale modulefile [NAME/VERSION] [--lmod|--tcl]`: prints the snippet to
//! append to a modulefile so that loading the module mounts its software
//! image (`bale module-hook`). The snippets live in `contrib/modules/`;
//! this fills in their placeholders: `@BALE@`, the absolute path of this
//! `bale`, and `@MODULE@`, the image's NAME/VERSION — empty unless given,
//! so that the snippet asks the module system for the module's own name
//! and one text fits every modulefile.

use crate::output;
use anyhow::{bail, Context};
use std::io::Write;
use std::process::ExitCode;

const LMOD: &str = include_str!("../../../../contrib/modules/bale.lua");
const TCL: &str = include_str!("../../../../contrib/modules/bale.tcl");

/// Characters that would end the quoting of a value in either snippet.
const UNQUOTABLE: &[char] = &['\'', '"', '\\', '{', '}', '[', ']', '$', '`', '\n'];

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("system").args(["lmod", "tcl"]))]
pub struct Args {
    /// The image to mount, when it is not the modulefile's own name (a
    /// hierarchical or renamed module); default: the module's own name.
    pub module: Option<String>,
    /// Lua, for Lmod (default when Lmod is active in this shell: $LMOD_CMD set).
    #[arg(long)]
    pub lmod: bool,
    /// Tcl, for Environment Modules (default otherwise).
    #[arg(long)]
    pub tcl: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let lmod = args.lmod || (!args.tcl && std::env::var_os("LMOD_CMD").is_some());
    let module = match &args.module {
        Some(text) => quotable("module", &bale_policy::module_name(text)?.full())?,
        None => String::new(),
    };
    let exe = std::env::current_exe().context("cannot find the path of this bale")?;
    let exe = quotable("bale", &exe.to_string_lossy())?;
    let template = if lmod { LMOD } else { TCL };
    write!(
        output::stdout(),
        "{}",
        template
            .replace("@BALE@", &exe)
            .replace("@MODULE@", &module)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `value`, if it can stand inside the snippets' quotes as it is.
fn quotable(what: &str, value: &str) -> anyhow::Result<String> {
    if value.contains(UNQUOTABLE) {
        bail!("{value}: the {what} contains a quote, bracket, '$' or '\\' that a modulefile would misread");
    }
    Ok(value.to_string())
}
