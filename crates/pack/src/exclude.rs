//! `--exclude` patterns: shell globs matched against paths relative to the
//! source; a pattern without '/' matches an entry name at any depth.

use crate::error::{PackError, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::Path;

pub struct Excludes(Option<GlobSet>);

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Excludes> {
        if patterns.is_empty() {
            return Ok(Excludes(None));
        }
        let mut set = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim_start_matches('/').trim_end_matches('/');
            let full = if trimmed.contains('/') {
                trimmed.to_string()
            } else {
                format!("**/{trimmed}")
            };
            let glob = GlobBuilder::new(&full)
                .literal_separator(true)
                .build()
                .map_err(|e| PackError::Limit(format!("--exclude {pattern}: {e}")))?;
            set.add(glob);
        }
        let set = set
            .build()
            .map_err(|e| PackError::Limit(format!("--exclude: {e}")))?;
        Ok(Excludes(Some(set)))
    }

    pub fn matches(&self, rel: &Path) -> bool {
        self.0.as_ref().is_some_and(|set| set.is_match(rel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_anywhere_paths_match_from_the_top() {
        let ex = Excludes::new(&["*.o".into(), "build/tmp".into(), "/.git/".into()]).unwrap();
        assert!(ex.matches(Path::new("a.o")));
        assert!(ex.matches(Path::new("src/deep/a.o")));
        assert!(!ex.matches(Path::new("a.c")));
        assert!(ex.matches(Path::new("build/tmp")));
        assert!(!ex.matches(Path::new("x/build/tmp")));
        assert!(ex.matches(Path::new(".git")));
        assert!(ex.matches(Path::new("sub/.git")));
        assert!(!Excludes::new(&[]).unwrap().matches(Path::new("a.o")));
    }
}
