//! Doing something with the caller's file-system credentials: fs uid, fs
//! gid and supplementary groups are switched for the duration of a closure,
//! so the kernel checks the caller's rights (and files created belong to
//! the caller). The helper is single-threaded, so `setgroups` is safe.

use crate::identity::Caller;

/// Runs `f` with the caller's file-system identity, then back to root.
pub fn as_caller<T>(caller: &Caller, f: impl FnOnce() -> T) -> T {
    if caller.uid == 0 {
        return f();
    }
    let saved = root_groups();
    // SAFETY: plain system calls; the helper has no other threads.
    unsafe {
        if libc::setgroups(caller.groups.len(), caller.groups.as_ptr()) != 0 {
            abort("setgroups");
        }
        libc::setfsgid(caller.gid);
        libc::setfsuid(caller.uid);
        // setfs[ug]id report no errors: read back what is in force.
        if libc::setfsuid(u32::MAX) as u32 != caller.uid
            || libc::setfsgid(u32::MAX) as u32 != caller.gid
        {
            abort("setfsuid");
        }
    }
    let result = f();
    // SAFETY: as above.
    unsafe {
        libc::setfsuid(0);
        libc::setfsgid(0);
        if libc::setgroups(saved.len(), saved.as_ptr()) != 0 || libc::setfsuid(u32::MAX) != 0 {
            abort("restoring root credentials");
        }
    }
    result
}

fn root_groups() -> Vec<libc::gid_t> {
    // SAFETY: first call asks for the count, second fills the buffer.
    unsafe {
        let n = libc::getgroups(0, std::ptr::null_mut());
        let mut groups = vec![0; n.max(0) as usize];
        let n = libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr());
        groups.truncate(n.max(0) as usize);
        groups
    }
}

fn abort(what: &str) -> ! {
    crate::log::notice(&format!("cannot switch credentials ({what}); aborting"));
    eprintln!("bale-helper: cannot switch credentials ({what})");
    std::process::exit(1)
}
