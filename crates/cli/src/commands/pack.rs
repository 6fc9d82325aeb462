//! `bale pack SRC IMAGE` (SRC a directory or a tar archive): argument
//! parsing, progress display and the final summary around the pack engine.

use super::counted;
use crate::output;
use crate::progress_bar::{with_progress, Show};
use anyhow::Context;
use bale_pack::{pack, Excludes, PackOptions, Progress, Summary};
use bale_squashfs::Codec;
use indicatif::HumanBytes;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to pack, or a tar archive (plain, or compressed with gzip,
    /// xz, zstd or bzip2; `-` for standard input, or a pipe): packed without
    /// extracting it.
    pub source: PathBuf,
    /// Image file to write (refused if it exists, unless --force).
    pub image: PathBuf,
    /// Compression: zstd, gzip, xz or lz4.
    #[arg(short = 'c', long = "compression", alias = "comp", default_value = "zstd", value_parser = codec_parser())]
    pub codec: Codec,
    /// Compression level (zstd 1-22, default 3; gzip 1-9, default 9; xz 0-9, default 6).
    #[arg(short = 'l', long)]
    pub level: Option<i32>,
    /// Store everything uncompressed.
    #[arg(long, conflicts_with_all = ["level", "codec"])]
    pub no_compression: bool,
    /// Data block size, 4K to 1M (power of two).
    #[arg(short = 'b', long, default_value = "128K", value_parser = parse_block_size)]
    pub block_size: u32,
    /// Store uid and gid 0 for every entry (--owner 0 --group 0).
    #[arg(long, conflicts_with_all = ["owner", "group"])]
    pub all_root: bool,
    /// Store this owner for every entry: a user name or a numeric uid.
    #[arg(long, value_name = "USER", value_parser = parse_user)]
    pub owner: Option<u32>,
    /// Store this group for every entry: a group name or a numeric gid.
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    pub group: Option<u32>,
    /// Set every timestamp to this (seconds since the epoch), for reproducible images.
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_parser = parse_mtime)]
    pub mtime: Option<u32>,
    /// Leave out entries matching this glob (repeatable), as rsync reads it: without '/', a
    /// name at any depth; with one (a leading '/' too), a path from the top; a trailing '/'
    /// matches directories only.
    #[arg(short = 'e', long = "exclude", value_name = "PATTERN")]
    pub excludes: Vec<String>,
    /// Read --exclude patterns from FILE, one per line (repeatable); blank
    /// lines and lines starting with '#' are ignored.
    #[arg(long = "exclude-from", value_name = "FILE")]
    pub exclude_from: Vec<PathBuf>,
    /// Do not descend into directories on other file systems.
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
    /// Do not store extended attributes.
    #[arg(long)]
    pub no_xattrs: bool,
    /// Overwrite IMAGE if it exists.
    #[arg(short, long)]
    pub force: bool,
    /// Compression threads (default: one per core), at most 1024.
    #[arg(short = 'j', long, default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub threads: u16,
    /// Concurrent source readers: opens, stats and reads in flight (1 to 1024).
    #[arg(long, default_value_t = bale_pack::options::DEFAULT_READERS as u16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub readers: u16,
    /// File data read ahead of the writer, at most (e.g. 16M, 64M): the
    /// main part of the memory a pack needs besides ~100 bytes per entry.
    /// Default 32M from a directory, 8M from an archive (one reader).
    #[arg(long, value_name = "SIZE", value_parser = super::parse_bytes)]
    pub read_ahead: Option<u64>,
    /// Leave out unreadable or vanished entries instead of failing.
    #[arg(long)]
    pub skip_unreadable: bool,
    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Also print how long each phase took.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print a progress line this often (seconds) even when stderr is not a
    /// terminal, e.g. into a batch job's log.
    #[arg(long, value_name = "SECONDS", value_parser = parse_interval, conflicts_with = "quiet")]
    pub progress_every: Option<Duration>,
}

/// Seconds since the epoch, given as `--mtime` or in `SOURCE_DATE_EPOCH`
/// (whose name the error must give: the user may not know it is set).
fn parse_mtime(value: &str) -> Result<u32, String> {
    value.parse().map_err(|_| {
        format!(
            "expected seconds since the epoch, 0 to {} (from --mtime or SOURCE_DATE_EPOCH)",
            u32::MAX
        )
    })
}

/// The codecs by name; listing them lets clap check the value and shells
/// complete it.
fn codec_parser() -> impl clap::builder::TypedValueParser<Value = Codec> {
    use clap::builder::{PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(["zstd", "gzip", "xz", "lz4"]).map(|name| match name.as_str() {
        "gzip" => Codec::Gzip,
        "xz" => Codec::Xz,
        "lz4" => Codec::Lz4,
        _ => Codec::Zstd,
    })
}

/// Parses sizes like `131072`, `128K`, `1M` that fit in 32 bits.
/// A block size the format allows: a power of two from 4 KiB to 1 MiB
/// (refused as a usage error, exit status 2, like other bad values).
fn parse_block_size(s: &str) -> Result<u32, String> {
    match u32::try_from(super::parse_bytes(s)?) {
        Ok(bs) if bs.is_power_of_two() && (4096..=1 << 20).contains(&bs) => Ok(bs),
        _ => Err("not a power of two between 4K and 1M".into()),
    }
}

/// Seconds, whole or not, at least a tenth.
fn parse_interval(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if (0.1..=86_400.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err("not a number of seconds between 0.1 and 86400".into()),
    }
}

/// A numeric uid, or the uid of a user name.
fn parse_user(s: &str) -> Result<u32, String> {
    parse_id(s, "user", |name| {
        nix::unistd::User::from_name(name).map(|u| u.map(|u| u.uid.as_raw()))
    })
}

/// A numeric gid, or the gid of a group name.
fn parse_group(s: &str) -> Result<u32, String> {
    parse_id(s, "group", |name| {
        nix::unistd::Group::from_name(name).map(|g| g.map(|g| g.gid.as_raw()))
    })
}

/// A number as it is, a name through the system's user and group
/// databases (NSS: files, LDAP, SSSD…).
fn parse_id(
    s: &str,
    what: &str,
    lookup: impl Fn(&str) -> nix::Result<Option<u32>>,
) -> Result<u32, String> {
    match s.parse::<u32>() {
        // (uid_t) -1 means "no change" to chown: no file can have it.
        Ok(u32::MAX) => return Err(format!("{} is not a valid {what} id", u32::MAX)),
        Ok(id) => return Ok(id),
        Err(_) => {}
    }
    match lookup(s) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(format!("no such {what}")),
        Err(e) => Err(format!("cannot look up the {what}: {e}")),
    }
}

/// The patterns of `--exclude` followed by those of each `--exclude-from`
/// file.
fn excludes(patterns: Vec<String>, files: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut all = patterns;
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--exclude-from {}", file.display()))?;
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            // Checked here to name the file and line of a bad one.
            Excludes::new(&[line.to_owned()])
                .with_context(|| format!("--exclude-from {}:{}", file.display(), number + 1))?;
            all.push(line.to_owned());
        }
    }
    Ok(all)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.image.as_os_str() == "-" {
        anyhow::bail!(
            "-: an image cannot go to standard output (its start points to tables written last); name a file"
        );
    }
    let opts = PackOptions {
        codec: args.codec,
        level: args.level,
        compress: !args.no_compression,
        block_size: args.block_size,
        owner: args.owner.or(args.all_root.then_some(0)),
        group: args.group.or(args.all_root.then_some(0)),
        mtime: args.mtime,
        excludes: excludes(args.excludes, &args.exclude_from)?,
        one_file_system: args.one_file_system,
        xattrs: !args.no_xattrs,
        force: args.force,
        threads: usize::from(args.threads),
        readers: usize::from(args.readers),
        skip_unreadable: args.skip_unreadable,
        read_ahead: args.read_ahead,
        ..PackOptions::new(args.source, args.image)
    };
    let progress = Progress::default();
    // The signal that stopped us, for the exit status 128 + its number.
    let stopped_by = Arc::new(AtomicUsize::new(0));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, progress.cancelled.clone())
            .and_then(|_| {
                signal_hook::flag::register_usize(signal, stopped_by.clone(), signal as usize)
            })
            .context("cannot install signal handlers")?;
    }
    let show = match (args.quiet, args.progress_every) {
        (true, _) => Show::Nothing,
        (false, Some(every)) => Show::Lines(every),
        (false, None) => Show::Bar,
    };
    let result = with_progress(&progress, show, || pack(&opts, &progress));
    match result {
        Ok(summary) => {
            warn(&summary);
            if !args.quiet {
                print_summary(&opts, &summary)?;
            }
            if args.verbose {
                for (phase, took) in summary.phases {
                    eprintln!("bale: {phase} phase: {:.2} s", took.as_secs_f64());
                }
            }
            // As tar: the image is written, but a script that deletes the
            // source once the pack succeeded must not lose what changed.
            Ok(match summary.changed.is_empty() {
                true => ExitCode::SUCCESS,
                false => ExitCode::FAILURE,
            })
        }
        Err(bale_pack::PackError::Cancelled) if progress.cancelled.load(Ordering::Relaxed) => {
            eprintln!(
                "bale: pack interrupted; {} was not written",
                opts.image.display()
            );
            let signal = stopped_by.load(Ordering::Relaxed);
            Ok(ExitCode::from(bale_os::exit::by_signal(
                i32::try_from(signal).unwrap_or(0),
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// What the pack left out or could not store as it was: printed even
/// with `--quiet`, which silences only the progress bar and the summary.
fn warn(s: &Summary) {
    const SHOWN: usize = 10;
    for e in s.skipped.iter().take(SHOWN) {
        eprintln!(
            "bale: skipped {}",
            bale_os::reason::without_error_numbers(&e.to_string())
        );
    }
    if !s.skipped.is_empty() {
        eprintln!(
            "bale: {} left out",
            counted(
                s.skipped.len() as u64,
                "unreadable entry",
                "unreadable entries"
            )
        );
    }
    for p in &s.other_fs {
        eprintln!(
            "bale: {}: other file system, packed as an empty directory",
            p.display()
        );
    }
    for p in s.changed.iter().take(SHOWN) {
        eprintln!(
            "bale: warning: {}: changed while being read; the image holds what was read",
            p.display()
        );
    }
    if s.changed.len() > SHOWN {
        eprintln!(
            "bale: warning: {} files changed while being read",
            s.changed.len()
        );
    }
    if s.clamped_times > 0 {
        eprintln!(
            "bale: warning: {} entries have modification times before 1970 or after 2106, which squashfs cannot hold: stored as the nearest it can (1970-01-01 or 2106-02-07)",
            s.clamped_times
        );
    }
    if s.dropped_xattrs > 0 {
        eprintln!(
            "bale: warning: {} extended attributes outside the user., trusted. and security. namespaces were not stored",
            s.dropped_xattrs
        );
    }
}

/// The summary line.
fn print_summary(opts: &PackOptions, s: &Summary) -> std::io::Result<()> {
    // Of a tree smaller than the image's tables the ratio says nothing.
    let ratio = match s.image_bytes <= s.input_bytes {
        true => format!(
            " ({:.1}%)",
            100.0 * s.image_bytes as f64 / s.input_bytes as f64
        ),
        false => String::new(),
    };
    let holes = match s.hole_bytes {
        0 => String::new(),
        n => format!(", {} of it holes", HumanBytes(n)),
    };
    writeln!(
        output::stdout(),
        "packed {} ({} in {}{holes}) into {}: {}{ratio}, {} ({} saved), {:.1} s",
        counted(s.entries, "entry", "entries"),
        HumanBytes(s.input_bytes),
        counted(s.files, "file", "files"),
        opts.image.display(),
        HumanBytes(s.image_bytes),
        counted(s.duplicate_files, "duplicate file", "duplicate files"),
        HumanBytes(s.duplicate_bytes),
        s.elapsed.as_secs_f64()
    )
}
