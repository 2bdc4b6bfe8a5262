//! The one iterator trait every sorted source implements (memtable, block, table, level, merge),
//! as in LevelDB: position with `seek`/`seek_to_first`, read `key`/`value`, advance with `next`.
//! Keys are internal keys (see [`crate::mvcc`]); errors (corrupt blocks) surface from the moves.
//! An iterator moves one way: `next` after `seek`/`seek_to_first`, `prev` after
//! `seek_before`/`seek_to_last` (reverse scans), as no caller turns around mid-walk.

pub mod merge;

use minide_common::Result;

pub trait InternalIterator: Send {
    fn valid(&self) -> bool;
    /// Current internal key; only meaningful while `valid()`.
    fn key(&self) -> &[u8];
    fn value(&self) -> &[u8];
    fn next(&mut self) -> Result<()>;
    /// Position at the first entry with key >= `target`.
    fn seek(&mut self, target: &[u8]) -> Result<()>;
    fn seek_to_first(&mut self) -> Result<()>;
    /// Step back to the previous entry (invalid before the first).
    fn prev(&mut self) -> Result<()>;
    /// Position at the last entry with key < `target`.
    fn seek_before(&mut self, target: &[u8]) -> Result<()>;
    fn seek_to_last(&mut self) -> Result<()>;
}

pub type BoxIter = Box<dyn InternalIterator>;

/// A callback offered the versions of one key, newest first; returns `true` to stop ("found").
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'a;
