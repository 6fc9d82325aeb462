//! `bale create-software NAME/VERSION [--workdir DIR] [-f]`: packs the
//! module's directory `$SI_MOUNT_PATH/NAME/VERSION` into
//! `$SI_IMAGE_PATH/NAME/VERSION.sqfs` with the pack engine (no root
//! needed). The image is built in the work directory and moved into place
//! atomically: renamed if on the same file system, else copied to a
//! temporary file beside the destination, synced and renamed.

use crate::output;
use anyhow::{bail, Context};
use bale_pack::{pack, PackOptions, Progress};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The software module, NAME/VERSION.
    pub module: String,
    /// Accepted for scripts written for the original tool; squashfs images
    /// are sized exactly, so it changes nothing.
    #[arg(long, value_name = "F")]
    pub oversize: Option<f64>,
    /// Where to build the image (default: beside its destination).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Replace an existing image.
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = bale_site::load(bale_site::Trust::User)?;
    let module = bale_policy::module_name(&args.module).map_err(|r| anyhow::anyhow!("{r}"))?;
    let source = config
        .mount_path
        .value
        .join(&module.name)
        .join(&module.version);
    let dest_dir = config.image_path.value.join(&module.name);
    let dest = dest_dir.join(format!("{}.sqfs", module.version));
    if !source.is_dir() {
        bail!("{}: no such module directory", source.display());
    }
    let mounts = bale_registry::mountinfo::read()?;
    let real = std::fs::canonicalize(&source).with_context(|| source.display().to_string())?;
    if bale_registry::mountinfo::mounted_at(&mounts, &real).is_some() {
        bail!(
            "{}: is mounted (from its image?); unmount it to pack the original directory",
            source.display()
        );
    }
    if dest.exists() && !args.force {
        bail!("{}: already exists (use -f to replace it)", dest.display());
    }
    std::fs::create_dir_all(&dest_dir).with_context(|| dest_dir.display().to_string())?;
    let workdir = args.workdir.unwrap_or_else(|| dest_dir.clone());
    let work = workdir.join(format!(
        ".{}-{}.sqfs.{}",
        module.name,
        module.version,
        std::process::id()
    ));
    let opts = PackOptions {
        force: true,
        ..PackOptions::new(&source, &work)
    };
    let summary = pack(&opts, &Progress::default()).inspect_err(|_| {
        let _ = std::fs::remove_file(&work);
    })?;
    // Every user of the node opens it with their own rights.
    let placed = std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o644))
        .with_context(|| work.display().to_string())
        .and_then(|()| move_into_place(&work, &dest));
    let _ = std::fs::remove_file(&work);
    placed?;
    writeln!(
        output::stdout(),
        "packed {} entries of {} into {} ({} bytes)",
        summary.entries,
        source.display(),
        dest.display(),
        summary.image_bytes
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Renames `work` to `dest`, copying through a temporary file beside
/// `dest` when they are on different file systems.
fn move_into_place(work: &Path, dest: &Path) -> anyhow::Result<()> {
    let dest_dir = dest.parent().unwrap_or(Path::new("."));
    let same_fs = std::fs::metadata(work)?.dev() == std::fs::metadata(dest_dir)?.dev();
    if same_fs {
        return std::fs::rename(work, dest).with_context(|| dest.display().to_string());
    }
    let temp = dest.with_file_name(format!(
        ".{}.tmp.{}",
        dest.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let copied = (|| -> std::io::Result<()> {
        std::fs::copy(work, &temp)?;
        std::fs::File::open(&temp)?.sync_all()?;
        std::fs::rename(&temp, dest)
    })();
    if copied.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    copied.with_context(|| dest.display().to_string())
}
