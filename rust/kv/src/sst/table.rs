//! An open SSTable: mapped into memory; footer, index, filter and properties decoded at open.
//!
//! Data blocks are read in place from the map. Every block is checksum-verified before its first
//! use and only remembered after: an uncompressed block in a per-table slot (a pointer into the
//! map, verified once, then free to read), a compressed one decompressed in the shared LRU block
//! cache. A flipped bit anywhere in the file surfaces as `Error::Corrupt`, never as a wrong value.
//! The index lives decoded in memory (keys in one buffer, handles in an array), so finding a
//! block is a binary search over plain slices.

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use minide_common::crc::{crc32c, unmask};
use minide_common::{Error, Result};

use super::block::{Block, BlockIter, Cursor, key_head as head};
use super::builder::Props;
use super::mmap::Mmap;
use super::{
    BLOCK_TRAILER_LEN, FOOTER_LEN, FORMAT_VERSION, Handle, MAGIC, bloom, decode_block, verify_block,
};
use crate::cache::BlockCache;
use crate::iterators::InternalIterator;
use crate::mvcc;

/// The index block, decoded: block `i` holds keys up to and including `key(i)`.
#[derive(Debug, Default)]
struct Index {
    /// The first 8 bytes of each key, big-endian (zero-padded): the binary search compares
    /// these integers, in one dense array, and reads a whole key only on a tie.
    heads: Vec<u64>,
    keys: Vec<u8>,
    /// End of key `i` in `keys` (its start is the end of key `i - 1`).
    ends: Vec<usize>,
    handles: Vec<Handle>,
}

impl Index {
    fn decode(block: Block) -> Result<Index> {
        let mut ix = Index::default();
        let mut it = BlockIter::new(Arc::new(block));
        it.seek_to_first()?;
        while it.valid() {
            ix.heads.push(head(it.key()));
            ix.keys.extend_from_slice(it.key());
            ix.ends.push(ix.keys.len());
            ix.handles.push(Handle::decode(it.value())?);
            it.next()?;
        }
        Ok(ix)
    }

    #[inline]
    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.keys[start..self.ends[i]]
    }

    /// The first block whose last key is >= `target` (`len()` if none).
    #[inline]
    fn find(&self, target: &[u8]) -> usize {
        let t = head(target);
        let (mut lo, mut hi) = (0, self.ends.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let h = self.heads[mid];
            if h < t || (h == t && self.key(mid) < target) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn len(&self) -> usize {
        self.handles.len()
    }
}

/// A data block: borrowed from its table's slot, or shared with the block cache.
pub enum BlockRef<'a> {
    Slot(&'a Block),
    Cached(Arc<Block>),
}

impl Deref for BlockRef<'_> {
    type Target = Block;
    #[inline]
    fn deref(&self) -> &Block {
        match self {
            BlockRef::Slot(b) => b,
            BlockRef::Cached(b) => b,
        }
    }
}

#[derive(Debug)]
pub struct Table {
    pub number: u64,
    pub path: PathBuf,
    map: Arc<Mmap>,
    pub size: u64,
    /// End of the data blocks (= start of the filter block): handles must stay below it.
    data_end: u64,
    index: Index,
    /// Verified uncompressed data blocks, by block number (filled on first use). Held inline,
    /// not behind an `Arc`: a point read then goes slot → restart heads → entry, one cache miss
    /// fewer.
    slots: Vec<OnceLock<Block>>,
    filter: Vec<u8>,
    pub props: Props,
    cache: Arc<BlockCache>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Table {
    pub fn open(path: &Path, number: u64, cache: Arc<BlockCache>) -> Result<Table> {
        Self::open_inner(path, number, cache).map_err(|e| e.at_path(path))
    }

    fn open_inner(path: &Path, number: u64, cache: Arc<BlockCache>) -> Result<Table> {
        let file = File::open(path).map_err(|e| Error::io(e, path))?;
        let size = file.metadata().map_err(|e| Error::io(e, path))?.len();
        if size < FOOTER_LEN as u64 {
            return Err(Error::corrupt(format!("SST of {size} bytes has no footer")));
        }
        let map = Arc::new(Mmap::map(&file, size, path)?);
        let foot_at = size - FOOTER_LEN as u64;
        let footer = &map.bytes()[foot_at as usize..];
        if u64_at(footer, 56) != MAGIC {
            return Err(Error::corrupt("bad SST magic (not a minide kv table)").at_offset(foot_at));
        }
        let stored = u32::from_le_bytes([footer[52], footer[53], footer[54], footer[55]]);
        if unmask(stored) != crc32c(&footer[..52]) {
            return Err(Error::corrupt("SST footer checksum mismatch").at_offset(foot_at));
        }
        let version = u32::from_le_bytes([footer[48], footer[49], footer[50], footer[51]]);
        if version != FORMAT_VERSION {
            return Err(Error::corrupt(format!(
                "unknown SST format version {version}"
            )));
        }
        let h = |i: usize| Handle {
            offset: u64_at(footer, i * 16),
            size: u64_at(footer, i * 16 + 8),
        };
        let (filter_h, props_h, index_h) = (h(0), h(1), h(2));
        let mut t = Table {
            number,
            path: path.to_path_buf(),
            map,
            size,
            data_end: filter_h.offset,
            index: Index::default(),
            slots: Vec::new(),
            filter: Vec::new(),
            props: Props::default(),
            cache,
        };
        let limit = foot_at;
        t.filter = t.read_raw(filter_h, limit)?;
        t.props = Props::decode(&t.read_raw(props_h, limit)?)?;
        t.index = Index::decode(Block::new(t.read_raw(index_h, limit)?)?)?;
        t.slots = (0..t.index.len()).map(|_| OnceLock::new()).collect();
        Ok(t)
    }

    /// The raw bytes (contents + trailer) of the block at `h`, which must end before `limit`.
    fn raw(&self, h: Handle, limit: u64) -> Result<&[u8]> {
        h.offset
            .checked_add(h.size)
            .and_then(|e| e.checked_add(BLOCK_TRAILER_LEN as u64))
            .filter(|&e| e <= limit)
            .and_then(|e| self.map.bytes().get(h.offset as usize..e as usize))
            .ok_or_else(|| {
                Error::corrupt(format!("block handle {h:?} points past its section"))
                    .at_path(&self.path)
            })
    }

    /// Read, verify and decompress one block that must end before `limit`.
    fn read_raw(&self, h: Handle, limit: u64) -> Result<Vec<u8>> {
        decode_block(self.raw(h, limit)?).map_err(|e| e.at_path(&self.path).at_offset(h.offset))
    }

    /// Number of data blocks.
    pub fn num_blocks(&self) -> usize {
        self.index.len()
    }

    /// The first data block that may hold keys >= `target`.
    pub fn find_block(&self, target: &[u8]) -> usize {
        self.index.find(target)
    }

    /// Data block `i`: verified on first use, then read in place (or from the block cache when
    /// it is compressed).
    #[inline]
    pub fn block(&self, i: usize) -> Result<BlockRef<'_>> {
        if let Some(b) = self.slots.get(i).and_then(OnceLock::get) {
            return Ok(BlockRef::Slot(b));
        }
        self.load_block(i)
    }

    #[cold]
    fn load_block(&self, i: usize) -> Result<BlockRef<'_>> {
        let h = *self
            .index
            .handles
            .get(i)
            .ok_or_else(|| Error::corrupt(format!("no data block {i}")).at_path(&self.path))?;
        let at = |e: Error| e.at_path(&self.path).at_offset(h.offset);
        if let Some(b) = self.cache.get(self.number, h.offset) {
            return Ok(BlockRef::Cached(b));
        }
        let raw = self.raw(h, self.data_end)?;
        let kind = verify_block(raw).map_err(at)?;
        if kind == 0 {
            let start = h.offset as usize;
            let block = Block::mapped(&self.map, start, start + h.size as usize).map_err(at)?;
            let _ = self.slots[i].set(block);
            if let Some(b) = self.slots[i].get() {
                return Ok(BlockRef::Slot(b));
            }
        }
        let block = Arc::new(Block::new(decode_block(raw).map_err(at)?).map_err(at)?);
        self.cache.insert(self.number, h.offset, Arc::clone(&block));
        Ok(BlockRef::Cached(block))
    }

    /// Data block `i` as an owned handle (for iterators that outlive the borrow; a slot's block
    /// is a cheap copy: map handle, offsets, restart heads).
    pub fn block_arc(&self, i: usize) -> Result<Arc<Block>> {
        Ok(match self.block(i)? {
            BlockRef::Slot(b) => Arc::new(b.clone()),
            BlockRef::Cached(b) => b,
        })
    }

    pub fn may_contain(&self, user_prefix: &[u8]) -> bool {
        bloom::may_contain(&self.filter, bloom::hash(user_prefix))
    }

    /// The Bloom filter's answer for a key of hash `h` (see [`bloom::hash`]).
    pub fn may_contain_hash(&self, h: u64) -> bool {
        bloom::may_contain(&self.filter, h)
    }

    /// Where the filter bits of hash `h` live (for prefetching; `None` for old filters).
    pub fn filter_addr(&self, h: u64) -> Option<*const u8> {
        bloom::line_addr(&self.filter, h)
    }

    /// Data block `i` if it was already verified (no I/O, no cache lookup).
    pub fn loaded_block(&self, i: usize) -> Option<&Block> {
        self.slots.get(i).and_then(OnceLock::get)
    }

    /// Versions of one user key from `seek` (its seek key) on, newest first, until `visit` says
    /// found. `keybuf` is scratch space for block keys.
    pub fn visit_versions(
        &self,
        prefix: &[u8],
        seek: &[u8],
        visit: &mut crate::iterators::Visitor<'_>,
        keybuf: &mut Vec<u8>,
    ) -> Result<bool> {
        // Overlap the two first misses of a point read: start loading the filter line, find
        // the block (the index arrays are hot) and start loading its slot, and only then wait
        // on the filter. A negative filter answer wasted one index search of cached arrays.
        let h = bloom::hash(prefix);
        if let Some(p) = bloom::line_addr(&self.filter, h) {
            crate::multiget::prefetch(p);
        }
        let mut i = self.index.find(seek);
        if let Some(b) = self.loaded_block(i) {
            b.prefetch_meta();
        }
        if !bloom::may_contain(&self.filter, h) {
            return Ok(false);
        }
        let mut first = true;
        while i < self.index.len() {
            let mut it = Cursor::with_key_buf(self.block(i)?, std::mem::take(keybuf));
            if first {
                it.seek(seek)?;
                first = false;
            } else {
                it.seek_to_first()?;
            }
            while it.valid() {
                let k = it.key();
                if mvcc::user_part(k) != prefix {
                    *keybuf = it.into_key_buf();
                    return Ok(false);
                }
                if visit(k, it.value())? {
                    *keybuf = it.into_key_buf();
                    return Ok(true);
                }
                it.next()?;
            }
            *keybuf = it.into_key_buf();
            i += 1;
        }
        Ok(false)
    }
}
