//! The exact store's index: an open-addressing table of 8-byte slots `tag:32 | ref:32`.
//!
//! ```text
//!   slots: [ 0 | tag·ref | tag·ref | 0 | tag·ref | ... ]      0 = empty, tags are odd (never 0)
//!   home(tag) = (tag × capacity) >> 32                          (any capacity, order-preserving)
//!   probe: home, home+1, ... until a slot with the tag whose entry matches, or an empty slot
//! ```
//!
//! Why not a general-purpose hash map:
//! - **The tag lives in the slot.** A lookup of a new key (most rows of a dedup stream) touches one
//!   cache line of slots and never the entries; a rebuild reads only slots, never the entries.
//!   The caller can prefetch a row's line a few rows ahead ([`FlatTable::prefetch`]).
//! - **No per-key deletion.** Expiry drops whole entry chunks; slots that point into them go
//!   *stale* and are skipped by lookups (the caller's `is_match` says so). A rebuild
//!   ([`FlatTable::rebuild`]) drops them all in one sequential pass when the table is full, so
//!   expiring a key costs nothing per key. Because a dead chunk number is not reused until the
//!   rebuild has run, a stale slot can never point at a newer entry by accident.
//! - **Any capacity.** `home` maps the tag onto `0..capacity` by a multiply, so capacity follows
//!   the live key count closely (live load kept between [`SHRINK_LOAD`] and [`SWEEP_LOAD`])
//!   instead of doubling: the slots are 8 bytes, and the state must stay within ~40 bytes per
//!   live key.

use super::window_buckets::Ref;

// Load limits. `used` counts live and stale slots, `live` only the live ones.
//
//   used reaches MAX_LOAD ──► live ≤ SWEEP_LOAD: sweep the stale slots out, in place
//                             live > SWEEP_LOAD: new table at TARGET_LOAD (grows ≥ 1.2×)
//   live falls below SHRINK_LOAD (at expiry) ──► new table at TARGET_LOAD
//
// TARGET_LOAD lies inside [SHRINK_LOAD, SWEEP_LOAD], so a new table is never rebuilt again
// until its live count has moved by a good fraction: no grow/shrink ping-pong.

/// An insert first makes room when the table (live + stale slots) reaches this load. Linear
/// probing stays short up to here: ~7 slots (one cache line) per miss on average.
pub const MAX_LOAD: f64 = 0.85;
/// A full table whose live load is at most this is swept in place (frees ≥ 10% of the slots).
pub const SWEEP_LOAD: f64 = 0.75;
/// Live load of a table built new (grown or shrunk).
pub const TARGET_LOAD: f64 = 0.62;
/// A table whose live load falls below this is shrunk.
pub const SHRINK_LOAD: f64 = 0.45;
/// Smallest table (slots).
const MIN_CAPACITY: usize = 64;

/// The slot tag of a 64-bit key position: its low 32 bits, made odd so no tag is the empty slot.
/// (The shard is picked from bits 40..44, so tag and shard are independent.)
#[inline]
pub fn tag_of(pos: u64) -> u32 {
    (pos as u32) | 1
}

#[derive(Debug)]
pub struct FlatTable {
    slots: Vec<u64>,
    /// Occupied slots, live and stale.
    used: usize,
    /// Inserts allowed before the table counts as full (`MAX_LOAD * capacity`).
    limit: usize,
}

/// Where a probe for a tag ended.
pub enum Probe {
    /// Slot index of the matching entry and its reference.
    Found(usize, Ref),
    /// Index of the empty slot where the key would go.
    Vacant(usize),
}

impl Default for FlatTable {
    fn default() -> Self {
        FlatTable::with_capacity(MIN_CAPACITY)
    }
}

impl FlatTable {
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(MIN_CAPACITY);
        FlatTable {
            slots: vec![0; capacity],
            used: 0,
            limit: ((capacity as f64 * MAX_LOAD) as usize).min(capacity - 1),
        }
    }

    /// Capacity of a table rebuilt for `live` keys.
    pub fn capacity_for(live: usize) -> usize {
        ((live as f64 / TARGET_LOAD) as usize + 1).max(MIN_CAPACITY)
    }

    /// Whether a table holding `live` keys is sparse enough to be worth shrinking.
    pub fn oversized(&self, live: usize) -> bool {
        self.slots.len() > 1024 && (live as f64) < self.slots.len() as f64 * SHRINK_LOAD
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Occupied slots (live and stale).
    pub fn used(&self) -> usize {
        self.used
    }

    /// Whether the next insert needs a [`FlatTable::rebuild`] first.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.used >= self.limit
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        ((u64::from(tag) * self.slots.len() as u64) >> 32) as usize
    }

    /// Start loading the cache line a probe for `tag` reads first.
    #[inline]
    pub fn prefetch(&self, tag: u32) {
        minide_common::prefetch(self.slots.as_ptr().wrapping_add(self.home(tag)));
    }

    /// Probe for `tag`: the first slot with this tag whose reference satisfies `is_match`, or the
    /// empty slot that ends the probe. Never loops forever: the table always has an empty slot
    /// (`limit < capacity`).
    #[inline]
    pub fn probe(&self, tag: u32, mut is_match: impl FnMut(Ref) -> bool) -> Probe {
        let n = self.slots.len();
        let mut i = self.home(tag);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Probe::Vacant(i);
            }
            if (s >> 32) as u32 == tag && is_match(s as u32) {
                return Probe::Found(i, s as u32);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    /// Fill the empty slot `i` that [`FlatTable::probe`] returned (the table must not be full).
    #[inline]
    pub fn fill(&mut self, i: usize, tag: u32, r: Ref) {
        debug_assert_eq!(self.slots[i], 0);
        self.slots[i] = (u64::from(tag) << 32) | u64::from(r);
        self.used += 1;
    }

    /// Point the occupied slot `i` at a new reference (same key, newer entry).
    #[inline]
    pub fn repoint(&mut self, i: usize, r: Ref) {
        let s = &mut self.slots[i];
        *s = (*s & !0xffff_ffff) | u64::from(r);
    }

    /// Insert a tag/reference pair known not to be present (the table must not be full).
    pub fn insert_new(&mut self, tag: u32, r: Ref) {
        match self.probe(tag, |_| false) {
            Probe::Vacant(i) => self.fill(i, tag, r),
            Probe::Found(..) => unreachable!("probe with a never-matching predicate"),
        }
    }

    /// Drop the slots whose reference fails `keep` (the stale ones), `live` of them remaining:
    /// in place if the table is not too full or too sparse for them ([`FlatTable::sweep`]), else
    /// into a new table at [`TARGET_LOAD`].
    pub fn rebuild(&mut self, live: usize, keep: impl Fn(Ref) -> bool) {
        let load = live as f64 / self.slots.len() as f64;
        if (SHRINK_LOAD..=SWEEP_LOAD).contains(&load) {
            self.sweep(keep);
            return;
        }
        let old = std::mem::replace(self, FlatTable::with_capacity(Self::capacity_for(live)));
        for s in old.slots {
            if s != 0 && keep(s as u32) {
                self.insert_new((s >> 32) as u32, s as u32);
            }
        }
    }

    /// Remove the slots failing `keep` in one pass, without a new allocation.
    ///
    /// Walk the slots from an empty one (`e`), so that no probe run wraps past the start.
    /// Each slot is taken out and, if kept, put back at the first empty slot from its home on.
    /// All slots before the current one have been visited, and the current one is empty now,
    /// so that search ends at or before it: kept slots only move backwards into visited ground,
    /// and the slots between a key's home and its new place are all filled, so every probe
    /// still finds it. The searches touch lines just visited: the pass is close to sequential.
    fn sweep(&mut self, keep: impl Fn(Ref) -> bool) {
        let n = self.slots.len();
        let Some(e) = self.slots.iter().position(|&s| s == 0) else {
            unreachable!("a table below its load limit has an empty slot")
        };
        let mut used = 0usize;
        for p in 0..n {
            let i = if p + e >= n { p + e - n } else { p + e };
            let s = std::mem::take(&mut self.slots[i]);
            if s == 0 || !keep(s as u32) {
                continue;
            }
            let mut to = self.home((s >> 32) as u32);
            while self.slots[to] != 0 {
                to = if to + 1 == n { 0 } else { to + 1 };
            }
            self.slots[to] = s;
            used += 1;
        }
        self.used = used;
    }

    /// Every occupied slot's reference (live and stale), in slot order.
    pub fn refs(&self) -> impl Iterator<Item = Ref> + '_ {
        self.slots.iter().filter(|&&s| s != 0).map(|&s| s as u32)
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_fill_repoint_rebuild() {
        let mut t = FlatTable::with_capacity(0);
        let n = 10_000u32;
        let tag = |k: u32| tag_of(super::super::exact::fmix64(u64::from(k)));
        for k in 0..n {
            if t.is_full() {
                t.rebuild(k as usize, |_| true);
            }
            match t.probe(tag(k), |r| r == k) {
                Probe::Vacant(i) => t.fill(i, tag(k), k),
                Probe::Found(..) => panic!("{k} inserted twice"),
            }
        }
        assert!(t.used() as f64 <= t.capacity() as f64 * MAX_LOAD);
        for k in 0..n {
            assert!(matches!(t.probe(tag(k), |r| r == k), Probe::Found(_, r) if r == k));
        }
        // Repoint key 7 to reference 70_000, then drop the odd keys: the rest stay findable.
        let Probe::Found(i, _) = t.probe(tag(7), |r| r == 7) else {
            panic!("7 missing")
        };
        t.repoint(i, 70_000);
        assert!(matches!(t.probe(tag(7), |r| r == 70_000), Probe::Found(..)));
        // Key 7 now names the even reference 70_000, so it is kept too.
        t.rebuild(n as usize / 2 + 1, |r| r % 2 == 0);
        assert_eq!(t.used(), n as usize / 2 + 1);
        for k in (0..n).step_by(2) {
            assert!(matches!(t.probe(tag(k), |r| r == k), Probe::Found(..)));
        }
        assert!(matches!(t.probe(tag(7), |r| r == 70_000), Probe::Found(..)));
        assert!(matches!(t.probe(tag(9), |r| r == 9), Probe::Vacant(_)));
        assert_eq!(t.refs().count(), n as usize / 2 + 1);
    }

    #[test]
    fn sweep_in_place_keeps_every_kept_key_findable() {
        let tag = |k: u32| tag_of(super::super::exact::fmix64(u64::from(k) * 31 + 5));
        for (cap, drop_every) in [(1000usize, 4u32), (4096, 5), (777, 4)] {
            let mut t = FlatTable::with_capacity(cap);
            let mut k = 0u32;
            while !t.is_full() {
                t.insert_new(tag(k), k);
                k += 1;
            }
            let kept = (0..k).filter(|r| r % drop_every != 0).count();
            t.rebuild(kept, |r| r % drop_every != 0);
            assert_eq!(t.capacity(), cap, "same capacity: the in-place path");
            assert_eq!(t.used(), kept);
            for r in 0..k {
                let found = matches!(t.probe(tag(r), |x| x == r), Probe::Found(..));
                assert_eq!(found, r % drop_every != 0, "key {r} at capacity {cap}");
            }
            // Still a valid table to insert into.
            while !t.is_full() {
                t.insert_new(tag(k), k);
                k += 1;
            }
            assert!(matches!(
                t.probe(tag(k - 1), |x| x == k - 1),
                Probe::Found(..)
            ));
        }
    }

    #[test]
    fn every_capacity_keeps_an_empty_slot() {
        for cap in [64usize, 65, 100, 127] {
            let mut t = FlatTable::with_capacity(cap);
            let mut k = 0u32;
            while !t.is_full() {
                let tg = tag_of(u64::from(k).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                t.insert_new(tg, k);
                k += 1;
            }
            assert!(t.used() < t.capacity());
            // A probe for an absent tag terminates.
            assert!(matches!(t.probe(3, |_| false), Probe::Vacant(_)));
        }
    }
}
