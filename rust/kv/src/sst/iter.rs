//! Two-level iterator over one table: the index block picks the data block, then the block
//! iterator walks it; empty or exhausted blocks are skipped forward.

use std::sync::Arc;

use minide_common::Result;

use super::block::BlockIter;
use super::table::Table;
use crate::iterators::InternalIterator;

pub struct TableIter {
    table: Arc<Table>,
    index: BlockIter,
    data: Option<BlockIter>,
}

impl TableIter {
    pub fn new(table: Arc<Table>) -> Self {
        let index = table.index_iter();
        TableIter {
            table,
            index,
            data: None,
        }
    }

    fn load(&mut self) -> Result<()> {
        self.data = if self.index.valid() {
            Some(BlockIter::new(self.table.data_block(self.index.value())?))
        } else {
            None
        };
        Ok(())
    }

    /// Move forward over exhausted data blocks.
    fn skip_empty(&mut self) -> Result<()> {
        while self.data.as_ref().is_some_and(|d| !d.valid()) {
            self.index.next()?;
            self.load()?;
            if let Some(d) = self.data.as_mut() {
                d.seek_to_first()?;
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
        self.index.seek(target)?;
        self.load()?;
        if let Some(d) = self.data.as_mut() {
            d.seek(target)?;
        }
        self.skip_empty()
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.index.seek_to_first()?;
        self.load()?;
        if let Some(d) = self.data.as_mut() {
            d.seek_to_first()?;
        }
        self.skip_empty()
    }
}
