//! [`Shard`]: one of several parts of the ordered stage, split by key.
//!
//! Every consumer of the ordered stage keeps its state under a key: a
//! correlation under its group-by values, a policy detector under the key
//! it declares ([`crate::Detector::shard_key`]; a detector that declares
//! none is one key, its name). Each key belongs to one shard of `count`
//! ([`Shard::of`]). A stage built for shard `i` keeps state only for the
//! keys of shard `i`, so it gives exactly the detections one unsplit stage
//! gives for those keys, provided it is fed every event of those keys:
//! [`crate::Stateful::routes`] names the shards an event must reach.
//!
//! Keys are hashed with FNV-1a (64 bits) and a final mix, which never
//! changes between builds or machines: nodes of one cluster route alike.

/// One shard of `count`. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// This shard's number, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> u32 {
        self.count
    }

    /// The shard of `count` that `key` belongs to.
    pub fn of(key: u64, count: u32) -> u32 {
        (mix(key) % u64::from(count.max(1))) as u32
    }

    /// True when `key` belongs to this shard.
    pub fn owns(self, key: u64) -> bool {
        Shard::of(key, self.count) == self.index
    }
}

/// The key of text parts: FNV-1a over each part, with a separator byte no
/// UTF-8 text holds, so `["ab", "c"]` and `["a", "bc"]` differ.
pub fn shard_key(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for part in parts {
        for &b in part.as_bytes().iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// A finaliser (from SplitMix64), so that the low bits a modulus reads
/// depend on every bit of the key.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a 64 of the empty string is its offset basis, and of "a" is
    /// 0xaf63dc4c8601ec8c (the published test vectors); a part adds the
    /// 0xff separator after it.
    #[test]
    fn keys_are_fnv1a_with_separators() {
        let fnv = |bytes: &[u8]| {
            bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
            })
        };
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(shard_key(&["a"]), fnv(b"a\xff"));
        assert_eq!(shard_key(&["a", "b"]), fnv(b"a\xffb\xff"));
        assert_ne!(shard_key(&["ab", "c"]), shard_key(&["a", "bc"]));
        assert_eq!(shard_key(&[]), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn every_key_has_one_shard() {
        assert_eq!(Shard::new(3, 3), None);
        let shards: Vec<Shard> = (0..4).map(|i| Shard::new(i, 4).unwrap()).collect();
        let mut per = [0u32; 4];
        for n in 0..4000u32 {
            let key = shard_key(&[&format!("host{n}")]);
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns(key))
                .map(|s| s.index())
                .collect();
            assert_eq!(owners.len(), 1);
            per[owners[0] as usize] += 1;
        }
        // Spread: each of 4 shards holds a quarter, give or take 10%.
        assert!(per.iter().all(|&n| (900..=1100).contains(&n)), "{per:?}");
        // One shard owns everything.
        assert!(Shard::new(0, 1).unwrap().owns(shard_key(&["x"])));
    }
}
