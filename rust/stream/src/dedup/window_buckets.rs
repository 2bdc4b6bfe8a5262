//! Entries of the exact dedup store, grouped by event-time bucket so expiry is O(expired).
//!
//! ```text
//!  bucket id = floor(first_seen / width)        width = (window + allowed_lateness) / 16
//!
//!  by_id: BTreeMap<bucket id, [chunk numbers]>     chunks: slab of Vec<Entry>, 512 each
//!    17 → [0, 3]     ┌─────────────────────────────┐
//!    18 → [2]        │ chunk 0: Entry{key, first_seen} × 512 │   a Ref (u32) = chunk << 9 | slot
//!    19 → [1, 4]     │ chunk 1: ...                 │   (what the hash table stores)
//!                    └─────────────────────────────┘   freed chunk numbers are reused
//! ```
//!
//! Entries are appended into fixed-size chunks (no `Vec` doubling: at most one partly-used chunk
//! per bucket). A whole bucket is dropped when every entry in it has expired, i.e. when
//! `bucket_end - 1 + window <= watermark`.

use std::collections::BTreeMap;

/// Entries per chunk (a power of two): a chunk is allocated full-size once and never grows.
const CHUNK_BITS: u32 = 9;
const CHUNK: usize = 1 << CHUNK_BITS;

/// One remembered key: the key and the event time of its emitted (first) occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<K> {
    pub key: K,
    pub time: i64,
}

/// A reference to an entry: `chunk << 9 | slot`. 32 bits keep the hash table at 4 bytes a slot;
/// chunk numbers are recycled, so 2^23 live chunks (4 G entries per shard) is the only limit.
pub type Ref = u32;

#[derive(Debug)]
pub struct Buckets<K> {
    width: i64,
    /// Chunk slab: `chunks[c]` is a chunk in use or `None` (listed in `free`).
    chunks: Vec<Option<Vec<Entry<K>>>>,
    free: Vec<u32>,
    /// Bucket id → its chunk numbers, oldest first.
    by_id: BTreeMap<i64, Vec<u32>>,
    /// The bucket and chunk of the previous push (most pushes go to the newest bucket).
    last: Option<(i64, u32)>,
    entries: usize,
}

impl<K: Copy> Buckets<K> {
    pub fn new(width: i64) -> Self {
        Buckets {
            width: width.max(1),
            chunks: Vec::new(),
            free: Vec::new(),
            by_id: BTreeMap::new(),
            last: None,
            entries: 0,
        }
    }

    /// Append an entry and return its reference.
    #[inline]
    pub fn push(&mut self, e: Entry<K>) -> Ref {
        let id = e.time.div_euclid(self.width);
        let chunk = match self.last {
            Some((lid, c)) if lid == id && self.chunk_len(c) < CHUNK => c,
            _ => self.chunk_for(id),
        };
        self.last = Some((id, chunk));
        self.entries += 1;
        let Some(Some(c)) = self.chunks.get_mut(chunk as usize) else {
            unreachable!("chunk_for returns a live chunk")
        };
        c.push(e);
        (chunk << CHUNK_BITS) | (c.len() - 1) as u32
    }

    fn chunk_len(&self, c: u32) -> usize {
        self.chunks
            .get(c as usize)
            .and_then(Option::as_ref)
            .map_or(CHUNK, Vec::len)
    }

    /// A chunk of bucket `id` with room: its newest chunk, or a new one.
    fn chunk_for(&mut self, id: i64) -> u32 {
        if let Some(&c) = self.by_id.get(&id).and_then(|cs| cs.last())
            && self.chunk_len(c) < CHUNK
        {
            return c;
        }
        let fresh = Some(Vec::with_capacity(CHUNK));
        let c = match self.free.pop() {
            Some(c) => {
                self.chunks[c as usize] = fresh;
                c
            }
            None => {
                self.chunks.push(fresh);
                (self.chunks.len() - 1) as u32
            }
        };
        self.by_id.entry(id).or_default().push(c);
        c
    }

    /// The entry behind a reference handed out by [`Buckets::push`] and not yet expired.
    #[inline]
    pub fn get(&self, r: Ref) -> &Entry<K> {
        match self.chunks.get((r >> CHUNK_BITS) as usize) {
            Some(Some(c)) => &c[(r as usize) & (CHUNK - 1)],
            _ => unreachable!("a live Ref points into a live chunk"),
        }
    }

    /// Remove every bucket whose entries all satisfy `time <= limit`, calling `f` on each entry.
    pub fn drain_expired(&mut self, limit: i64, mut f: impl FnMut(Ref, &Entry<K>)) {
        while let Some((&id, _)) = self.by_id.first_key_value() {
            // Largest time in bucket `id` is (id + 1) * width - 1.
            let last_time = id
                .saturating_add(1)
                .saturating_mul(self.width)
                .saturating_sub(1);
            if last_time > limit {
                break;
            }
            let Some(chunks) = self.by_id.remove(&id) else {
                break;
            };
            if self.last.is_some_and(|(lid, _)| lid == id) {
                self.last = None;
            }
            for c in chunks {
                if let Some(entries) = self.chunks.get_mut(c as usize).and_then(Option::take) {
                    self.entries -= entries.len();
                    for (i, e) in entries.iter().enumerate() {
                        f((c << CHUNK_BITS) | i as u32, e);
                    }
                }
                self.free.push(c);
            }
        }
    }

    /// Every entry (live or replaced) with its reference, oldest bucket first.
    pub fn for_each(&self, mut f: impl FnMut(Ref, &Entry<K>)) {
        for chunks in self.by_id.values() {
            for &c in chunks {
                if let Some(Some(entries)) = self.chunks.get(c as usize) {
                    for (i, e) in entries.iter().enumerate() {
                        f((c << CHUNK_BITS) | i as u32, e);
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
        let live = self.chunks.iter().flatten().count();
        live * CHUNK * entry
            + self.chunks.capacity() * std::mem::size_of::<Option<Vec<Entry<K>>>>()
            + self.free.capacity() * 4
            + self
                .by_id
                .values()
                .map(|c| 48 + c.capacity() * 4)
                .sum::<usize>()
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
