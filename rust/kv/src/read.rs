//! The read path: point reads, batched point reads, history, scans, Arrow export, stats.
//!
//! A point read picks its read timestamp (`as_of`, capped at the newest commit), captures the
//! current [`SuperVersion`] and asks the sources newest to oldest: memtable, immutable memtables,
//! L0 tables (newest first), then the one table per deeper level whose range holds the key. In
//! each source it seeks to `(key, read_ts)` and walks that key's versions newest first; the first
//! one whose valid interval contains `valid_at` answers (a tombstone answers "absent"). Tables
//! are skipped by key range and Bloom filter before any block is read.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int64Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use minide_common::Result;

use crate::bitemporal;
use crate::db::{Db, SuperVersion};
use crate::iterators::merge::MergeIter;
use crate::iterators::{BoxIter, InternalIterator};
use crate::memtable::MemIter;
use crate::mvcc::{self, Meta, VersionRecord};
use crate::sst::iter::TableIter;
use crate::version::{LevelIter, largest_user, smallest_user};

/// One row of a scan: the version a read at (read_ts, valid_at) sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub ts: u64,
    pub meta: Meta,
}

/// One entry of `history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub value: Option<Vec<u8>>,
    pub system_from: u64,
    pub system_to: Option<u64>,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
}

/// Offer the versions of `prefix` visible at `read_ts` to `visit`, newest source first.
fn visit_sources(
    sv: &SuperVersion,
    prefix: &[u8],
    seek: &[u8],
    visit: &mut crate::iterators::Visitor<'_>,
    keybuf: &mut Vec<u8>,
) -> Result<bool> {
    // An empty memtable (just after a flush, or a read-mostly store) is skipped unlocked: any
    // entry a read at a visible timestamp could see was counted before that timestamp was.
    if sv.mem.approximate_bytes() > 0 && sv.mem.visit_versions(prefix, seek, visit)? {
        return Ok(true);
    }
    for m in &sv.imm {
        if m.visit_versions(prefix, seek, visit)? {
            return Ok(true);
        }
    }
    for t in &sv.version.levels[0] {
        if smallest_user(t) <= prefix
            && prefix <= largest_user(t)
            && t.visit_versions(prefix, seek, visit, keybuf)?
        {
            return Ok(true);
        }
    }
    for level in 1..sv.version.levels.len() {
        if let Some(t) = sv.version.table_for(level, prefix)
            && t.visit_versions(prefix, seek, visit, keybuf)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Reusable buffers of point reads: the seek key, and block keys.
#[derive(Default)]
pub struct Scratch {
    seek: Vec<u8>,
    key: Vec<u8>,
}

thread_local! {
    /// Per-thread point-read buffers: a `get` allocates nothing but its result.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Find the version of `key` a read at (read_ts, valid_at) sees and hand its value (`None`:
/// absent or deleted) to `emit` while the block holding it is still borrowed: no copy.
fn get_in<R>(
    sv: &SuperVersion,
    key: &[u8],
    read_ts: u64,
    valid_at: Option<i64>,
    scratch: &mut Scratch,
    emit: impl FnOnce(Option<&[u8]>) -> R,
) -> Result<R> {
    scratch.seek.clear();
    mvcc::push_user(&mut scratch.seek, key);
    let plen = scratch.seek.len();
    mvcc::push_suffix(&mut scratch.seek, read_ts, u16::MAX);
    let (prefix, _) = scratch.seek.split_at(plen);
    let mut emit = Some(emit);
    let mut out = None;
    visit_sources(
        sv,
        prefix,
        &scratch.seek,
        &mut |k, v| {
            let (_, ts, _) = mvcc::split(k)?;
            if ts > read_ts {
                return Ok(false);
            }
            let (meta, val) = mvcc::decode_value(v)?;
            if !meta.valid_at(valid_at) {
                return Ok(false);
            }
            if let Some(f) = emit.take() {
                out = Some(f((!meta.tombstone).then_some(val)));
            }
            Ok(true)
        },
        &mut scratch.key,
    )?;
    match (out, emit) {
        (Some(r), _) => Ok(r),
        (None, Some(f)) => Ok(f(None)),
        (None, None) => Err(minide_common::Error::corrupt("point read lost its result")),
    }
}

/// Values of a batched point read, packed: `spans[i]` is key i's value in `bytes` (`None`:
/// absent), so a thousand reads cost two allocations, not a thousand.
#[derive(Debug, Default)]
pub struct Packed {
    pub bytes: Vec<u8>,
    pub spans: Vec<Option<(usize, usize)>>,
}

impl Packed {
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans
            .get(i)
            .copied()
            .flatten()
            .map(|(a, b)| &self.bytes[a..b])
    }
}

impl Db {
    /// The timestamp a read with `as_of` runs at: never above the newest commit.
    pub fn read_ts(&self, as_of: Option<u64>) -> u64 {
        let last = self.last_ts();
        as_of.map_or(last, |a| a.min(last))
    }

    pub fn get(
        &self,
        key: &[u8],
        as_of: Option<u64>,
        valid_at: Option<i64>,
    ) -> Result<Option<Vec<u8>>> {
        self.get_with(key, as_of, valid_at, |v| v.map(<[u8]>::to_vec))
    }

    /// A point read whose value (`None`: absent) is handed to `emit` in place, uncopied.
    pub fn get_with<R>(
        &self,
        key: &[u8],
        as_of: Option<u64>,
        valid_at: Option<i64>,
        emit: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R> {
        self.check_open()?;
        let read_ts = self.read_ts(as_of);
        // Read under the guard rather than cloning the Arc: two atomic updates fewer per get.
        // Nothing below takes this lock again, and a writer replacing the SuperVersion
        // waits at most one point read.
        let sv = self.inner.sv.read();
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => get_in(&sv, key, read_ts, valid_at, &mut scratch, emit),
            // Re-entered from `emit` (never done today): use fresh buffers.
            Err(_) => get_in(&sv, key, read_ts, valid_at, &mut Scratch::default(), emit),
        })
    }

    /// Point reads of many keys in one call, probed in key order (block cache friendly).
    pub fn get_many<K: AsRef<[u8]> + Sync>(
        &self,
        keys: &[K],
        as_of: Option<u64>,
        valid_at: Option<i64>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let p = self.get_many_packed(keys, as_of, valid_at)?;
        Ok((0..keys.len())
            .map(|i| p.get(i).map(<[u8]>::to_vec))
            .collect())
    }

    /// `get_many` with the values packed into one buffer (see [`Packed`]).
    pub fn get_many_packed<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        as_of: Option<u64>,
        valid_at: Option<i64>,
    ) -> Result<Packed> {
        self.check_open()?;
        let read_ts = self.read_ts(as_of);
        let sv = self.inner.current();
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| keys[a as usize].as_ref().cmp(keys[b as usize].as_ref()));
        let mut p = Packed {
            bytes: Vec::with_capacity(keys.len() * 64),
            spans: vec![None; keys.len()],
        };
        let mut scratch = Scratch::default();
        let mut prefetch = crate::multiget::PrefetchScratch::default();
        let mut group: Vec<&[u8]> = Vec::with_capacity(crate::multiget::GROUP);
        for (n, &i) in order.iter().enumerate() {
            if n % crate::multiget::GROUP == 0 {
                let end = (n + crate::multiget::GROUP).min(order.len());
                group.clear();
                group.extend(order[n..end].iter().map(|&j| keys[j as usize].as_ref()));
                crate::multiget::prefetch_group(&sv, &group, read_ts, &mut prefetch);
            }
            let i = i as usize;
            let bytes = &mut p.bytes;
            p.spans[i] = get_in(
                &sv,
                keys[i].as_ref(),
                read_ts,
                valid_at,
                &mut scratch,
                |v| {
                    v.map(|v| {
                        let start = bytes.len();
                        bytes.extend_from_slice(v);
                        (start, bytes.len())
                    })
                },
            )?;
        }
        Ok(p)
    }

    /// Every version of `key`, oldest first, with system and valid intervals.
    pub fn history(&self, key: &[u8]) -> Result<Vec<HistoryEntry>> {
        self.check_open()?;
        let sv = self.inner.current();
        let read_ts = self.last_ts();
        let prefix = mvcc::user_prefix(key);
        let seek = mvcc::seek_key(&prefix, read_ts);
        let mut versions = Vec::new();
        visit_sources(
            &sv,
            &prefix,
            &seek,
            &mut |k, v| {
                let (_, ts, seq) = mvcc::split(k)?;
                let (meta, val) = mvcc::decode_value(v)?;
                if ts <= read_ts {
                    versions.push(VersionRecord {
                        ts,
                        seq,
                        meta,
                        value: val.to_vec(),
                    });
                }
                Ok(false)
            },
            &mut Vec::new(),
        )?;
        versions.sort_by_key(|v| (v.ts, v.seq));
        let ends = bitemporal::system_to(&versions);
        Ok(versions
            .into_iter()
            .zip(ends)
            .map(|(v, end)| HistoryEntry {
                value: (!v.meta.tombstone).then_some(v.value),
                system_from: v.ts,
                system_to: end,
                valid_from: v.meta.valid_from,
                valid_to: v.meta.valid_to,
            })
            .collect())
    }

    pub(crate) fn merged(&self, sv: &SuperVersion) -> MergeIter {
        let mut sources: Vec<BoxIter> = vec![Box::new(MemIter::new(Arc::clone(&sv.mem)))];
        for m in &sv.imm {
            sources.push(Box::new(MemIter::new(Arc::clone(m))));
        }
        for t in &sv.version.levels[0] {
            sources.push(Box::new(TableIter::new(Arc::clone(t))));
        }
        for level in sv.version.levels.iter().skip(1) {
            if !level.is_empty() {
                sources.push(Box::new(LevelIter::new(level.clone())));
            }
        }
        MergeIter::new(sources)
    }

    /// Up to `limit` visible rows with `start <= key < end` (or `key > start` when
    /// `start_exclusive`), in key order, as read at (read_ts, valid_at).
    pub fn scan_chunk(
        &self,
        start: Option<&[u8]>,
        start_exclusive: bool,
        end: Option<&[u8]>,
        read_ts: u64,
        valid_at: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Row>> {
        self.check_open()?;
        let sv = self.inner.current();
        let mut it = self.merged(&sv);
        match start {
            None => it.seek_to_first()?,
            Some(s) => {
                let prefix = mvcc::user_prefix(s);
                if start_exclusive {
                    let mut k = prefix.clone();
                    mvcc::push_suffix(&mut k, 0, 0);
                    it.seek(&k)?;
                    while it.valid() && mvcc::user_part(it.key()) == prefix.as_slice() {
                        it.next()?;
                    }
                } else {
                    it.seek(&mvcc::seek_key(&prefix, u64::MAX))?;
                }
            }
        }
        let end = end.map(mvcc::user_prefix);
        let mut rows = Vec::new();
        let mut user = Vec::new();
        while it.valid() && rows.len() < limit {
            user.clear();
            user.extend_from_slice(mvcc::user_part(it.key()));
            if end.as_deref().is_some_and(|e| user.as_slice() >= e) {
                break;
            }
            let mut found: Option<(u64, Meta, Vec<u8>)> = None;
            while it.valid() && mvcc::user_part(it.key()) == user.as_slice() {
                if found.is_none() {
                    let (_, ts, _) = mvcc::split(it.key())?;
                    if ts <= read_ts {
                        let (meta, val) = mvcc::decode_value(it.value())?;
                        if meta.valid_at(valid_at) {
                            found = Some((ts, meta, val.to_vec()));
                        }
                    }
                }
                it.next()?;
            }
            if let Some((ts, meta, value)) = found
                && !meta.tombstone
            {
                rows.push(Row {
                    key: mvcc::decode_user(&user)?,
                    value,
                    ts,
                    meta,
                });
            }
        }
        Ok(rows)
    }

    /// Every visible row with `prefix` (or all) as an Arrow batch:
    /// key, value (binary), system_from (uint64), valid_from, valid_to (int64, null = open).
    pub fn to_arrow(
        &self,
        as_of: Option<u64>,
        valid_at: Option<i64>,
        prefix: Option<&[u8]>,
    ) -> Result<RecordBatch> {
        let snap = self.pin(self.read_ts(as_of))?;
        let end = prefix.and_then(prefix_end);
        let mut keys = BinaryBuilder::new();
        let mut values = BinaryBuilder::new();
        let mut from = UInt64Builder::new();
        let mut vf = Int64Builder::new();
        let mut vt = Int64Builder::new();
        let mut cursor: Option<Vec<u8>> = prefix.map(<[u8]>::to_vec);
        let mut exclusive = false;
        loop {
            let rows = self.scan_chunk(
                cursor.as_deref(),
                exclusive,
                end.as_deref(),
                snap.ts,
                valid_at,
                4096,
            )?;
            let Some(last) = rows.last() else { break };
            cursor = Some(last.key.clone());
            exclusive = true;
            for r in rows {
                keys.append_value(&r.key);
                values.append_value(&r.value);
                from.append_value(r.ts);
                vf.append_option(r.meta.valid_from);
                vt.append_option(r.meta.valid_to);
            }
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Binary, false),
            Field::new("value", DataType::Binary, false),
            Field::new("system_from", DataType::UInt64, false),
            Field::new("valid_from", DataType::Int64, true),
            Field::new("valid_to", DataType::Int64, true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(keys.finish()),
            Arc::new(values.finish()),
            Arc::new(from.finish()),
            Arc::new(vf.finish()),
            Arc::new(vt.finish()),
        ];
        Ok(RecordBatch::try_new(schema, cols)?)
    }

    /// Counters and sizes, as (name, value) pairs.
    pub fn stats(&self) -> Result<Vec<(String, u64)>> {
        self.check_open()?;
        let sv = self.inner.current();
        let c = &self.inner.counters;
        let ld = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let mut out = vec![
            ("last_ts".to_string(), self.last_ts()),
            ("memtable_bytes".into(), sv.mem.approximate_bytes() as u64),
            ("memtable_entries".into(), sv.mem.len() as u64),
            ("immutable_memtables".into(), sv.imm.len() as u64),
            ("commits".into(), ld(&c.commits)),
            ("wal_bytes".into(), ld(&c.wal_bytes)),
            ("wal_syncs".into(), ld(&c.wal_syncs)),
            ("flushes".into(), ld(&c.flushes)),
            ("compactions".into(), ld(&c.compactions)),
            ("compaction_bytes_in".into(), ld(&c.compaction_bytes_in)),
            ("compaction_bytes_out".into(), ld(&c.compaction_bytes_out)),
            ("versions_dropped".into(), ld(&c.versions_dropped)),
            ("recovered_batches".into(), ld(&c.recovered_batches)),
            ("block_cache_bytes".into(), self.inner.cache.bytes() as u64),
            ("block_cache_hits".into(), ld(&self.inner.cache.hits)),
            ("block_cache_misses".into(), ld(&self.inner.cache.misses)),
            (
                "live_snapshots".into(),
                self.inner.snapshots.lock().len() as u64,
            ),
        ];
        let mut total_files = 0;
        let mut total_bytes = 0;
        let mut total_entries = 0;
        for (i, level) in sv.version.levels.iter().enumerate() {
            let bytes: u64 = level.iter().map(|t| t.size).sum();
            out.push((format!("level{i}_files"), level.len() as u64));
            out.push((format!("level{i}_bytes"), bytes));
            total_files += level.len() as u64;
            total_bytes += bytes;
            total_entries += level.iter().map(|t| t.props.entries).sum::<u64>();
        }
        out.push(("sst_files".into(), total_files));
        out.push(("sst_bytes".into(), total_bytes));
        out.push(("sst_versions".into(), total_entries));
        Ok(out)
    }
}

/// The smallest key above every key starting with `prefix` (`None`: no such bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
