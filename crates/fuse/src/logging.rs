//! Where the server's log goes: standard error in the foreground, syslog
//! (the journal picks it up) when detached. `debug` adds a trace of every
//! FUSE request (fuser logs them at debug level).

use std::io::IsTerminal;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Stderr,
    Syslog,
}

/// Installs the global subscriber; call once, before mounting.
pub fn init(target: Target, debug: bool) {
    let (ours, fuser) = if debug {
        (Level::DEBUG, Level::DEBUG)
    } else {
        (Level::INFO, Level::ERROR)
    };
    let filter = Targets::new()
        .with_target("bale_fuse", ours)
        .with_target("fuser", fuser);
    let layer = tracing_subscriber::fmt::layer().with_target(debug);
    let syslog = (target == Target::Syslog)
        .then(|| {
            syslog_tracing::Syslog::new(
                c"bale-mount",
                syslog_tracing::Options::LOG_PID,
                syslog_tracing::Facility::Daemon,
            )
        })
        .flatten();
    let registry = tracing_subscriber::registry().with(filter);
    // A second initialisation (only in tests) keeps the first subscriber.
    let _ = match syslog {
        Some(syslog) => registry
            .with(layer.with_writer(syslog).with_ansi(false).without_time())
            .try_init(),
        None => registry
            .with(
                layer
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
    };
}
