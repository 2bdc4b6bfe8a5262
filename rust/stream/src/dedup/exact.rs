//! Exact dedup state: a hash table of keys → entry references, sharded for parallelism.
//!
//! ```text
//!  key ──pos()──► shard = bits 40..44 of pos ──► Shard { table, buckets }
//!                                                 table: HashTable<Ref>  (4 B + 1 ctrl byte/slot)
//!                                                 buckets: Entry{key, first_seen} by time bucket
//! ```
//!
//! The rule, per non-late row `(key, t)`, in input order:
//! - no entry for `key` → first occurrence: emit, remember `(key, t)`;
//! - entry `(key, s)` with `t < s + window` → duplicate: drop;
//! - entry with `t >= s + window` → the memory has run out: emit again and remember `(key, t)`.
//!
//! Expiry needs no per-row work: an entry with `s + window <= watermark` can never match a
//! non-late row again (those have `t >= watermark`), so whole buckets are dropped when the
//! watermark passes their end, at the end of each batch. Because the rule never looks at the
//! watermark, results do not depend on how the stream is split into batches.
//!
//! Keys of different shards never interact, so shards run in parallel (rayon) on big batches.

use rayon::prelude::*;

use super::flat_table::{FlatTable, Probe, tag_of};
use super::window_buckets::{Buckets, Entry, Stamp};

/// Number of shards: fixed, so checkpoints do not depend on the thread count.
pub const SHARDS: usize = 16;
/// Below this many rows a batch is processed on the calling thread.
const PARALLEL_MIN_ROWS: usize = 32_768;

/// A fixed-size dedup key: `u64` (integer keys) or `[u64; 2]` (xxh3-128 of the key values).
pub trait StoreKey: Copy + Eq + Send + Sync + std::fmt::Debug + 'static {
    const BYTES: usize;
    /// A well-mixed 64-bit hash used for the shard and table position.
    fn pos(&self) -> u64;
    /// A second, independent 64-bit hash (the approximate store's fingerprint).
    fn pos2(&self) -> u64;
    fn write(&self, out: &mut Vec<u8>);
    fn read(b: &[u8]) -> Option<Self>;
}

/// Murmur3's 64-bit finalizer: a bijection, so distinct integer keys get distinct positions.
#[inline]
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

impl StoreKey for u64 {
    const BYTES: usize = 8;
    #[inline]
    fn pos(&self) -> u64 {
        fmix64(*self)
    }
    #[inline]
    fn pos2(&self) -> u64 {
        fmix64(*self ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(b: &[u8]) -> Option<Self> {
        Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
    }
}

impl StoreKey for [u64; 2] {
    const BYTES: usize = 16;
    #[inline]
    fn pos(&self) -> u64 {
        self[0]
    }
    #[inline]
    fn pos2(&self) -> u64 {
        self[1]
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self[0].to_le_bytes());
        out.extend_from_slice(&self[1].to_le_bytes());
    }
    fn read(b: &[u8]) -> Option<Self> {
        Some([
            u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            u64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
        ])
    }
}

#[inline]
fn shard_of(pos: u64) -> usize {
    ((pos >> 40) as usize) & (SHARDS - 1)
}

#[derive(Debug)]
struct Shard<K: Copy, S: Copy> {
    table: FlatTable,
    buckets: Buckets<K, S>,
    /// Keys the table points at through live chunks (its other used slots are stale).
    live: usize,
}

/// Rows a shard looks ahead when prefetching table lines: enough to cover a memory latency.
const PREFETCH_AHEAD: usize = 12;

impl<K: StoreKey, S: Stamp> Shard<K, S> {
    fn new(width: i64) -> Self {
        Shard {
            table: FlatTable::default(),
            buckets: Buckets::new(width),
            live: 0,
        }
    }

    /// Apply the dedup rule to one row; true = emit.
    #[inline]
    fn observe(&mut self, key: K, t: i64, window: i64) -> bool {
        let tag = tag_of(key.pos());
        let buckets = &self.buckets;
        match self.table.probe(tag, |r| buckets.key(r) == Some(key)) {
            Probe::Found(i, r) => {
                let s = buckets.get(r).map_or(i64::MIN, |e| e.time);
                if t < s.saturating_add(window) {
                    return false;
                }
                // Remembered too long ago: a new first occurrence. The old entry stays in its
                // bucket, unreferenced, until that bucket expires.
                self.buckets.unref(r);
                let nr = self.buckets.push(Entry { key, time: t });
                self.table.repoint(i, nr);
            }
            Probe::Vacant(i) => self.insert_absent(Entry { key, time: t }, tag, Some(i)),
        }
        true
    }

    /// Replace the table by one without stale slots, sized for the live keys; after that no
    /// slot names a dropped chunk, so their numbers can be handed out again.
    fn rebuild(&mut self) {
        let buckets = &self.buckets;
        self.table.rebuild(self.live, |r| buckets.is_live(r));
        self.buckets.recycle_dead();
    }

    /// `observe` over a shard's rows (ascending), pushing the emitted ones to `out`. The table
    /// line of the row `PREFETCH_AHEAD` places ahead is requested before each row, so the
    /// random-access misses overlap instead of running one after another.
    fn observe_rows(
        &mut self,
        keys: &[K],
        times: &[i64],
        rows: &[u32],
        window: i64,
        out: &mut Vec<u32>,
    ) {
        for (j, &i) in rows.iter().enumerate() {
            if let Some(&a) = rows.get(j + PREFETCH_AHEAD) {
                self.table.prefetch(tag_of(keys[a as usize].pos()));
            }
            if self.observe(keys[i as usize], times[i as usize], window) {
                out.push(i);
            }
        }
    }

    fn expire(&mut self, limit: i64) {
        let gone = self.buckets.drain_expired(limit);
        self.live = self.live.saturating_sub(gone);
        // Stale slots are normally dropped by the rebuild a full table triggers on insert. When
        // few new keys arrive that rebuild does not come, and the table would keep the size of
        // the peak: shrink it here once it is well above the size a rebuild would give.
        if self.table.oversized(self.live) {
            self.rebuild();
        }
    }

    /// Insert an entry whose key is not in the shard; `vacant` is the empty slot a probe for
    /// it ended at, if there was one (a rebuild moves the slots, so then it probes afresh).
    fn insert_absent(&mut self, e: Entry<K>, tag: u32, vacant: Option<usize>) {
        let r = self.buckets.push(e);
        match vacant {
            Some(i) if !self.table.is_full() => self.table.fill(i, tag, r),
            _ => {
                if self.table.is_full() {
                    self.rebuild();
                }
                self.table.insert_new(tag, r);
            }
        }
        self.live += 1;
    }

    fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.buckets.heap_bytes()
    }
}

/// The exact store: `SHARDS` independent shards plus the entry of the null key, with the
/// narrowest time stamps the bucket width allows (see [`super::window_buckets::Stamp`]).
#[derive(Debug)]
pub struct ExactStore<K: Copy>(Stamps<K>);

#[derive(Debug)]
enum Stamps<K: Copy> {
    Offset(Sharded<K, u32>),
    Whole(Sharded<K, i64>),
}

/// Run `$body` on the store whatever its stamp type.
macro_rules! with_store {
    ($store:expr, $s:ident => $body:expr) => {
        match $store {
            Stamps::Offset($s) => $body,
            Stamps::Whole($s) => $body,
        }
    };
}

impl<K: StoreKey> ExactStore<K> {
    pub fn new(window: i64, lateness: i64) -> Self {
        let width = (window.saturating_add(lateness) / 16).max(1);
        ExactStore(if width <= u32::MAX_WIDTH {
            Stamps::Offset(Sharded::new(window, width))
        } else {
            Stamps::Whole(Sharded::new(window, width))
        })
    }

    /// Decide `rows` (indices into `keys`/`times`, ascending): returns the emitted subset, ascending.
    pub fn process(&mut self, keys: &[K], times: &[i64], rows: &[u32]) -> Vec<u32> {
        with_store!(&mut self.0, s => s.process(keys, times, rows))
    }

    /// The rule for the null key (integer keys), applied to rows in input order.
    pub fn observe_null(&mut self, t: i64) -> bool {
        with_store!(&mut self.0, s => s.observe_null(t))
    }

    /// Forget every entry that can no longer match a non-late row.
    pub fn expire(&mut self, watermark: i64) {
        with_store!(&mut self.0, s => s.expire(watermark))
    }

    /// Keys currently remembered.
    pub fn live_keys(&self) -> usize {
        with_store!(&self.0, s => s.live_keys())
    }

    pub fn heap_bytes(&self) -> usize {
        with_store!(&self.0, s => s.heap_bytes())
    }

    /// Every remembered `(key, first_seen)` (not the replaced ones), plus the null key's time.
    pub fn live_entries(&self) -> (Vec<Entry<K>>, Option<i64>) {
        with_store!(&self.0, s => s.live_entries())
    }

    /// Rebuild from [`ExactStore::live_entries`] (used by checkpoint restore).
    pub fn load(&mut self, entries: &[Entry<K>], null_time: Option<i64>) {
        with_store!(&mut self.0, s => s.load(entries, null_time))
    }

    pub fn bucket_count(&self) -> usize {
        with_store!(&self.0, s => s.buckets())
    }

    /// The store's layout, shard by shard (the `describe()` introspection helper).
    pub fn layout(&self) -> ExactLayout {
        let (stamp, shards) = match &self.0 {
            Stamps::Offset(s) => ("u32 offset from the bucket start", s.shard_layouts()),
            Stamps::Whole(s) => ("i64 time", s.shard_layouts()),
        };
        let entry_bytes = match &self.0 {
            Stamps::Offset(_) => K::BYTES + 4,
            Stamps::Whole(_) => K::BYTES + 8,
        };
        let width = with_store!(&self.0, s => s.shards.first().map_or(0, |x| x.buckets.width()));
        ExactLayout {
            stamp,
            entry_bytes,
            bucket_width: width,
            shards,
        }
    }
}

/// What [`ExactStore::layout`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactLayout {
    /// How entries keep their first-seen time.
    pub stamp: &'static str,
    /// Bytes of one stored entry (key + stamp, packed).
    pub entry_bytes: usize,
    /// Event-time width of a bucket, in the time column's ticks.
    pub bucket_width: i64,
    pub shards: Vec<ShardLayout>,
}

/// One shard: its table's slots and its entry chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardLayout {
    pub slots: usize,
    /// Slots in use: live keys plus stale slots left by expiry (dropped at the next sweep).
    pub used: usize,
    pub live: usize,
    pub buckets: usize,
    pub entries: usize,
    pub heap_bytes: usize,
}

#[derive(Debug)]
struct Sharded<K: Copy, S: Copy> {
    shards: Vec<Shard<K, S>>,
    window: i64,
    /// First-seen time of the null key, if remembered (integer keys only; hashed keys encode
    /// null in the hash).
    null_time: Option<i64>,
}

impl<K: StoreKey, S: Stamp> Sharded<K, S> {
    fn new(window: i64, width: i64) -> Self {
        Sharded {
            shards: (0..SHARDS).map(|_| Shard::new(width)).collect(),
            window,
            null_time: None,
        }
    }

    fn process(&mut self, keys: &[K], times: &[i64], rows: &[u32]) -> Vec<u32> {
        let window = self.window;
        if rows.len() < PARALLEL_MIN_ROWS {
            return rows
                .iter()
                .copied()
                .filter(|&i| {
                    let k = keys[i as usize];
                    self.shards[shard_of(k.pos())].observe(k, times[i as usize], window)
                })
                .collect();
        }
        super::run_sharded(
            &mut self.shards,
            rows.len(),
            rows.iter().map(|&i| (shard_of(keys[i as usize].pos()), i)),
            |shard, rows| {
                let mut out = Vec::with_capacity(rows.len());
                shard.observe_rows(keys, times, rows, window, &mut out);
                out
            },
        )
    }

    fn observe_null(&mut self, t: i64) -> bool {
        match self.null_time {
            Some(s) if t < s.saturating_add(self.window) => false,
            _ => {
                self.null_time = Some(t);
                true
            }
        }
    }

    fn expire(&mut self, watermark: i64) {
        let limit = watermark.saturating_sub(self.window);
        if self.null_time.is_some_and(|s| s <= limit) {
            self.null_time = None;
        }
        self.shards.par_iter_mut().for_each(|s| s.expire(limit));
    }

    fn live_keys(&self) -> usize {
        self.shards.iter().map(|s| s.live).sum::<usize>() + usize::from(self.null_time.is_some())
    }

    fn heap_bytes(&self) -> usize {
        self.shards.iter().map(Shard::heap_bytes).sum()
    }

    fn live_entries(&self) -> (Vec<Entry<K>>, Option<i64>) {
        let mut out = Vec::with_capacity(self.live_keys());
        for s in &self.shards {
            s.buckets.select(s.table.refs(), &mut out);
        }
        (out, self.null_time)
    }

    fn load(&mut self, entries: &[Entry<K>], null_time: Option<i64>) {
        self.null_time = null_time;
        for e in entries {
            self.shards[shard_of(e.key.pos())].insert_absent(*e, tag_of(e.key.pos()), None);
        }
    }

    fn shard_layouts(&self) -> Vec<ShardLayout> {
        self.shards
            .iter()
            .map(|s| ShardLayout {
                slots: s.table.capacity(),
                used: s.table.used(),
                live: s.live,
                buckets: s.buckets.bucket_count(),
                entries: s.buckets.entries(),
                heap_bytes: s.heap_bytes(),
            })
            .collect()
    }

    fn buckets(&self) -> usize {
        self.shards.iter().map(|s| s.buckets.bucket_count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rule() {
        let mut s: ExactStore<u64> = ExactStore::new(10, 0);
        let keys = [1u64, 1, 2, 1, 1];
        let times = [0i64, 9, 5, 10, 15];
        // 1@0 emit; 1@9 dup (9 < 10); 2@5 emit; 1@10 re-emit (10 >= 0+10); 1@15 dup (15 < 20)
        assert_eq!(s.process(&keys, &times, &[0, 1, 2, 3, 4]), vec![0, 2, 3]);
        assert_eq!(s.live_keys(), 2);
    }

    #[test]
    fn expiry_drops_buckets_and_keeps_answers() {
        let mut s: ExactStore<u64> = ExactStore::new(100, 0);
        let n = 50_000u32;
        let keys: Vec<u64> = (0..n as u64).collect();
        let times: Vec<i64> = (0..n as i64).map(|i| i / 100).collect();
        let rows: Vec<u32> = (0..n).collect();
        assert_eq!(s.process(&keys, &times, &rows).len(), n as usize);
        // All keys again at the same times: all duplicates (parallel path).
        assert!(s.process(&keys, &times, &rows).is_empty());
        s.expire(600);
        // limit = 500; buckets are 6 wide, so only the bucket [498, 504) survives.
        let (entries, _) = s.live_entries();
        assert_eq!(entries.len(), 200);
        assert!(entries.iter().all(|e| e.time >= 498));
        assert_eq!(s.live_keys(), 200);
    }

    #[test]
    fn whole_and_offset_stamps_answer_alike() {
        // Same stream twice: times in ticks of 1, and the same times scaled by 2^36 (a bucket
        // width beyond u32, as with ns time columns and long windows): identical answers.
        let scale = 1i64 << 36;
        let mut small: ExactStore<u64> = ExactStore::new(40, 8);
        let mut big: ExactStore<u64> = ExactStore::new(40 * scale, 8 * scale);
        assert!(matches!(small.0, Stamps::Offset(_)) && matches!(big.0, Stamps::Whole(_)));
        let n = 40_000u32;
        let keys: Vec<u64> = (0..n as u64).map(|i| fmix64(i) % 3_000).collect();
        let times: Vec<i64> = (0..n as i64).map(|i| i / 50 - 300).collect();
        let scaled: Vec<i64> = times.iter().map(|t| t * scale).collect();
        let rows: Vec<u32> = (0..n).collect();
        let (first, rest) = rows.split_at(n as usize / 2);
        for chunk in first.chunks(7_000) {
            assert_eq!(
                small.process(&keys, &times, chunk),
                big.process(&keys, &scaled, chunk)
            );
            // Expiry drops whole buckets, at slightly different points for the two widths;
            // that changes what is remembered, never an answer.
            let wm = times[*chunk.last().unwrap() as usize];
            small.expire(wm);
            big.expire(wm * scale);
        }
        // A store rebuilt from the whole-stamp entries answers like the original.
        let (entries, null) = big.live_entries();
        let mut again: ExactStore<u64> = ExactStore::new(40 * scale, 8 * scale);
        again.load(&entries, null);
        assert_eq!(again.live_keys(), big.live_keys());
        for chunk in rest.chunks(7_000) {
            let want = small.process(&keys, &times, chunk);
            assert_eq!(big.process(&keys, &scaled, chunk), want);
            assert_eq!(again.process(&keys, &scaled, chunk), want);
        }
    }

    #[test]
    fn checkpoint_entries_roundtrip() {
        let mut s: ExactStore<[u64; 2]> = ExactStore::new(10, 2);
        let keys = [[1, 2], [3, 4], [1, 2]];
        s.process(&keys, &[0, 1, 2], &[0, 1, 2]);
        let (e, n) = s.live_entries();
        let mut t: ExactStore<[u64; 2]> = ExactStore::new(10, 2);
        t.load(&e, n);
        assert_eq!(t.process(&keys, &[3, 3, 30], &[0, 1, 2]), vec![2]);
        assert_eq!(s.process(&keys, &[3, 3, 30], &[0, 1, 2]), vec![2]);
    }
}
