//! Giving up root for good before `bale-helper run` starts the caller's
//! command: the caller's supplementary groups, then gid and uid (real,
//! effective and saved, so the kernel also clears every capability), then
//! `no_new_privs` (no setuid binary or file capability can raise them
//! again), then a check that root cannot be had back.

use crate::failure::Failure;
use crate::identity::Caller;

/// Becomes the caller, irreversibly.
pub fn drop_to(caller: &Caller) -> Result<(), Failure> {
    let (uid, gid) = (caller.uid, caller.gid);
    // SAFETY: plain system calls; the helper is single-threaded, so the
    // glibc wrappers change the credentials of the whole process.
    unsafe {
        check(
            libc::setgroups(caller.groups.len(), caller.groups.as_ptr()),
            "setgroups",
        )?;
        check(libc::setresgid(gid, gid, gid), "setresgid")?;
        check(libc::setresuid(uid, uid, uid), "setresuid")?;
        check(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            "PR_SET_NO_NEW_PRIVS",
        )?;
    }
    verify(uid, gid)
}

fn verify(uid: u32, gid: u32) -> Result<(), Failure> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    let (mut rg, mut eg, mut sg) = (0, 0, 0);
    // SAFETY: the getters only write the three integers.
    let ok = unsafe {
        libc::getresuid(&mut r, &mut e, &mut s) == 0
            && libc::getresgid(&mut rg, &mut eg, &mut sg) == 0
            && libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1
    };
    if !ok || [r, e, s] != [uid; 3] || [rg, eg, sg] != [gid; 3] {
        return Err(Failure::Error(
            "credentials are not the caller's after dropping privileges".into(),
        ));
    }
    // SAFETY: as above; a success here would be the failure.
    if uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(Failure::Error(
            "root could be regained after dropping privileges".into(),
        ));
    }
    Ok(())
}

fn check(rc: libc::c_int, what: &str) -> Result<(), Failure> {
    if rc != 0 {
        return Err(Failure::Error(format!(
            "cannot drop privileges ({what}): {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
