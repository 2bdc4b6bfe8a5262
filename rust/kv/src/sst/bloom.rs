//! Per-table Bloom filter over escaped user keys (xxh3 hashes), cache-blocked.
//!
//! Layout: the bit array, then one byte. Blocked filters (written since the read-path work) end
//! in `0x80 | k`: the array is 512-bit (one cache line) blocks, a key's upper hash bits pick its
//! block and all `k` probes stay inside it, so a probe costs one cache miss, not `k`. Older
//! filters end in `k` (<= 30): LevelDB's double hashing over the whole array. An empty filter,
//! or an unknown trailing byte, matches everything (never a false negative).

use xxhash_rust::xxh3::xxh3_64;

const BLOCKED: u8 = 0x80;
const LINE_BITS: usize = 512;

pub fn hash(user_prefix: &[u8]) -> u64 {
    xxh3_64(user_prefix)
}

fn probes(bits_per_key: usize) -> u8 {
    ((bits_per_key as f64) * 0.69).round().clamp(1.0, 30.0) as u8
}

/// The 512-bit block of a hash: the upper 32 bits scaled onto the number of blocks.
#[inline]
fn line_of(h: u64, lines: usize) -> usize {
    (((h >> 32) * lines as u64) >> 32) as usize
}

pub fn build(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    if bits_per_key == 0 || hashes.is_empty() {
        return Vec::new();
    }
    let k = probes(bits_per_key);
    let lines = (hashes.len() * bits_per_key).div_ceil(LINE_BITS).max(1);
    let bytes = lines * LINE_BITS / 8;
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        let base = line_of(h, lines) * LINE_BITS;
        let mut a = h as u32;
        let delta = a.rotate_right(17) | 1;
        for _ in 0..k {
            let bit = base + (a as usize % LINE_BITS);
            out[bit / 8] |= 1 << (bit % 8);
            a = a.wrapping_add(delta);
        }
    }
    out[bytes] = BLOCKED | k;
    out
}

/// The byte a blocked filter probes first for `h` (`None`: not a blocked filter).
pub fn line_addr(filter: &[u8], h: u64) -> Option<*const u8> {
    let (&tag, bitmap) = filter.split_last()?;
    if tag & BLOCKED == 0 || bitmap.is_empty() || bitmap.len() % (LINE_BITS / 8) != 0 {
        return None;
    }
    let lines = bitmap.len() / (LINE_BITS / 8);
    bitmap
        .get(line_of(h, lines) * (LINE_BITS / 8))
        .map(|b| b as *const u8)
}

pub fn may_contain(filter: &[u8], h: u64) -> bool {
    let Some((&tag, bitmap)) = filter.split_last() else {
        return true;
    };
    let k = tag & !BLOCKED;
    if bitmap.is_empty() || k == 0 || k > 30 {
        return true; // unknown layout: never give a false negative
    }
    if tag & BLOCKED != 0 {
        if bitmap.len() % (LINE_BITS / 8) != 0 {
            return true;
        }
        let lines = bitmap.len() / (LINE_BITS / 8);
        let base = line_of(h, lines) * LINE_BITS;
        let mut a = h as u32;
        let delta = a.rotate_right(17) | 1;
        for _ in 0..k {
            let bit = base + (a as usize % LINE_BITS);
            if bitmap[bit / 8] & (1 << (bit % 8)) == 0 {
                return false;
            }
            a = a.wrapping_add(delta);
        }
        return true;
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

    #[test]
    fn reads_the_unblocked_layout_of_older_tables() {
        // LevelDB-style double hashing over the whole array, as version-1 tables wrote it.
        let keys: Vec<u64> = (0..2_000u32).map(|i| hash(&i.to_le_bytes())).collect();
        let bits = keys.len() * 10;
        let mut old = vec![0u8; bits / 8 + 1];
        for &h in &keys {
            let mut a = h as u32;
            let delta = ((h >> 32) as u32) | 1;
            for _ in 0..7 {
                let bit = a as usize % bits;
                old[bit / 8] |= 1 << (bit % 8);
                a = a.wrapping_add(delta);
            }
        }
        old[bits / 8] = 7;
        assert!(keys.iter().all(|&h| may_contain(&old, h)));
        let fp = (2_000..12_000u32)
            .filter(|i| may_contain(&old, hash(&i.to_le_bytes())))
            .count();
        assert!(fp < 300, "false positive rate too high: {fp}/10000");
    }
}
