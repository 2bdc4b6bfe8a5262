//! The Parquet file writer.
//!
//! ```text
//! "PAR1" | row group* | ColumnIndex* | OffsetIndex* | FileMetaData (thrift) | u32 len | "PAR1"
//! ```
//! Record batches are buffered until `row_group_size` rows, then every column of the row group is
//! encoded on the rayon pool (`column.rs`), and the chunks are appended in schema order. The
//! footer is written by [`FileWriter::finish`].

pub mod column;
pub mod dictionary;
pub mod nested;
pub mod schema;
pub mod values;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use super::compression::Compression;
use super::metadata::{
    ColumnChunk, FOOTER_CRC_KEY, FOOTER_CRC_PLACEHOLDER, FileMetaData, RowGroup, SchemaElement,
};
use super::thrift::{T_BINARY, T_I64, T_STRUCT, Writer as ThriftWriter};
use column::EncodedChunk;
use minide_common::{Error, Result};
use schema::LeafSpec;

/// Options of `write_parquet` (defaults as pyarrow's).
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub compression: Compression,
    pub row_group_size: usize,
    pub data_page_size: usize,
    pub dictionary: bool,
    pub dictionary_page_size_limit: usize,
    pub statistics: bool,
    pub page_index: bool,
    pub data_page_v2: bool,
    pub page_checksum: bool,
    pub threads: usize,
    /// Flat columns that get a split-block Bloom filter per column chunk.
    pub bloom_filter_columns: Vec<String>,
    pub bloom_filter_fpp: f64,
    /// Extra footer key-value metadata (the Python layer passes `ARROW:schema`).
    pub key_value_metadata: Vec<(String, String)>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: Compression {
                codec: super::metadata::codec::ZSTD,
                level: None,
            },
            row_group_size: 1 << 20,
            data_page_size: 1 << 20,
            dictionary: true,
            dictionary_page_size_limit: 1 << 20,
            statistics: true,
            page_index: true,
            data_page_v2: false,
            page_checksum: true,
            threads: 2,
            bloom_filter_columns: Vec::new(),
            bloom_filter_fpp: 0.05,
            key_value_metadata: Vec::new(),
        }
    }
}

pub const CREATED_BY: &str = concat!("minide version ", env!("CARGO_PKG_VERSION"));

/// How one top-level Arrow column is written.
enum TopSpec {
    Flat(LeafSpec),
    Nested(nested::NestedSpec),
}

/// Indexes of one written chunk, kept until the footer.
struct ChunkIndex {
    rg: usize,
    col: usize,
    column_index: Option<Vec<u8>>,
    offset_index: Vec<u8>,
}

/// Shared rayon pools, one per thread count (2..=16), created on first use: spawning threads
/// for every call would cost more than encoding a small row group.
fn pool(threads: usize) -> Result<Option<&'static rayon::ThreadPool>> {
    static POOLS: [std::sync::OnceLock<rayon::ThreadPool>; 17] =
        [const { std::sync::OnceLock::new() }; 17];
    if threads <= 1 {
        return Ok(None);
    }
    let cell = &POOLS[threads.min(16)];
    if let Some(p) = cell.get() {
        return Ok(Some(p));
    }
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.min(16))
        .thread_name(|i| format!("minide-parquet-{i}"))
        .build()
        .map_err(|e| Error::invalid(format!("thread pool: {e}")))?;
    Ok(Some(cell.get_or_init(|| built)))
}

/// Run `f` on a pool of `threads` threads (1 = the calling thread).
/// Already on a rayon pool of that size (a SQL query's), the work stays on it.
pub fn with_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
    if rayon::current_thread_index().is_some() && rayon::current_num_threads() == threads {
        return Ok(f());
    }
    Ok(match pool(threads)? {
        Some(p) => p.install(f),
        None => f(),
    })
}

pub struct FileWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    schema: SchemaRef,
    tops: Vec<TopSpec>,
    num_leaves: usize,
    opts: WriteOptions,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    row_groups: Vec<RowGroup>,
    indexes: Vec<ChunkIndex>,
    /// (row group, column, filter bytes), written after the row groups.
    blooms: Vec<(usize, usize, Vec<u8>)>,
    num_rows: i64,
    pool: Option<&'static rayon::ThreadPool>,
}

impl FileWriter {
    pub fn create(path: &Path, schema: SchemaRef, opts: WriteOptions) -> Result<Self> {
        if opts.row_group_size == 0 || opts.data_page_size == 0 {
            return Err(Error::invalid(
                "row_group_size and data_page_size must be positive",
            ));
        }
        let tops = schema
            .fields()
            .iter()
            .map(|f| {
                if nested::is_nested(f.data_type()) {
                    nested::spec_for(f).map(TopSpec::Nested)
                } else {
                    schema::leaf_for(f).map(TopSpec::Flat)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let num_leaves = tops
            .iter()
            .map(|t| match t {
                TopSpec::Flat(_) => 1,
                TopSpec::Nested(n) => n.leaves.len(),
            })
            .sum();
        for b in &opts.bloom_filter_columns {
            let ok = tops
                .iter()
                .any(|t| matches!(t, TopSpec::Flat(l) if &l.name == b));
            if !ok {
                return Err(Error::invalid(format!(
                    "bloom_filter_columns: {b:?} is not a flat column of the data"
                )));
            }
        }
        let file = File::create(path).map_err(|e| Error::io(e, path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(b"PAR1").map_err(|e| Error::io(e, path))?;
        let pool = pool(opts.threads)?;
        Ok(FileWriter {
            path: path.to_path_buf(),
            out,
            pos: 4,
            schema,
            tops,
            num_leaves,
            opts,
            pending: Vec::new(),
            pending_rows: 0,
            row_groups: Vec::new(),
            indexes: Vec::new(),
            blooms: Vec::new(),
            num_rows: 0,
            pool,
        })
    }

    /// Buffer a batch; full row groups are encoded and written.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_columns() != self.tops.len() {
            return Err(Error::schema("batch does not match the file's schema"));
        }
        let mut batch = batch.clone();
        while batch.num_rows() > 0 {
            let room = self.opts.row_group_size - self.pending_rows;
            let take = room.min(batch.num_rows());
            self.pending.push(batch.slice(0, take));
            self.pending_rows += take;
            batch = batch.slice(take, batch.num_rows() - take);
            if self.pending_rows == self.opts.row_group_size {
                self.flush_row_group()?;
            }
        }
        Ok(())
    }

    /// Rows buffered for the next row group.
    pub fn pending_rows(&self) -> usize {
        self.pending_rows
    }

    /// Write the buffered rows as a row group now (a smaller one), freeing their memory.
    pub fn flush(&mut self) -> Result<()> {
        self.flush_row_group()
    }

    fn flush_row_group(&mut self) -> Result<()> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.pending);
        let rows = std::mem::take(&mut self.pending_rows);
        let tops = &self.tops;
        let opts = &self.opts;
        let encode = |i: usize| -> Result<Vec<EncodedChunk>> {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            match &tops[i] {
                TopSpec::Flat(leaf) => {
                    let data = values::collect(&arrays, leaf)?;
                    Ok(vec![column::encode_chunk(leaf, &data, opts)?])
                }
                TopSpec::Nested(spec) => nested::collect(&arrays, spec)?
                    .iter()
                    .zip(&spec.leaves)
                    .map(|(data, leaf)| column::encode_chunk(leaf, data, opts))
                    .collect(),
            }
        };
        let per_top: Vec<Vec<EncodedChunk>> = match self.pool {
            Some(pool) => pool.install(|| {
                (0..tops.len())
                    .into_par_iter()
                    .map(encode)
                    .collect::<Result<Vec<_>>>()
            })?,
            None => (0..tops.len()).map(encode).collect::<Result<Vec<_>>>()?,
        };
        let chunks: Vec<EncodedChunk> = per_top.into_iter().flatten().collect();
        let rg_index = self.row_groups.len();
        let mut columns = Vec::with_capacity(chunks.len());
        let mut total_uncompressed = 0i64;
        let rg_start = self.pos as i64;
        for (col, mut chunk) in chunks.into_iter().enumerate() {
            if let Some(b) = chunk.bloom.take() {
                self.blooms.push((rg_index, col, b));
            }
            let base = self.pos as i64;
            let mut meta = chunk.meta;
            meta.data_page_offset += base;
            meta.dictionary_page_offset = meta.dictionary_page_offset.map(|o| o + base);
            total_uncompressed += meta.total_uncompressed_size;
            self.out
                .write_all(&chunk.bytes)
                .map_err(|e| Error::io(e, &self.path))?;
            self.pos += chunk.bytes.len() as u64;
            if self.opts.page_index {
                self.indexes.push(ChunkIndex {
                    rg: rg_index,
                    col,
                    column_index: chunk
                        .indexable
                        .then(|| column_index_bytes(&chunk.pages))
                        .flatten(),
                    offset_index: offset_index_bytes(&chunk.pages, base),
                });
            }
            columns.push(ColumnChunk {
                file_offset: meta.dictionary_page_offset.unwrap_or(meta.data_page_offset),
                meta_data: Some(meta),
                ..Default::default()
            });
        }
        self.row_groups.push(RowGroup {
            columns,
            total_byte_size: total_uncompressed,
            num_rows: rows as i64,
            file_offset: Some(rg_start),
            total_compressed_size: Some(self.pos as i64 - rg_start),
            ordinal: i16::try_from(rg_index).ok(),
        });
        self.num_rows += rows as i64;
        Ok(())
    }

    /// Write the last row group, the page indexes and the footer. Returns the footer.
    pub fn finish(mut self) -> Result<FileMetaData> {
        self.flush_row_group()?;
        for (rg, col, bytes) in std::mem::take(&mut self.blooms) {
            if let Some(m) = self.row_groups[rg].columns[col].meta_data.as_mut() {
                m.bloom_filter_offset = Some(self.pos as i64);
                m.bloom_filter_length = Some(bytes.len() as i32);
            }
            self.out
                .write_all(&bytes)
                .map_err(|e| Error::io(e, &self.path))?;
            self.pos += bytes.len() as u64;
        }
        // Page indexes: all ColumnIndexes, then all OffsetIndexes (as other writers lay them).
        let indexes = std::mem::take(&mut self.indexes);
        for ix in &indexes {
            if let Some(ci) = &ix.column_index {
                let c = &mut self.row_groups[ix.rg].columns[ix.col];
                c.column_index_offset = Some(self.pos as i64);
                c.column_index_length = Some(ci.len() as i32);
                self.out
                    .write_all(ci)
                    .map_err(|e| Error::io(e, &self.path))?;
                self.pos += ci.len() as u64;
            }
        }
        for ix in &indexes {
            let c = &mut self.row_groups[ix.rg].columns[ix.col];
            c.offset_index_offset = Some(self.pos as i64);
            c.offset_index_length = Some(ix.offset_index.len() as i32);
            self.out
                .write_all(&ix.offset_index)
                .map_err(|e| Error::io(e, &self.path))?;
            self.pos += ix.offset_index.len() as u64;
        }
        let mut schema = vec![SchemaElement {
            name: "schema".into(),
            num_children: Some(self.tops.len() as i32),
            ..Default::default()
        }];
        for t in &self.tops {
            match t {
                TopSpec::Flat(l) => schema.push(l.element.clone()),
                TopSpec::Nested(n) => schema.extend(n.elements.iter().cloned()),
            }
        }
        let mut kv: Vec<(String, Option<String>)> = self
            .opts
            .key_value_metadata
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        for (k, v) in self.schema.metadata() {
            if !kv.iter().any(|(x, _)| x == k) {
                kv.push((k.clone(), Some(v.clone())));
            }
        }
        kv.retain(|(k, _)| k != FOOTER_CRC_KEY);
        kv.push((
            FOOTER_CRC_KEY.to_string(),
            Some(String::from_utf8_lossy(FOOTER_CRC_PLACEHOLDER).into_owned()),
        ));
        let meta = FileMetaData {
            version: 2,
            schema,
            num_rows: self.num_rows,
            row_groups: std::mem::take(&mut self.row_groups),
            key_value_metadata: kv,
            created_by: Some(CREATED_BY.to_string()),
            column_orders: Some(self.num_leaves),
        };
        let mut w = ThriftWriter::new();
        meta.write(&mut w);
        let mut footer = w.into_bytes();
        if let Some(r) = super::metadata::footer_crc_range(&footer) {
            let crc = format!("{:08x}", super::metadata::footer_crc(&footer, r.clone()));
            footer[r].copy_from_slice(crc.as_bytes());
        }
        let io = |e| Error::io(e, &self.path);
        self.out.write_all(&footer).map_err(io)?;
        self.out
            .write_all(&(footer.len() as u32).to_le_bytes())
            .map_err(io)?;
        self.out.write_all(b"PAR1").map_err(io)?;
        self.out.flush().map_err(io)?;
        Ok(meta)
    }
}

fn column_index_bytes(pages: &[column::PageLoc]) -> Option<Vec<u8>> {
    let mut w = ThriftWriter::new();
    w.begin();
    w.list_field(1, super::thrift::T_TRUE, pages.len());
    for p in pages {
        w.raw_bool(p.rows == p.null_count);
    }
    let empty: (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    w.list_field(2, T_BINARY, pages.len());
    for p in pages {
        w.raw_binary(&p.min_max.as_ref().unwrap_or(&empty).0);
    }
    w.list_field(3, T_BINARY, pages.len());
    for p in pages {
        w.raw_binary(&p.min_max.as_ref().unwrap_or(&empty).1);
    }
    w.i32(4, 0); // boundary_order: UNORDERED
    w.list_field(5, T_I64, pages.len());
    for p in pages {
        w.raw_i64(p.null_count as i64);
    }
    w.end();
    Some(w.into_bytes())
}

fn offset_index_bytes(pages: &[column::PageLoc], base: i64) -> Vec<u8> {
    let mut w = ThriftWriter::new();
    w.begin();
    w.list_field(1, T_STRUCT, pages.len());
    for p in pages {
        w.begin();
        w.i64(1, base + p.offset as i64);
        w.i32(2, p.size as i32);
        w.i64(3, p.first_row as i64);
        w.end();
    }
    w.end();
    w.into_bytes()
}

/// Write all batches of `batches` to `path`.
pub fn write_file(
    path: &Path,
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    opts: WriteOptions,
) -> Result<FileMetaData> {
    let mut w = FileWriter::create(path, schema, opts)?;
    for b in batches {
        w.write(&b?)?;
    }
    w.finish()
}
