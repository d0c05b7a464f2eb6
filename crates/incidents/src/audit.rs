//! The audit trail: an append-only, keyed hash chain of every change.
//!
//! Entry `n` stores `hash_n = HMAC-SHA256(key, hash_{n-1} || canonical_json(entry_n))`
//! (hex), where `hash_0` is 64 zeros and the canonical JSON has sorted keys
//! and no whitespace. The [`AuditKey`] is kept outside the database (a
//! `0600` file, by default `audit.key` in the data directory), so someone
//! who can only write to the database cannot recompute the chain after an
//! edit. `ChainVerifier` recomputes the chain in `seq` order, one entry
//! at a time (constant memory), and names the first entry that was edited,
//! removed or reordered. The store appends entries in the same transaction
//! as the change itself.
//!
//! Chains written before the key existed used plain SHA-256
//! ([`AuditEntry::legacy_hash`]). The store re-keys such a chain once, when
//! it creates the key: it verifies the SHA-256 chain, recomputes every hash
//! with the key and appends an `audit.rekey` entry, all in one transaction
//! (see `API.md`).

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ids::{IncidentId, UserId};

/// The length of an [`AuditKey`] in bytes.
pub const AUDIT_KEY_LEN: usize = 32;

/// The name of the key file inside a data directory.
pub const AUDIT_KEY_FILE: &str = "audit.key";

/// Errors reading or creating an [`AuditKey`] file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditKeyError {
    /// The file can't be read, created or written.
    #[error("audit key file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds something other than 64 hex digits.
    #[error("audit key file {path}: expected 64 hex digits (a 32-byte key) on one line")]
    Malformed {
        /// The file.
        path: std::path::PathBuf,
    },
}

/// The HMAC key of the audit chain: 32 random bytes, kept outside the
/// database. Its `Debug` never shows the key; [`AuditKey::id`] names it
/// without revealing it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey {
    bytes: [u8; AUDIT_KEY_LEN],
    created: bool,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("id", &self.id())
            .field("bytes", &"[redacted]")
            .finish()
    }
}

impl AuditKey {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; AUDIT_KEY_LEN]) -> Self {
        AuditKey {
            bytes,
            created: false,
        }
    }

    /// A fresh random key (from the operating system's generator through
    /// `rand`'s thread-local CSPRNG).
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; AUDIT_KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        AuditKey {
            bytes,
            created: true,
        }
    }

    /// Reads the key file at `path`: 64 hex digits, optionally followed by
    /// a newline.
    pub fn load(path: &Path) -> Result<Self, AuditKeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuditKeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        let malformed = || AuditKeyError::Malformed {
            path: path.to_owned(),
        };
        let mut bytes = [0u8; AUDIT_KEY_LEN];
        hex::decode_to_slice(text.trim_end_matches(['\n', '\r']), &mut bytes)
            .map_err(|_| malformed())?;
        Ok(AuditKey::from_bytes(bytes))
    }

    /// Reads the key file at `path`, or creates it with a fresh random key
    /// (mode `0600`, never overwriting a file that appears meanwhile) when
    /// it does not exist. [`AuditKey::was_created`] tells which happened.
    pub fn load_or_create(path: &Path) -> Result<Self, AuditKeyError> {
        match AuditKey::load(path) {
            Err(AuditKeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let io = |source| AuditKeyError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let key = AuditKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(path) {
            Ok(file) => file,
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return AuditKey::load(path);
            }
            Err(e) => return Err(io(e)),
        };
        file.write_all(format!("{}\n", hex::encode(key.bytes)).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        Ok(key)
    }

    /// Whether this key was just generated (by [`AuditKey::generate`] or
    /// [`AuditKey::load_or_create`]) rather than read. Only a new key may
    /// re-key a chain written without one.
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// A public name for the key: the first 16 hex digits of
    /// `HMAC-SHA256(key, "watchpost audit key id")`. Stored with the chain
    /// so that opening a database with another key fails clearly.
    pub fn id(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"watchpost audit key id");
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.bytes).expect("HMAC takes any key length")
    }
}

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

    /// `HMAC-SHA256(key, prev_hash || canonical_json(self))`, hex.
    pub fn compute_hash(&self, key: &AuditKey, prev_hash: &str) -> String {
        let mut mac = key.mac();
        mac.update(prev_hash.as_bytes());
        mac.update(self.canonical().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `sha256(prev_hash || canonical_json(self))`, hex: the unkeyed form
    /// of chains written before the key existed.
    pub fn legacy_hash(&self, prev_hash: &str) -> String {
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

/// The first bad entry found by `verify_chain`.
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

/// How a chain's hashes are computed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChainHash<'k> {
    /// HMAC-SHA256 with the key (every chain the store writes now).
    Keyed(&'k AuditKey),
    /// Plain SHA-256 (chains written before the key existed).
    Legacy,
}

impl ChainHash<'_> {
    fn hash(self, entry: &AuditEntry, prev: &str) -> String {
        match self {
            ChainHash::Keyed(key) => entry.compute_hash(key, prev),
            ChainHash::Legacy => entry.legacy_hash(prev),
        }
    }
}

/// Checks a chain one row at a time, in ascending `seq`, holding only the
/// previous hash: memory does not grow with the chain.
pub(crate) struct ChainVerifier<'k> {
    alg: ChainHash<'k>,
    prev: String,
    expected: i64,
    entries: i64,
    fault: Option<AuditFault>,
}

impl<'k> ChainVerifier<'k> {
    /// A verifier at the start of a chain.
    pub(crate) fn new(alg: ChainHash<'k>) -> Self {
        ChainVerifier {
            alg,
            prev: GENESIS_HASH.to_owned(),
            expected: 1,
            entries: 0,
            fault: None,
        }
    }

    /// Checks the next row; returns the entry when it verifies, `None` once
    /// a fault is found (later rows are then ignored).
    pub(crate) fn push(&mut self, row: RawAuditRow) -> Option<AuditEntry> {
        if self.fault.is_some() {
            return None;
        }
        self.entries += 1;
        let expected = self.expected;
        let mut fail = |seq, reason: String| {
            self.fault = Some(AuditFault { seq, reason });
            None
        };
        if row.seq != expected {
            return fail(
                expected,
                format!("entry {expected} is missing (next entry is {})", row.seq),
            );
        }
        let entry = match row.entry {
            Ok(e) => e,
            Err(reason) => {
                return fail(
                    row.seq,
                    format!("entry {} is unreadable: {reason}", row.seq),
                );
            }
        };
        // The stored JSON text must be exactly the canonical form that was
        // hashed; a whitespace or escaping edit is an edit too.
        let (before, after) = (entry.before.to_string(), entry.after.to_string());
        if before != row.before_text || after != row.after_text {
            return fail(
                row.seq,
                format!("entry {} was edited (JSON text altered)", row.seq),
            );
        }
        let h = self.alg.hash(&entry, &self.prev);
        if h != entry.hash {
            let why = match self.alg {
                ChainHash::Keyed(_) => {
                    "edited, removed or reordered, or written without this audit key"
                }
                ChainHash::Legacy => "edited, removed or reordered",
            };
            return fail(
                row.seq,
                format!("entry {} was {why} (hash mismatch)", row.seq),
            );
        }
        self.prev = h;
        self.expected += 1;
        Some(entry)
    }

    /// Ends the walk against the chain head (`head_seq`, `head_hash`)
    /// recorded alongside, and reports the first bad entry.
    pub(crate) fn finish(self, head: Option<(i64, String)>) -> AuditReport {
        if self.fault.is_some() {
            return AuditReport {
                entries: self.entries,
                fault: self.fault,
            };
        }
        let last = self.expected - 1;
        let fault = |seq, reason: String| Some(AuditFault { seq, reason });
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
            Some((_, head_hash)) if last > 0 && head_hash != self.prev => {
                fault(last, format!("entry {last} does not match the chain head"))
            }
            _ => None,
        };
        AuditReport {
            entries: self.entries,
            fault,
        }
    }
}

/// Walks rows (in ascending `seq`) and the chain head with `key`, and
/// reports the first bad entry.
#[cfg(test)]
pub(crate) fn verify_chain(
    key: &AuditKey,
    rows: impl IntoIterator<Item = RawAuditRow>,
    head: Option<(i64, String)>,
) -> AuditReport {
    let mut verifier = ChainVerifier::new(ChainHash::Keyed(key));
    for row in rows {
        if verifier.push(row).is_none() {
            break;
        }
    }
    verifier.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::from_bytes([7; AUDIT_KEY_LEN])
    }

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
                e.hash = e.compute_hash(&key(), &prev);
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
        assert_eq!(verify_chain(&key(), raw(&good), h.clone()).fault, None);
        // Edited content.
        let mut edited = good.clone();
        edited[2].after = json!({ "n": 99 });
        assert_eq!(
            verify_chain(&key(), raw(&edited), h.clone())
                .fault
                .unwrap()
                .seq,
            3
        );
        // Edited JSON text that parses to the same value.
        let mut rows = raw(&good);
        rows[1].after_text = "{ \"n\":2}".into();
        assert_eq!(verify_chain(&key(), rows, h.clone()).fault.unwrap().seq, 2);
        // Removed entry.
        let mut removed = good.clone();
        removed.remove(3);
        let f = verify_chain(&key(), raw(&removed), h.clone())
            .fault
            .unwrap();
        assert_eq!((f.seq, f.reason.contains("missing")), (4, true));
        // Removed tail: the head still records 5.
        let f = verify_chain(&key(), raw(&good[..4]), h.clone())
            .fault
            .unwrap();
        assert_eq!(f.seq, 5);
        // Reordered (two entries swap positions and seq numbers).
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        swapped[1].seq = 2;
        swapped[2].seq = 3;
        assert_eq!(
            verify_chain(&key(), raw(&swapped), h.clone())
                .fault
                .unwrap()
                .seq,
            2
        );
        // Entry appended outside the store.
        let more = chain(6);
        assert_eq!(verify_chain(&key(), raw(&more), h).fault.unwrap().seq, 6);
        // Unreadable row.
        let mut rows = raw(&good);
        rows[0].entry = Err("bad json".into());
        assert_eq!(
            verify_chain(&key(), rows, head(&good)).fault.unwrap().seq,
            1
        );
    }

    #[test]
    fn a_forger_without_the_key_is_detected() {
        let good = chain(5);
        // Edit entry 3 and recompute every later hash with plain SHA-256,
        // as someone with only database access would; the head too.
        let mut forged = good.clone();
        forged[2].after = json!({ "n": 300 });
        let mut prev = forged[1].hash.clone();
        for e in &mut forged[2..] {
            e.hash = e.legacy_hash(&prev);
            prev = e.hash.clone();
        }
        let f = verify_chain(&key(), raw(&forged), head(&forged))
            .fault
            .unwrap();
        assert_eq!(f.seq, 3, "{}", f.reason);
        assert!(f.reason.contains("hash mismatch"), "{}", f.reason);
        // The same forgery passes a plain SHA-256 walk: the key is what
        // catches it.
        let mut legacy = chain(5);
        let mut prev = GENESIS_HASH.to_owned();
        for e in &mut legacy {
            e.hash = e.legacy_hash(&prev);
            prev = e.hash.clone();
        }
        let mut v = ChainVerifier::new(ChainHash::Legacy);
        for row in raw(&legacy) {
            assert!(v.push(row).is_some());
        }
        assert_eq!(v.finish(head(&legacy)).fault, None);
    }

    #[test]
    fn the_wrong_key_names_the_first_entry() {
        let good = chain(4);
        let other = AuditKey::from_bytes([8; AUDIT_KEY_LEN]);
        let f = verify_chain(&other, raw(&good), head(&good)).fault.unwrap();
        assert_eq!(f.seq, 1, "{}", f.reason);
        assert_eq!(verify_chain(&key(), raw(&good), head(&good)).fault, None);
    }

    #[test]
    fn hashes_are_hmac_sha256_of_prev_and_canonical_json() {
        // Expected value from outside the code: Python's
        // hmac.new(bytes([7]*32), prev + canonical, hashlib.sha256).
        let e = &chain(1)[0];
        assert_eq!(
            e.canonical(),
            format!(
                "{{\"action\":\"a1\",\"actor\":\"{}\",\"after\":{{\"n\":1}},\"at\":0,\"before\":null,\"entity\":\"x\",\"entity_id\":\"1\",\"incident_id\":null,\"seq\":1}}",
                UserId::SYSTEM
            )
        );
        assert_eq!(e.hash, EXPECTED_FIRST_HMAC);
    }

    const EXPECTED_FIRST_HMAC: &str =
        "31356f16adef7b4105923dfd0d72e00fd192c1780e8fdfab1904b5b2998f8a46";

    #[test]
    fn key_debug_never_shows_the_key() {
        let k = AuditKey::from_bytes([0xab; AUDIT_KEY_LEN]);
        let shown = format!("{k:?} {:?}", Some(k.clone()));
        assert!(
            !shown.contains(&hex::encode([0xab; AUDIT_KEY_LEN])),
            "{shown}"
        );
        assert!(!shown.contains("171, 171"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn key_files_are_created_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(AUDIT_KEY_FILE);
        let created = AuditKey::load_or_create(&path).unwrap();
        assert!(created.was_created());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65, "64 hex digits and a newline");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = AuditKey::load_or_create(&path).unwrap();
        assert!(!again.was_created());
        assert_eq!(again.id(), created.id());
        assert_ne!(AuditKey::generate().id(), created.id());
        std::fs::write(&path, "not hex\n").unwrap();
        let err = AuditKey::load_or_create(&path).unwrap_err();
        assert!(matches!(err, AuditKeyError::Malformed { .. }), "{err}");
        std::fs::write(&path, "abcd\n").unwrap();
        assert!(matches!(
            AuditKey::load(&path),
            Err(AuditKeyError::Malformed { .. })
        ));
    }
}
