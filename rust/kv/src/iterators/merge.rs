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
    /// Walking backwards: the current source is the one with the largest key.
    backward: bool,
}

impl MergeIter {
    pub fn new(sources: Vec<BoxIter>) -> Self {
        MergeIter {
            sources,
            current: None,
            backward: false,
        }
    }

    fn pick(&mut self) {
        let mut best: Option<usize> = None;
        for (i, s) in self.sources.iter().enumerate() {
            if !s.valid() {
                continue;
            }
            best = match best {
                Some(b) if !self.backward && self.sources[b].key() <= s.key() => Some(b),
                Some(b) if self.backward && self.sources[b].key() >= s.key() => Some(b),
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
        self.step(false)
    }

    fn prev(&mut self) -> Result<()> {
        self.step(true)
    }

    fn seek_before(&mut self, target: &[u8]) -> Result<()> {
        self.backward = true;
        for s in self.sources.iter_mut() {
            s.seek_before(target)?;
        }
        self.pick();
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.backward = true;
        for s in self.sources.iter_mut() {
            s.seek_to_last()?;
        }
        self.pick();
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.backward = false;
        for s in self.sources.iter_mut() {
            s.seek(target)?;
        }
        self.pick();
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.backward = false;
        for s in self.sources.iter_mut() {
            s.seek_to_first()?;
        }
        self.pick();
        Ok(())
    }
}

impl MergeIter {
    /// Move one entry on in the walking direction (`back` must match it).
    fn step(&mut self, back: bool) -> Result<()> {
        if back != self.backward {
            return Err(minide_common::Error::invalid(
                "merging iterator turned around",
            ));
        }
        let Some(cur) = self.current else {
            return Ok(());
        };
        // Skip the same key in other sources (never expected: every version lives in one
        // source), comparing in place rather than copying the key.
        let (before, rest) = self.sources.split_at_mut(cur);
        let (current, after) = rest.split_at_mut(1);
        let key = current[0].key();
        if back {
            for s in before.iter_mut().chain(after.iter_mut()) {
                while s.valid() && s.key() == key {
                    s.prev()?;
                }
            }
            current[0].prev()?;
        } else {
            for s in before.iter_mut().chain(after.iter_mut()) {
                while s.valid() && s.key() == key {
                    s.next()?;
                }
            }
            current[0].next()?;
        }
        self.pick();
        Ok(())
    }
}
