//! A mounted image being served: fuser's request threads, and the end of
//! the mount. The server ends when the mount goes away (`bale umount`,
//! `fusermount3 -u`, `umount`), or on SIGTERM, SIGINT or SIGHUP, which
//! detach the mount (lazy unmount) and give open files a short grace
//! period before the process exits and the kernel aborts the connection.

use crate::error::Error;
use crate::fs::BaleFs;
use crate::unmount::unmount;
use bale_os::mount_root::device_at;
use rustix::fs::CWD;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long open files may keep a signalled server alive.
const GRACE: Duration = Duration::from_secs(2);

/// A mount served by background threads; dropping it detaches the mount.
pub struct Background {
    _session: fuser::BackgroundSession,
}

pub struct Server {
    session: fuser::Session<BaleFs>,
    signals: Signals,
    mountpoint: PathBuf,
    /// The device number of our mount, to tell it from a later mount on
    /// the same place.
    mounted_as: Option<(u32, u32)>,
}

impl Server {
    /// Mounts `fs` on `mountpoint`; signals are caught from here on, so
    /// none can end the process between mounting and serving.
    pub(crate) fn start(
        fs: BaleFs,
        mountpoint: PathBuf,
        options: &fuser::Config,
    ) -> Result<Server, Error> {
        let signals =
            Signals::new([SIGTERM, SIGINT, SIGHUP]).map_err(|e| Error::new(&mountpoint, e))?;
        let prefill = fs.prefill();
        let session = fuser::Session::new(fs, &mountpoint, options)
            .map_err(|e| Error::new(&mountpoint, e))?;
        prefill.start(session.notifier());
        tracing::info!("mounted on {}", mountpoint.display());
        Ok(Server {
            session,
            signals,
            mounted_as: device_at(CWD, &mountpoint),
            mountpoint,
        })
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Serves requests in background threads, leaving signals to the caller
    /// (`bale run`, whose mounts end with its private mount namespace).
    pub fn spawn(self) -> Result<Background, Error> {
        let Server {
            session,
            signals,
            mountpoint,
            ..
        } = self;
        drop(signals);
        let session = session.spawn().map_err(|e| Error::new(&mountpoint, e))?;
        Ok(Background { _session: session })
    }

    /// Serves requests until the mount goes away or a signal arrives.
    pub fn run(self) -> Result<(), Error> {
        let Server {
            session,
            mut signals,
            mountpoint,
            mounted_as,
        } = self;
        let signal_handle = signals.handle();
        let watched = mountpoint.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    tracing::info!("signal {signal}: unmounting {}", watched.display());
                    unmount_if_ours(&watched, mounted_as);
                    std::thread::sleep(GRACE);
                    tracing::warn!("files still open on {}; exiting", watched.display());
                    std::process::exit(0);
                }
            })
            .map_err(|e| Error::new(&mountpoint, e))?;
        let result = serve_unowned(session);
        signal_handle.close();
        tracing::info!("{} unmounted; server exits", mountpoint.display());
        result.map_err(|e| Error::new(&mountpoint, e))
    }
}

/// Serves `session` until its mount goes away, without letting fuser
/// unmount anything afterwards. fuser unmounts its mount point by path when
/// a session ends, after a check that the mount is still there which (0.18)
/// reads the FUSE device's error state the wrong way round: a server whose
/// mount was unmounted here but lived on in another mount namespace (a
/// container or `bale run` started while it was mounted) unmounted, when it
/// ended, whatever had been mounted on the same path since. A background
/// session holds the mount apart from the serving thread; that handle is
/// leaked, and only the thread is waited for.
fn serve_unowned(session: fuser::Session<BaleFs>) -> std::io::Result<()> {
    let mut background = session.spawn()?;
    let idle = std::thread::spawn(|| Ok(()));
    let serving = std::mem::replace(&mut background.guard, idle);
    std::mem::forget(background);
    serving
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the request threads panicked")))
}

/// Detaches the mount on `mountpoint` if it is still the one mounted as
/// `mounted_as`: ours may be gone and another one there now (a copy of ours
/// in another mount namespace keeps our connection alive), which is not
/// ours to unmount.
fn unmount_if_ours(mountpoint: &Path, mounted_as: Option<(u32, u32)>) {
    if mounted_as.is_some() && device_at(CWD, mountpoint) == mounted_as {
        if let Err(e) = unmount(mountpoint, true) {
            tracing::error!("{e}");
        }
    }
}
