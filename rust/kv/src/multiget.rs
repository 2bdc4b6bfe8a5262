//! Batched point reads (`get_many`) with software prefetching.
//!
//! A point read in a large store is a chain of dependent cache misses: the Bloom filter line,
//! the verified block's metadata, its restart heads, then the entry itself. One key at a time,
//! the CPU waits for each in turn. A batch knows its next keys, so it walks them in groups and
//! issues each group's next miss for every key before waiting for any: stage 1 prefetches the
//! filter lines of each key's candidate tables, stage 2 (filters now cached) finds the block and
//! prefetches its metadata with the restart heads held inline in it, stage 3 the entry the seek
//! starts at.
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

pub(crate) use minide_common::prefetch;

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

/// Buffers of [`prefetch_group`], reused from group to group (a batch of 1,000 keys would
/// otherwise allocate two buffers per key).
#[derive(Default)]
pub struct PrefetchScratch {
    /// Every seek key of the group, back to back; `seeks[i]` = (end in `keys`, bloom hash).
    keys: Vec<u8>,
    seeks: Vec<(usize, u64)>,
    /// Candidate tables of every key, back to back; `ends[i]` = end of key i's run.
    tables: Vec<*const Table>,
    ends: Vec<usize>,
}

/// Warm the caches for point reads of `keys` at `read_ts` (see the module docs).
pub fn prefetch_group<K: AsRef<[u8]>>(
    sv: &SuperVersion,
    keys: &[K],
    read_ts: u64,
    scratch: &mut PrefetchScratch,
) {
    let PrefetchScratch {
        keys: kbuf,
        seeks,
        tables,
        ends,
    } = scratch;
    kbuf.clear();
    seeks.clear();
    tables.clear();
    ends.clear();
    let mut cands: Vec<&Table> = Vec::new();
    for k in keys {
        let start = kbuf.len();
        mvcc::push_user(kbuf, k.as_ref());
        let h = bloom::hash(&kbuf[start..]);
        candidates(sv, &kbuf[start..], &mut cands);
        mvcc::push_suffix(kbuf, read_ts, u16::MAX);
        for t in &cands {
            if let Some(p) = t.filter_addr(h) {
                prefetch(p);
            }
            tables.push(*t);
        }
        seeks.push((kbuf.len(), h));
        ends.push(tables.len());
    }
    // Stage 2: filters are cached now; keep the tables that may hold the key, find the block.
    let mut blocks: [(*const crate::sst::block::Block, usize, usize); GROUP] =
        [(std::ptr::null(), 0, 0); GROUP];
    let mut nblocks = 0;
    let (mut kstart, mut tstart) = (0, 0);
    for (&(kend, h), &tend) in seeks.iter().zip(ends.iter()) {
        let seek = &kbuf[kstart..kend];
        for &t in &tables[tstart..tend] {
            // SAFETY: the pointers were taken from `sv` above, which outlives this call.
            let t = unsafe { &*t };
            if t.may_contain_hash(h) {
                let i = t.find_block(seek);
                if let Some(b) = t.loaded_block(i)
                    && nblocks < GROUP
                {
                    // The slot holds the restart heads inline: this is stage 3 too.
                    b.prefetch_meta();
                    blocks[nblocks] = (b, kstart, kend);
                    nblocks += 1;
                }
                break; // the newest table that may hold the key: later ones rarely matter
            }
        }
        (kstart, tstart) = (kend, tend);
    }
    for &(b, ks, ke) in &blocks[..nblocks] {
        // SAFETY: as above, the blocks live in tables of `sv`.
        let p = unsafe { &*b }.entry_addr(&kbuf[ks..ke]);
        prefetch(p);
        prefetch(p.wrapping_add(64));
    }
}
