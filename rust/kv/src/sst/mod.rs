//! Sorted string tables: immutable files of sorted internal keys (format in `docs/kv.md`).
//!
//! - [`block`]: prefix-compressed blocks with restart points, and their iterator;
//! - [`bloom`]: the per-table Bloom filter over user keys;
//! - [`builder`]: writes a table (data blocks, filter, properties, index, footer);
//! - [`table`]: opens a table, verifies checksums, point lookups through filter and index;
//! - [`iter`]: the two-level (index, then data block) iterator over a table.

pub mod block;
pub mod bloom;
pub mod builder;
pub mod iter;
pub mod mmap;
pub mod table;

use minide_common::crc::{crc32c, crc32c_extend, mask, unmask};
use minide_common::varint::{get_uvarint, put_uvarint};
use minide_common::{Error, Result};

/// "MNDKVSST" read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"MNDKVSST");
pub const FOOTER_LEN: usize = 64;
pub const FORMAT_VERSION: u32 = 1;
/// type byte + masked crc32c after every block.
pub const BLOCK_TRAILER_LEN: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None = 0,
    Zstd = 1,
}

impl Compression {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd),
            other => Err(Error::invalid(format!(
                "compression must be \"zstd\" or \"none\", got {other:?}"
            ))),
        }
    }
}

/// Where a block lives: offset and length of its contents (the 5-byte trailer follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handle {
    pub offset: u64,
    pub size: u64,
}

impl Handle {
    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_uvarint(buf, self.offset);
        put_uvarint(buf, self.size);
    }

    pub fn decode(buf: &[u8]) -> Result<Handle> {
        let (offset, n) = get_uvarint(buf)?;
        let (size, m) = get_uvarint(&buf[n..])?;
        if n + m != buf.len() {
            return Err(Error::corrupt("trailing bytes after a block handle"));
        }
        Ok(Handle { offset, size })
    }
}

/// The block trailer: compression type and the masked CRC of contents + type.
pub fn block_trailer(contents: &[u8], kind: u8) -> [u8; BLOCK_TRAILER_LEN] {
    let crc = mask(crc32c_extend(crc32c(contents), &[kind]));
    let c = crc.to_le_bytes();
    [kind, c[0], c[1], c[2], c[3]]
}

/// Verify a raw block's checksum (contents + trailer); returns its compression type.
pub fn verify_block(raw: &[u8]) -> Result<u8> {
    if raw.len() < BLOCK_TRAILER_LEN {
        return Err(Error::corrupt("block shorter than its trailer"));
    }
    let (contents, trailer) = raw.split_at(raw.len() - BLOCK_TRAILER_LEN);
    let kind = trailer[0];
    let stored = u32::from_le_bytes([trailer[1], trailer[2], trailer[3], trailer[4]]);
    let actual = crc32c_extend(crc32c(contents), &[kind]);
    if unmask(stored) != actual {
        return Err(Error::corrupt("block checksum mismatch"));
    }
    Ok(kind)
}

/// Verify a raw block (contents + trailer) and return its uncompressed contents.
pub fn decode_block(raw: &[u8]) -> Result<Vec<u8>> {
    let kind = verify_block(raw)?;
    let contents = &raw[..raw.len() - BLOCK_TRAILER_LEN];
    match kind {
        0 => Ok(contents.to_vec()),
        1 => zstd::stream::decode_all(contents)
            .map_err(|e| Error::corrupt(format!("zstd block does not decompress: {e}"))),
        k => Err(Error::corrupt(format!(
            "unknown block compression type {k}"
        ))),
    }
}
