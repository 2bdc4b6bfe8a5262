//! The memtable: recent writes, sorted by internal key, in memory.
//!
//! A `BTreeMap` behind a `RwLock`. Only the group-commit leader inserts, readers take the read
//! lock briefly. Iterators copy small runs of entries out under the lock (see [`MemIter`]), so no
//! reader holds the lock while the caller works, and entries inserted meanwhile are harmless: they
//! carry commit timestamps above every read timestamp in use.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use minide_common::Result;
use parking_lot::RwLock;

use crate::iterators::InternalIterator;
use crate::mvcc;

/// Per-entry overhead counted towards `memtable_size` (tree node share, lengths).
const ENTRY_OVERHEAD: usize = 32;

#[derive(Debug, Default)]
pub struct MemTable {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
    bytes: AtomicUsize,
    /// The WAL file whose records this memtable holds.
    pub wal_number: u64,
}

impl MemTable {
    pub fn new(wal_number: u64) -> Self {
        MemTable {
            wal_number,
            ..Default::default()
        }
    }

    pub fn insert_many(&self, entries: Vec<(Vec<u8>, Vec<u8>)>) {
        let mut map = self.map.write();
        let mut added = 0;
        for (k, v) in entries {
            added += k.len() + v.len() + ENTRY_OVERHEAD;
            map.insert(k, v);
        }
        self.bytes.fetch_add(added, Ordering::Relaxed);
    }

    pub fn approximate_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.read().is_empty()
    }

    /// Every version of the user key (escaped `prefix`) from its seek key `seek` on, newest first,
    /// handed to `visit` until it returns `true` ("found"). Returns whether it did.
    pub fn visit_versions(
        &self,
        prefix: &[u8],
        seek: &[u8],
        visit: &mut crate::iterators::Visitor<'_>,
    ) -> Result<bool> {
        let map = self.map.read();
        for (k, v) in map.range::<[u8], _>((Bound::Included(seek), Bound::Unbounded)) {
            if mvcc::user_part(k) != prefix {
                break;
            }
            if visit(k, v)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// All entries in order (for flushing).
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.map
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Iterator over a memtable that copies entries out in small runs (in walking order: descending
/// keys once positioned by `seek_before`/`seek_to_last`).
pub struct MemIter {
    mem: Arc<MemTable>,
    buf: VecDeque<(Vec<u8>, Vec<u8>)>,
    exhausted: bool,
    backward: bool,
}

const RUN: usize = 256;

impl MemIter {
    pub fn new(mem: Arc<MemTable>) -> Self {
        MemIter {
            mem,
            buf: VecDeque::new(),
            exhausted: true,
            backward: false,
        }
    }

    fn fill_back(&mut self, to: Bound<&[u8]>) {
        let map = self.mem.map.read();
        self.buf.clear();
        self.buf.extend(
            map.range::<[u8], _>((Bound::Unbounded, to))
                .rev()
                .take(RUN)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        self.exhausted = self.buf.len() < RUN;
        self.backward = true;
    }

    fn fill(&mut self, from: Bound<&[u8]>) {
        let map = self.mem.map.read();
        self.buf.clear();
        self.buf.extend(
            map.range::<[u8], _>((from, Bound::Unbounded))
                .take(RUN)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        self.exhausted = self.buf.len() < RUN;
        self.backward = false;
    }
}

impl InternalIterator for MemIter {
    fn valid(&self) -> bool {
        !self.buf.is_empty()
    }

    fn key(&self) -> &[u8] {
        self.buf.front().map_or(&[], |e| e.0.as_slice())
    }

    fn value(&self) -> &[u8] {
        self.buf.front().map_or(&[], |e| e.1.as_slice())
    }

    fn next(&mut self) -> Result<()> {
        if self.backward {
            return Err(minide_common::Error::invalid(
                "memtable iterator turned around",
            ));
        }
        if self.buf.len() == 1 && !self.exhausted {
            let last = self.buf.pop_front().map(|e| e.0).unwrap_or_default();
            self.fill(Bound::Excluded(&last));
        } else {
            self.buf.pop_front();
        }
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.fill(Bound::Included(target));
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.fill(Bound::Unbounded);
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        if self.buf.len() == 1 && !self.exhausted {
            let last = self.buf.pop_front().map(|e| e.0).unwrap_or_default();
            self.fill_back(Bound::Excluded(&last));
        } else {
            self.buf.pop_front();
        }
        Ok(())
    }

    fn seek_before(&mut self, target: &[u8]) -> Result<()> {
        self.fill_back(Bound::Excluded(target));
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.fill_back(Bound::Unbounded);
        Ok(())
    }
}
