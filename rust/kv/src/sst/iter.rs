//! Two-level iterator over one table: the in-memory index picks the data block, then the block
//! iterator walks it; empty or exhausted blocks are skipped forward.

use std::sync::Arc;

use minide_common::Result;

use super::block::BlockIter;
use super::table::Table;
use crate::iterators::InternalIterator;

pub struct TableIter {
    table: Arc<Table>,
    /// Number of the data block under `data`.
    pos: usize,
    data: Option<BlockIter>,
}

impl TableIter {
    pub fn new(table: Arc<Table>) -> Self {
        TableIter {
            table,
            pos: 0,
            data: None,
        }
    }

    fn load(&mut self, pos: usize) -> Result<()> {
        self.pos = pos;
        self.data = if pos < self.table.num_blocks() {
            let key = self
                .data
                .take()
                .map(BlockIter::into_key_buf)
                .unwrap_or_default();
            Some(BlockIter::with_key_buf(self.table.block_arc(pos)?, key))
        } else {
            None
        };
        Ok(())
    }

    /// Move forward over exhausted data blocks.
    fn skip_empty(&mut self) -> Result<()> {
        while self.data.as_ref().is_some_and(|d| !d.valid()) {
            self.load(self.pos + 1)?;
            if let Some(d) = self.data.as_mut() {
                d.seek_to_first()?;
            }
        }
        Ok(())
    }
}

impl TableIter {
    /// Move backward over exhausted data blocks.
    fn skip_empty_back(&mut self) -> Result<()> {
        while self.data.as_ref().is_some_and(|d| !d.valid()) {
            if self.pos == 0 {
                self.data = None;
                break;
            }
            self.load(self.pos - 1)?;
            if let Some(d) = self.data.as_mut() {
                d.seek_to_last()?;
            }
        }
        Ok(())
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.data.as_ref().is_some_and(|d| d.valid())
    }

    fn key(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.key())
    }

    fn value(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.value())
    }

    fn next(&mut self) -> Result<()> {
        if let Some(d) = self.data.as_mut() {
            d.next()?;
        }
        self.skip_empty()
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        self.load(self.table.find_block(target))?;
        if let Some(d) = self.data.as_mut() {
            d.seek(target)?;
        }
        self.skip_empty()
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.load(0)?;
        if let Some(d) = self.data.as_mut() {
            d.seek_to_first()?;
        }
        self.skip_empty()
    }

    fn prev(&mut self) -> Result<()> {
        if let Some(d) = self.data.as_mut() {
            d.prev()?;
        }
        self.skip_empty_back()
    }

    fn seek_before(&mut self, target: &[u8]) -> Result<()> {
        let i = self.table.find_block(target);
        if i >= self.table.num_blocks() {
            return self.seek_to_last();
        }
        self.load(i)?;
        if let Some(d) = self.data.as_mut() {
            d.seek_before(target)?;
        }
        self.skip_empty_back()
    }

    fn seek_to_last(&mut self) -> Result<()> {
        let n = self.table.num_blocks();
        if n == 0 {
            self.data = None;
            return Ok(());
        }
        self.load(n - 1)?;
        if let Some(d) = self.data.as_mut() {
            d.seek_to_last()?;
        }
        self.skip_empty_back()
    }
}
