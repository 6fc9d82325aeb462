//! `bale`: the command-line front end. Every subcommand lives in its own
//! module under `commands/`; they parse arguments, call a library crate and
//! print. Errors are printed as one line and give a non-zero exit status.

mod commands;
mod dropin;
mod output;
mod progress_bar;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "bale",
    version,
    about = "Squashfs images for small-file trees on HPC clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pack a directory tree, or a tar archive without extracting it, into a squashfs image.
    Pack(commands::pack::Args),
    /// Show an image's superblock, tables and counts.
    Info(commands::info::Args),
    /// List a directory of an image.
    Ls(commands::ls::Args),
    /// Write a file of an image to stdout.
    Cat(commands::cat::Args),
    /// Restore an image as a directory tree.
    Extract(commands::extract::Args),
    /// Read everything in an image, optionally comparing with a tree.
    Verify(commands::verify::Args),
    /// Disk usage of trees, measured gently (rate-limited, parallel walk).
    Du(commands::du::Args),
    /// Remove files and trees gently (rate-limited stat and unlink calls).
    Rm(commands::rm::Args),
    /// Mount an image or a software module NAME/VERSION (kernel helper or FUSE).
    Mount(commands::mount::Args),
    /// Run a command that alone sees images mounted for it (private mounts, gone when it exits).
    Run(commands::run::Args),
    /// Unmount what `bale mount` mounted.
    Umount(commands::umount::Args),
    /// Unmount everything of a job (SLURM epilog) or of yourself.
    UmountAll(commands::umount_all::Args),
    /// Images mounted on this node, loop devices, and what nobody reported.
    List(commands::list::Args),
    /// Repair what no record explains: forgotten mounts, stale records, idle loop devices.
    Cleanup(commands::cleanup::Args),
    /// Which nodes hold an image's cluster lock, and whether they are alive.
    LockStatus(commands::lock_status::Args),
    /// Break the stale parts of an image's cluster lock.
    Unlock(commands::unlock::Args),
    /// Create a read-write ext4 user image (empty, or from a directory).
    Create(commands::create::Args),
    /// Pack a software module's directory into its image (admin).
    CreateSoftware(commands::create_software::Args),
    /// Grow or shrink an unmounted ext4 user image.
    Resize(commands::resize::Args),
    /// Mount or release a software module's image; what a modulefile runs.
    ModuleHook(commands::module_hook::Args),
    /// Print the snippet that makes a modulefile mount its software image.
    Modulefile(commands::modulefile::Args),
    /// Print the effective site configuration and where each value came from.
    Config(commands::config::Args),
    /// Print shell completions, or write manual pages, for packaging.
    Generate(commands::generate::Args),
}

fn main() -> ExitCode {
    // Installed as one of the original framework's tool names: its flags,
    // rewritten into the equivalent `bale` command line.
    let argv = match dropin::rewrite(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(argv);
    limit_malloc_arenas(match cli.command {
        Command::Mount(_) | Command::Run(_) => 1,
        _ => 4,
    });
    let result = match cli.command {
        Command::Pack(args) => commands::pack::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Ls(args) => commands::ls::run(args),
        Command::Cat(args) => commands::cat::run(args),
        Command::Extract(args) => commands::extract::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Du(args) => commands::du::run(args),
        Command::Rm(args) => commands::rm::run(args),
        Command::Mount(args) => commands::mount::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Umount(args) => commands::umount::run(args),
        Command::Config(args) => commands::config::run(args),
        Command::UmountAll(args) => commands::umount_all::run(args),
        Command::List(args) => commands::list::run(args),
        Command::Cleanup(args) => commands::cleanup::run(args),
        Command::LockStatus(args) => commands::lock_status::run(args),
        Command::Unlock(args) => commands::unlock::run(args),
        Command::Create(args) => commands::create::run(args),
        Command::CreateSoftware(args) => commands::create_software::run(args),
        Command::Resize(args) => commands::resize::run(args),
        Command::ModuleHook(args) => commands::module_hook::run(args),
        Command::Modulefile(args) => commands::modulefile::run(args),
        Command::Generate(args) => commands::generate::run(args, Cli::command()),
    };
    // What is still buffered must reach the output too, or a command that
    // succeeded failed after all (one that failed has said why).
    let result = result.and_then(|code| {
        if code == ExitCode::SUCCESS {
            std::io::Write::flush(&mut output::stdout())?;
        }
        Ok(code)
    });
    match result {
        Ok(code) => code,
        // Like other Unix tools, end quietly when the reader of our output
        // goes away (`bale ls IMAGE | head`).
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            match output::failure(&err) {
                Some(failed) => eprintln!("bale: {failed}"),
                None => eprintln!("bale: {}", one_line(&err)),
            }
            // Exit status 3, as the helper's: refused by a rule; 4: busy.
            let busy = |cause: &(dyn std::error::Error + 'static)| {
                matches!(
                    cause.downcast_ref::<bale_fuse::Error>(),
                    Some(bale_fuse::Error::Busy(_))
                )
            };
            if err.chain().any(|cause| cause.is::<bale_policy::Refusal>()) {
                ExitCode::from(3)
            } else if err.chain().any(busy) {
                ExitCode::from(4)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes, each once: the library errors print their
/// cause themselves (`PATH: reason`) and also chain it, so anyhow's
/// `{:#}` would print `PATH: reason: reason`. The system's reasons are
/// shown as people know them, without Rust's " (os error N)".
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !line.ends_with(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    bale_os::reason::without_error_numbers(&line)
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// glibc gives each busy thread its own heap arena, and each arena keeps
/// the blocks freed into it. A pack's dozens of reader threads share a
/// few. A FUSE server's threads (`mount`, `run`) share one: its cached
/// blocks are loaded by one thread and evicted by another, and with an
/// arena per thread the freed blocks piled up in each (cold md5sum of the
/// Linux tree: peak RSS 121 → 71 MiB, same speed).
fn limit_malloc_arenas(arenas: i32) {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers_are_left_out_and_other_parentheses_kept() {
        let err = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::EISDIR))
            .context("img.sqfs (os error x)");
        assert_eq!(one_line(&err), "img.sqfs (os error x): Is a directory");
    }
}
