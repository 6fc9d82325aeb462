//! Where the server's log goes: standard error in the foreground, syslog
//! (the journal picks it up) when detached. `debug` adds a trace of every
//! FUSE request (fuser logs them at debug level).

/// Log destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Stderr,
    Syslog,
}

/// Installs the global subscriber; call once, before mounting.
pub fn init(target: Target, debug: bool) {
    let filter = if debug {
        "bale_fuse=debug,fuser=debug"
    } else {
        "bale_fuse=info,fuser=error"
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(debug);
    let syslog = (target == Target::Syslog)
        .then(|| {
            syslog_tracing::Syslog::new(
                c"bale-mount",
                syslog_tracing::Options::LOG_PID,
                syslog_tracing::Facility::Daemon,
            )
        })
        .flatten();
    // A second initialisation (only in tests) keeps the first subscriber.
    let _ = match syslog {
        Some(syslog) => builder
            .with_writer(syslog)
            .with_ansi(false)
            .without_time()
            .try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}
