//! The process's resource limits as bale's many-threaded tools meet them:
//! open files (many readers and walkers each hold descriptors) and address
//! space (each thread reserves its stack; login nodes often set `ulimit -v`).

use rustix::process::{getrlimit, setrlimit, Resource};

/// Raises the soft limit on open files to the hard one, as far as the
/// system lets us; the soft limit after that (`None`: unlimited).
pub fn raise_open_files() -> Option<u64> {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
    open_files()
}

/// The soft limit on open files (`ulimit -n`), `None` when unlimited.
pub fn open_files() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// The soft limit on address space (`ulimit -v`), `None` when unlimited.
pub fn address_space() -> Option<u64> {
    getrlimit(Resource::As).current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_ends_at_the_hard_limit() {
        let hard = getrlimit(Resource::Nofile).maximum;
        assert_eq!(raise_open_files(), hard);
    }
}
