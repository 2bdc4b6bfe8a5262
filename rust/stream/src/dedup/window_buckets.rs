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
//! Entries are appended into chunks of at most 512 entries (a new chunk starts at 32 and doubles,
//! so only small chunks are ever copied; at most one partly used chunk per bucket). A whole bucket is dropped when every entry in it has expired, i.e. when
//! `bucket_end - 1 + window <= watermark`.
//!
//! Dropping a bucket frees its chunks' memory at once but does not touch the index
//! ([`super::flat_table`]): slots pointing into a dropped chunk go stale. The chunk's number is
//! parked in `dead` until the index has been rebuilt without those slots
//! ([`Buckets::recycle_dead`]); only then can it be handed out again, so a stale slot never points
//! at a newer entry. Each chunk counts its entries that the index still references, which gives
//! the live key count without visiting entries.
//!
//! Stored entries are packed to 4-byte alignment, and their time is a [`Stamp`]: where the
//! bucket width fits in 32 bits (ms or µs time columns with windows up to days) only the
//! offset from the chunk's bucket start is kept, so a hashed key's entry is 16 + 4 = 20 bytes
//! instead of 24, an integer key's 8 + 4 = 12 instead of 16.

use std::collections::BTreeMap;

/// Entries per chunk (a power of two): a chunk never grows past this, so it is never copied
/// once big.
const CHUNK_BITS: u32 = 9;
const CHUNK: usize = 1 << CHUNK_BITS;
/// A new chunk starts this small and doubles up to [`CHUNK`]: a small stream has one partly
/// filled chunk per shard and bucket (16 × 17 of them), which at full size would cost more
/// than its keys.
const FIRST_CHUNK: usize = 32;

/// One remembered key: the key and the event time of its emitted (first) occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<K> {
    pub key: K,
    pub time: i64,
}

/// How a stored entry keeps its time: as an offset from its bucket's start (`u32`, when the
/// bucket width allows) or whole (`i64`). Arithmetic wraps, so offsets are exact for any time.
pub trait Stamp: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// Widest bucket (in ticks) whose offsets this stamp can hold.
    const MAX_WIDTH: i64;
    fn encode(time: i64, bucket_start: i64) -> Self;
    fn decode(self, bucket_start: i64) -> i64;
}

impl Stamp for u32 {
    const MAX_WIDTH: i64 = u32::MAX as i64;
    #[inline]
    fn encode(time: i64, bucket_start: i64) -> Self {
        time.wrapping_sub(bucket_start) as u32
    }
    #[inline]
    fn decode(self, bucket_start: i64) -> i64 {
        bucket_start.wrapping_add(i64::from(self))
    }
}

impl Stamp for i64 {
    const MAX_WIDTH: i64 = i64::MAX;
    #[inline]
    fn encode(time: i64, _: i64) -> Self {
        time
    }
    #[inline]
    fn decode(self, _: i64) -> i64 {
        self
    }
}

/// An entry as a chunk stores it: packed, so `[u64; 2]` + `u32` takes 20 bytes, not 24.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Stored<K, S> {
    key: K,
    stamp: S,
}

impl<K: Copy + std::fmt::Debug, S: Copy + std::fmt::Debug> std::fmt::Debug for Stored<K, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (key, stamp) = (self.key, self.stamp);
        f.debug_struct("Stored")
            .field("key", &key)
            .field("stamp", &stamp)
            .finish()
    }
}

/// A reference to an entry: `chunk << 9 | slot`. 32 bits keep the hash table at 4 bytes a slot;
/// chunk numbers are recycled, so 2^23 live chunks (4 G entries per shard) is the only limit.
pub type Ref = u32;

#[derive(Debug)]
pub struct Buckets<K: Copy, S: Copy> {
    width: i64,
    /// Chunk slab: `chunks[c]` is a chunk in use or `None` (listed in `free`).
    chunks: Vec<Option<Vec<Stored<K, S>>>>,
    /// `start[c]`: first time of chunk `c`'s bucket (what its stamps are offsets from).
    start: Vec<i64>,
    /// `referenced[c]`: entries of chunk `c` the index points at (pushed minus replaced).
    referenced: Vec<u32>,
    /// Chunk numbers ready for reuse.
    free: Vec<u32>,
    /// Chunk numbers of dropped chunks that stale index slots may still name.
    dead: Vec<u32>,
    /// Bucket id → its chunk numbers, oldest first.
    by_id: BTreeMap<i64, Vec<u32>>,
    /// The bucket and chunk of the previous push (most pushes go to the newest bucket).
    last: Option<(i64, u32)>,
    entries: usize,
}

impl<K: Copy + std::fmt::Debug, S: Stamp> Buckets<K, S> {
    /// Buckets `width` ticks wide (at most `S::MAX_WIDTH`, which callers check).
    pub fn new(width: i64) -> Self {
        debug_assert!(width <= S::MAX_WIDTH);
        Buckets {
            width: width.clamp(1, S::MAX_WIDTH),
            chunks: Vec::new(),
            start: Vec::new(),
            referenced: Vec::new(),
            free: Vec::new(),
            dead: Vec::new(),
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
        if c.len() == c.capacity() {
            c.reserve_exact(c.len().clamp(1, CHUNK - c.len()));
        }
        c.push(Stored {
            key: e.key,
            stamp: S::encode(e.time, self.start[chunk as usize]),
        });
        let r = (chunk << CHUNK_BITS) | (c.len() - 1) as u32;
        self.referenced[chunk as usize] += 1;
        r
    }

    /// The index no longer points at `r` (its key got a newer entry).
    #[inline]
    pub fn unref(&mut self, r: Ref) {
        if let Some(n) = self.referenced.get_mut((r >> CHUNK_BITS) as usize) {
            *n = n.saturating_sub(1);
        }
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
        let fresh = Some(Vec::with_capacity(FIRST_CHUNK));
        let c = match self.free.pop() {
            Some(c) => {
                self.chunks[c as usize] = fresh;
                c
            }
            None => {
                self.chunks.push(fresh);
                self.referenced.push(0);
                self.start.push(0);
                (self.chunks.len() - 1) as u32
            }
        };
        self.referenced[c as usize] = 0;
        self.start[c as usize] = id.wrapping_mul(self.width);
        self.by_id.entry(id).or_default().push(c);
        c
    }

    /// The entry behind `r`, or `None` if its chunk was dropped (a stale index slot).
    #[inline]
    pub fn get(&self, r: Ref) -> Option<Entry<K>> {
        let c = (r >> CHUNK_BITS) as usize;
        match self.chunks.get(c) {
            Some(Some(chunk)) => {
                let s = *chunk.get((r as usize) & (CHUNK - 1))?;
                Some(Entry {
                    key: s.key,
                    time: s.stamp.decode(self.start[c]),
                })
            }
            _ => None,
        }
    }

    /// The key behind `r` (cheaper than [`Buckets::get`]: no time to decode).
    #[inline]
    pub fn key(&self, r: Ref) -> Option<K> {
        match self.chunks.get((r >> CHUNK_BITS) as usize) {
            Some(Some(chunk)) => chunk.get((r as usize) & (CHUNK - 1)).map(|s| s.key),
            _ => None,
        }
    }

    /// Whether `r` points into a chunk that has not been dropped.
    #[inline]
    pub fn is_live(&self, r: Ref) -> bool {
        matches!(self.chunks.get((r >> CHUNK_BITS) as usize), Some(Some(_)))
    }

    /// Dropped chunk numbers become reusable: call once the index holds no slot naming them.
    pub fn recycle_dead(&mut self) {
        self.free.append(&mut self.dead);
    }

    /// Drop every bucket whose entries all satisfy `time <= limit`. Returns how many of the
    /// dropped entries the index still referenced (its slots for them are now stale).
    pub fn drain_expired(&mut self, limit: i64) -> usize {
        let mut referenced = 0;
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
                }
                referenced += self.referenced.get(c as usize).copied().unwrap_or(0) as usize;
                self.dead.push(c);
            }
        }
        referenced
    }

    /// Every entry (live or replaced) with its reference, oldest bucket first.
    pub fn for_each(&self, mut f: impl FnMut(Ref, Entry<K>)) {
        for chunks in self.by_id.values() {
            for &c in chunks {
                if let Some(Some(entries)) = self.chunks.get(c as usize) {
                    let start = self.start[c as usize];
                    for (i, s) in entries.iter().enumerate() {
                        let e = Entry {
                            key: s.key,
                            time: s.stamp.decode(start),
                        };
                        f((c << CHUNK_BITS) | i as u32, e);
                    }
                }
            }
        }
    }

    /// The entries named by `refs` (stale ones skipped), oldest bucket first: the order does not
    /// depend on where the index keeps them, so equal states serialize to equal bytes.
    pub fn select(&self, refs: impl Iterator<Item = Ref>, out: &mut Vec<Entry<K>>) {
        let mut marks = vec![0u64; (self.chunks.len() << CHUNK_BITS).div_ceil(64)];
        for r in refs {
            if let Some(w) = marks.get_mut(r as usize / 64) {
                *w |= 1 << (r % 64);
            }
        }
        self.for_each(|r, e| {
            if marks[r as usize / 64] & (1 << (r % 64)) != 0 {
                out.push(e);
            }
        });
    }

    pub fn width(&self) -> i64 {
        self.width
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    pub fn bucket_count(&self) -> usize {
        self.by_id.len()
    }

    /// Heap bytes held (entry chunks at capacity plus bookkeeping).
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<Stored<K, S>>();
        self.chunks
            .iter()
            .flatten()
            .map(Vec::capacity)
            .sum::<usize>()
            * entry
            + self.chunks.capacity() * std::mem::size_of::<Option<Vec<Stored<K, S>>>>()
            + self.start.capacity() * 8
            + self.referenced.capacity() * 4
            + (self.free.capacity() + self.dead.capacity()) * 4
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
        let mut b: Buckets<u64, u32> = Buckets::new(10);
        let r1 = b.push(Entry { key: 1, time: 5 });
        let r2 = b.push(Entry { key: 2, time: 15 });
        let r3 = b.push(Entry { key: 3, time: 9 });
        assert_eq!(b.get(r1).unwrap().key, 1);
        assert_eq!(b.get(r2).unwrap().key, 2);
        assert_eq!(b.get(r3).unwrap().time, 9);
        b.unref(r3);
        assert_eq!(b.drain_expired(8), 0, "bucket [0,10) still has time 9 > 8");
        assert_eq!(b.entries(), 3);
        // r3 was unreferenced, so only r1 was still referenced.
        assert_eq!(b.drain_expired(9), 1);
        assert_eq!(b.entries(), 1);
        assert!(b.get(r1).is_none() && !b.is_live(r3));
        // The dropped chunk is not reused before recycle_dead (stale refs stay stale) ...
        let r4 = b.push(Entry { key: 4, time: 100 });
        assert_ne!(r4 >> CHUNK_BITS, r1 >> CHUNK_BITS);
        assert!(b.get(r1).is_none());
        // ... and is afterwards; refs of other buckets stay valid.
        b.recycle_dead();
        let r5 = b.push(Entry { key: 5, time: 200 });
        assert_eq!(r5 >> CHUNK_BITS, r1 >> CHUNK_BITS);
        assert_eq!(b.get(r5).unwrap().key, 5);
        assert_eq!(b.get(r4).unwrap().key, 4);
        assert_eq!(b.get(r2).unwrap().key, 2);
    }

    #[test]
    fn many_entries_span_chunks() {
        let mut b: Buckets<u64, i64> = Buckets::new(1_000_000);
        let refs: Vec<_> = (0..10_000u64)
            .map(|i| b.push(Entry { key: i, time: 1 }))
            .collect();
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(b.get(*r).unwrap().key, i as u64);
        }
        assert_eq!(b.entries(), 10_000);
        assert_eq!(b.drain_expired(999_999), 10_000);
    }

    #[test]
    fn offsets_are_exact_at_the_extremes() {
        assert_eq!(std::mem::size_of::<Stored<[u64; 2], u32>>(), 20);
        assert_eq!(std::mem::size_of::<Stored<u64, u32>>(), 12);
        let w = u32::MAX as i64;
        let mut b: Buckets<u64, u32> = Buckets::new(w);
        for t in [
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            1,
            w - 1,
            w,
            i64::MAX - 1,
            i64::MAX,
        ] {
            let r = b.push(Entry { key: 9, time: t });
            assert_eq!(b.get(r), Some(Entry { key: 9, time: t }), "time {t}");
        }
    }
}
