//! Directory walking: expands the paths given on the command line into the
//! files to read.
//!
//! Directories are walked recursively in file-name order, following
//! symlinks. A symlink that leads back to one of its ancestors is a
//! [`ProblemKind::Loop`] (the walk goes on past it), and an entry that
//! cannot be read is [`ProblemKind::Unreadable`]. Only regular files are
//! kept: FIFOs, sockets and devices could block or never end, so they are
//! reported as unreadable.
//!
//! Globs (`globset` syntax) match either the path relative to the root that
//! was given (`day1/**/dns.log`) or the file name alone (`*.evtx`). A file
//! is kept when it matches an include glob (or there are none) and no
//! exclude glob. Files named directly are filtered too.
//!
//! Must not read file contents.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use crate::{PathFilter, Problem, ProblemKind};

/// Compiled include and exclude globs.
struct Globs {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl Globs {
    /// True when a file with this root-relative path is kept.
    fn keeps(&self, relative: &Path) -> bool {
        let name = relative.file_name().map(Path::new);
        let hit = |set: &GlobSet| set.is_match(relative) || name.is_some_and(|n| set.is_match(n));
        self.include.as_ref().is_none_or(hit) && !self.exclude.as_ref().is_some_and(hit)
    }
}

/// Compiles one list of globs; bad ones become problems.
fn compile(patterns: &[String], problems: &mut Vec<Problem>) -> Option<GlobSet> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        match Glob::new(pattern) {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(error) => problems.push(Problem::new(
                pattern.clone(),
                "glob",
                ProblemKind::Malformed,
                error.to_string(),
            )),
        }
    }
    builder.build().ok()
}

/// See [`crate::discover`].
pub(crate) fn discover(paths: &[PathBuf], filter: &PathFilter) -> (Vec<PathBuf>, Vec<Problem>) {
    let mut problems = Vec::new();
    let globs = Globs {
        include: compile(&filter.include, &mut problems),
        exclude: compile(&filter.exclude, &mut problems),
    };
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(meta) => meta,
            Err(error) => {
                problems.push(unreadable(root, &error.to_string()));
                continue;
            }
        };
        if !meta.is_dir() {
            let name = root.file_name().map(Path::new).unwrap_or(root);
            if globs.keeps(name) {
                if meta.is_file() {
                    if seen.insert(root.clone()) {
                        files.push(root.clone());
                    }
                } else {
                    problems.push(unreadable(root, "not a regular file"));
                }
            }
            continue;
        }
        for entry in WalkDir::new(root).follow_links(true).sort_by_file_name() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let path = error.path().unwrap_or(root).to_path_buf();
                    if let Some(ancestor) = error.loop_ancestor() {
                        problems.push(Problem::new(
                            path.display().to_string(),
                            "",
                            ProblemKind::Loop,
                            format!("symlink loops back to {}", ancestor.display()),
                        ));
                    } else {
                        let message = error
                            .io_error()
                            .map_or_else(|| error.to_string(), ToString::to_string);
                        problems.push(unreadable(&path, &message));
                    }
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
            if !globs.keeps(relative) {
                continue;
            }
            if !entry.file_type().is_file() {
                problems.push(unreadable(entry.path(), "not a regular file"));
                continue;
            }
            if seen.insert(entry.path().to_path_buf()) {
                files.push(entry.into_path());
            }
        }
    }
    (files, problems)
}

/// An unreadable-path problem.
fn unreadable(path: &Path, message: &str) -> Problem {
    Problem::new(
        path.display().to_string(),
        "",
        ProblemKind::Unreadable,
        message,
    )
}
