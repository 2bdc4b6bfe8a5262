//! Writes one SSTable: data blocks, Bloom filter, properties, index, footer.
//!
//! The caller adds internal keys in increasing order; [`TableBuilder::finish`] writes the meta
//! blocks and the footer and fsyncs the file before the manifest may refer to it.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use minide_common::crc::{crc32c, mask};
use minide_common::varint::put_uvarint;
use minide_common::{Error, Result};

use super::block::BlockBuilder;
use super::{BLOCK_TRAILER_LEN, Compression, FORMAT_VERSION, Handle, MAGIC, block_trailer, bloom};
use crate::mvcc;

#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub block_size: usize,
    pub compression: Compression,
    pub bloom_bits_per_key: usize,
}

/// Table-wide facts, stored in the properties block and mirrored in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props {
    pub entries: u64,
    pub user_keys: u64,
    pub tombstones: u64,
    pub min_ts: u64,
    pub max_ts: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
}

impl Props {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [
            self.entries,
            self.user_keys,
            self.tombstones,
            self.min_ts,
            self.max_ts,
        ] {
            put_uvarint(&mut b, v);
        }
        for k in [&self.smallest, &self.largest] {
            put_uvarint(&mut b, k.len() as u64);
            b.extend_from_slice(k);
        }
        b
    }

    pub fn decode(mut b: &[u8]) -> Result<Props> {
        let mut num = || -> Result<u64> {
            let (v, n) = minide_common::varint::get_uvarint(b)?;
            b = &b[n..];
            Ok(v)
        };
        let (entries, user_keys, tombstones, min_ts, max_ts) =
            (num()?, num()?, num()?, num()?, num()?);
        let bytes = |b: &mut &[u8]| -> Result<Vec<u8>> {
            let (len, n) = minide_common::varint::get_uvarint(b)?;
            let end = n
                .checked_add(len as usize)
                .filter(|&e| e <= b.len())
                .ok_or_else(|| Error::corrupt("SST properties: key runs past the block"))?;
            let k = b[n..end].to_vec();
            *b = &b[end..];
            Ok(k)
        };
        let smallest = bytes(&mut b)?;
        let largest = bytes(&mut b)?;
        Ok(Props {
            entries,
            user_keys,
            tombstones,
            min_ts,
            max_ts,
            smallest,
            largest,
        })
    }
}

pub struct TableBuilder {
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    opts: TableOptions,
    data: BlockBuilder,
    index: BlockBuilder,
    hashes: Vec<u64>,
    last_user: Vec<u8>,
    props: Props,
    /// One zstd context for the whole table (creating one per block cost ~5% of a flush).
    zstd: Option<zstd::bulk::Compressor<'static>>,
    /// Data blocks in a row that compression did not pay for, and how many blocks to store
    /// raw before trying again (see `write_block`).
    incompressible_streak: u32,
    skip_compression: u32,
}

/// At most this many data blocks in a row are stored raw without trying compression.
const MAX_COMPRESSION_SKIP: u32 = 16;

impl TableBuilder {
    pub fn create(path: &Path, opts: TableOptions) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(e, path))?;
        Ok(TableBuilder {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            offset: 0,
            opts,
            data: BlockBuilder::new(),
            index: BlockBuilder::with_restart_interval(1),
            hashes: Vec::new(),
            last_user: Vec::new(),
            zstd: None,
            incompressible_streak: 0,
            skip_compression: 0,
            props: Props {
                min_ts: u64::MAX,
                ..Props::default()
            },
        })
    }

    pub fn entries(&self) -> u64 {
        self.props.entries
    }

    /// Bytes written so far plus the open block.
    pub fn estimated_size(&self) -> u64 {
        self.offset + self.data.estimated_size() as u64
    }

    /// The user key (escaped) of the last entry added.
    pub fn last_user(&self) -> &[u8] {
        &self.last_user
    }

    pub fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        let (user, ts, _) = mvcc::split(ikey)?;
        if self.props.entries == 0 {
            self.props.smallest = ikey.to_vec();
        }
        if self.props.entries == 0 || user != self.last_user.as_slice() {
            self.hashes.push(bloom::hash(user));
            self.last_user.clear();
            self.last_user.extend_from_slice(user);
            self.props.user_keys += 1;
        }
        if value.first().is_some_and(|f| f & 1 == 1) {
            self.props.tombstones += 1;
        }
        self.props.entries += 1;
        self.props.min_ts = self.props.min_ts.min(ts);
        self.props.max_ts = self.props.max_ts.max(ts);
        self.data.add(ikey, value);
        if self.data.estimated_size() >= self.opts.block_size {
            self.flush_data()?;
        }
        Ok(())
    }

    fn write_block(&mut self, contents: &[u8], compress: bool) -> Result<Handle> {
        let compressed;
        // Incompressible data (random values) costs a zstd pass per block for nothing: after a
        // run of blocks that did not compress, store the next ones raw and only sample now and
        // then (the skip doubles per failed sample, up to MAX_COMPRESSION_SKIP blocks); one
        // block that compresses turns compression back on for every block.
        let try_zstd = compress && self.opts.compression == Compression::Zstd;
        let (body, kind) = if try_zstd && self.skip_compression > 0 {
            self.skip_compression -= 1;
            (contents, 0)
        } else if try_zstd {
            let z = match &mut self.zstd {
                Some(z) => z,
                None => self
                    .zstd
                    .insert(zstd::bulk::Compressor::new(1).map_err(|e| Error::io(e, &self.path))?),
            };
            compressed = z.compress(contents).map_err(|e| Error::io(e, &self.path))?;
            // Keep the raw block when compression does not pay (random data).
            if compressed.len() < contents.len() - contents.len() / 8 {
                self.incompressible_streak = 0;
                (compressed.as_slice(), 1)
            } else {
                self.incompressible_streak += 1;
                if self.incompressible_streak >= 4 {
                    self.skip_compression =
                        (1u32 << (self.incompressible_streak - 3).min(4)).min(MAX_COMPRESSION_SKIP);
                }
                (contents, 0)
            }
        } else {
            (contents, 0)
        };
        let handle = Handle {
            offset: self.offset,
            size: body.len() as u64,
        };
        let trailer = block_trailer(body, kind);
        self.out
            .write_all(body)
            .map_err(|e| Error::io(e, &self.path))?;
        self.out
            .write_all(&trailer)
            .map_err(|e| Error::io(e, &self.path))?;
        self.offset += (body.len() + BLOCK_TRAILER_LEN) as u64;
        Ok(handle)
    }

    fn flush_data(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let last = self.data.last_key().to_vec();
        let contents = self.data.finish();
        let handle = self.write_block(&contents, true)?;
        let mut hv = Vec::with_capacity(12);
        handle.encode(&mut hv);
        self.index.add(&last, &hv);
        self.props.largest = last;
        Ok(())
    }

    /// Write filter, properties, index and footer; fsync. Returns (file size, properties).
    pub fn finish(mut self) -> Result<(u64, Props)> {
        self.flush_data()?;
        if self.props.entries == 0 {
            self.props.min_ts = 0;
        }
        let filter = bloom::build(&self.hashes, self.opts.bloom_bits_per_key);
        let filter_h = self.write_block(&filter, false)?;
        let props_h = self.write_block(&self.props.encode(), false)?;
        let index = self.index.finish();
        let index_h = self.write_block(&index, false)?;
        let mut footer = Vec::with_capacity(super::FOOTER_LEN);
        for h in [filter_h, props_h, index_h] {
            footer.extend_from_slice(&h.offset.to_le_bytes());
            footer.extend_from_slice(&h.size.to_le_bytes());
        }
        footer.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = mask(crc32c(&footer));
        footer.extend_from_slice(&crc.to_le_bytes());
        footer.extend_from_slice(&MAGIC.to_le_bytes());
        self.out
            .write_all(&footer)
            .map_err(|e| Error::io(e, &self.path))?;
        self.offset += footer.len() as u64;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(e.into_error(), &self.path))?;
        file.sync_all().map_err(|e| Error::io(e, &self.path))?;
        Ok((self.offset, self.props))
    }
}
