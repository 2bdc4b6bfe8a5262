//! Batched point reads (`get_many`) with software prefetching.
//!
//! A point read in a large store is a chain of dependent cache misses: the Bloom filter line,
//! the verified block's metadata, its restart heads, then the entry itself. One key at a time,
//! the CPU waits for each in turn. A batch knows its next keys, so it walks them in groups and
//! issues each group's next miss for every key before waiting for any: stage 1 prefetches the
//! filter lines of each key's candidate tables, stage 2 (filters now cached) finds the block and
//! prefetches its metadata, stage 3 its restart heads, stage 4 the entry the seek starts at.
//! Then the ordinary point read runs per key, finding its data in cache. Prefetches are hints
//! only: the reads that decide results are the same as `get`'s, so correctness does not depend
//! on them.

use crate::db::SuperVersion;
use crate::mvcc;
use crate::sst::bloom;
use crate::sst::table::Table;
use crate::version::{largest_user, smallest_user};

/// Keys per group: enough misses in flight to cover memory latency, few enough to stay cached.
pub const GROUP: usize = 16;

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The tables a read of `prefix` may consult, newest first (L0 overlapping, one per level).
fn candidates<'a>(sv: &'a SuperVersion, prefix: &[u8], out: &mut Vec<&'a Table>) {
    out.clear();
    for t in &sv.version.levels[0] {
        if smallest_user(t) <= prefix && prefix <= largest_user(t) {
            out.push(t);
        }
    }
    for level in 1..sv.version.levels.len() {
        if let Some(t) = sv.version.table_for(level, prefix) {
            out.push(t);
        }
    }
}

/// Warm the caches for point reads of `keys` at `read_ts` (see the module docs).
pub fn prefetch_group<K: AsRef<[u8]>>(sv: &SuperVersion, keys: &[K], read_ts: u64) {
    let mut seeks: Vec<(Vec<u8>, usize, u64)> = Vec::with_capacity(keys.len());
    let mut tables: Vec<Vec<&Table>> = Vec::with_capacity(keys.len());
    for k in keys {
        let mut seek = Vec::with_capacity(k.as_ref().len() + 2 + mvcc::SUFFIX_LEN);
        mvcc::push_user(&mut seek, k.as_ref());
        let plen = seek.len();
        let h = bloom::hash(&seek);
        mvcc::push_suffix(&mut seek, read_ts, u16::MAX);
        let mut ts = Vec::new();
        candidates(sv, &seek[..plen], &mut ts);
        for t in &ts {
            if let Some(p) = t.filter_addr(h) {
                prefetch(p);
            }
        }
        seeks.push((seek, plen, h));
        tables.push(ts);
    }
    // Stage 2: filters are cached now; keep the tables that may hold the key, find the block.
    let mut blocks = Vec::with_capacity(keys.len());
    for ((seek, _, h), ts) in seeks.iter().zip(&tables) {
        for t in ts {
            if t.may_contain_hash(*h) {
                let i = t.find_block(seek);
                if let Some(b) = t.loaded_block(i) {
                    prefetch((b as *const crate::sst::block::Block).cast());
                    blocks.push((b, seek.as_slice()));
                }
                break; // the newest table that may hold the key: later ones rarely matter
            }
        }
    }
    for (b, _) in &blocks {
        prefetch(b.restarts_addr());
    }
    for (b, seek) in &blocks {
        let p = b.entry_addr(seek);
        prefetch(p);
        prefetch(p.wrapping_add(64));
    }
}
