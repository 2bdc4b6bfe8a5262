//! Per-table Bloom filter over escaped user keys (LevelDB's double-hashing scheme, xxh3 hashes).
//!
//! Layout: the bit array, then one byte `k` (number of probes). An empty filter matches everything.

use xxhash_rust::xxh3::xxh3_64;

pub fn hash(user_prefix: &[u8]) -> u64 {
    xxh3_64(user_prefix)
}

pub fn build(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    if bits_per_key == 0 || hashes.is_empty() {
        return Vec::new();
    }
    let k = ((bits_per_key as f64) * 0.69).round().clamp(1.0, 30.0) as u8;
    let bits = (hashes.len() * bits_per_key).max(64);
    let bytes = bits.div_ceil(8);
    let bits = bytes * 8;
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        let mut a = h as u32;
        let delta = ((h >> 32) as u32) | 1;
        for _ in 0..k {
            let bit = a as usize % bits;
            out[bit / 8] |= 1 << (bit % 8);
            a = a.wrapping_add(delta);
        }
    }
    out[bytes] = k;
    out
}

pub fn may_contain(filter: &[u8], h: u64) -> bool {
    let Some((&k, bitmap)) = filter.split_last() else {
        return true;
    };
    if bitmap.is_empty() || k == 0 || k > 30 {
        return true; // unknown layout: never give a false negative
    }
    let bits = bitmap.len() * 8;
    let mut a = h as u32;
    let delta = ((h >> 32) as u32) | 1;
    for _ in 0..k {
        let bit = a as usize % bits;
        if bitmap[bit / 8] & (1 << (bit % 8)) == 0 {
            return false;
        }
        a = a.wrapping_add(delta);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys: Vec<u64> = (0..10_000u32).map(|i| hash(&i.to_le_bytes())).collect();
        let f = build(&keys, 10);
        assert!(keys.iter().all(|&h| may_contain(&f, h)));
        let fp = (10_000..20_000u32)
            .filter(|i| may_contain(&f, hash(&i.to_le_bytes())))
            .count();
        assert!(fp < 300, "false positive rate too high: {fp}/10000");
        assert!(may_contain(&[], 42));
    }
}
