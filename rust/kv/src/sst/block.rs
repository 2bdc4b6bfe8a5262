//! Prefix-compressed blocks with restart points (LevelDB's block format).
//!
//! ```text
//! entry   = shared uvarint | unshared uvarint | value_len uvarint | key[shared..] | value
//! block   = entry* | restart offset u32 LE * n | n u32 LE
//! ```
//! Every `RESTART_INTERVAL`-th entry stores its whole key (shared = 0) and its offset is listed in
//! the restart array, so a seek binary-searches the restarts and then scans at most one interval.

use std::ops::Deref;
use std::sync::Arc;

use minide_common::varint::{get_uvarint, put_uvarint};
use minide_common::{Error, Result};

use super::mmap::Mmap;
use crate::iterators::InternalIterator;

/// 4, not LevelDB's 16: a point read binary-searches the restarts, then parses at most 3
/// entries (each ~2 cache lines with 100-byte values) instead of up to 15; the extra restart
/// slots and unshared keys cost under 1% of a table with short random keys.
pub const RESTART_INTERVAL: usize = 4;

#[derive(Debug, Default)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    counter: usize,
    interval: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    pub fn new() -> Self {
        Self::with_restart_interval(RESTART_INTERVAL)
    }

    /// Index blocks use 1 (every entry a restart: pure binary search), as LevelDB does.
    pub fn with_restart_interval(interval: usize) -> Self {
        BlockBuilder {
            restarts: vec![0],
            interval: interval.max(1),
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes the finished block will take.
    pub fn estimated_size(&self) -> usize {
        self.buf.len() + self.restarts.len() * 4 + 4
    }

    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Keys must arrive in increasing order.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.counter < self.interval {
            key.iter()
                .zip(self.last_key.iter())
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
            0
        };
        put_uvarint(&mut self.buf, shared as u64);
        put_uvarint(&mut self.buf, (key.len() - shared) as u64);
        put_uvarint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.counter += 1;
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts = vec![0];
        self.counter = 0;
        self.last_key.clear();
        out
    }
}

/// What keeps a block's bytes alive: its own buffer (decompressed blocks) or the table's map.
#[derive(Debug, Clone)]
enum Owner {
    Heap(Vec<u8>),
    Map(#[allow(dead_code)] Arc<Mmap>),
}

/// Restart points kept inline in the block's slot: a 4 KiB block of ~120-byte entries has ~9.
const INLINE_RESTARTS: usize = 12;

/// Per restart point: the first 8 bytes of its key (big-endian) and its offset. Up to
/// `INLINE_RESTARTS` of them live inside the `Block` itself, right after its other hot fields,
/// so a point read's slot lookup and restart search share cache lines instead of chasing one
/// more pointer (one dependent cache miss fewer per get); more spill to the heap.
#[derive(Debug, Clone)]
struct Restarts {
    len: usize,
    inline: [(u64, u32); INLINE_RESTARTS],
    heap: Box<[(u64, u32)]>,
}

impl Restarts {
    fn new(v: Vec<(u64, u32)>) -> Self {
        let mut inline = [(0, 0); INLINE_RESTARTS];
        if v.len() <= INLINE_RESTARTS {
            inline[..v.len()].copy_from_slice(&v);
            Restarts {
                len: v.len(),
                inline,
                heap: Box::new([]),
            }
        } else {
            Restarts {
                len: v.len(),
                inline,
                heap: v.into_boxed_slice(),
            }
        }
    }
}

impl std::ops::Deref for Restarts {
    type Target = [(u64, u32)];
    #[inline]
    fn deref(&self) -> &[(u64, u32)] {
        if self.len <= INLINE_RESTARTS {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }
}

/// A decoded (uncompressed, checksum-verified) block. Cloning a mapped block copies only its
/// metadata; a heap block's clone owns a copy of the bytes (`ptr` is re-pointed below).
/// `repr(C)`: the fields a point read uses come first, in the slot's first cache lines.
#[derive(Debug)]
#[repr(C)]
pub struct Block {
    ptr: *const u8,
    len: usize,
    /// Offset of the restart array = end of the entries.
    restarts_at: usize,
    num_restarts: usize,
    /// The restart points, decoded once when the block is loaded, so a seek binary-searches
    /// this small array instead of touching a cache line of the block per step.
    restarts: Restarts,
    _owner: Owner,
}

impl Clone for Block {
    fn clone(&self) -> Self {
        let owner = self._owner.clone();
        // A cloned heap buffer lives elsewhere: point into the clone's own bytes.
        let ptr = match &owner {
            Owner::Heap(v) => v.as_ptr(),
            Owner::Map(_) => self.ptr,
        };
        Block {
            _owner: owner,
            ptr,
            len: self.len,
            restarts_at: self.restarts_at,
            num_restarts: self.num_restarts,
            restarts: self.restarts.clone(),
        }
    }
}

// SAFETY: `ptr..ptr+len` points into `_owner` (a heap buffer never mutated or moved out, or a
// read-only map), which the block owns; only shared reads happen.
unsafe impl Send for Block {}
// SAFETY: as above.
unsafe impl Sync for Block {}

fn corrupt(what: &str) -> Error {
    Error::corrupt(format!("SST block: {what}"))
}

impl Block {
    pub fn new(data: Vec<u8>) -> Result<Self> {
        let (ptr, len) = (data.as_ptr(), data.len());
        Self::parse(Owner::Heap(data), ptr, len)
    }

    /// A block read in place from a table's map: `map.bytes()[start..end]`.
    pub fn mapped(map: &Arc<Mmap>, start: usize, end: usize) -> Result<Self> {
        let bytes = map
            .bytes()
            .get(start..end)
            .ok_or_else(|| corrupt("block outside its table"))?;
        let (ptr, len) = (bytes.as_ptr(), bytes.len());
        Self::parse(Owner::Map(Arc::clone(map)), ptr, len)
    }

    fn parse(owner: Owner, ptr: *const u8, len: usize) -> Result<Self> {
        // SAFETY: `ptr..ptr+len` lies inside `owner`, which moves into the block below; a Vec's
        // heap buffer does not move when the Vec does.
        let data = unsafe { std::slice::from_raw_parts(ptr, len) };
        if data.len() < 4 {
            return Err(corrupt("shorter than its restart count"));
        }
        let n = u32::from_le_bytes(read4(data, data.len() - 4)?) as usize;
        let restarts_at = n
            .checked_mul(4)
            .and_then(|b| (data.len() - 4).checked_sub(b))
            .ok_or_else(|| corrupt("restart array larger than the block"))?;
        if n == 0 {
            return Err(corrupt("no restart points"));
        }
        let mut b = Block {
            _owner: owner,
            ptr,
            len,
            restarts_at,
            num_restarts: n,
            restarts: Restarts::new(Vec::new()),
        };
        let mut restarts = Vec::with_capacity(n);
        for i in 0..n {
            let off = b.restart(i)?;
            let head = if restarts_at == 0 {
                0 // no entries at all
            } else {
                key_head(restart_key_at(&b.data()[..restarts_at], off)?)
            };
            restarts.push((head, off as u32));
        }
        b.restarts = Restarts::new(restarts);
        Ok(b)
    }

    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: see `parse`: the bytes live as long as `self._owner`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn size(&self) -> usize {
        self.len
    }

    /// Start loading the block's metadata and inline restart points into cache: a point read
    /// calls this as soon as it knows the block, before it waits on the Bloom filter.
    #[inline]
    pub fn prefetch_meta(&self) {
        let p: *const u8 = (self as *const Block).cast();
        for line in 0..(std::mem::size_of::<Block>().div_ceil(64)) {
            crate::multiget::prefetch(p.wrapping_add(line * 64));
        }
    }

    /// Where the entry a seek to `target` starts scanning at lives (for prefetching).
    pub fn entry_addr(&self, target: &[u8]) -> *const u8 {
        let t = key_head(target);
        let i = self.restarts.partition_point(|r| r.0 < t).saturating_sub(1);
        let off = self.restarts.get(i).map_or(0, |r| r.1 as usize);
        self.data().get(off).map_or(self.ptr, |b| b as *const u8)
    }

    #[inline]
    fn restart(&self, i: usize) -> Result<usize> {
        let off = u32::from_le_bytes(read4(self.data(), self.restarts_at + 4 * i)?) as usize;
        if off >= self.restarts_at && !(off == 0 && self.restarts_at == 0) {
            return Err(corrupt("restart point past the entries"));
        }
        Ok(off)
    }
}

/// The first 8 bytes of `key` as a big-endian integer, zero-padded: ordered like the keys
/// wherever two heads differ.
#[inline]
pub fn key_head(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// The full key of the restart entry at `p` (restart entries share nothing).
fn restart_key_at(d: &[u8], mut p: usize) -> Result<&[u8]> {
    let shared = field(d, &mut p)?;
    let unshared = field(d, &mut p)?;
    field(d, &mut p)?;
    if shared != 0 {
        return Err(corrupt("restart entry shares a prefix"));
    }
    d.get(p..p.saturating_add(unshared))
        .ok_or_else(|| corrupt("restart key runs past the end of the block"))
}

/// A block's length fields are almost always < 128: decode those with one branch.
#[inline(always)]
fn field(d: &[u8], p: &mut usize) -> Result<usize> {
    if let Some(&b) = d.get(*p)
        && b < 0x80
    {
        *p += 1;
        return Ok(usize::from(b));
    }
    let (v, n) = get_uvarint(d.get(*p..).unwrap_or(&[])).map_err(|_| corrupt("bad varint"))?;
    *p += n;
    usize::try_from(v).map_err(|_| corrupt("length overflows"))
}

fn read4(data: &[u8], at: usize) -> Result<[u8; 4]> {
    data.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| corrupt("truncated u32"))
}

/// Iterator over one block, owning it (`Arc<Block>`) or borrowing it (`&Block`, point reads).
pub struct Cursor<B: Deref<Target = Block>> {
    block: B,
    /// Offset of the current entry, and of the one after it.
    cur_at: usize,
    next_at: usize,
    key: Vec<u8>,
    value: (usize, usize),
    valid: bool,
}

pub type BlockIter = Cursor<Arc<Block>>;

impl<B: Deref<Target = Block>> Cursor<B> {
    pub fn new(block: B) -> Self {
        Self::with_key_buf(block, Vec::new())
    }

    /// Reuse `key` (cleared) as the key buffer: point reads avoid an allocation per block.
    pub fn with_key_buf(block: B, mut key: Vec<u8>) -> Self {
        key.clear();
        Cursor {
            block,
            cur_at: 0,
            next_at: 0,
            key,
            value: (0, 0),
            valid: false,
        }
    }

    /// Give the key buffer back for reuse.
    pub fn into_key_buf(self) -> Vec<u8> {
        self.key
    }

    /// Decode the entry at `at` on top of the current key.
    fn parse_at(&mut self, at: usize) -> Result<()> {
        if at >= self.block.restarts_at {
            self.valid = false;
            return Ok(());
        }
        let d = &self.block.data()[..self.block.restarts_at];
        let mut p = at;
        let shared = field(d, &mut p)?;
        let unshared = field(d, &mut p)?;
        let vlen = field(d, &mut p)?;
        if shared > self.key.len() {
            return Err(corrupt("entry shares more bytes than the previous key has"));
        }
        let kend = p
            .checked_add(unshared)
            .ok_or_else(|| corrupt("length overflows"))?;
        let vend = kend
            .checked_add(vlen)
            .ok_or_else(|| corrupt("length overflows"))?;
        if vend > d.len() {
            return Err(corrupt("entry runs past the end of the block"));
        }
        self.key.truncate(shared);
        self.key.extend_from_slice(&d[p..kend]);
        self.value = (kend, vend);
        self.cur_at = at;
        self.next_at = vend;
        self.valid = true;
        Ok(())
    }

    fn seek_restart(&mut self, i: usize) -> Result<()> {
        let at = self.block.restarts[i].1 as usize;
        self.key.clear();
        self.parse_at(at)
    }

    /// The full key stored at restart point `i`, read in place (restart entries share nothing).
    fn restart_key(&self, i: usize) -> Result<&[u8]> {
        restart_key_at(
            &self.block.data()[..self.block.restarts_at],
            self.block.restarts[i].1 as usize,
        )
    }
}

impl<B: Deref<Target = Block> + Send> InternalIterator for Cursor<B> {
    fn valid(&self) -> bool {
        self.valid
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn value(&self) -> &[u8] {
        &self.block.data()[self.value.0..self.value.1]
    }

    fn next(&mut self) -> Result<()> {
        if self.valid {
            let at = self.next_at;
            self.parse_at(at)?;
        }
        Ok(())
    }

    fn seek(&mut self, target: &[u8]) -> Result<()> {
        // Last restart whose key is < target, comparing the in-memory key heads first.
        let t = key_head(target);
        let (mut lo, mut hi) = (0usize, self.block.num_restarts - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let h = self.block.restarts[mid].0;
            if h < t || (h == t && self.restart_key(mid)? < target) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        self.seek_restart(lo)?;
        while self.valid && {
            let h = key_head(&self.key);
            h < t || (h == t && self.key.as_slice() < target)
        } {
            let at = self.next_at;
            self.parse_at(at)?;
        }
        Ok(())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        self.key.clear();
        self.parse_at(0)
    }

    fn prev(&mut self) -> Result<()> {
        if !self.valid {
            return Ok(());
        }
        let target = self.cur_at;
        // Last restart point before the current entry, then forward to the entry before it.
        let (mut lo, mut hi) = (0usize, self.block.num_restarts - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if (self.block.restarts[mid].1 as usize) < target {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if self.block.restarts[lo].1 as usize >= target {
            self.valid = false; // the current entry was the first
            return Ok(());
        }
        self.seek_restart(lo)?;
        while self.valid && self.next_at < target {
            let at = self.next_at;
            self.parse_at(at)?;
        }
        if !self.valid || self.next_at != target {
            return Err(corrupt("entries do not chain up to the current one"));
        }
        Ok(())
    }

    fn seek_before(&mut self, target: &[u8]) -> Result<()> {
        self.seek(target)?;
        if self.valid {
            self.prev()
        } else {
            self.seek_to_last()
        }
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.seek_restart(self.block.num_restarts - 1)?;
        while self.valid && self.next_at < self.block.restarts_at {
            let at = self.next_at;
            self.parse_at(at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_seek_iterate() {
        let mut b = BlockBuilder::new();
        let keys: Vec<Vec<u8>> = (0..100u32)
            .map(|i| format!("key{:05}", i * 2).into_bytes())
            .collect();
        for k in &keys {
            b.add(k, k);
        }
        let block = Arc::new(Block::new(b.finish()).expect("block"));
        let mut it = BlockIter::new(block);
        it.seek_to_first().expect("first");
        let mut n = 0;
        while it.valid() {
            assert_eq!(it.key(), keys[n].as_slice());
            assert_eq!(it.value(), keys[n].as_slice());
            it.next().expect("next");
            n += 1;
        }
        assert_eq!(n, 100);
        for i in 0..200u32 {
            it.seek(format!("key{i:05}").as_bytes()).expect("seek");
            let want = i.div_ceil(2) * 2;
            if want < 200 {
                assert_eq!(it.key(), format!("key{want:05}").as_bytes());
            } else {
                assert!(!it.valid());
            }
        }
    }

    #[test]
    fn walks_backwards_across_restart_points() {
        for n in [1usize, 3, 4, 5, 17, 100] {
            let mut b = BlockBuilder::new();
            let keys: Vec<Vec<u8>> = (0..n)
                .map(|i| format!("key{:05}", i * 2).into_bytes())
                .collect();
            for k in &keys {
                b.add(k, &k[3..]);
            }
            let mut it = BlockIter::new(Arc::new(Block::new(b.finish()).expect("block")));
            it.seek_to_last().expect("last");
            let mut back = Vec::new();
            while it.valid() {
                assert_eq!(it.value(), &it.key()[3..]);
                back.push(it.key().to_vec());
                it.prev().expect("prev");
            }
            back.reverse();
            assert_eq!(back, keys, "n = {n}");
            // seek_before: the last key strictly below the target.
            for i in 0..=2 * n {
                it.seek_before(format!("key{i:05}").as_bytes())
                    .expect("seek_before");
                match i.div_ceil(2).checked_sub(1) {
                    Some(j) => assert_eq!(it.key(), keys[j].as_slice(), "n = {n}, i = {i}"),
                    None => assert!(!it.valid(), "n = {n}, i = {i}"),
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..64usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            if let Ok(b) = Block::new(data) {
                let mut it = BlockIter::new(Arc::new(b));
                let _ = it.seek(b"abc");
                let _ = it.seek_to_first();
                for _ in 0..10 {
                    if it.next().is_err() {
                        break;
                    }
                }
            }
        }
    }
}
