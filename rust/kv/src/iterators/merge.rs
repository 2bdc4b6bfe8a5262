//! Merging iterator: the sorted union of several sources.
//!
//! Sources are few (memtable, immutable memtable, L0 tables, one concatenating iterator per
//! level), so the smallest key is found by a linear pass. On equal keys the earlier source wins
//! and the others are skipped (a key lives in one source, but this keeps the merge well defined).

use minide_common::Result;

use super::{BoxIter, InternalIterator};

pub struct MergeIter {
    sources: Vec<BoxIter>,
    current: Option<usize>,
}

impl MergeIter {
    pub fn new(sources: Vec<BoxIter>) -> Self {
        MergeIter {
            sources,
            current: None,
        }
    }

    fn pick(&mut self) {
        let mut best: Option<usize> = None;
        for (i, s) in self.sources.iter().enumerate() {
            if !s.valid() {
                continue;
            }
            best = match best {
                Some(b) if self.sources[b].key() <= s.key() => Some(b),
                _ => Some(i),
            };
        }
        self.current = best;
    }
}

impl InternalIterator for MergeIter {
    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn key(&self) -> &[u8] {
        self.current.map_or(&[], |i| self.sources[i].key())
    }

    fn value(&self) -> &[u8] {
        self.current.map_or(&[], |i| self.sources[i].value())
    }

    fn next(&mut self) -> Result<()> {
        let Some(cur) = self.current else {
            return Ok(());
        };
        // Skip the same key in other sources (never expected: every version lives in one
        // source), comparing in place rather than copying the key.
        let (before, rest) = self.sources.split_at_mut(cur);
        let (current, after) = rest.split_at_mut(1);
        let key = current[0].key();
        for s in before.iter_mut().chain(after.iter_mut()) {
            while s.valid() && s.key() == key {
                s.next()?;
            }
        }
        current[0].next()?;
        self.pick();
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        for s in self.sources.iter_mut() {
            s.seek(target)?;
        }
        self.pick();
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        for s in self.sources.iter_mut() {
            s.seek_to_first()?;
        }
        self.pick();
        Ok(())
    }
}
