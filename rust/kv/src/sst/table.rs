//! An open SSTable: footer, index, filter and properties in memory; data blocks through the cache.
//!
//! Every block read from disk is checksum-verified before it is decoded, and cached only after, so
//! a flipped bit anywhere in the file surfaces as `Error::Corrupt`, never as a wrong value.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minide_common::crc::{crc32c, unmask};
use minide_common::{Error, Result};

use super::block::{Block, BlockIter};
use super::builder::Props;
use super::{BLOCK_TRAILER_LEN, FOOTER_LEN, FORMAT_VERSION, Handle, MAGIC, bloom, decode_block};
use crate::cache::BlockCache;
use crate::iterators::InternalIterator;
use crate::mvcc;

#[derive(Debug)]
pub struct Table {
    pub number: u64,
    pub path: PathBuf,
    file: File,
    pub size: u64,
    /// End of the data blocks (= start of the filter block): handles must stay below it.
    data_end: u64,
    index: Arc<Block>,
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
        let mut footer = [0u8; FOOTER_LEN];
        file.read_exact_at(&mut footer, size - FOOTER_LEN as u64)
            .map_err(|e| Error::io(e, path))?;
        let foot_at = size - FOOTER_LEN as u64;
        if u64_at(&footer, 56) != MAGIC {
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
            offset: u64_at(&footer, i * 16),
            size: u64_at(&footer, i * 16 + 8),
        };
        let (filter_h, props_h, index_h) = (h(0), h(1), h(2));
        let mut t = Table {
            number,
            path: path.to_path_buf(),
            file,
            size,
            data_end: filter_h.offset,
            index: Arc::new(Block::new(vec![0, 0, 0, 0, 1, 0, 0, 0])?),
            filter: Vec::new(),
            props: Props::default(),
            cache,
        };
        let limit = foot_at;
        t.filter = t.read_raw(filter_h, limit)?;
        t.props = Props::decode(&t.read_raw(props_h, limit)?)?;
        t.index = Arc::new(Block::new(t.read_raw(index_h, limit)?)?);
        Ok(t)
    }

    /// Read, verify and decompress one block that must end before `limit`.
    fn read_raw(&self, h: Handle, limit: u64) -> Result<Vec<u8>> {
        let end = h
            .offset
            .checked_add(h.size)
            .and_then(|e| e.checked_add(BLOCK_TRAILER_LEN as u64))
            .filter(|&e| e <= limit)
            .ok_or_else(|| {
                Error::corrupt(format!("block handle {h:?} points past its section"))
                    .at_path(&self.path)
            })?;
        let mut raw = vec![0u8; (end - h.offset) as usize];
        self.file
            .read_exact_at(&mut raw, h.offset)
            .map_err(|e| Error::io(e, &self.path))?;
        decode_block(&raw).map_err(|e| e.at_path(&self.path).at_offset(h.offset))
    }

    /// A data block, from the cache or the file.
    pub fn data_block(&self, index_value: &[u8]) -> Result<Arc<Block>> {
        let h = Handle::decode(index_value).map_err(|e| e.at_path(&self.path))?;
        if let Some(b) = self.cache.get(self.number, h.offset) {
            return Ok(b);
        }
        let block = Arc::new(
            Block::new(self.read_raw(h, self.data_end)?)
                .map_err(|e| e.at_path(&self.path).at_offset(h.offset))?,
        );
        self.cache.insert(self.number, h.offset, Arc::clone(&block));
        Ok(block)
    }

    pub fn index_iter(&self) -> BlockIter {
        BlockIter::new(Arc::clone(&self.index))
    }

    pub fn may_contain(&self, user_prefix: &[u8]) -> bool {
        bloom::may_contain(&self.filter, bloom::hash(user_prefix))
    }

    /// Versions of one user key from `seek` (its seek key) on, newest first, until `visit` says
    /// found.
    pub fn visit_versions(
        &self,
        prefix: &[u8],
        seek: &[u8],
        visit: &mut crate::iterators::Visitor<'_>,
    ) -> Result<bool> {
        if !self.may_contain(prefix) {
            return Ok(false);
        }
        let mut index = self.index_iter();
        index.seek(seek)?;
        let mut first = true;
        while index.valid() {
            let mut it = BlockIter::new(self.data_block(index.value())?);
            if first {
                it.seek(seek)?;
                first = false;
            } else {
                it.seek_to_first()?;
            }
            while it.valid() {
                let k = it.key();
                if mvcc::user_part(k) != prefix {
                    return Ok(false);
                }
                if visit(k, it.value())? {
                    return Ok(true);
                }
                it.next()?;
            }
            index.next()?;
        }
        Ok(false)
    }
}
