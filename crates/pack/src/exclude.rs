//! `--exclude` patterns: shell globs matched against paths relative to the
//! source, read as rsync and .gitignore read them: a pattern without '/'
//! matches an entry name at any depth; one with a '/' (a leading '/' or
//! './' included) matches a path from the top of the tree; a trailing '/'
//! matches directories only.

use crate::error::{PackError, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use os_display::Quotable;
use std::path::Path;

pub struct Excludes {
    /// Patterns for entries of any kind.
    any: Option<GlobSet>,
    /// Patterns that ended in '/': directories only.
    dirs: Option<GlobSet>,
}

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Excludes> {
        let (mut any, mut dirs) = (Vec::new(), Vec::new());
        for pattern in patterns {
            let bad = |reason: String| {
                PackError::Limit(format!("--exclude {}: {reason}", pattern.maybe_quote()))
            };
            let dir_only = pattern.ends_with('/');
            let body = pattern.trim_end_matches('/');
            let (anchored, path) = match body.strip_prefix("./").or_else(|| body.strip_prefix('/'))
            {
                Some(rest) => (true, rest.trim_start_matches('/')),
                None if body == "." => (true, ""),
                None => (body.contains('/'), body),
            };
            if path.is_empty() {
                return Err(bad("names no entry (it is empty, or slashes alone)".into()));
            }
            let full = match anchored {
                true => path.to_string(),
                false => format!("**/{path}"),
            };
            let glob = GlobBuilder::new(&full)
                .literal_separator(true)
                .build()
                .map_err(|e| bad(e.kind().to_string()))?;
            match dir_only {
                true => dirs.push(glob),
                false => any.push(glob),
            }
        }
        Ok(Excludes {
            any: set(any)?,
            dirs: set(dirs)?,
        })
    }

    /// Whether the entry at `rel` is excluded whatever its kind.
    pub fn matches(&self, rel: &Path) -> bool {
        self.any.as_ref().is_some_and(|set| set.is_match(rel))
    }

    /// Whether the directory at `rel` is excluded (by any pattern).
    pub fn matches_dir(&self, rel: &Path) -> bool {
        self.matches(rel) || self.dirs.as_ref().is_some_and(|set| set.is_match(rel))
    }
}

fn set(globs: Vec<globset::Glob>) -> Result<Option<GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| PackError::Limit(format!("--exclude: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excludes(patterns: &[&str]) -> Excludes {
        Excludes::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn names_match_anywhere_paths_match_from_the_top() {
        let ex = excludes(&["*.o", "build/tmp"]);
        assert!(ex.matches(Path::new("a.o")));
        assert!(ex.matches(Path::new("src/deep/a.o")));
        assert!(!ex.matches(Path::new("a.c")));
        assert!(ex.matches(Path::new("build/tmp")));
        assert!(!ex.matches(Path::new("x/build/tmp")));
        assert!(!excludes(&[]).matches(Path::new("a.o")));
    }

    #[test]
    fn a_leading_slash_or_dot_slash_anchors_at_the_top() {
        for pattern in ["/build", "./build"] {
            let ex = excludes(&[pattern]);
            assert!(ex.matches(Path::new("build")), "{pattern}");
            assert!(!ex.matches(Path::new("sub/build")), "{pattern}");
        }
    }

    #[test]
    fn a_trailing_slash_matches_directories_only() {
        let ex = excludes(&[".git/", "/cache/"]);
        assert!(ex.matches_dir(Path::new(".git")));
        assert!(ex.matches_dir(Path::new("sub/.git")));
        assert!(!ex.matches(Path::new("sub/.git")), "a file named .git");
        assert!(ex.matches_dir(Path::new("cache")));
        assert!(!ex.matches_dir(Path::new("sub/cache")));
        let any = excludes(&["*.o"]);
        assert!(any.matches_dir(Path::new("x.o")), "kind-free patterns too");
    }

    #[test]
    fn a_pattern_of_slashes_alone_is_refused() {
        for pattern in ["/", "./", "//", ""] {
            let err = Excludes::new(&[pattern.to_string()]).err().expect(pattern);
            assert!(err.to_string().contains(": names no entry ("), "{err}");
        }
    }
}
