//! The streaming reader: header, schema (explicit or inferred), then batches decoded a window
//! of blocks at a time (in parallel when `threads > 1`), so memory stays bounded by
//! `threads * 2` blocks of `batch_size` records whatever the file size.
//!
//! ```text
//!  file ──read 1 MiB..64 MiB──► Chunker ──Block (batch_size records, first line no.)──┐
//!                               (quotes + newlines only)                               │
//!        ┌─────────────────────────────────────────────────────────────────────────────┘
//!        ▼   window of blocks, decoded on the pool, kept in order
//!  decode_block: UTF-8 check → tokenize → convert columns → RecordBatch ──► next_batch()
//! ```
//!
//! Inference reads blocks until `infer_rows` records are seen (they are kept and decoded
//! afterwards, not re-read). [`read_csv`] widens a type when a later value does not fit it:
//! it scans the rest of the file for the wider types and reads the file again with them.

use std::collections::VecDeque;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use minide_common::{Error, Result};
use rayon::prelude::*;

use super::chunker::{Block, Chunker};
use super::convert::{NullMatcher, is_supported};
use super::decode::{
    ColumnPlan, DecodeCtx, DecodeError, Decoded, MAX_REPORTED_LINES, check_utf8, decode_block,
    group_rows,
};
use super::infer::{ColumnGuess, observe_column};
use super::options::{CsvOptions, OnBadLines};
use super::tokenizer::{Pretokenized, first_row_fields, tokenize_block};

/// How column types are decided when opening.
enum Types {
    Infer,
    /// From a previous pass of `read_csv` (widened inference).
    Forced(Vec<DataType>),
}

/// A CSV file as a stream of record batches of `batch_size` rows (the last may be shorter).
pub struct CsvReader {
    chunker: Chunker<File>,
    ctx: Arc<DecodeCtx>,
    pending: VecDeque<Block>,
    ready: VecDeque<RecordBatch>,
    /// The blocks of the window that failed with `Widen` (for the widening scan).
    failed: Vec<Block>,
    skipped: u64,
    skipped_lines: Vec<u64>,
    pool: Option<Arc<rayon::ThreadPool>>,
    batch_size: usize,
    window: usize,
    finished: bool,
}

impl std::fmt::Debug for CsvReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvReader")
            .field("path", &self.ctx.path)
            .field("schema", &self.ctx.schema)
            .finish()
    }
}

impl CsvReader {
    pub fn open(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Self> {
        Self::open_with(path.as_ref(), opts, Types::Infer, false)
    }

    fn open_with(path: &Path, opts: &CsvOptions, types: Types, widen: bool) -> Result<Self> {
        opts.validate()?;
        let file = File::open(path).map_err(|e| Error::io(e, path))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut chunker = Chunker::new(file, opts.delimiter, opts.quote);
        chunker.size_hint(size);
        let mut pending = VecDeque::new();
        let io = |e: Error| e.at_path(path);
        let (d, q) = (opts.delimiter, opts.quote);

        // 1. column names and the number of fields per record
        let mut header_names: Option<Vec<String>> = None;
        let ncols = if opts.header {
            match chunker.next_block(1).map_err(io)? {
                None => 0,
                Some(mut b) => {
                    if b.rows.is_empty() {
                        return Err(Error::corrupt(
                            "line 1: the header's quoted field is never closed",
                        )
                        .at_path(path));
                    }
                    check_utf8(&b, path)?;
                    let names: Vec<String> = first_row_fields(&mut b, d, q)
                        .into_iter()
                        .map(|n| String::from_utf8_lossy(&n).into_owned())
                        .collect();
                    if let Some(i) = names.iter().position(|n| n.contains('\0')) {
                        return Err(Error::corrupt(format!(
                            "line 1: the name of column #{} contains a NUL byte, which Arrow \
                             schemas cannot carry (is this a CSV file?)",
                            i + 1
                        ))
                        .at_path(path));
                    }
                    let n = names.len();
                    header_names = Some(names);
                    n
                }
            }
        } else {
            match chunker.next_block(opts.batch_size).map_err(io)? {
                None => opts.schema.as_ref().map_or(0, |s| s.fields().len()),
                Some(mut b) => {
                    let n = first_row_fields(&mut b, d, q).len().max(1);
                    pending.push_back(b);
                    n
                }
            }
        };

        // 2. the output columns
        let nulls = NullMatcher::new(&opts.null_values);
        let forced = matches!(types, Types::Forced(_));
        let mut columns: Vec<ColumnPlan> = match (&opts.schema, types) {
            (Some(schema), _) => plan_explicit(path, schema, header_names.as_deref(), ncols)?,
            (None, Types::Forced(ts)) => names_or_default(header_names.as_deref(), ncols)
                .into_iter()
                .zip(ts)
                .enumerate()
                .map(|(i, (name, data_type))| ColumnPlan {
                    source: i,
                    name,
                    data_type,
                })
                .collect(),
            (None, Types::Infer) => names_or_default(header_names.as_deref(), ncols)
                .into_iter()
                .enumerate()
                .map(|(i, name)| ColumnPlan {
                    source: i,
                    name,
                    data_type: DataType::Utf8,
                })
                .collect(),
        };
        let inferring = opts.schema.is_none();
        let mut guesses = vec![ColumnGuess::default(); ncols];
        let mut seen = 0usize;
        let mut i = 0usize;
        let needs_inference = inferring && !forced;
        while needs_inference && seen < opts.infer_rows && ncols > 0 {
            if i == pending.len() {
                match chunker.next_block(opts.batch_size).map_err(io)? {
                    Some(b) => pending.push_back(b),
                    None => break,
                }
            }
            let b = &mut pending[i];
            i += 1;
            // (not UTF-8: inference sees bytes that fit no type; decoding reports the line)
            let take = (opts.infer_rows - seen).min(b.rows.len());
            let rows = b.rows[..take].to_vec();
            observe_rows(&mut guesses, b, &rows, ncols, d, q, &nulls, true);
            seen += take;
        }
        if needs_inference {
            for (c, g) in columns.iter_mut().zip(&guesses) {
                c.data_type = g.data_type();
            }
        }

        let schema = match &opts.schema {
            Some(s) => Arc::clone(s),
            None => Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|c| Field::new(c.name.clone(), c.data_type.clone(), true))
                    .collect::<Vec<_>>(),
            )),
        };
        let pool = if opts.threads > 1 {
            Some(shared_pool(opts.threads)?)
        } else {
            None
        };
        let ctx = DecodeCtx {
            path: path.to_path_buf(),
            ncols,
            columns,
            schema,
            delimiter: d,
            quote: q,
            nulls,
            skip_bad: opts.on_bad_lines == OnBadLines::Skip,
            widen: widen && inferring,
            inferred_from: (inferring && !forced).then_some(opts.infer_rows),
        };
        Ok(CsvReader {
            chunker,
            ctx: Arc::new(ctx),
            pending,
            ready: VecDeque::new(),
            failed: Vec::new(),
            skipped: 0,
            skipped_lines: Vec::new(),
            window: if pool.is_some() { opts.threads * 2 } else { 1 },
            pool,
            batch_size: opts.batch_size,
            finished: false,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.ctx.schema)
    }

    /// Records skipped so far (`OnBadLines::Skip`).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Physical line numbers of the first (up to 1000) skipped records, ascending.
    pub fn skipped_lines(&self) -> &[u64] {
        &self.skipped_lines
    }

    /// Bytes read from the file so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        self.chunker.bytes_read()
    }

    /// The next batch, or `None` at the end of the file.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match self.next_inner() {
            Ok(b) => Ok(b),
            Err(DecodeError::Fatal(e)) => Err(e),
            Err(DecodeError::Widen) => Err(Error::schema("internal: unexpected widening")),
        }
    }

    fn next_inner(&mut self) -> Result<Option<RecordBatch>, DecodeError> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                return Ok(Some(b));
            }
            if self.finished {
                return Ok(None);
            }
            self.decode_window()?;
        }
    }

    fn next_block(&mut self) -> Result<Option<Block>> {
        if let Some(b) = self.pending.pop_front() {
            return Ok(Some(b));
        }
        self.chunker
            .next_block(self.batch_size)
            .map_err(|e| e.at_path(&self.ctx.path))
    }

    fn decode_window(&mut self) -> Result<(), DecodeError> {
        let mut blocks = Vec::with_capacity(self.window);
        while blocks.len() < self.window {
            match self.next_block()? {
                Some(b) => blocks.push(b),
                None => break,
            }
        }
        if blocks.is_empty() {
            self.finished = true;
            return Ok(());
        }
        let ctx = &self.ctx;
        let (results, prefetched): (Vec<Result<Decoded, DecodeError>>, Result<Vec<Block>>) =
            match &self.pool {
                Some(pool) => {
                    // Decode this window on the pool while this thread reads the next one.
                    let (chunker, batch_size, n) =
                        (&mut self.chunker, self.batch_size, self.window);
                    pool.install(|| {
                        rayon::join(
                            || {
                                blocks
                                    .par_iter_mut()
                                    .map(|b| decode_block(ctx, b))
                                    .collect()
                            },
                            || read_blocks(chunker, batch_size, n),
                        )
                    })
                }
                None => (
                    blocks.iter_mut().map(|b| decode_block(ctx, b)).collect(),
                    Ok(Vec::new()),
                ),
            };
        let widen = results.iter().any(|r| matches!(r, Err(DecodeError::Widen)));
        if !widen {
            for b in &mut blocks {
                self.chunker.recycle(std::mem::take(&mut b.data));
            }
        }
        for r in results {
            match r {
                Ok(d) => {
                    self.skipped += d.skipped;
                    let room = MAX_REPORTED_LINES.saturating_sub(self.skipped_lines.len());
                    self.skipped_lines
                        .extend(d.skipped_lines.into_iter().take(room));
                    if d.batch.num_rows() > 0 {
                        self.ready.push_back(d.batch);
                    }
                }
                Err(DecodeError::Widen) => {
                    // the widening scan reads the rest of the file: it needs every block
                    let next = prefetched.map_err(|e| e.at_path(&self.ctx.path))?;
                    self.failed = blocks;
                    self.pending.extend(next);
                    return Err(DecodeError::Widen);
                }
                Err(e) => return Err(e),
            }
        }
        self.pending
            .extend(prefetched.map_err(|e| e.at_path(&self.ctx.path))?);
        Ok(())
    }

    /// After `Widen`: the types that fit every remaining record, starting from the current ones.
    fn widened_types(&mut self) -> Result<Vec<DataType>> {
        let ctx = Arc::clone(&self.ctx);
        let mut guesses: Vec<ColumnGuess> = ctx
            .columns
            .iter()
            .map(|c| ColumnGuess::from_type(&c.data_type))
            .collect();
        let mut failed = std::mem::take(&mut self.failed);
        loop {
            let mut b = match failed.pop() {
                Some(b) => b,
                None => match self.next_block()? {
                    Some(b) => b,
                    None => break,
                },
            };
            check_utf8(&b, &ctx.path)?;
            let rows = std::mem::take(&mut b.rows);
            let (d, q) = (ctx.delimiter, ctx.quote);
            observe_rows(
                &mut guesses,
                &mut b,
                &rows,
                ctx.ncols,
                d,
                q,
                &ctx.nulls,
                false,
            );
        }
        Ok(guesses.iter().map(ColumnGuess::data_type).collect())
    }
}

impl Iterator for CsvReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

/// Narrow every column's guess by `rows` (the first records) of `block`, a group of rows at a
/// time so their field spans stay in cache (rows of another field count are ignored here).
/// With `keep`, the tokenized groups are left in the block for the decoder to reuse.
#[allow(clippy::too_many_arguments)]
fn observe_rows(
    guesses: &mut [ColumnGuess],
    block: &mut Block,
    rows: &[super::chunker::RowSpan],
    ncols: usize,
    delimiter: u8,
    quote: u8,
    nulls: &NullMatcher,
    keep: bool,
) {
    block.pretokenized.clear();
    block.data.truncate(block.raw_len);
    for chunk in rows.chunks(group_rows(ncols)) {
        let mut bad = Vec::new();
        let fields = tokenize_block(block, chunk, ncols, delimiter, quote, |b| {
            bad.push(b);
            true
        });
        for (c, g) in guesses.iter_mut().enumerate() {
            observe_column(
                g,
                &block.data,
                &fields.spans,
                ncols,
                c,
                fields.nrows(),
                nulls,
            );
        }
        if keep {
            block.pretokenized.push(Pretokenized {
                fields,
                bad,
                rows: chunk.len(),
            });
        }
    }
}

/// One decode pool per thread count, started once per process (starting threads per call
/// would cost more than reading a small file).
fn shared_pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    type Pools = Vec<(usize, Arc<rayon::ThreadPool>)>;
    static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, p)) = pools.iter().find(|(n, _)| *n == threads) {
        return Ok(Arc::clone(p));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("minide-csv-{i}"))
        .build()
        .map_err(|e| Error::invalid(format!("cannot start {threads} threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.push((threads, Arc::clone(&pool)));
    Ok(pool)
}

fn read_blocks(chunker: &mut Chunker<File>, batch_size: usize, n: usize) -> Result<Vec<Block>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match chunker.next_block(batch_size)? {
            Some(b) => out.push(b),
            None => break,
        }
    }
    Ok(out)
}

fn names_or_default(header: Option<&[String]>, ncols: usize) -> Vec<String> {
    match header {
        Some(names) => names.to_vec(),
        None => (0..ncols).map(|i| format!("f{i}")).collect(),
    }
}

fn plan_explicit(
    path: &Path,
    schema: &Schema,
    header: Option<&[String]>,
    ncols: usize,
) -> Result<Vec<ColumnPlan>> {
    let mut out = Vec::with_capacity(schema.fields().len());
    for (i, f) in schema.fields().iter().enumerate() {
        if !is_supported(f.data_type()) {
            return Err(Error::unsupported(format!(
                "column '{}': CSV values cannot be read as {}",
                f.name(),
                f.data_type()
            )));
        }
        let source = match header {
            Some(names) => names.iter().position(|n| n == f.name()).ok_or_else(|| {
                Error::schema(format!(
                    "{}: column '{}' of the schema is not in the CSV header ({})",
                    path.display(),
                    f.name(),
                    names.join(", ")
                ))
            })?,
            None => i,
        };
        out.push(ColumnPlan {
            source,
            name: f.name().clone(),
            data_type: f.data_type().clone(),
        });
    }
    if header.is_none() && ncols > 0 && ncols != out.len() {
        return Err(Error::schema(format!(
            "{}: the schema has {} columns but the first record has {} fields",
            path.display(),
            out.len(),
            ncols
        )));
    }
    Ok(out)
}

/// The types of every column over the whole file (not only the first `infer_rows` records),
/// with bounded memory: decode with the inferred types until a value does not fit, then widen
/// from there over the rest of the file (as [`read_csv`] does, without keeping the batches).
/// For streaming consumers that must know the final types before the first batch.
pub fn infer_schema_full(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<SchemaRef> {
    let path = path.as_ref();
    let mut reader = CsvReader::open_with(path, opts, Types::Infer, opts.schema.is_none())?;
    loop {
        match reader.next_inner() {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(reader.schema()),
            Err(DecodeError::Fatal(e)) => return Err(e),
            Err(DecodeError::Widen) => {
                // the widening scan reads every remaining record: its types fit the whole file
                let types = reader.widened_types()?;
                return Ok(CsvReader::open_with(path, opts, Types::Forced(types), true)?.schema());
            }
        }
    }
}

/// A whole CSV file read into batches.
#[derive(Debug)]
pub struct CsvTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub skipped: u64,
    /// Physical line numbers of the first (up to 1000) skipped records.
    pub skipped_lines: Vec<u64>,
}

/// Read the whole file. With inferred types, a later value that does not fit its column's type
/// widens the type (int64 → float64 → string, date32 → timestamp → string, ...) and the file is
/// read again with the widened types, so no value is lost or rejected because inference only
/// looked at the first `infer_rows` records.
pub fn read_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<CsvTable> {
    let path = path.as_ref();
    let mut reader = CsvReader::open_with(path, opts, Types::Infer, opts.schema.is_none())?;
    for _pass in 0..8 {
        let mut batches = Vec::new();
        let outcome = loop {
            match reader.next_inner() {
                Ok(Some(b)) => batches.push(b),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match outcome {
            Ok(()) => {
                return Ok(CsvTable {
                    schema: reader.schema(),
                    batches,
                    skipped: reader.skipped,
                    skipped_lines: reader.skipped_lines,
                });
            }
            Err(DecodeError::Fatal(e)) => return Err(e),
            Err(DecodeError::Widen) => {
                drop(batches);
                let types = reader.widened_types()?;
                reader = CsvReader::open_with(path, opts, Types::Forced(types), true)?;
            }
        }
    }
    Err(Error::schema(format!(
        "{}: column types kept changing while reading (is the file being written?)",
        path.display()
    )))
}
