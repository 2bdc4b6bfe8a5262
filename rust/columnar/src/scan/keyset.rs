//! A set of integer keys as a bitmap over their range: the build side of a hash join handed to
//! the probe side's scan (a *runtime join filter*, [`super::Predicate::InSet`]).
//!
//! A query like TPC-H Q5 joins 6M lineitems with the 228K orders of one year. The join can only
//! keep lineitems whose `l_orderkey` is among those orders' keys; given that set before the
//! lineitem scan starts, the scan tests the key column first (one bit per row), skips row
//! groups and pages whose key range holds no key of the set, and decodes the other columns only
//! for rows that can join (late materialization). The set is a superset filter for the join,
//! never a replacement: the join still matches every row it gets.

/// Integer keys in `[min, max]`, one bit per value of the range.
#[derive(Debug)]
pub struct KeySet {
    min: i64,
    max: i64,
    bits: Vec<u64>,
    len: usize,
}

/// The widest key range a set covers (bits): 64 Mi values, an 8 MiB bitmap.
pub const MAX_SPAN: u64 = 1 << 26;

impl KeySet {
    /// The set of `keys` (duplicates allowed); None when there are none or their range is
    /// wider than [`MAX_SPAN`].
    pub fn new(keys: &[i64]) -> Option<KeySet> {
        let (&first, rest) = keys.split_first()?;
        let (mut min, mut max) = (first, first);
        for &k in rest {
            min = min.min(k);
            max = max.max(k);
        }
        let span = u64::try_from(i128::from(max) - i128::from(min) + 1).ok()?;
        if span > MAX_SPAN {
            return None;
        }
        let mut bits = vec![0u64; span.div_ceil(64) as usize];
        let mut len = 0;
        for &k in keys {
            let i = (k - min) as usize;
            let (w, b) = (i / 64, 1u64 << (i % 64));
            len += usize::from(bits[w] & b == 0);
            bits[w] |= b;
        }
        Some(KeySet {
            min,
            max,
            bits,
            len,
        })
    }

    /// Distinct keys in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The smallest and largest key.
    pub fn range(&self) -> (i64, i64) {
        (self.min, self.max)
    }

    /// Share of the range's values that are keys (1.0: every value of [min, max]).
    pub fn density(&self) -> f64 {
        self.len as f64 / ((self.max - self.min) as f64 + 1.0)
    }

    #[inline]
    pub fn contains(&self, k: i64) -> bool {
        if k < self.min || k > self.max {
            return false;
        }
        let i = (k - self.min) as usize;
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    /// Whether any key lies in `[lo, hi]` (statistics and page pruning).
    pub fn any_in(&self, lo: i128, hi: i128) -> bool {
        let lo = lo.max(i128::from(self.min));
        let hi = hi.min(i128::from(self.max));
        if lo > hi {
            return false;
        }
        let (a, b) = (
            (lo - i128::from(self.min)) as usize,
            (hi - i128::from(self.min)) as usize,
        );
        let (wa, wb) = (a / 64, b / 64);
        let head = u64::MAX << (a % 64);
        let tail = u64::MAX >> (63 - b % 64);
        if wa == wb {
            return self.bits[wa] & head & tail != 0;
        }
        self.bits[wa] & head != 0
            || self.bits[wa + 1..wb].iter().any(|w| *w != 0)
            || self.bits[wb] & tail != 0
    }
}

#[cfg(test)]
mod tests {
    use super::KeySet;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn contains_and_any_in_agree_with_a_model(
            keys in proptest::collection::vec(-300i64..300, 1..60),
            lo in -400i128..400, w in 0i128..200, probe in -400i64..400,
        ) {
            let s = KeySet::new(&keys).unwrap();
            prop_assert_eq!(s.contains(probe), keys.contains(&probe));
            let hi = lo + w;
            let model = keys.iter().any(|&k| i128::from(k) >= lo && i128::from(k) <= hi);
            prop_assert_eq!(s.any_in(lo, hi), model);
            let mut d = keys.clone();
            d.sort_unstable();
            d.dedup();
            prop_assert_eq!(s.len(), d.len());
        }
    }

    #[test]
    fn too_wide_or_empty_is_no_set() {
        assert!(KeySet::new(&[]).is_none());
        assert!(KeySet::new(&[0, 1 << 40]).is_none());
        assert!(KeySet::new(&[i64::MIN, i64::MAX]).is_none());
    }
}
