//! The audit trail: an append-only, hash-chained log of every change.
//!
//! Entry `n` stores `hash_n = sha256(hash_{n-1} || canonical_json(entry_n))`
//! (hex), where `hash_0` is 64 zeros and the canonical JSON has sorted keys
//! and no whitespace. [`verify_chain`] recomputes the chain in `seq` order
//! and names the first entry that was edited, removed or reordered. The
//! store appends entries in the same transaction as the change itself.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ids::{IncidentId, UserId};

/// The hash before the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Writes `value` as JSON with object keys sorted (by their UTF-8 bytes) at
/// every level and no whitespace. The order is written out here rather than
/// left to `serde_json::Map`, whose order depends on whether any crate in
/// the build turns on serde_json's `preserve_order` feature: the hash must
/// not change with the build.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: UserId,
    /// What (`incident.transition`, `report.file`, `user.create`, ...).
    pub action: String,
    /// The kind of thing changed (`incident`, `report`, `user`, ...).
    pub entity: String,
    /// Its id.
    pub entity_id: String,
    /// The incident it concerns (drives visibility), if any.
    pub incident_id: Option<IncidentId>,
    /// A second incident the entry names (the other side of a link or a
    /// merge): the entry is visible only to callers who see both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_incident_id: Option<IncidentId>,
    /// Written while an incident it names was sensitive, or about a
    /// sensitive report or alert: it stays hidden from callers who see the
    /// incident only because it stopped being sensitive.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// State before (JSON `null` when created).
    pub before: Value,
    /// State after.
    pub after: Value,
    /// Chain hash (hex).
    pub hash: String,
}

impl AuditEntry {
    /// The canonical JSON the hash covers (everything except `hash`). Times
    /// are unix microseconds so the form doesn't depend on formatting.
    ///
    /// `related_incident_id` and `sensitive` are covered only when set, so
    /// entries written before they existed keep their hashes.
    pub fn canonical(&self) -> String {
        let mut v = json!({
            "seq": self.seq,
            "at": unix_micros(self.at),
            "actor": self.actor.to_string(),
            "action": self.action,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "incident_id": self.incident_id.map(|i| i.to_string()),
            "before": self.before,
            "after": self.after,
        });
        if let Some(related) = self.related_incident_id {
            v["related_incident_id"] = Value::String(related.to_string());
        }
        if self.sensitive {
            v["sensitive"] = Value::Bool(true);
        }
        let mut out = String::with_capacity(256);
        write_canonical(&v, &mut out);
        out
    }

    /// `sha256(prev_hash || canonical_json(self))`, hex.
    pub fn compute_hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(self.canonical().as_bytes());
        hex::encode(h.finalize())
    }
}

/// Unix time in microseconds (the database representation of every time).
pub(crate) fn unix_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// The first bad entry found by [`verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFault {
    /// The seq of the first entry that doesn't verify (for a removed entry,
    /// the seq that is missing).
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// The result of verifying the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: i64,
    /// The first problem, or `None` when the chain verifies.
    pub fault: Option<AuditFault>,
}

impl AuditReport {
    /// Whether the chain verified.
    pub fn is_ok(&self) -> bool {
        self.fault.is_none()
    }
}

/// A raw stored row, as read back for verification (JSON columns as text,
/// so that any edit of a stored byte is seen).
#[derive(Debug, Clone)]
pub(crate) struct RawAuditRow {
    pub seq: i64,
    pub entry: Result<AuditEntry, String>,
    pub before_text: String,
    pub after_text: String,
}

/// Walks rows (in ascending `seq`) and the chain head (`head_seq`,
/// `head_hash`) recorded alongside, and reports the first bad entry.
pub(crate) fn verify_chain(
    rows: impl IntoIterator<Item = RawAuditRow>,
    head: Option<(i64, String)>,
) -> AuditReport {
    let mut prev = GENESIS_HASH.to_owned();
    let mut expected = 1i64;
    let mut n = 0i64;
    let fault = |seq, reason: String| Some(AuditFault { seq, reason });
    for row in rows {
        n += 1;
        if row.seq != expected {
            return AuditReport {
                entries: n,
                fault: fault(
                    expected,
                    format!("entry {expected} is missing (next entry is {})", row.seq),
                ),
            };
        }
        let entry = match row.entry {
            Ok(e) => e,
            Err(reason) => {
                return AuditReport {
                    entries: n,
                    fault: fault(
                        row.seq,
                        format!("entry {} is unreadable: {reason}", row.seq),
                    ),
                };
            }
        };
        // The stored JSON text must be exactly the canonical form that was
        // hashed; a whitespace or escaping edit is an edit too.
        let (before, after) = (entry.before.to_string(), entry.after.to_string());
        if before != row.before_text || after != row.after_text {
            return AuditReport {
                entries: n,
                fault: fault(
                    row.seq,
                    format!("entry {} was edited (JSON text altered)", row.seq),
                ),
            };
        }
        let h = entry.compute_hash(&prev);
        if h != entry.hash {
            return AuditReport {
                entries: n,
                fault: fault(
                    row.seq,
                    format!(
                        "entry {} was edited, removed or reordered (hash mismatch)",
                        row.seq
                    ),
                ),
            };
        }
        prev = h;
        expected += 1;
    }
    let last = expected - 1;
    let fault = match head {
        Some((head_seq, _)) if head_seq > last => fault(
            last + 1,
            format!(
                "entry {} is missing (the chain head records {head_seq} entries)",
                last + 1
            ),
        ),
        Some((head_seq, _)) if head_seq < last => fault(
            head_seq + 1,
            format!(
                "entry {} was appended outside the store (the chain head records {head_seq} entries)",
                head_seq + 1
            ),
        ),
        Some((_, head_hash)) if last > 0 && head_hash != prev => {
            fault(last, format!("entry {last} does not match the chain head"))
        }
        _ => None,
    };
    AuditReport { entries: n, fault }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEntry {
                    seq,
                    at: OffsetDateTime::UNIX_EPOCH,
                    actor: UserId::SYSTEM,
                    action: format!("a{seq}"),
                    entity: "x".into(),
                    entity_id: seq.to_string(),
                    incident_id: None,
                    related_incident_id: None,
                    sensitive: false,
                    before: Value::Null,
                    after: json!({ "n": seq }),
                    hash: String::new(),
                };
                e.hash = e.compute_hash(&prev);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn raw(entries: &[AuditEntry]) -> Vec<RawAuditRow> {
        entries
            .iter()
            .map(|e| RawAuditRow {
                seq: e.seq,
                entry: Ok(e.clone()),
                before_text: e.before.to_string(),
                after_text: e.after.to_string(),
            })
            .collect()
    }

    fn head(entries: &[AuditEntry]) -> Option<(i64, String)> {
        entries.last().map(|e| (e.seq, e.hash.clone()))
    }

    #[test]
    fn canonical_json_is_sorted_and_compact() {
        let c = chain(1).remove(0).canonical();
        assert!(c.starts_with("{\"action\":\"a1\",\"actor\":"), "{c}");
        assert!(!c.contains(' '), "{c}");
    }

    #[test]
    fn canonical_json_sorts_nested_keys_whatever_the_map_order() {
        // Built in reverse order: with serde_json's `preserve_order` on,
        // the map keeps this order, and the canonical form must not.
        let mut inner = serde_json::Map::new();
        inner.insert("z".into(), json!([{"b": 1, "a": "x y"}]));
        inner.insert("a".into(), json!(null));
        let mut value = serde_json::Map::new();
        value.insert("k".into(), Value::Object(inner));
        value.insert("b\"q".into(), json!(1.5));
        let mut out = String::new();
        write_canonical(&Value::Object(value), &mut out);
        assert_eq!(
            out,
            r#"{"b\"q":1.5,"k":{"a":null,"z":[{"a":"x y","b":1}]}}"#
        );
    }

    #[test]
    fn verify_names_the_first_bad_entry() {
        let good = chain(5);
        let h = head(&good);
        assert_eq!(verify_chain(raw(&good), h.clone()).fault, None);
        // Edited content.
        let mut edited = good.clone();
        edited[2].after = json!({ "n": 99 });
        assert_eq!(verify_chain(raw(&edited), h.clone()).fault.unwrap().seq, 3);
        // Edited JSON text that parses to the same value.
        let mut rows = raw(&good);
        rows[1].after_text = "{ \"n\":2}".into();
        assert_eq!(verify_chain(rows, h.clone()).fault.unwrap().seq, 2);
        // Removed entry.
        let mut removed = good.clone();
        removed.remove(3);
        let f = verify_chain(raw(&removed), h.clone()).fault.unwrap();
        assert_eq!((f.seq, f.reason.contains("missing")), (4, true));
        // Removed tail: the head still records 5.
        let f = verify_chain(raw(&good[..4]), h.clone()).fault.unwrap();
        assert_eq!(f.seq, 5);
        // Reordered (two entries swap positions and seq numbers).
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        swapped[1].seq = 2;
        swapped[2].seq = 3;
        assert_eq!(verify_chain(raw(&swapped), h.clone()).fault.unwrap().seq, 2);
        // Entry appended outside the store.
        let more = chain(6);
        assert_eq!(verify_chain(raw(&more), h).fault.unwrap().seq, 6);
        // Unreadable row.
        let mut rows = raw(&good);
        rows[0].entry = Err("bad json".into());
        assert_eq!(verify_chain(rows, head(&good)).fault.unwrap().seq, 1);
    }
}
