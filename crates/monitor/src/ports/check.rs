//! One check of a snapshot against the baseline state file: what
//! `watchpost ports check` does once, and what the server does on each
//! pass of its schedule.
//!
//! With no state file, the snapshot becomes the baseline (saved) and
//! nothing is reported. Otherwise the snapshot is compared with the
//! baseline, which is not changed: the same finding is found again until
//! someone approves it (`watchpost ports approve`). The decision itself is
//! [`Baseline::diff`]; this module adds only the state file.

use std::path::Path;

use events::Timestamp;

use super::Snapshot;
use super::baseline::{Baseline, PortChange, STATE_KIND};
use crate::state::{self, StateError};

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// There was no state file: the snapshot's open ports were recorded as
    /// the baseline, and nothing is reported.
    Baselined {
        /// The new baseline (saved).
        baseline: Baseline,
    },
    /// The snapshot was compared with the baseline.
    Compared {
        /// The baseline as loaded (not changed).
        baseline: Baseline,
        /// New and changed ports, in key order.
        changes: Vec<PortChange>,
    },
}

/// Checks `snapshot` against the baseline in the state file `state_path`
/// (see the module doc). A state file that cannot be read, or is not a
/// ports state file of this version, is an error and is left unchanged.
pub fn check(
    state_path: &Path,
    snapshot: &Snapshot,
    now: Timestamp,
) -> Result<Checked, StateError> {
    match state::load::<Baseline>(state_path, STATE_KIND)? {
        None => {
            let baseline = Baseline::from_snapshot(snapshot, now);
            state::save(state_path, STATE_KIND, &baseline)?;
            Ok(Checked::Baselined { baseline })
        }
        Some(baseline) => {
            let changes = baseline.diff(snapshot);
            Ok(Checked::Compared { baseline, changes })
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::ports::read::{ReadOptions, parse_bytes};

    fn snapshot(text: &str) -> Snapshot {
        let parsed = parse_bytes(text.as_bytes(), "web01.ss.txt", &ReadOptions::default()).unwrap();
        let mut snapshot = Snapshot::default();
        for o in parsed.observations {
            snapshot.insert(o);
        }
        snapshot
    }

    #[test]
    fn the_first_check_records_the_baseline_and_later_ones_compare() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        let now = datetime!(2026-11-30 12:00 UTC);
        let before = snapshot("LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n");
        let Checked::Baselined { baseline } = check(&path, &before, now).unwrap() else {
            panic!("expected a first baseline");
        };
        assert_eq!(baseline.len(), 1);
        let after =
            snapshot("LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 5 0.0.0.0:4444 0.0.0.0:*\n");
        for _ in 0..2 {
            let Checked::Compared { baseline, changes } = check(&path, &after, now).unwrap() else {
                panic!("expected a comparison");
            };
            assert_eq!(baseline.len(), 1, "a check does not learn");
            let summaries: Vec<String> = changes.iter().map(PortChange::summary).collect();
            assert_eq!(summaries, ["new open port 4444/tcp on web01 (-)"]);
        }
    }

    #[test]
    fn a_bad_state_file_is_an_error_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        std::fs::write(&path, "{not json").unwrap();
        let now = datetime!(2026-11-30 12:00 UTC);
        let error = check(&path, &Snapshot::default(), now).unwrap_err();
        assert!(error.to_string().contains("is corrupt"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }
}
