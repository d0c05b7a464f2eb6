//! The scheduled ports check's configuration: the `[ports]` table of the
//! server's config file.
//!
//! ```toml
//! [ports]
//! dir = "/var/lib/watchpost/snapshots"   # a folder snapshots are dropped in
//! paths = ["/srv/scans/*.xml"]           # and/or globs
//! interval = "5m"
//! # state = "/var/lib/watchpost/ports.json"  # default DATA_DIR/ports.json
//! # host = "web01"                           # host of ss/netstat files
//! ```
//!
//! Unknown keys are errors. `watchpost ports check` takes its files and
//! options on the command line and does not read this table.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::folder::{InvalidPath, SnapshotFolder};
use crate::duration::deserialize as duration;

/// Where the server finds port snapshots, and how often it looks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortsConfig {
    /// A folder whose files are snapshots (nmap XML, `ss`, `netstat`,
    /// osquery JSON; the format is recognised from the content). Not
    /// recursive. Names starting with `.` or ending in `.tmp`, `.part`,
    /// `.swp` or `~` are left alone, so a snapshot can be written under
    /// such a name and renamed into place.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Snapshot files as paths or globs (`/srv/scans/*.xml`); only the
    /// last component may hold `*`, `?`, `[...]` or `{a,b}`. Used besides
    /// `dir`; at least one of the two must name something.
    #[serde(default)]
    pub paths: Vec<String>,
    /// How often the files are looked at (`30s`, `5m`, `1h`). Default 5m.
    /// A file is read again only when its size or modification time
    /// changed, and compared again only when its content did.
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Duration,
    /// The baseline state file, the same format `watchpost ports` reads
    /// and writes. Default (in the server): `DATA_DIR/ports.json`.
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// The host of `ss`, `netstat` and plain osquery snapshots, which do
    /// not name one. Default: each file's name up to its first dot
    /// (`web01.ss.txt` is host `web01`), as `watchpost ports check`.
    #[serde(default)]
    pub host: Option<String>,
}

/// What is wrong with a `[ports]` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConfig {
    /// Neither `dir` nor `paths` names anything.
    #[error("ports: set dir or paths to say where snapshot files are")]
    NoFiles,
    /// An `interval` of zero.
    #[error("ports.interval must be more than 0")]
    Interval,
    /// An empty `host`.
    #[error("ports.host must not be empty")]
    EmptyHost,
    /// A path or glob of `paths` that cannot be used.
    #[error(transparent)]
    Path(#[from] InvalidPath),
}

impl PortsConfig {
    /// Checks what serde cannot: something to read, a usable interval and
    /// usable globs.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.dir.is_none() && self.paths.is_empty() {
            return Err(InvalidConfig::NoFiles);
        }
        if self.interval.is_zero() {
            return Err(InvalidConfig::Interval);
        }
        if self.host.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err(InvalidConfig::EmptyHost);
        }
        SnapshotFolder::new(self.dir.as_deref(), &self.paths)?;
        Ok(())
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        ports: PortsConfig,
    }

    fn parse(text: &str) -> Result<PortsConfig, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        file.ports.validate().map_err(|e| e.to_string())?;
        Ok(file.ports)
    }

    #[test]
    fn keys_and_defaults() {
        let config = parse("[ports]\ndir = \"/snap\"\n").unwrap();
        assert_eq!(config.dir, Some(PathBuf::from("/snap")));
        assert_eq!(config.interval, Duration::from_secs(300));
        assert_eq!(config.state, None);
        assert_eq!(config.host, None);
        let config = parse(
            "[ports]\npaths = [\"/scans/*.xml\"]\ninterval = \"90s\"\nstate = \"p.json\"\nhost = \"web01\"\n",
        )
        .unwrap();
        assert_eq!(config.paths, ["/scans/*.xml"]);
        assert_eq!(config.interval, Duration::from_secs(90));
        assert_eq!(config.state, Some(PathBuf::from("p.json")));
        assert_eq!(config.host.as_deref(), Some("web01"));
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        let cases = [
            ("[ports]\n", "set dir or paths"),
            (
                "[ports]\ndir = \"/s\"\nintervall = \"5m\"\n",
                "unknown field `intervall`",
            ),
            (
                "[ports]\ndir = \"/s\"\ninterval = \"0s\"\n",
                "must be more than 0",
            ),
            (
                "[ports]\ndir = \"/s\"\ninterval = \"5 min\"\n",
                "invalid duration",
            ),
            ("[ports]\ndir = \"/s\"\nhost = \" \"\n", "must not be empty"),
            (
                "[ports]\npaths = [\"/scans/*/x.xml\"]\n",
                "only the last component may hold a pattern",
            ),
            (
                "[ports]\npaths = [\"/scans/[.xml\"]\n",
                "ports.paths \"/scans/[.xml\"",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
