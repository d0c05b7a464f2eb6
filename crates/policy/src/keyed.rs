//! [`KeyedState`]: a map from key to per-key detector state that stays
//! bounded. Keys idle for longer than the TTL are dropped, and past the
//! key limit the least recently seen keys are evicted (ties broken by key,
//! so eviction is deterministic).
//!
//! A table serializes as its entries sorted by key (each with its
//! last-seen time) and its sweep and eviction counters; [`SavedKeys`]
//! reads that back, and [`KeyedState::restored`] refills a table built
//! from configuration. The TTL and key limit come from configuration and
//! are not written.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::saved::RestoreError;

/// A 64-bit key for text parts (a fixed-key SipHash, so runs are
/// reproducible). Tables keyed by it do not own strings, which keeps a key
/// to a few dozen bytes.
pub fn hash_key(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// What [`hash_key`] gives for a fixed text in this build: saved state
/// keyed by the hash records it, and is refused by a build whose hash
/// differs (the standard library does not promise it never changes).
pub(crate) fn hash_probe() -> u64 {
    hash_key(&["watchpost", "saved state"])
}

/// Per-key state with an idle TTL and a maximum key count.
#[derive(Debug)]
pub struct KeyedState<K, V> {
    map: HashMap<K, (i64, V)>,
    ttl: i64,
    max_keys: usize,
    last_sweep: i64,
    evicted: u64,
}

impl<K, V> KeyedState<K, V> {
    /// Bytes a key takes in the table's array: its key, last-seen time and
    /// state, not counting what the state owns on the heap. The array has
    /// one such slot and one control byte per bucket, and holds 7/16 to 7/8
    /// of a key per bucket (it doubles when 7/8 full), so a key costs 1.15
    /// to 2.3 slots.
    pub const SLOT_BYTES: usize = std::mem::size_of::<(K, (i64, V))>();
}

impl<K: Hash + Eq + Ord + Clone, V> KeyedState<K, V> {
    /// An empty table; `ttl` in seconds.
    pub fn new(ttl: u64, max_keys: usize) -> Self {
        Self {
            map: HashMap::new(),
            ttl: i64::try_from(ttl).unwrap_or(i64::MAX),
            max_keys: max_keys.max(1),
            last_sweep: i64::MIN,
            evicted: 0,
        }
    }

    /// The state of `key`, created with `init` if absent, marked as seen at
    /// `now` (unix seconds).
    pub fn entry(&mut self, key: K, now: i64, init: impl FnOnce() -> V) -> &mut V {
        self.maybe_sweep(now);
        if !self.map.contains_key(&key) && self.map.len() >= self.max_keys {
            self.evict(now);
        }
        let slot = self.map.entry(key).or_insert_with(|| (now, init()));
        slot.0 = slot.0.max(now);
        &mut slot.1
    }

    /// The state of `key`, if present (does not mark it as seen).
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(_, v)| v)
    }

    /// The state of `key`, mutable, if present (does not mark it as seen).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|(_, v)| v)
    }

    /// Removes a key, returning its state.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.map.remove(key).map(|(_, v)| v)
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys dropped so far (expired or evicted).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// All entries sorted by key (for deterministic end-of-input output).
    pub fn sorted(&self) -> Vec<(&K, &V)> {
        let mut all: Vec<_> = self.map.iter().map(|(k, (_, v))| (k, v)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// All entries, mutable, sorted by key.
    pub fn sorted_mut(&mut self) -> Vec<(&K, &mut V)> {
        let mut all: Vec<_> = self.map.iter_mut().map(|(k, (_, v))| (k, v)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    fn maybe_sweep(&mut self, now: i64) {
        // Sweep expired keys at most once per TTL of event time.
        if self.last_sweep != i64::MIN && now.saturating_sub(self.last_sweep) < self.ttl {
            return;
        }
        self.last_sweep = now;
        let ttl = self.ttl;
        let before = self.map.len();
        self.map
            .retain(|_, (seen, _)| now.saturating_sub(*seen) <= ttl);
        self.evicted += (before - self.map.len()) as u64;
    }

    fn evict(&mut self, now: i64) {
        let ttl = self.ttl;
        let before = self.map.len();
        self.map
            .retain(|_, (seen, _)| now.saturating_sub(*seen) <= ttl);
        if self.map.len() >= self.max_keys {
            // Drop the oldest tenth in one go, so eviction is amortised.
            let drop = (self.max_keys / 10).max(1);
            let mut ages: Vec<(i64, K)> = self
                .map
                .iter()
                .map(|(k, (seen, _))| (*seen, k.clone()))
                .collect();
            ages.select_nth_unstable(drop - 1);
            ages.truncate(drop);
            for (_, k) in ages {
                self.map.remove(&k);
            }
        }
        self.evicted += (before - self.map.len()) as u64;
    }

    /// A table with this one's TTL and key limit holding `saved`, or an
    /// error when `saved` repeats a key or holds more keys than the limit.
    /// `self` is not changed.
    pub(crate) fn restored(&self, saved: SavedKeys<K, V>) -> Result<Self, RestoreError> {
        if saved.entries.len() > self.max_keys {
            return Err(RestoreError::Invalid("more keys than the key limit"));
        }
        let mut map = HashMap::with_capacity(saved.entries.len());
        for (key, seen, value) in saved.entries {
            if map.insert(key, (seen, value)).is_some() {
                return Err(RestoreError::Invalid("a key is saved twice"));
            }
        }
        Ok(Self {
            map,
            ttl: self.ttl,
            max_keys: self.max_keys,
            last_sweep: saved.last_sweep,
            evicted: saved.evicted,
        })
    }
}

/// The saved form of a [`KeyedState`], borrowed: entries sorted by key, so
/// the same state always encodes to the same bytes.
#[derive(Serialize)]
struct SavedKeysRef<'a, K, V> {
    entries: Vec<(&'a K, i64, &'a V)>,
    last_sweep: i64,
    evicted: u64,
}

/// Writes the entries (key, last seen, state) sorted by key, the time of
/// the last sweep and the count of keys dropped; not the TTL or key limit,
/// which come from configuration.
impl<K: Serialize + Ord, V: Serialize> Serialize for KeyedState<K, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&K, i64, &V)> = self
            .map
            .iter()
            .map(|(k, (seen, v))| (k, *seen, v))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        SavedKeysRef {
            entries,
            last_sweep: self.last_sweep,
            evicted: self.evicted,
        }
        .serialize(s)
    }
}

/// A [`KeyedState`] as saved, read back: put it in a table built from
/// configuration with [`KeyedState::restored`].
#[derive(Debug, Deserialize)]
pub(crate) struct SavedKeys<K, V> {
    entries: Vec<(K, i64, V)>,
    last_sweep: i64,
    evicted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_keys_expire_and_limit_holds() {
        let mut s: KeyedState<u32, u32> = KeyedState::new(100, 10);
        for k in 0..10 {
            *s.entry(k, k as i64, || 0) += 1;
        }
        assert_eq!(s.len(), 10);
        // An eleventh key evicts the oldest (key 0).
        s.entry(10, 20, || 0);
        assert_eq!(s.len(), 10);
        assert!(s.get(&0).is_none());
        assert!(s.get(&1).is_some());
        // Much later, everything idle is swept.
        s.entry(99, 1000, || 0);
        assert_eq!(s.len(), 1);
        assert_eq!(s.evicted(), 11);
    }

    #[test]
    fn saved_table_restores_entries_times_and_counters() {
        let mut s: KeyedState<u64, u32> = KeyedState::new(100, 10);
        for k in 0..11u64 {
            *s.entry(k, k as i64, || 0) += 1;
        }
        *s.entry(5, 30, || 0) += 1;
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"entries":[[1,1,1],[2,2,1],[3,3,1],[4,4,1],[5,30,2],[6,6,1],[7,7,1],[8,8,1],[9,9,1],[10,10,1]],"last_sweep":0,"evicted":1}"#
        );
        let fresh: KeyedState<u64, u32> = KeyedState::new(100, 10);
        let mut back = fresh
            .restored(serde_json::from_str(&text).unwrap())
            .unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        // Both tables go on the same way: key 1 is the oldest, evicted by
        // a new key, and at 131 everything not seen since 31 is swept.
        for t in [&mut s, &mut back] {
            t.entry(11, 40, || 0);
            assert!(t.get(&1).is_none());
            t.entry(12, 131, || 0);
        }
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&s).unwrap()
        );
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn saved_table_over_the_limit_or_with_a_repeated_key_is_refused() {
        let t: KeyedState<u64, u32> = KeyedState::new(100, 2);
        let three = r#"{"entries":[[1,1,1],[2,2,1],[3,3,1]],"last_sweep":0,"evicted":0}"#;
        assert!(t.restored(serde_json::from_str(three).unwrap()).is_err());
        let twice = r#"{"entries":[[1,1,1],[1,2,1]],"last_sweep":0,"evicted":0}"#;
        assert!(t.restored(serde_json::from_str(twice).unwrap()).is_err());
    }
}
