//! Approximate dedup state: cuckoo filters whose entries carry a 2-bit epoch tag, swept
//! gradually by watermark. [`ApproxStore`] is one store; the deduplicator uses
//! [`ShardedApprox`], 16 of them split by key hash and run in parallel (see its docs).
//!
//! ```text
//!  epoch width s = ceil((window + lateness) / 2)      epoch e = floor(t / s), tag = e mod 4
//!
//!  tables: [ T0 (draining, no inserts) ][ T1 (active: inserts go here) ]   lookups test all
//!
//!  epoch e is expired once watermark >= E(e) = end(e) - 1 + window; it is then swept in 64
//!  steps: step j clears tag e mod 4 from buckets [j·m/64, (j+1)·m/64) of every table once
//!  watermark >= E(e) + (j+1)·s/64, so keys leave smoothly instead of one epoch at a time.
//! ```
//!
//! Why 4 tags suffice: while epoch e is being swept, watermark < E(e) + s, so a new row's time
//! is at most watermark + lateness < (e + 4)·s (because 2s >= window + lateness): live entries
//! span epochs e..e+3 and their tags are distinct. A row is never inserted into an epoch that is
//! being swept (its time is >= watermark >= end(e)). Keys are kept at least `window` after the
//! row that inserted them and at most `window + 2s` of watermark progress.
//!
//! Sizing: a table cannot grow, so tables are replaced. Before the key rate is known (4096
//! keys over 1/64 of `window + lateness`, see [`ApproxStore::expected_live`]) small tables double and take p/64, p/128, ... of the
//! false-positive budget (p/32 in all); once the rate is known the next table is sized
//! for the steady state `rate · (window + lateness + s)` (the average time a key stays) at 96%
//! load. Old tables take no inserts and drain by sweeping; an empty one is freed. The
//! fingerprint width of a new table is the smallest `f` whose worst rate (full to 98%) fits
//! in `p - (current rates of the other tables)`; those rates only fall, so the sum of the rates
//! of the live tables never exceeds `p`. At each epoch boundary the active table is replaced the
//! same way if a new one would be more than 15% smaller, or if it is more than 15% too small.

use minide_common::{Error, Result};
use rayon::prelude::*;

use super::cuckoo::{MAX_FP_BITS, MIN_FP_BITS, Table};
use super::exact::StoreKey;
use crate::checkpoint::{Reader, Writer};

/// Smallest table of an unsharded store; a shard of `n` takes `MIN_SLOTS / n` (and the rate
/// thresholds below shrink the same way), so a sharded store starts as small as one store.
const MIN_SLOTS: u64 = 1 << 14;
/// The rate is measured from the `RATE_MARK`-th inserted key ...
const RATE_MARK: u64 = 1024;
/// ... once `RATE_KEYS` more keys have been inserted (and they cover 1/64 of the span).
const RATE_KEYS: u64 = 4096;
/// Safety margin of a rate estimate from k keys: `RATE_MARGIN / √k` (about 3 standard
/// deviations of the count noise), see [`ApproxStore::expected_live`].
const RATE_MARGIN: f64 = 2.0;
/// Load a rate-sized table is sized to reach at steady state.
const TARGET_LOAD: f64 = 0.96;
/// Load above which a table takes no more inserts (cuckoo insertion slows down past ~97%).
const FULL_LOAD: f64 = 0.98;
/// Failed insertions (stash entries, which every lookup scans) a table takes before it is full.
const MAX_STASH: usize = 4;
/// Budget of the first table sized without a rate estimate, as a share of `p`; each further one
/// gets half the previous share, so all of them together take less than `p / 32`.
const UNKNOWN_RATE_SHARE: f64 = 1.0 / 64.0;
const SWEEP_STEPS: i64 = 64;
/// A rate-sized table more than this fraction off the steady-state size is replaced.
const MISFIT: f64 = 0.15;

#[derive(Debug)]
pub struct ApproxStore {
    pub window: i64,
    pub lateness: i64,
    /// Epoch width s.
    pub width: i64,
    /// False-positive budget of the whole store.
    pub fpr: f64,
    /// Live tables, oldest first; the last one takes inserts while it is not full.
    pub tables: Vec<Table>,
    /// Keys inserted and the event-time span they covered: the rate used to size tables.
    pub inserted: u64,
    pub first_time: Option<i64>,
    pub max_time: Option<i64>,
    /// Sum of (insert time - time of the first inserted key) over inserted keys: with `inserted`, the mean insert
    /// time, which moves at half the key rate's inverse whatever the rows' disorder.
    pub time_sum: f64,
    /// (keys inserted, mean insert time) at the 1024th key: the rate is measured from here.
    pub rate_mark: Option<(u64, f64)>,
    /// A table sized from the rate has been opened (until then the active table is replaced as
    /// soon as the rate is known, so the small doubling tables stop early).
    pub rate_sized: bool,
    /// Oldest epoch that may still have entries, and how many of its sweep steps are done.
    pub sweep_epoch: Option<i64>,
    pub sweep_step: i64,
    /// `MIN_SLOTS`, `RATE_MARK` and `RATE_KEYS` divided by the number of shards (not
    /// checkpointed: fixed by the shard count).
    min_slots: u64,
    rate_mark_at: u64,
    rate_keys: u64,
    /// `RATE_MARGIN` for a shard, 0 for one store (see [`ApproxStore::expected_live`]).
    rate_margin: f64,
    /// A shard waits for [`ShardedApprox`] to size its first rate-sized table from the keys
    /// of all shards (set by the owner, not checkpointed: it follows the owner's `pooled`).
    pub defer_rate: bool,
}

impl ApproxStore {
    pub fn new(window: i64, lateness: i64, fpr: f64) -> Self {
        Self::shard_of_n(window, lateness, fpr, 1)
    }

    /// One of `shards` stores that split the keys between them: the size minimum and the
    /// number of keys the rate estimate waits for are divided by `shards`.
    pub fn shard_of_n(window: i64, lateness: i64, fpr: f64, shards: u64) -> Self {
        let n = shards.max(1);
        let span = window.saturating_add(lateness).max(1);
        ApproxStore {
            window,
            lateness,
            width: (span / 2 + span % 2).max(1),
            fpr,
            tables: Vec::new(),
            inserted: 0,
            first_time: None,
            max_time: None,
            time_sum: 0.0,
            rate_mark: None,
            rate_sized: false,
            sweep_epoch: None,
            sweep_step: 0,
            min_slots: (MIN_SLOTS / n).max(64),
            rate_mark_at: (RATE_MARK / n).max(16),
            rate_keys: (RATE_KEYS / n).max(64),
            rate_margin: if n > 1 { RATE_MARGIN } else { 0.0 },
            defer_rate: false,
        }
    }

    /// Steady-state live keys at the rate seen since the rate mark, once the keys since then
    /// number `RATE_KEYS` (per shard: divided by the shard count) and cover 1/64 of
    /// `window + lateness`. For keys at a steady rate r spread over [a, b] (plus any
    /// disorder), the mean insert time is a + n / 2r + const, so r = Δn / (2 Δmean): the
    /// disorder cancels, unlike n / (max time - first time).
    ///
    /// A shard's estimate from k keys is off by ~1/√k (its share of the keys is a Poisson
    /// count) plus the jitter of the mean times, and a table sized a few % too small fills past
    /// `FULL_LOAD` and forces a new table with the fingerprint budget already spent (twice the
    /// memory for that shard). A shard makes its first estimate from ~16× fewer keys than one
    /// store would (k ≈ 4000 on the bench), so the answer carries a margin of `RATE_MARGIN`/√k:
    /// ~3% then, 0.6% once k passes 100k (one unsharded store, as in the tests, takes none).
    fn expected_live(&self) -> Option<f64> {
        if self.defer_rate {
            return None;
        }
        let (keys, rate) = self.rate()?;
        let span = self.window.saturating_add(self.lateness) as f64;
        if keys < self.rate_keys || keys as f64 / rate < (span / 64.0).max(1.0) {
            return None;
        }
        Some(self.live_for(rate) * (1.0 + self.rate_margin / (keys as f64).sqrt()))
    }

    /// (keys since the rate mark, key rate per tick), once the mark is set and time moved.
    fn rate(&self) -> Option<(u64, f64)> {
        let (n0, mean0) = self.rate_mark?;
        let keys = self.inserted - n0;
        let dmean = self.time_sum / self.inserted as f64 - mean0;
        (keys > 0 && dmean > 0.0).then(|| (keys, keys as f64 / (2.0 * dmean)))
    }

    /// Steady-state live keys at `rate` keys per tick.
    fn live_for(&self, rate: f64) -> f64 {
        rate * (self.window.saturating_add(self.lateness) as f64 + self.width as f64)
    }

    /// Open the first rate-sized table for `expected` live keys (pooled sizing).
    fn open_sized(&mut self, expected: f64) {
        self.rate_sized = true;
        let slots = (expected.max(self.live_keys() as f64) / TARGET_LOAD).ceil() as u64;
        let slots = slots.clamp(self.min_slots, 1 << 40);
        let f = Self::fp_bits_for(self.budget_left());
        self.tables.push(Table::new(slots, f));
    }

    /// A table takes no more inserts at `FULL_LOAD` (stash included, which keeps its rate
    /// within `rate_at_load(f, FULL_LOAD)`) or once `MAX_STASH` insertions have failed. A
    /// failure below that load is a rare event, and opening a new table then would cost a full
    /// table with the fingerprint budget already spent.
    fn is_full(t: &Table) -> bool {
        t.stash.len() >= MAX_STASH || t.live() as f64 >= FULL_LOAD * t.slots() as f64
    }

    /// Smallest fingerprint width whose worst-case rate fits `budget` (the widest if none does).
    fn fp_bits_for(budget: f64) -> u32 {
        (MIN_FP_BITS..=MAX_FP_BITS)
            .find(|&f| Table::rate_at_load(f, FULL_LOAD) <= budget)
            .unwrap_or(MAX_FP_BITS)
    }

    /// Budget left for a new table: `p` minus the current rates of the tables there are.
    fn budget_left(&self) -> f64 {
        let used: f64 = self.tables.iter().map(Table::false_positive_rate).sum();
        (self.fpr - used).max(0.0)
    }

    /// Start a new active table (see the module docs for the size and fingerprint width).
    fn open_table(&mut self) {
        let live = self.live_keys() as f64;
        let (slots, budget) = match self.expected_live() {
            Some(n) => {
                self.rate_sized = true;
                (n.max(live) / TARGET_LOAD, self.budget_left())
            }
            None => {
                let prev = self.tables.last().map_or(0, Table::slots);
                let k = self.tables.len().min(60) as i32;
                let share = UNKNOWN_RATE_SHARE * 0.5f64.powi(k);
                ((prev * 2).max(self.min_slots) as f64, self.fpr * share)
            }
        };
        let slots = (slots.ceil() as u64).clamp(self.min_slots, 1 << 40);
        self.tables
            .push(Table::new(slots, Self::fp_bits_for(budget)));
    }

    /// At an epoch boundary: replace the active table if a new one (sized for the steady state,
    /// with the fingerprint width the budget now allows) would be clearly smaller, or if the
    /// active one is clearly too small and the new one would be no wider.
    fn maybe_rebase(&mut self) {
        let (Some(n), Some(active)) = (self.expected_live(), self.tables.last()) else {
            return;
        };
        let ideal = n / TARGET_LOAD;
        let slots = active.slots() as f64;
        let f_new = Self::fp_bits_for(self.budget_left());
        let new_bits = ideal * f64::from(Table::bucket_bits(f_new));
        let cur_bits = slots * f64::from(Table::bucket_bits(active.fp_bits));
        let smaller = new_bits < cur_bits * (1.0 - MISFIT);
        let too_small = ideal > slots * (1.0 + MISFIT) && f_new <= active.fp_bits;
        if smaller || too_small {
            self.open_table();
        }
    }

    /// Watermark at which sweep step `step` of epoch `e` is due.
    fn due(&self, e: i64, step: i64) -> i128 {
        let s = i128::from(self.width);
        let expired = (i128::from(e) + 1) * s - 1 + i128::from(self.window);
        // Step j sweeps buckets [j·m/64, (j+1)·m/64): due when the sweep line, moving from 0
        // to m over one epoch width, has passed the whole range.
        expired + (i128::from(step) + 1) * s / i128::from(SWEEP_STEPS)
    }

    /// The first epoch not yet expired at watermark `wm`.
    fn first_unexpired(&self, wm: i64) -> i64 {
        let x = i128::from(wm) - i128::from(self.window) + 1;
        let e = x.div_euclid(i128::from(self.width));
        e.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2)) as i64
    }

    /// Run every sweep step due at watermark `wm`. Depends only on `wm`, not on batches.
    pub fn advance(&mut self, wm: i64) {
        let Some(mut e) = self.sweep_epoch else {
            return;
        };
        while i128::from(wm) >= self.due(e, self.sweep_step) {
            if self.live_keys() == 0 {
                // Nothing left to forget: skip the empty epochs in one go.
                e = e.max(self.first_unexpired(wm));
                self.sweep_step = 0;
                if i128::from(wm) < self.due(e, 0) {
                    break;
                }
            }
            let j = self.sweep_step as u64;
            let tag = e.rem_euclid(4) as u64;
            for t in &mut self.tables {
                let m = t.buckets;
                let from = (u128::from(m) * u128::from(j) / SWEEP_STEPS as u128) as u64;
                let to = (u128::from(m) * u128::from(j + 1) / SWEEP_STEPS as u128) as u64;
                t.sweep(from, to, tag);
            }
            self.sweep_step += 1;
            self.drop_empty_tables();
            if self.sweep_step == SWEEP_STEPS {
                self.sweep_step = 0;
                e += 1;
                self.end_of_epoch();
            }
        }
        self.sweep_epoch = Some(e);
    }

    /// Free tables that take no inserts and have no entries left.
    fn drop_empty_tables(&mut self) {
        let n = self.tables.len();
        let mut i = 0;
        self.tables.retain(|t| {
            i += 1;
            i == n || t.live() > 0
        });
    }

    fn end_of_epoch(&mut self) {
        self.maybe_rebase();
    }

    /// Apply the approximate rule to one non-late row; true = emit. `watermark` is the row's
    /// watermark: sweeps it makes due run first, so the answer does not depend on batches.
    #[inline]
    pub fn observe<K: StoreKey>(&mut self, key: K, t: i64, watermark: i64) -> bool {
        self.advance(watermark);
        let (h1, h2) = (key.pos(), key.pos2());
        // Newest table first: recent duplicates are the common case.
        if self
            .tables
            .iter()
            .rev()
            .any(|tb| tb.contains(&tb.probe(h1, h2)))
        {
            return false;
        }
        if self.sweep_epoch.is_none() {
            self.sweep_epoch = Some(self.first_unexpired(watermark));
        }
        self.inserted += 1;
        self.first_time.get_or_insert(t);
        self.max_time = Some(self.max_time.map_or(t, |m| m.max(t)));
        self.time_sum += t.saturating_sub(self.first_time.unwrap_or(t)) as f64;
        if self.inserted == self.rate_mark_at {
            self.rate_mark = Some((self.inserted, self.time_sum / self.inserted as f64));
        }
        let rate_now_known = !self.rate_sized && self.expected_live().is_some();
        if rate_now_known || self.tables.last().is_none_or(Self::is_full) {
            self.open_table();
        }
        let tag = t.div_euclid(self.width).rem_euclid(4) as u64;
        let sweeping = self.sweeping_tag();
        let step = self.sweep_step as u128;
        if let Some(tb) = self.tables.last_mut() {
            let p = tb.probe(h1, h2);
            let below = (u128::from(tb.buckets) * step / SWEEP_STEPS as u128) as u64;
            tb.insert(&p, tag, sweeping.map(|tag| (tag, below)));
        }
        true
    }

    /// Prefetch the buckets a lookup of `key` reads in every table (see [`Table::prefetch`]).
    #[inline]
    pub fn prefetch(&self, key: [u64; 2]) {
        for t in &self.tables {
            t.prefetch(key[0], key[1]);
        }
    }

    /// The tag of the epoch being swept, once its sweep has started.
    fn sweeping_tag(&self) -> Option<u64> {
        let e = self.sweep_epoch?;
        (self.sweep_step > 0).then(|| e.rem_euclid(4) as u64)
    }

    /// Run the sweeps due at `watermark` (the batch's last watermark).
    pub fn expire(&mut self, watermark: i64) {
        self.advance(watermark);
    }

    /// Keys the tables remember (entries not yet swept).
    pub fn live_keys(&self) -> u64 {
        self.tables.iter().map(Table::live).sum()
    }

    /// Every allocation of the store: the tables' words and stashes and the table list.
    pub fn heap_bytes(&self) -> usize {
        self.tables.iter().map(Table::heap_bytes).sum::<usize>()
            + self.tables.capacity() * std::mem::size_of::<Table>()
    }

    /// Current false-positive rate: the sum of the tables' rates (union bound).
    pub fn false_positive_rate(&self) -> f64 {
        self.tables.iter().map(Table::false_positive_rate).sum()
    }

    pub fn write(&self, w: &mut Writer) {
        w.u64(self.inserted);
        w.opt_i64(self.first_time);
        w.opt_i64(self.max_time);
        w.f64(self.time_sum);
        w.opt_i64(self.rate_mark.map(|(n, _)| n as i64));
        w.f64(self.rate_mark.map_or(0.0, |(_, m)| m));
        w.u8(u8::from(self.rate_sized));
        w.opt_i64(self.sweep_epoch);
        w.i64(self.sweep_step);
        w.u64(self.tables.len() as u64);
        for t in &self.tables {
            w.u64(t.buckets);
            w.u32(t.fp_bits);
            w.u64(t.count);
            w.u64(t.stash.len() as u64);
            for &(b, v) in &t.stash {
                w.u64(b);
                w.u64(v);
            }
            w.u64(t.words.len() as u64);
            for word in &t.words {
                w.u64(*word);
            }
        }
    }

    pub fn read(&mut self, r: &mut Reader<'_>) -> Result<()> {
        self.inserted = r.u64()?;
        self.first_time = r.opt_i64()?;
        self.max_time = r.opt_i64()?;
        self.time_sum = r.f64()?;
        self.rate_mark = match (r.opt_i64()?, r.f64()?) {
            (Some(n), m) if n >= 0 && n as u64 <= self.inserted => Some((n as u64, m)),
            (None, _) => None,
            _ => return Err(Error::corrupt("bad rate mark in approximate store")),
        };
        self.rate_sized = r.u8()? != 0;
        self.sweep_epoch = r.opt_i64()?;
        self.sweep_step = r.i64()?;
        if !(0..SWEEP_STEPS).contains(&self.sweep_step) {
            return Err(Error::corrupt(format!("sweep step {}", self.sweep_step)));
        }
        let n = r.len(36)?;
        for _ in 0..n {
            let buckets = r.u64()?;
            let fp_bits = r.u32()?;
            let count = r.u64()?;
            let ns = r.len(16)?;
            let stash = (0..ns)
                .map(|_| Ok((r.u64()?, r.u64()?)))
                .collect::<Result<Vec<_>>>()?;
            let nw = r.len(8)?;
            if buckets == 0
                || !(MIN_FP_BITS..=MAX_FP_BITS).contains(&fp_bits)
                || buckets > 1 << 40
                || nw != Table::words_for(buckets, fp_bits)
                || stash.iter().any(|&(b, v)| b >= buckets || v >> 2 == 0)
            {
                return Err(Error::corrupt(format!(
                    "cuckoo table of {buckets} buckets, {fp_bits}-bit fingerprints, {nw} words"
                )));
            }
            let words = (0..nw).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
            let t = Table {
                buckets,
                fp_bits,
                words,
                count,
                stash,
            };
            if t.recount() != Some(count) {
                return Err(Error::corrupt(
                    "cuckoo table count does not match its slots, or a bucket is not a \
                     valid semi-sorted encoding",
                ));
            }
            self.tables.push(t);
        }
        Ok(())
    }
}

mod sharded;
pub use sharded::*;

#[cfg(test)]
#[path = "approx_tests.rs"]
mod tests;
