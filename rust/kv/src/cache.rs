//! Block cache: least-recently-used, bounded by bytes, shared by all tables of a store.
//!
//! Keyed by (table file number, block offset); holds decoded, checksum-verified blocks. Sharded
//! by key hash so concurrent readers rarely meet on one lock. Each shard keeps a recency stamp per
//! entry and a `BTreeMap` from stamp to key. A hit only refreshes the entry's stamp (O(1)); the
//! age index is fixed up lazily at eviction: a popped entry whose stamp moved on since is put back
//! under its new stamp, so the victim is always the least recently used.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::sst::block::Block;

type Key = (u64, u64);

/// Multiplicative hash for the (file, offset) keys: SipHash is wasted on trusted integers.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
const SHARDS: usize = 16;

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<Key, (Arc<Block>, u64), BuildHasherDefault<KeyHasher>>,
    by_age: BTreeMap<u64, Key>,
    bytes: usize,
    tick: u64,
}

#[derive(Debug)]
pub struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    shard_capacity: usize,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl BlockCache {
    pub fn new(capacity_bytes: usize) -> Self {
        BlockCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_capacity: capacity_bytes / SHARDS,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: Key) -> &Mutex<Shard> {
        let h = key.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (key.1 >> 12);
        &self.shards[(h as usize) % SHARDS]
    }

    pub fn get(&self, file: u64, offset: u64) -> Option<Arc<Block>> {
        let key = (file, offset);
        let mut s = self.shard(key).lock();
        s.tick += 1;
        let tick = s.tick;
        let Some((block, stamp)) = s.map.get_mut(&key) else {
            drop(s);
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        *stamp = tick;
        let block = Arc::clone(block);
        drop(s);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(block)
    }

    pub fn insert(&self, file: u64, offset: u64, block: Arc<Block>) {
        let key = (file, offset);
        let size = block.size();
        if size > self.shard_capacity {
            return;
        }
        let mut s = self.shard(key).lock();
        s.tick += 1;
        let tick = s.tick;
        match s.map.insert(key, (block, tick)) {
            Some((old_block, _)) => s.bytes = s.bytes - old_block.size() + size,
            None => {
                s.bytes += size;
                s.by_age.insert(tick, key);
            }
        }
        while s.bytes > self.shard_capacity {
            let Some((stamp, victim)) = s.by_age.pop_first() else {
                break;
            };
            match s.map.get(&victim).map(|e| e.1) {
                Some(now) if now != stamp => {
                    s.by_age.insert(now, victim); // used since: not the oldest after all
                }
                Some(_) => {
                    if let Some((b, _)) = s.map.remove(&victim) {
                        s.bytes -= b.size();
                    }
                }
                None => {}
            }
        }
    }

    /// Drop every block of a deleted table.
    pub fn evict_file(&self, file: u64) {
        for shard in &self.shards {
            let mut s = shard.lock();
            let victims: Vec<Key> = s.map.keys().filter(|k| k.0 == file).copied().collect();
            for k in victims {
                if let Some((b, _)) = s.map.remove(&k) {
                    s.bytes -= b.size();
                }
            }
        }
    }

    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sst::block::BlockBuilder;

    fn block(n: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new();
        b.add(b"k", &vec![7u8; n]);
        Arc::new(Block::new(b.finish()).expect("block"))
    }

    #[test]
    fn evicts_least_recently_used() {
        let c = BlockCache::new(SHARDS * 300);
        // All in file 1 with offsets that land in one shard would be fragile; test per shard bytes.
        for off in 0..100u64 {
            c.insert(1, off << 12, block(100));
        }
        assert!(c.bytes() <= SHARDS * 300);
        c.insert(2, 0, block(100));
        assert!(c.get(2, 0).is_some());
        c.evict_file(2);
        assert!(c.get(2, 0).is_none());
    }
}
