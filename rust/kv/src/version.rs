//! A version: the set of tables, level by level, that a read sees.
//!
//! Level 0 holds flushed memtables, newest first, whose key ranges may overlap. Levels 1.. hold
//! non-overlapping tables sorted by key; a user key's versions never straddle two tables of one
//! level (compaction cuts files only between user keys). For any user key, a table in level `i`
//! holds newer versions than level `i + 1`, so point reads may stop at the first level that has a
//! visible version. Versions are immutable; flush and compaction install a new one.

use std::sync::Arc;

use minide_common::Result;

use crate::iterators::InternalIterator;
use crate::manifest::FileMeta;
use crate::mvcc;
use crate::sst::iter::TableIter;
use crate::sst::table::Table;

pub const NUM_LEVELS: usize = 7;

#[derive(Debug, Clone)]
pub struct Version {
    pub levels: Vec<Vec<Arc<Table>>>,
}

impl Default for Version {
    fn default() -> Self {
        Version {
            levels: vec![Vec::new(); NUM_LEVELS],
        }
    }
}

pub fn smallest_user(t: &Table) -> &[u8] {
    mvcc::user_part(&t.props.smallest)
}

pub fn largest_user(t: &Table) -> &[u8] {
    mvcc::user_part(&t.props.largest)
}

impl Version {
    pub fn file_metas(&self) -> Vec<FileMeta> {
        let mut out = Vec::new();
        for (level, tables) in self.levels.iter().enumerate() {
            for t in tables {
                out.push(FileMeta {
                    level: level as u32,
                    number: t.number,
                    size: t.size,
                    entries: t.props.entries,
                    min_ts: t.props.min_ts,
                    max_ts: t.props.max_ts,
                    smallest: t.props.smallest.clone(),
                    largest: t.props.largest.clone(),
                });
            }
        }
        out
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels
            .get(level)
            .map_or(0, |l| l.iter().map(|t| t.size).sum())
    }

    /// The table of a sorted level (>= 1) that may hold `prefix` (an escaped user key).
    pub fn table_for(&self, level: usize, prefix: &[u8]) -> Option<&Arc<Table>> {
        let tables = self.levels.get(level)?;
        let i = tables.partition_point(|t| largest_user(t) < prefix);
        tables.get(i).filter(|t| smallest_user(t) <= prefix)
    }

    /// Tables of `level` whose user-key range meets [lo, hi].
    pub fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<Table>> {
        self.levels.get(level).map_or_else(Vec::new, |ts| {
            ts.iter()
                .filter(|t| !(largest_user(t) < lo || smallest_user(t) > hi))
                .cloned()
                .collect()
        })
    }
}

/// Concatenating iterator over the sorted, non-overlapping tables of one level.
pub struct LevelIter {
    tables: Vec<Arc<Table>>,
    pos: usize,
    cur: Option<TableIter>,
}

impl LevelIter {
    pub fn new(tables: Vec<Arc<Table>>) -> Self {
        LevelIter {
            tables,
            pos: 0,
            cur: None,
        }
    }

    fn open(&mut self, pos: usize) {
        self.pos = pos;
        self.cur = self.tables.get(pos).map(|t| TableIter::new(Arc::clone(t)));
    }

    fn skip_exhausted(&mut self) -> Result<()> {
        while self.cur.as_ref().is_some_and(|c| !c.valid()) {
            self.open(self.pos + 1);
            if let Some(c) = self.cur.as_mut() {
                c.seek_to_first()?;
            }
        }
        Ok(())
    }
}

impl LevelIter {
    fn skip_exhausted_back(&mut self) -> Result<()> {
        while self.cur.as_ref().is_some_and(|c| !c.valid()) {
            if self.pos == 0 {
                self.cur = None;
                break;
            }
            self.open(self.pos - 1);
            if let Some(c) = self.cur.as_mut() {
                c.seek_to_last()?;
            }
        }
        Ok(())
    }
}

impl InternalIterator for LevelIter {
    fn valid(&self) -> bool {
        self.cur.as_ref().is_some_and(|c| c.valid())
    }

    fn key(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |c| c.key())
    }

    fn value(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |c| c.value())
    }

    fn next(&mut self) -> Result<()> {
        if let Some(c) = self.cur.as_mut() {
            c.next()?;
        }
        self.skip_exhausted()
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        let i = self
            .tables
            .partition_point(|t| t.props.largest.as_slice() < target);
        self.open(i);
        if let Some(c) = self.cur.as_mut() {
            c.seek(target)?;
        }
        self.skip_exhausted()
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.open(0);
        if let Some(c) = self.cur.as_mut() {
            c.seek_to_first()?;
        }
        self.skip_exhausted()
    }

    fn prev(&mut self) -> Result<()> {
        if let Some(c) = self.cur.as_mut() {
            c.prev()?;
        }
        self.skip_exhausted_back()
    }

    fn seek_before(&mut self, target: &[u8]) -> Result<()> {
        // The first table whose smallest key is >= target holds nothing below it.
        let i = self
            .tables
            .partition_point(|t| t.props.smallest.as_slice() < target);
        if i == 0 {
            self.cur = None;
            return Ok(());
        }
        self.open(i - 1);
        if let Some(c) = self.cur.as_mut() {
            c.seek_before(target)?;
        }
        self.skip_exhausted_back()
    }

    fn seek_to_last(&mut self) -> Result<()> {
        if self.tables.is_empty() {
            self.cur = None;
            return Ok(());
        }
        self.open(self.tables.len() - 1);
        if let Some(c) = self.cur.as_mut() {
            c.seek_to_last()?;
        }
        self.skip_exhausted_back()
    }
}
