//! A bit-packed cuckoo filter whose entries carry a 2-bit time tag, with semi-sorted buckets.
//!
//! ```text
//!  slot value v = │ fp (f bits) │ tag (2) │  (w = f + 2 bits)         value 0 = empty slot
//!  bucket b = 4 values encoded by semisort.rs in 4w - 4 bits, packed back to back in u64 words
//!  i1 = fastrange(h1, m)            fp = top f bits of h2 (0 → 1)
//!  alt(i) = (x(fp) - i) mod m       an involution for any m, so the table size is arbitrary
//! ```
//!
//! Every bucket operation decodes the bucket into its 4 values (sorted by their low nibble, a
//! canonical order), changes them and encodes them back; "slot j" means position j of that
//! order.
//!
//! Partial-key cuckoo hashing (Fan et al., 2014): a key lives in bucket `i1` or `alt(i1)`, and
//! an evicted fingerprint finds its other bucket from its own bits. A lookup compares the query's
//! fingerprint with the (at most) 8 slots of its two buckets, so a key not in the table matches
//! with probability <= occupied slots in two buckets / (2^f - 1). Any m works because
//! `alt(i) = (x - i) mod m` is its own inverse; tables are sized to the live set, not to a power
//! of two. The tag is `epoch mod 4` of the row that inserted the key; [`Table::sweep`] clears one
//! tag from a range of buckets, which is how the store forgets keys by watermark.
//!
//! An insertion that fails after [`MAX_KICKS`] evictions leaves the last evicted entry in a
//! stash that lookups also search, so nothing is ever lost (no false negatives); the caller
//! stops inserting into the table after a few such failures.

use super::exact::fmix64;
use super::semisort;

pub const SLOTS: u64 = 4;
pub const TAG_BITS: u32 = 2;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
pub const MAX_FP_BITS: u32 = 30;
pub const MIN_FP_BITS: u32 = 4;
const MAX_KICKS: u32 = 2_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Number of buckets (any value >= 1).
    pub buckets: u64,
    pub fp_bits: u32,
    /// Bit-packed semi-sorted buckets plus two padding words so a bucket can be read as the
    /// u128 at its first word plus one more word.
    pub words: Vec<u64>,
    /// Occupied slots (stash not included).
    pub count: u64,
    /// Entries that could not be placed: (bucket they were evicted from, slot value).
    pub stash: Vec<(u64, u64)>,
}

/// Where a key goes in a given table: its two buckets and its fingerprint.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub b1: u64,
    pub b2: u64,
    pub fp: u64,
}

impl Table {
    /// A table with at least `slots` slots and `fp_bits`-bit fingerprints.
    pub fn new(slots: u64, fp_bits: u32) -> Self {
        let fp_bits = fp_bits.clamp(MIN_FP_BITS, MAX_FP_BITS);
        let buckets = slots.div_ceil(SLOTS).max(1);
        Table {
            buckets,
            fp_bits,
            words: vec![0; Self::words_for(buckets, fp_bits)],
            count: 0,
            stash: Vec::new(),
        }
    }

    /// Words needed for `buckets` buckets of `fp_bits` fingerprints (one padding word).
    pub fn words_for(buckets: u64, fp_bits: u32) -> usize {
        let bits = buckets * u64::from(Self::bucket_bits(fp_bits));
        bits.div_ceil(64) as usize + 2
    }

    /// Bits of one semi-sorted bucket of `fp_bits`-bit fingerprints (4 (f + 2) - 4).
    pub fn bucket_bits(fp_bits: u32) -> u32 {
        semisort::bucket_bits(fp_bits + TAG_BITS)
    }

    #[inline]
    fn width(&self) -> u32 {
        self.fp_bits + TAG_BITS
    }

    pub fn slots(&self) -> u64 {
        self.buckets * SLOTS
    }

    pub fn live(&self) -> u64 {
        self.count + self.stash.len() as u64
    }

    pub fn load(&self) -> f64 {
        self.live() as f64 / self.slots() as f64
    }

    /// Probability that a key not in the table matches now: expected occupied slots in two
    /// buckets over the number of non-zero fingerprints. A stash entry is only compared when
    /// it came from one of the query's two buckets (probability <= 2/m), so it counts as one
    /// slot: the rate is 2 · live / m / (2^f - 1), within `rate_at_load` up to the same load.
    pub fn false_positive_rate(&self) -> f64 {
        let per_bucket = self.live() as f64 / self.buckets as f64;
        2.0 * per_bucket / ((1u64 << self.fp_bits) - 1) as f64
    }

    /// The worst rate this table can reach: full to `load` with 2 * SLOTS slots compared.
    pub fn rate_at_load(fp_bits: u32, load: f64) -> f64 {
        2.0 * SLOTS as f64 * load / ((1u64 << fp_bits) - 1) as f64
    }

    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8 + self.stash.capacity() * 16
    }

    #[inline]
    pub fn probe(&self, h1: u64, h2: u64) -> Probe {
        let b1 = ((u128::from(h1) * u128::from(self.buckets)) >> 64) as u64;
        let fp = (h2 >> (64 - self.fp_bits)).max(1);
        Probe {
            b1,
            b2: self.alt(b1, fp),
            fp,
        }
    }

    #[inline]
    fn alt(&self, bucket: u64, fp: u64) -> u64 {
        let x = ((u128::from(fmix64(fp)) * u128::from(self.buckets)) >> 64) as u64;
        // (x - bucket) mod m, both in [0, m)
        if x >= bucket {
            x - bucket
        } else {
            x + self.buckets - bucket
        }
    }

    /// Start loading the cache lines of the two buckets a lookup of `(h1, h2)` reads, so the
    /// caller can overlap the misses of rows ahead with the work on the current row.
    #[inline]
    pub fn prefetch(&self, h1: u64, h2: u64) {
        let p = self.probe(h1, h2);
        let w = u64::from(self.bucket_width());
        for b in [p.b1, p.b2] {
            // Word of the bucket's first bit; a bucket spanning a line boundary loads its
            // second line on use (it is at most 124 bits, so that is the rare case).
            minide_common::prefetch(self.words.as_ptr().wrapping_add((b * w / 64) as usize));
        }
    }

    /// Bits of one bucket: 4 slot values of `f + 2` bits less the 4 semi-sorting saves.
    #[inline]
    fn bucket_width(&self) -> u32 {
        semisort::bucket_bits(self.width())
    }

    /// The encoded bucket `b` (up to 124 bits, so it can span three words).
    #[inline]
    fn read_bucket(&self, b: u64) -> u128 {
        let w = self.bucket_width();
        let bit = b * u64::from(w);
        let (i, off) = ((bit / 64) as usize, (bit % 64) as u32);
        let lo = (u128::from(self.words[i]) | (u128::from(self.words[i + 1]) << 64)) >> off;
        let v = if off + w > 128 {
            lo | (u128::from(self.words[i + 2]) << (128 - off))
        } else {
            lo
        };
        v & ((1u128 << w) - 1)
    }

    #[inline]
    fn write_bucket(&mut self, b: u64, value: u128) {
        let w = self.bucket_width();
        let mask = (1u128 << w) - 1;
        let bit = b * u64::from(w);
        let (i, off) = ((bit / 64) as usize, (bit % 64) as u32);
        let lo = ((u128::from(self.words[i]) | (u128::from(self.words[i + 1]) << 64))
            & !(mask << off))
            | (value << off);
        self.words[i] = lo as u64;
        self.words[i + 1] = (lo >> 64) as u64;
        if off + w > 128 {
            let hi = 128 - off;
            let m = (mask >> hi) as u64;
            self.words[i + 2] = (self.words[i + 2] & !m) | (value >> hi) as u64;
        }
    }

    /// The 4 slot values of bucket `b` (0 = empty), in semi-sorted order.
    #[inline]
    fn slots_of(&self, b: u64) -> [u64; 4] {
        semisort::decode(self.read_bucket(b), self.width())
    }

    #[inline]
    fn store(&mut self, b: u64, slots: [u64; 4]) {
        let w = self.width();
        self.write_bucket(b, semisort::encode(slots, w));
    }

    #[inline]
    fn bucket_has(&self, bucket: u64, fp: u64) -> bool {
        self.slots_of(bucket)
            .iter()
            .any(|&v| v != 0 && v >> TAG_BITS == fp)
    }

    #[inline]
    pub fn contains(&self, p: &Probe) -> bool {
        self.bucket_has(p.b1, p.fp)
            || (p.b2 != p.b1 && self.bucket_has(p.b2, p.fp))
            || self
                .stash
                .iter()
                .any(|&(b, v)| (b == p.b1 || b == p.b2) && v >> TAG_BITS == p.fp)
    }

    /// Move an entry of the full `bucket` to a free slot of its other bucket and put `value` in
    /// its place. An entry of the epoch being swept whose other bucket the sweep has passed is
    /// as good as swept: `value` simply takes its slot.
    fn move_one_out(&mut self, bucket: u64, value: u64, sweep: Option<(u64, u64)>) -> bool {
        let mut slots = self.slots_of(bucket);
        for j in 0..SLOTS as usize {
            let v = slots[j];
            let other = self.alt(bucket, v >> TAG_BITS);
            let expired = sweep.is_some_and(|(tag, below)| v & TAG_MASK == tag && other < below);
            if expired || (other != bucket && self.place(other, v)) {
                slots[j] = value;
                self.store(bucket, slots);
                return true;
            }
        }
        false
    }

    /// Put `value` in a free slot of `bucket`. False if the bucket is full.
    fn place(&mut self, bucket: u64, value: u64) -> bool {
        let mut slots = self.slots_of(bucket);
        match slots.iter().position(|&v| v == 0) {
            Some(j) => {
                slots[j] = value;
                self.store(bucket, slots);
                self.count += 1;
                true
            }
            None => false,
        }
    }

    /// Insert a key with time tag `tag`. `sweep` = (tag being swept, buckets below which that
    /// sweep has passed): an evicted entry with that tag headed below the line is dropped, as
    /// the sweep would have dropped it there (moving it would let it outlive its sweep).
    /// False if the table overflowed: the entry (or one it evicted) is then in the stash, still
    /// found by lookups, and the table should take no more.
    pub fn insert(&mut self, p: &Probe, tag: u64, sweep: Option<(u64, u64)>) -> bool {
        let mut value = (p.fp << TAG_BITS) | (tag & TAG_MASK);
        if self.place(p.b1, value) || self.place(p.b2, value) {
            return true;
        }
        let mut bucket = p.b1;
        for kick in 0..MAX_KICKS {
            // One step of lookahead: if an entry here can move to a free slot of its other
            // bucket, move it and take its slot (raises the reachable load from ~96% to ~98%).
            if self.move_one_out(bucket, value, sweep) {
                return true;
            }
            // Else a pseudo-random but deterministic victim (a restored table makes the same
            // moves; slot order is the canonical semi-sorted one). Entries of the epoch being
            // swept move like the others: in a bucket the sweep has not reached yet they leave
            // when it reaches that bucket, which is still after their epoch expired (the sweep
            // starts at expiry), so no key leaves before `window`. Pinning them instead made
            // insertions fail from ~96% load during a sweep (a third of the entries stuck).
            let j =
                (fmix64(value ^ (u64::from(kick) << 40) ^ bucket.rotate_left(20)) >> 62) as usize;
            let mut slots = self.slots_of(bucket);
            let victim = slots[j];
            slots[j] = value;
            self.store(bucket, slots);
            value = victim;
            bucket = self.alt(bucket, value >> TAG_BITS);
            if sweep.is_some_and(|(tag, below)| value & TAG_MASK == tag && bucket < below) {
                return true; // its slot now holds the newer entry; count is unchanged
            }
            if self.place(bucket, value) {
                return true;
            }
        }
        self.stash.push((bucket, value));
        false
    }

    /// Clear entries tagged `tag` in buckets `[from, to)` (and in the stash if `to` is the end).
    pub fn sweep(&mut self, from: u64, to: u64, tag: u64) {
        let to = to.min(self.buckets);
        for b in from..to {
            let mut slots = self.slots_of(b);
            let mut cleared = 0;
            for v in &mut slots {
                if *v != 0 && *v & TAG_MASK == tag {
                    *v = 0;
                    cleared += 1;
                }
            }
            if cleared > 0 {
                self.store(b, slots);
                self.count -= cleared;
            }
        }
        if to == self.buckets {
            self.stash.retain(|&(_, v)| v & TAG_MASK != tag);
        }
    }

    /// Occupied slots, counted from the words (checks a restored table).
    /// None if a bucket is not a valid encoding, a slot has an empty fingerprint with a
    /// non-zero tag, or the padding bits are not zero.
    pub fn recount(&self) -> Option<u64> {
        let mut n = 0;
        for b in 0..self.buckets {
            let e = self.read_bucket(b);
            if !semisort::valid(e) {
                return None;
            }
            for v in semisort::decode(e, self.width()) {
                if v != 0 && v >> TAG_BITS == 0 {
                    return None;
                }
                n += u64::from(v != 0);
            }
        }
        let used = self.buckets * u64::from(self.bucket_width());
        let (i, off) = ((used / 64) as usize, (used % 64) as u32);
        // off < 64, and at off = 0 word i is padding, all of which must be zero.
        if self.words[i] >> off != 0 || self.words[i + 1..].iter().any(|&w| w != 0) {
            return None;
        }
        Some(n)
    }

    pub fn clear(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
        self.count = 0;
        self.stash.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> (u64, u64) {
        (fmix64(i), fmix64(i ^ 0x5851_f42d_4c95_7f2d))
    }

    #[test]
    fn fills_to_97_5_percent_without_false_negatives_and_measured_fpr() {
        // 13-bit fingerprints, odd bucket count (not a power of two).
        let mut t = Table::new(100_003, 13);
        let n = (t.slots() as f64 * 0.975) as u64;
        for i in 0..n {
            let (a, b) = key(i);
            let p = t.probe(a, b);
            assert!(t.insert(&p, i % 4, None), "overflow at {i} of {n}");
        }
        assert_eq!(t.count, n);
        assert_eq!(t.recount(), Some(n));
        for i in 0..n {
            let (a, b) = key(i);
            assert!(t.contains(&t.probe(a, b)), "lost key {i}");
        }
        // 1.2M absent keys: ~1,140 expected matches, so 12% is ~4 standard deviations.
        let q = 1_200_000u64;
        let fp = (0..q)
            .filter(|&i| {
                let (a, b) = key(i + (1 << 41));
                t.contains(&t.probe(a, b))
            })
            .count() as f64;
        let bound = Table::rate_at_load(13, 0.975);
        assert!(
            fp / (q as f64) < bound * 1.12,
            "fpr {} vs {bound}",
            fp / q as f64
        );
        assert!((t.false_positive_rate() - bound).abs() < bound * 0.05);
    }

    #[test]
    fn sweep_clears_only_its_tag() {
        let mut t = Table::new(4_000, 16);
        for i in 0..3_000u64 {
            let (a, b) = key(i);
            assert!(t.insert(&t.probe(a, b), i % 4, None));
        }
        let half = t.buckets / 2;
        t.sweep(0, half, 1);
        t.sweep(half, t.buckets, 1);
        assert_eq!(t.count, 2_250);
        for i in 0..3_000u64 {
            let (a, b) = key(i);
            if i % 4 != 1 {
                assert!(t.contains(&t.probe(a, b)));
            }
        }
    }

    #[test]
    fn every_fingerprint_width_keeps_its_keys_through_sweeps() {
        // Buckets of 4 (f + 2) - 4 bits: 20 (f = 4) to 124 (f = 30), the widest spanning three
        // words; odd bucket counts so buckets straddle words at every offset.
        for f in [MIN_FP_BITS, 5, 13, 14, 16, 17, 25, 29, MAX_FP_BITS] {
            let mut t = Table::new(4_001, f);
            assert_eq!(t.words.len(), Table::words_for(t.buckets, f));
            let n = (t.slots() as f64 * 0.95) as u64;
            for i in 0..n {
                let (a, b) = key(i);
                assert!(
                    t.insert(&t.probe(a, b), i % 4, None),
                    "f {f}: overflow at {i}"
                );
            }
            assert_eq!(t.recount(), Some(n), "f {f}");
            for i in 0..n {
                let (a, b) = key(i);
                assert!(t.contains(&t.probe(a, b)), "f {f}: lost {i}");
            }
            t.sweep(0, t.buckets / 3, 2);
            t.sweep(t.buckets / 3, t.buckets, 2);
            assert_eq!(t.recount(), Some(t.count), "f {f}");
            assert_eq!(t.count, n - (n + 1) / 4, "f {f}");
            for i in (0..n).filter(|i| i % 4 != 2) {
                let (a, b) = key(i);
                assert!(t.contains(&t.probe(a, b)), "f {f}: lost {i} after sweep");
            }
            for tag in [0, 1, 3] {
                t.sweep(0, t.buckets, tag);
            }
            assert_eq!((t.count, t.recount()), (0, Some(0)), "f {f}");
            assert!(t.words.iter().all(|&w| w == 0), "f {f}: empty is all zero");
        }
    }

    #[test]
    fn overflow_goes_to_the_stash_and_is_still_found() {
        let mut t = Table::new(8, 8);
        let mut ok = 0;
        let mut last = 0;
        for i in 0..20u64 {
            let (a, b) = key(i);
            let p = t.probe(a, b);
            last = i;
            if !t.insert(&p, 0, None) {
                break;
            }
            ok += 1;
        }
        assert!(ok < 20 && !t.stash.is_empty());
        for i in 0..=last {
            let (a, b) = key(i);
            assert!(t.contains(&t.probe(a, b)), "lost {i}");
        }
    }
}
