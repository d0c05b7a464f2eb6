//! The per-source counts behind `/metrics` and `GET /api/v1/sources`,
//! bounded: source names come from senders (`?source=`, syslog peers,
//! tailed file names), so past [`MAX_SOURCES`] names the counts of any new
//! name go to one [`OTHER`] row instead of a row of their own.

use std::collections::BTreeMap;

use super::SourceCounts;

/// The most sources counted by name.
pub const MAX_SOURCES: usize = 1_000;

/// The row that counts every source past [`MAX_SOURCES`]. No real source
/// has this name: every source name holds a `/` (`SENDER/TYPE`).
pub const OTHER: &str = "_other";

/// Counts by source name, at most `cap` names plus [`OTHER`].
#[derive(Debug, Clone)]
pub(crate) struct SourceTable {
    rows: BTreeMap<String, SourceCounts>,
    cap: usize,
}

impl Default for SourceTable {
    fn default() -> Self {
        Self::with_cap(MAX_SOURCES)
    }
}

impl SourceTable {
    /// A table counting at most `cap` names one by one.
    pub(crate) fn with_cap(cap: usize) -> Self {
        Self {
            rows: BTreeMap::new(),
            cap,
        }
    }

    /// Adds `accepted` and `rejected` lines from `source` at `now` (Unix
    /// seconds): to its own row when it has one or there is room for one,
    /// else to [`OTHER`].
    pub(crate) fn count(&mut self, source: &str, accepted: u64, rejected: u64, now: i64) {
        let named = self.rows.len() - usize::from(self.rows.contains_key(OTHER));
        let key = if self.rows.contains_key(source) || named < self.cap {
            source
        } else {
            OTHER
        };
        let counts = self.rows.entry(key.to_owned()).or_default();
        counts.accepted += accepted;
        counts.rejected += rejected;
        counts.last_seen = now;
        if counts.first_seen == 0 {
            counts.first_seen = now;
        }
    }

    /// Every row, by name.
    pub(crate) fn rows(&self) -> &BTreeMap<String, SourceCounts> {
        &self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_cap_new_names_are_counted_as_other() {
        let mut table = SourceTable::with_cap(3);
        for (n, name) in ["a/x", "b/x", "c/x", "d/x", "e/x"].iter().enumerate() {
            table.count(name, 2, 1, 100 + n as i64);
        }
        // A name that has a row keeps counting there.
        table.count("a/x", 5, 0, 200);
        let rows = table.rows();
        let names: Vec<&str> = rows.keys().map(String::as_str).collect();
        assert_eq!(names, ["_other", "a/x", "b/x", "c/x"]);
        assert_eq!(
            rows["a/x"],
            SourceCounts {
                accepted: 7,
                rejected: 1,
                last_seen: 200,
                first_seen: 100,
            }
        );
        assert_eq!(
            rows["_other"],
            SourceCounts {
                accepted: 4,
                rejected: 2,
                last_seen: 104,
                first_seen: 103,
            }
        );
    }

    #[test]
    fn the_default_cap_is_a_thousand_names() {
        let mut table = SourceTable::default();
        for n in 0..1_500 {
            table.count(&format!("sender/{n}"), 1, 0, 1);
        }
        assert_eq!(table.rows().len(), 1_001);
        assert_eq!(table.rows()["_other"].accepted, 500);
        assert_eq!(table.rows()["sender/999"].accepted, 1);
        assert!(!table.rows().contains_key("sender/1000"));
    }
}
