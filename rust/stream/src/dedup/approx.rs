//! Approximate dedup state: time-sliced Bloom filters.
//!
//! ```text
//!  slice width = window + allowed_lateness           slice id = floor(t / width)
//!
//!   ... │ slice 41 (full)   │ slice 42 (filling)  │        a key is inserted into the
//!       │ Bloom, p/2 budget │ Bloom, p/2 budget   │        slice of its event time; a lookup
//!       └───────────────────┴─────────────────────┘        tests every live slice
//!   slice 41 is dropped once watermark >= end(41) - 1 + window,
//!   i.e. when max event time reaches end(42): so at most two slices are live.
//! ```
//!
//! With two live slices each sized for half the false-positive budget, a first occurrence is
//! wrongly taken for a duplicate with probability <= p (union bound), and a real duplicate inside
//! the window is always caught: Bloom filters have no false negatives. Keys are remembered
//! between `window` and `2 * (window + lateness)` of event time (slice granularity).
//!
//! A slice's filter is sized from the key rate observed so far (keys inserted per tick of event
//! time) times the slice width. Before there is a rate (the first slice) or when a slice outgrows
//! its filter, a further filter is chained; every filter takes a share of what is left of the
//! slice's budget p/2 (0.9 when sized from a rate estimate, 0.1 for the small first guess), so
//! the rates of a slice's filters always sum to at most p/2.

use super::exact::StoreKey;

const MIN_CAPACITY: u64 = 1 << 14;
const LN2: f64 = std::f64::consts::LN_2;

/// A classic Bloom filter with Kirsch–Mitzenmacher double hashing.
#[derive(Debug, Clone, PartialEq)]
pub struct Bloom {
    pub bits: Vec<u64>,
    pub k: u32,
    pub capacity: u64,
    pub count: u64,
}

impl Bloom {
    /// A filter for `capacity` keys at false-positive rate `p`.
    pub fn new(capacity: u64, p: f64) -> Self {
        let capacity = capacity.max(64);
        let bits_per_key = -p.ln() / (LN2 * LN2);
        let m = ((capacity as f64 * bits_per_key).ceil() as u64).max(64);
        let words = m.div_ceil(64) as usize;
        let k = ((bits_per_key * LN2).round() as u32).clamp(1, 30);
        Bloom {
            bits: vec![0; words],
            k,
            capacity,
            count: 0,
        }
    }

    #[inline]
    fn m(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    #[inline]
    fn index(&self, h: u64) -> (usize, u64) {
        // Lemire's fast range reduction: uniform in [0, m) without a division.
        let bit = ((u128::from(h) * u128::from(self.m())) >> 64) as u64;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    #[inline]
    pub fn contains(&self, h1: u64, h2: u64) -> bool {
        let mut h = h1;
        for _ in 0..self.k {
            let (w, mask) = self.index(h);
            if self.bits.get(w).is_none_or(|v| v & mask == 0) {
                return false;
            }
            h = h.wrapping_add(h2);
        }
        true
    }

    #[inline]
    pub fn insert(&mut self, h1: u64, h2: u64) {
        let mut h = h1;
        for _ in 0..self.k {
            let (w, mask) = self.index(h);
            if let Some(v) = self.bits.get_mut(w) {
                *v |= mask;
            }
            h = h.wrapping_add(h2);
        }
        self.count += 1;
    }

    fn heap_bytes(&self) -> usize {
        self.bits.capacity() * 8
    }
}

/// All keys first seen in one time slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub id: i64,
    pub filters: Vec<Bloom>,
    /// False-positive rate not yet given to a filter of this slice.
    pub budget_left: f64,
}

impl Slice {
    fn count(&self) -> u64 {
        self.filters.iter().map(|f| f.count).sum()
    }
}

#[derive(Debug)]
pub struct ApproxStore {
    pub width: i64,
    pub window: i64,
    /// False-positive budget of the whole store.
    pub fpr: f64,
    /// Live slices, ascending by id.
    pub slices: Vec<Slice>,
    /// Keys inserted and the event-time span they covered: the rate used to size filters.
    pub inserted: u64,
    pub first_time: Option<i64>,
    pub max_time: Option<i64>,
}

impl ApproxStore {
    pub fn new(window: i64, lateness: i64, fpr: f64) -> Self {
        ApproxStore {
            width: window.saturating_add(lateness).max(1),
            window,
            fpr,
            slices: Vec::new(),
            inserted: 0,
            first_time: None,
            max_time: None,
        }
    }

    /// Expected keys between event times `from` and `to` at the rate seen so far, if the rate
    /// has been observed over at least 1/64 of a slice.
    fn expected_keys(&self, from: i64, to: i64) -> Option<u64> {
        let (first, last) = (self.first_time?, self.max_time?);
        let seen = last.saturating_sub(first);
        if seen < (self.width / 64).max(1) || self.inserted < 1024 {
            return None;
        }
        let rate = self.inserted as f64 / seen as f64;
        Some((rate * to.saturating_sub(from).max(1) as f64 * 1.15) as u64)
    }

    /// Chain a filter to slice `at`, sized from the rate if known.
    fn grow(&mut self, at: usize, now: i64) {
        let width = self.width;
        let Some(slice) = self.slices.get(at) else {
            return;
        };
        let slice_end = slice.id.saturating_add(1).saturating_mul(width);
        let prev_cap = slice.filters.last().map_or(0, |f| f.capacity);
        let estimate = self.expected_keys(now.max(slice_end.saturating_sub(width)), slice_end);
        let (capacity, share) = match estimate {
            Some(n) => (n.max(prev_cap * 2).clamp(MIN_CAPACITY, 1 << 32), 0.9),
            None => ((prev_cap * 2).max(MIN_CAPACITY), 0.1),
        };
        let slice = &mut self.slices[at];
        let rate = slice.budget_left * share;
        slice.budget_left -= rate;
        slice.filters.push(Bloom::new(capacity, rate));
    }

    /// Apply the approximate rule to one non-late row; true = emit. `watermark` is the row's
    /// watermark: slices it has expired are dropped first, so the answer does not depend on
    /// where batches end.
    #[inline]
    pub fn observe<K: StoreKey>(&mut self, key: K, t: i64, watermark: i64) -> bool {
        if self
            .slices
            .first()
            .is_some_and(|s| self.expired(s, watermark))
        {
            self.expire(watermark);
        }
        let (h1, h2) = (key.pos(), key.pos2() | 1);
        // Newest slices first: recent duplicates are the common case.
        if self
            .slices
            .iter()
            .rev()
            .any(|s| s.filters.iter().any(|f| f.contains(h1, h2)))
        {
            return false;
        }
        let id = t.div_euclid(self.width);
        let at = match self.slices.binary_search_by_key(&id, |s| s.id) {
            Ok(at) => at,
            Err(at) => {
                self.slices.insert(
                    at,
                    Slice {
                        id,
                        filters: Vec::new(),
                        budget_left: self.fpr / 2.0,
                    },
                );
                at
            }
        };
        let full = self.slices[at]
            .filters
            .last()
            .is_none_or(|f| f.count >= f.capacity);
        if full {
            self.grow(at, self.max_time.unwrap_or(t).max(t));
        }
        if let Some(f) = self.slices[at].filters.last_mut() {
            f.insert(h1, h2);
        }
        self.inserted += 1;
        self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
        self.max_time = Some(self.max_time.map_or(t, |m| m.max(t)));
        true
    }

    /// Drop slices whose every key has `first_seen + window <= watermark`.
    pub fn expire(&mut self, watermark: i64) {
        let keep: Vec<bool> = self
            .slices
            .iter()
            .map(|s| !self.expired(s, watermark))
            .collect();
        let mut keep = keep.into_iter();
        self.slices.retain(|_| keep.next().unwrap_or(true));
    }

    #[inline]
    fn expired(&self, s: &Slice, watermark: i64) -> bool {
        let last_time =
            s.id.saturating_add(1)
                .saturating_mul(self.width)
                .saturating_sub(1);
        last_time <= watermark.saturating_sub(self.window)
    }

    /// Keys inserted into the live slices.
    pub fn stored_keys(&self) -> u64 {
        self.slices.iter().map(Slice::count).sum()
    }

    pub fn heap_bytes(&self) -> usize {
        self.slices
            .iter()
            .flat_map(|s| &s.filters)
            .map(Bloom::heap_bytes)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bloom_has_no_false_negatives_and_about_the_asked_fpr() {
        let mut b = Bloom::new(100_000, 0.01);
        for i in 0..100_000u64 {
            let k = [i.wrapping_mul(0x9e37_79b9_7f4a_7c15), fmix(i)];
            b.insert(k[0], k[1] | 1);
        }
        for i in 0..100_000u64 {
            let k = [i.wrapping_mul(0x9e37_79b9_7f4a_7c15), fmix(i)];
            assert!(b.contains(k[0], k[1] | 1));
        }
        let fp = (1_000_000..1_100_000u64)
            .filter(|&i| {
                let k = [fmix(i ^ 0xabc), fmix(i)];
                b.contains(k[0], k[1] | 1)
            })
            .count();
        assert!(fp < 1_300, "fp {fp} of 100k at 1%");
    }

    fn fmix(x: u64) -> u64 {
        super::super::exact::fmix64(x)
    }

    #[test]
    fn slices_rotate_and_at_most_two_live() {
        let mut s = ApproxStore::new(10, 0, 0.001);
        for t in 0..100i64 {
            assert!(s.observe(t as u64, t, t));
            assert!(s.slices.len() <= 2, "{} slices at t={t}", s.slices.len());
        }
        // A key seen at 95 is still remembered at 99.
        assert!(!s.observe(95u64, 99, 99));
    }
}
