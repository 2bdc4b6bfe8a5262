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

use hashbrown::HashTable;
use rayon::prelude::*;

use super::window_buckets::{Buckets, Entry, Ref};

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
struct Shard<K> {
    table: HashTable<Ref>,
    buckets: Buckets<K>,
}

impl<K: StoreKey> Shard<K> {
    /// Apply the dedup rule to one row; true = emit.
    #[inline]
    fn observe(&mut self, key: K, t: i64, window: i64) -> bool {
        let Shard { table, buckets } = self;
        let h = key.pos();
        if let Some(slot) = table.find_mut(h, |&r| buckets.get(r).key == key) {
            let s = buckets.get(*slot).time;
            if t < s.saturating_add(window) {
                return false;
            }
            // Remembered too long ago: a new first occurrence. The old entry stays in its
            // bucket, unreferenced, until that bucket expires.
            *slot = buckets.push(Entry { key, time: t });
            return true;
        }
        let r = buckets.push(Entry { key, time: t });
        table.insert_unique(h, r, |&r| buckets.get(r).key.pos());
        true
    }

    fn expire(&mut self, limit: i64) {
        let Shard { table, buckets } = self;
        buckets.drain_expired(limit, |r, e| {
            // Only remove the slot if it still points at this entry (it may have been replaced).
            if let Ok(occ) = table.find_entry(e.key.pos(), |&x| x == r) {
                occ.remove();
            }
        });
        if table.capacity() > 64 && table.len() * 4 < table.capacity() {
            table.shrink_to_fit(|&r| buckets.get(r).key.pos());
        }
    }

    fn heap_bytes(&self) -> usize {
        // hashbrown: one 8-byte slot plus one control byte per bucket; buckets = capacity * 8/7.
        let slots = (self.table.capacity() * 8 / 7).next_power_of_two();
        let table = if self.table.capacity() == 0 {
            0
        } else {
            slots * (std::mem::size_of::<Ref>() + 1)
        };
        table + self.buckets.heap_bytes()
    }
}

/// The exact store: `SHARDS` independent shards plus the entry of the null key.
#[derive(Debug)]
pub struct ExactStore<K> {
    shards: Vec<Shard<K>>,
    window: i64,
    /// First-seen time of the null key, if remembered (integer keys only; hashed keys encode
    /// null in the hash).
    null_time: Option<i64>,
}

impl<K: StoreKey> ExactStore<K> {
    pub fn new(window: i64, lateness: i64) -> Self {
        let width = (window.saturating_add(lateness) / 16).max(1);
        ExactStore {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    table: HashTable::new(),
                    buckets: Buckets::new(width),
                })
                .collect(),
            window,
            null_time: None,
        }
    }

    /// Decide `rows` (indices into `keys`/`times`, ascending): returns the emitted subset, ascending.
    pub fn process(&mut self, keys: &[K], times: &[i64], rows: &[u32]) -> Vec<u32> {
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
        let mut per_shard: Vec<Vec<u32>> = (0..SHARDS)
            .map(|_| Vec::with_capacity(rows.len() / SHARDS + 64))
            .collect();
        for &i in rows {
            per_shard[shard_of(keys[i as usize].pos())].push(i);
        }
        let kept: Vec<Vec<u32>> = self
            .shards
            .par_iter_mut()
            .zip(per_shard.par_iter())
            .map(|(shard, rows)| {
                rows.iter()
                    .copied()
                    .filter(|&i| shard.observe(keys[i as usize], times[i as usize], window))
                    .collect()
            })
            .collect();
        // Merge back into input order through a row mask.
        let (lo, hi) = (rows[0] as usize, rows[rows.len() - 1] as usize);
        let mut mask = vec![false; hi - lo + 1];
        for k in kept.iter().flatten() {
            mask[*k as usize - lo] = true;
        }
        mask.iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| (i + lo) as u32)
            .collect()
    }

    /// The rule for the null key (integer keys), applied to rows in input order.
    pub fn observe_null(&mut self, t: i64) -> bool {
        match self.null_time {
            Some(s) if t < s.saturating_add(self.window) => false,
            _ => {
                self.null_time = Some(t);
                true
            }
        }
    }

    /// Forget every entry that can no longer match a non-late row.
    pub fn expire(&mut self, watermark: i64) {
        let limit = watermark.saturating_sub(self.window);
        if self.null_time.is_some_and(|s| s <= limit) {
            self.null_time = None;
        }
        self.shards.par_iter_mut().for_each(|s| s.expire(limit));
    }

    /// Keys currently remembered.
    pub fn live_keys(&self) -> usize {
        self.shards.iter().map(|s| s.table.len()).sum::<usize>()
            + usize::from(self.null_time.is_some())
    }

    pub fn heap_bytes(&self) -> usize {
        self.shards.iter().map(Shard::heap_bytes).sum()
    }

    /// Every remembered `(key, first_seen)` (not the replaced ones), plus the null key's time.
    pub fn live_entries(&self) -> (Vec<Entry<K>>, Option<i64>) {
        let mut out = Vec::with_capacity(self.live_keys());
        for s in &self.shards {
            s.buckets.for_each(|r, e| {
                if s.table.find(e.key.pos(), |&x| x == r).is_some() {
                    out.push(*e);
                }
            });
        }
        (out, self.null_time)
    }

    /// Rebuild from [`ExactStore::live_entries`] (used by checkpoint restore).
    pub fn load(&mut self, entries: &[Entry<K>], null_time: Option<i64>) {
        self.null_time = null_time;
        for e in entries {
            let shard = &mut self.shards[shard_of(e.key.pos())];
            let Shard { table, buckets } = shard;
            let r = buckets.push(*e);
            table.insert_unique(e.key.pos(), r, |&r| buckets.get(r).key.pos());
        }
    }

    pub fn bucket_count(&self) -> usize {
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
