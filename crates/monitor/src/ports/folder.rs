//! Snapshot files looked at again and again (a folder they are dropped in,
//! and globs): which files are new or changed since the last pass.
//!
//! Each [`SnapshotFolder::pass`] lists the files, and reads only those whose
//! size or modification time changed since they were last read; of those,
//! only a file whose content (SHA-256) changed is parsed. A file that is
//! still being written is left for a later pass: a file is read once its
//! modification time is [`SETTLE`] old, or once it looks the same as at the
//! previous pass. A file that cannot be parsed is reported once per
//! version (it is read again when it changes); one that cannot be read at
//! all is reported on every pass until it can be.
//!
//! Names starting with `.` or ending in `.tmp`, `.part`, `.swp` or `~` are
//! never read, so a writer can create a snapshot under such a name and
//! rename it into place.
//!
//! What was seen is kept in memory only: after a restart every file is read
//! again (the alert keys of the server keep that from alerting twice).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::read::{ReadOptions, add_bytes};
use super::{Problem, Snapshot};

/// How old a file's modification time must be before it is read (unless it
/// looked the same at the previous pass).
pub const SETTLE: Duration = Duration::from_secs(2);

/// A path or glob of `paths` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ports.paths {pattern:?}: {reason}")]
pub struct InvalidPath {
    /// The path or glob as written.
    pub pattern: String,
    /// Why.
    pub reason: String,
}

/// Where snapshot files are looked for.
#[derive(Debug, Clone)]
enum Source {
    /// Every file of a folder.
    Dir(PathBuf),
    /// One file.
    File(PathBuf),
    /// The files of a folder whose names match a pattern.
    Glob {
        dir: PathBuf,
        matcher: globset::GlobMatcher,
    },
}

/// Size and modification time of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    modified: Option<SystemTime>,
    len: u64,
}

/// A file as last read.
#[derive(Debug, Clone)]
struct Seen {
    stat: Stat,
    digest: [u8; 32],
}

/// The snapshot files of a `[ports]` table, and what was last read of
/// each.
#[derive(Debug, Clone)]
pub struct SnapshotFolder {
    sources: Vec<Source>,
    seen: BTreeMap<PathBuf, Seen>,
    listed: BTreeMap<PathBuf, Stat>,
}

/// What one pass found.
#[derive(Debug, Default)]
pub struct Pass {
    /// The open ports of the files read in this pass (new or changed
    /// content) and nothing else.
    pub snapshot: Snapshot,
    /// The files read and used, in path order.
    pub read: Vec<PathBuf>,
    /// Files skipped whole: unreadable, empty, not a snapshot, malformed.
    pub refused: Vec<Problem>,
    /// Bad lines or records of files read (the rest of each was used).
    pub problems: Vec<Problem>,
    /// Files not read again: same size and time, or same content.
    pub unchanged: usize,
    /// Files left for a later pass because they may still be written.
    pub settling: usize,
    /// Folders that could not be listed, with the reason.
    pub errors: Vec<String>,
}

impl SnapshotFolder {
    /// The files of folder `dir` (if any) and of `paths` (paths or globs
    /// whose last component may hold a pattern).
    pub fn new(dir: Option<&Path>, paths: &[String]) -> Result<Self, InvalidPath> {
        let mut sources = Vec::new();
        if let Some(dir) = dir {
            sources.push(Source::Dir(dir.to_path_buf()));
        }
        for pattern in paths {
            sources.push(parse_path(pattern)?);
        }
        Ok(SnapshotFolder {
            sources,
            seen: BTreeMap::new(),
            listed: BTreeMap::new(),
        })
    }

    /// Lists the files and reads the new and changed ones (see the module
    /// doc). `now` decides whether a file has settled.
    pub fn pass(&mut self, options: &ReadOptions, now: SystemTime) -> Pass {
        let mut pass = Pass::default();
        let files = self.list(&mut pass.errors);
        let mut listed = BTreeMap::new();
        for (path, stat) in files {
            let before = self.listed.get(&path).copied();
            listed.insert(path.clone(), stat);
            if self.seen.get(&path).is_some_and(|s| s.stat == stat) {
                pass.unchanged += 1;
                continue;
            }
            let old_enough = stat
                .modified
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= SETTLE);
            if !old_enough && before != Some(stat) {
                pass.settling += 1;
                continue;
            }
            let name = path.display().to_string();
            let data = match std::fs::read(&path) {
                Ok(data) => data,
                Err(error) => {
                    pass.refused.push(Problem {
                        file: name,
                        line: None,
                        reason: format!("cannot read: {error}"),
                        skipped_file: true,
                    });
                    continue;
                }
            };
            let digest: [u8; 32] = Sha256::digest(&data).into();
            if let Some(seen) = self.seen.get_mut(&path)
                && seen.digest == digest
            {
                seen.stat = stat;
                pass.unchanged += 1;
                continue;
            }
            let mut problems = Vec::new();
            if add_bytes(&data, &name, options, &mut pass.snapshot, &mut problems) {
                pass.read.push(path.clone());
            }
            for problem in problems {
                if problem.skipped_file {
                    pass.refused.push(problem);
                } else {
                    pass.problems.push(problem);
                }
            }
            self.seen.insert(path, Seen { stat, digest });
        }
        self.seen.retain(|path, _| listed.contains_key(path));
        self.listed = listed;
        pass
    }

    /// Forgets what was read of every file, so the next pass reads them all
    /// again (after their findings could not be recorded).
    pub fn forget_all(&mut self) {
        self.seen.clear();
    }

    /// The regular files the sources name now, with their size and time.
    fn list(&self, errors: &mut Vec<String>) -> BTreeMap<PathBuf, Stat> {
        let mut out = BTreeMap::new();
        for source in &self.sources {
            let (dir, matcher) = match source {
                Source::File(path) => {
                    match std::fs::metadata(path) {
                        Ok(meta) if meta.is_file() => {
                            out.insert(path.clone(), stat(&meta));
                        }
                        Ok(_) => {}
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(error) => errors.push(format!("{}: {error}", path.display())),
                    }
                    continue;
                }
                Source::Dir(dir) => (dir, None),
                Source::Glob { dir, matcher } => (dir, Some(matcher)),
            };
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(error) => {
                    errors.push(format!("cannot list {}: {error}", dir.display()));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if ignored(&name) || matcher.is_some_and(|m| !m.is_match(name.as_ref())) {
                    continue;
                }
                let path = entry.path();
                // Follows symbolic links: a link to a snapshot is read.
                if let Ok(meta) = std::fs::metadata(&path)
                    && meta.is_file()
                {
                    out.insert(path, stat(&meta));
                }
            }
        }
        out
    }
}

fn stat(meta: &std::fs::Metadata) -> Stat {
    Stat {
        modified: meta.modified().ok(),
        len: meta.len(),
    }
}

/// Names a writer uses before renaming a file into place.
fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".part", ".swp"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

const GLOB_CHARS: [char; 4] = ['*', '?', '[', '{'];

/// A `paths` entry: a file, or a folder and a pattern for its names.
fn parse_path(pattern: &str) -> Result<Source, InvalidPath> {
    let invalid = |reason: &str| InvalidPath {
        pattern: pattern.to_owned(),
        reason: reason.to_owned(),
    };
    let path = Path::new(pattern);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Err(invalid("names no file"));
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir.to_string_lossy().contains(GLOB_CHARS) {
        return Err(invalid("only the last component may hold a pattern"));
    }
    if !name.contains(GLOB_CHARS) {
        return Ok(Source::File(path.to_path_buf()));
    }
    let glob = globset::GlobBuilder::new(name)
        .literal_separator(true)
        .build()
        .map_err(|e| invalid(&e.kind().to_string()))?;
    Ok(Source::Glob {
        dir,
        matcher: glob.compile_matcher(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n";
    const AFTER: &str = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 5 0.0.0.0:4444 0.0.0.0:*\n";

    /// A time at which every file written by the test has settled.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    fn ports(pass: &Pass) -> Vec<String> {
        pass.snapshot
            .ports
            .keys()
            .map(ToString::to_string)
            .collect()
    }

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn only_new_and_changed_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let options = ReadOptions::default();
        let mut folder = SnapshotFolder::new(Some(dir.path()), &[]).unwrap();
        let web01 = dir.path().join("web01.ss.txt");
        std::fs::write(&web01, BEFORE).unwrap();
        std::fs::write(dir.path().join("junk.txt"), "hello world\n").unwrap();
        std::fs::write(dir.path().join(".web02.ss.txt"), AFTER).unwrap();
        std::fs::write(dir.path().join("web03.ss.txt.tmp"), AFTER).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();

        let first = folder.pass(&options, later());
        assert_eq!(names(&first.read), ["web01.ss.txt"]);
        assert_eq!(ports(&first), ["web01 tcp/22"]);
        assert_eq!(first.refused.len(), 1);
        assert!(
            first.refused[0]
                .to_string()
                .ends_with("junk.txt: unrecognised format (expected nmap XML, ss, netstat or osquery JSON) (file skipped)"),
            "{}",
            first.refused[0]
        );
        assert!(first.errors.is_empty());

        // Nothing changed: nothing read, and the bad file is not reported again.
        let second = folder.pass(&options, later());
        assert!(second.read.is_empty() && second.refused.is_empty());
        assert_eq!(second.unchanged, 2);

        // The same content written again (a new time): not compared again.
        std::fs::write(&web01, BEFORE).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&web01)
            .unwrap()
            .set_modified(SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        let touched = folder.pass(&options, later());
        assert!(touched.read.is_empty());
        assert_eq!(touched.unchanged, 2);

        // New content: read again, alone.
        std::fs::write(&web01, AFTER).unwrap();
        let changed = folder.pass(&options, later());
        assert_eq!(names(&changed.read), ["web01.ss.txt"]);
        assert_eq!(ports(&changed), ["web01 tcp/22", "web01 tcp/4444"]);

        // A file removed and put back is new again.
        std::fs::remove_file(&web01).unwrap();
        assert!(folder.pass(&options, later()).read.is_empty());
        std::fs::write(&web01, AFTER).unwrap();
        assert_eq!(
            names(&folder.pass(&options, later()).read),
            ["web01.ss.txt"]
        );
        folder.forget_all();
        assert_eq!(
            names(&folder.pass(&options, later()).read),
            ["web01.ss.txt"]
        );
    }

    #[test]
    fn a_fresh_file_waits_one_pass_or_until_it_settles() {
        let dir = tempfile::tempdir().unwrap();
        let options = ReadOptions::default();
        let mut folder = SnapshotFolder::new(Some(dir.path()), &[]).unwrap();
        std::fs::write(dir.path().join("web01.ss.txt"), BEFORE).unwrap();
        let now = SystemTime::now();
        let first = folder.pass(&options, now);
        assert_eq!((first.read.len(), first.settling), (0, 1));
        // Unchanged since the previous pass: read, although still fresh.
        let second = folder.pass(&options, now);
        assert_eq!(names(&second.read), ["web01.ss.txt"]);
    }

    #[test]
    fn globs_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let options = ReadOptions::default();
        std::fs::write(dir.path().join("a.ss.txt"), BEFORE).unwrap();
        std::fs::write(dir.path().join("b.ss.log"), BEFORE).unwrap();
        std::fs::write(dir.path().join("c.ss.log"), BEFORE).unwrap();
        let glob = format!("{}/*.txt", dir.path().display());
        let file = format!("{}/c.ss.log", dir.path().display());
        let missing = format!("{}/later.ss.log", dir.path().display());
        let mut folder = SnapshotFolder::new(None, &[glob, file, missing]).unwrap();
        let pass = folder.pass(&options, later());
        assert_eq!(names(&pass.read), ["a.ss.txt", "c.ss.log"]);
        assert!(pass.errors.is_empty(), "{:?}", pass.errors);
    }

    #[test]
    fn a_missing_folder_is_an_error_each_pass() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let mut folder = SnapshotFolder::new(Some(&gone), &[]).unwrap();
        for _ in 0..2 {
            let pass = folder.pass(&ReadOptions::default(), later());
            assert_eq!(pass.errors.len(), 1);
            assert!(
                pass.errors[0].starts_with("cannot list "),
                "{:?}",
                pass.errors
            );
        }
    }
}
