//! Who is calling: the real uid when setuid, `SUDO_UID`/`SUDO_GID` when
//! run by sudo (which sets them itself), root otherwise. After reading
//! them, the environment is emptied: nothing the caller set reaches this
//! process's decisions or its children.

use std::ffi::CStr;

/// The calling user.
#[derive(Clone, Debug)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    /// Supplementary groups, for opening files with the caller's rights.
    pub groups: Vec<u32>,
}

pub fn establish() -> Result<Caller, String> {
    if !rustix::process::geteuid().is_root() {
        return Err(
            "must run as root (install it as a sudo rule or setuid root, see docs/admin.md)".into(),
        );
    }
    let real = rustix::process::getuid().as_raw();
    let (uid, gid) = if real != 0 {
        (real, rustix::process::getgid().as_raw())
    } else {
        let var = |name| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        match (var("SUDO_UID"), var("SUDO_GID")) {
            (Some(uid), Some(gid)) => (uid, gid),
            _ => (0, 0),
        }
    };
    sanitize_environment();
    of(uid, gid)
}

/// The user `uid` (primary group `gid`) with their groups.
pub fn of(uid: u32, gid: u32) -> Result<Caller, String> {
    let name = user_name(uid).ok_or_else(|| format!("uid {uid} has no user name"))?;
    let groups = groups(&name, gid);
    Ok(Caller {
        uid,
        gid,
        name,
        groups,
    })
}

fn sanitize_environment() {
    for (key, _) in std::env::vars_os() {
        std::env::remove_var(key);
    }
    std::env::set_var("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    std::env::set_var("LC_ALL", "C");
}

/// The login name of `uid` (from the passwd database), which names the
/// records of an interactive user.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result = std::ptr::null_mut();
    // SAFETY: buffers outlive the call; `result` points into `pwd` or is null.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: pw_name points to a NUL-terminated string inside `buf`.
    Some(
        unsafe { CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn groups(name: &str, gid: u32) -> Vec<u32> {
    let Ok(cname) = std::ffi::CString::new(name) else {
        return vec![gid];
    };
    let mut n: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; n as usize];
        // SAFETY: `groups` has room for `n` entries; glibc updates `n`.
        let rc = unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n as usize);
            return groups;
        }
        if n as usize <= groups.len() {
            return vec![gid];
        }
    }
}
