//! Entries of the exact dedup store, grouped by event-time bucket so expiry is O(expired).
//!
//! ```text
//!  bucket id = floor(first_seen / width)        width = (window + allowed_lateness) / 16
//!
//!  by_id: BTreeMap<bucket id, slab>            slabs[slab] = Bucket { chunks of Entry }
//!    17 → 0   ┌──────────────────────────────┐
//!    18 → 2   │ Entry{key, first_seen} × 512  │ chunk 0     a Ref = slab << 32 | offset
//!    19 → 1   │ Entry ...                     │ chunk 1     (what the hash table stores)
//!             └──────────────────────────────┘
//! ```
//!
//! Entries are appended into fixed-size chunks (no `Vec` doubling: at most one partly-used chunk
//! per bucket). A whole bucket is dropped when every entry in it has expired, i.e. when
//! `bucket_end - 1 + window <= watermark`.

use std::collections::BTreeMap;

/// Entries per chunk; a chunk is allocated full-size once and never grows.
const CHUNK: usize = 512;

/// One remembered key: the key and the event time of its emitted (first) occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<K> {
    pub key: K,
    pub time: i64,
}

/// A reference to an entry: `slab << 32 | offset`.
pub type Ref = u64;

#[derive(Debug)]
struct Bucket<K> {
    id: i64,
    chunks: Vec<Vec<Entry<K>>>,
    len: usize,
}

#[derive(Debug)]
pub struct Buckets<K> {
    width: i64,
    slabs: Vec<Option<Bucket<K>>>,
    free: Vec<u32>,
    by_id: BTreeMap<i64, u32>,
    /// The bucket of the previous push (most pushes go to the newest bucket).
    last: Option<(i64, u32)>,
    entries: usize,
}

impl<K: Copy> Buckets<K> {
    pub fn new(width: i64) -> Self {
        Buckets {
            width: width.max(1),
            slabs: Vec::new(),
            free: Vec::new(),
            by_id: BTreeMap::new(),
            last: None,
            entries: 0,
        }
    }

    #[inline]
    fn bucket_of(&self, t: i64) -> i64 {
        t.div_euclid(self.width)
    }

    /// Append an entry and return its reference.
    #[inline]
    pub fn push(&mut self, e: Entry<K>) -> Ref {
        let id = self.bucket_of(e.time);
        let slab = match self.last {
            Some((lid, s)) if lid == id => s,
            _ => {
                let s = self.slab_for(id);
                self.last = Some((id, s));
                s
            }
        };
        self.entries += 1;
        let Some(Some(b)) = self.slabs.get_mut(slab as usize) else {
            unreachable!("slab_for returns a live slab")
        };
        let off = b.len;
        b.len += 1;
        match b.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(e),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(e);
                b.chunks.push(c);
            }
        }
        (u64::from(slab) << 32) | off as u64
    }

    fn slab_for(&mut self, id: i64) -> u32 {
        if let Some(&s) = self.by_id.get(&id) {
            return s;
        }
        let bucket = Bucket {
            id,
            chunks: Vec::new(),
            len: 0,
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.slabs[s as usize] = Some(bucket);
                s
            }
            None => {
                self.slabs.push(Some(bucket));
                (self.slabs.len() - 1) as u32
            }
        };
        self.by_id.insert(id, s);
        s
    }

    /// The entry behind a reference handed out by [`Buckets::push`] and not yet expired.
    #[inline]
    pub fn get(&self, r: Ref) -> &Entry<K> {
        let (slab, off) = ((r >> 32) as usize, (r & 0xffff_ffff) as usize);
        match self.slabs.get(slab) {
            Some(Some(b)) => &b.chunks[off / CHUNK][off % CHUNK],
            _ => unreachable!("a live Ref points into a live bucket"),
        }
    }

    /// Remove every bucket whose entries all satisfy `time <= limit`, calling `f` on each entry.
    pub fn drain_expired(&mut self, limit: i64, mut f: impl FnMut(Ref, &Entry<K>)) {
        while let Some((&id, &slab)) = self.by_id.first_key_value() {
            // Largest time in bucket `id` is (id + 1) * width - 1.
            let last_time = id
                .saturating_add(1)
                .saturating_mul(self.width)
                .saturating_sub(1);
            if last_time > limit {
                break;
            }
            self.by_id.remove(&id);
            if self.last.is_some_and(|(lid, _)| lid == id) {
                self.last = None;
            }
            if let Some(b) = self.slabs.get_mut(slab as usize).and_then(Option::take) {
                debug_assert_eq!(b.id, id);
                self.entries -= b.len;
                let mut off = 0u64;
                for chunk in &b.chunks {
                    for e in chunk {
                        f((u64::from(slab) << 32) | off, e);
                        off += 1;
                    }
                }
            }
            self.free.push(slab);
        }
    }

    /// Every entry (live or replaced) with its reference, oldest bucket first.
    pub fn for_each(&self, mut f: impl FnMut(Ref, &Entry<K>)) {
        for &slab in self.by_id.values() {
            if let Some(Some(b)) = self.slabs.get(slab as usize) {
                let mut off = 0u64;
                for chunk in &b.chunks {
                    for e in chunk {
                        f((u64::from(slab) << 32) | off, e);
                        off += 1;
                    }
                }
            }
        }
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    pub fn bucket_count(&self) -> usize {
        self.by_id.len()
    }

    /// Heap bytes held (entry chunks at capacity plus bookkeeping).
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<Entry<K>>();
        let chunks: usize = self
            .slabs
            .iter()
            .flatten()
            .map(|b| {
                b.chunks.iter().map(|c| c.capacity() * entry).sum::<usize>()
                    + b.chunks.capacity() * std::mem::size_of::<Vec<Entry<K>>>()
            })
            .sum();
        chunks
            + self.slabs.capacity() * std::mem::size_of::<Option<Bucket<K>>>()
            + self.by_id.len() * 48
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_and_expire_whole_buckets() {
        let mut b: Buckets<u64> = Buckets::new(10);
        let r1 = b.push(Entry { key: 1, time: 5 });
        let r2 = b.push(Entry { key: 2, time: 15 });
        let r3 = b.push(Entry { key: 3, time: 9 });
        assert_eq!(b.get(r1).key, 1);
        assert_eq!(b.get(r2).key, 2);
        assert_eq!(b.get(r3).time, 9);
        let mut gone = vec![];
        b.drain_expired(8, |_, e| gone.push(e.key));
        assert!(gone.is_empty(), "bucket [0,10) still has time 9 > 8");
        b.drain_expired(9, |_, e| gone.push(e.key));
        assert_eq!(gone, vec![1, 3]);
        assert_eq!(b.entries(), 1);
        // The freed slab is reused; old refs of other buckets stay valid.
        let r4 = b.push(Entry { key: 4, time: 100 });
        assert_eq!(b.get(r4).key, 4);
        assert_eq!(b.get(r2).key, 2);
    }

    #[test]
    fn many_entries_span_chunks() {
        let mut b: Buckets<u64> = Buckets::new(1_000_000);
        let refs: Vec<_> = (0..10_000u64)
            .map(|i| b.push(Entry { key: i, time: 1 }))
            .collect();
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(b.get(*r).key, i as u64);
        }
        let mut n = 0;
        b.for_each(|_, _| n += 1);
        assert_eq!(n, 10_000);
    }
}
