//! One block of records -> one `RecordBatch`: UTF-8 check, tokenize, convert every column,
//! and handle bad rows (error naming the line, or skip and count).
//!
//! Blocks are independent, so the reader decodes several at once on a thread pool.

use std::path::Path;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, SchemaRef};
use minide_common::{Error, Result};

use super::chunker::{Block, RowSpan};
use super::convert::{ColumnBuilder, ConvError, NullMatcher, OnFail, View};
use super::tokenizer::{Fields, tokenize_block};

/// One output column: which CSV field it comes from and its type.
#[derive(Clone, Debug)]
pub(crate) struct ColumnPlan {
    pub source: usize,
    pub name: String,
    pub data_type: DataType,
}

/// Everything a block decode needs; shared by all blocks of a file.
#[derive(Debug)]
pub(crate) struct DecodeCtx {
    pub path: std::path::PathBuf,
    /// Fields per record in the file.
    pub ncols: usize,
    pub columns: Vec<ColumnPlan>,
    pub schema: SchemaRef,
    pub delimiter: u8,
    pub quote: u8,
    pub nulls: NullMatcher,
    pub skip_bad: bool,
    /// Types came from inference and `read_csv` may widen them: a value that does not fit is
    /// not a bad row but a signal to widen (see `reader.rs`).
    pub widen: bool,
    /// Types were inferred from this many records (for the hint in error messages).
    pub inferred_from: Option<usize>,
}

#[derive(Debug)]
pub(crate) enum DecodeError {
    /// An inferred type was too narrow for a value (only when `ctx.widen`).
    Widen,
    Fatal(Error),
}

impl From<Error> for DecodeError {
    fn from(e: Error) -> Self {
        DecodeError::Fatal(e)
    }
}

pub(crate) struct Decoded {
    pub batch: RecordBatch,
    pub skipped: u64,
    /// Lines of the first skipped records, ascending.
    pub skipped_lines: Vec<u64>,
}

/// Fail with the line of the first byte that is not UTF-8.
pub(crate) fn check_utf8(block: &Block, path: &Path) -> Result<()> {
    if let Err(e) = std::str::from_utf8(&block.data[..block.raw_len]) {
        let at = e.valid_up_to();
        let byte = block.data.get(at).copied().unwrap_or(0);
        return Err(Error::corrupt(format!(
            "line {}: not UTF-8 text (byte 0x{byte:02x}); re-encode the file as UTF-8",
            block.line_at(at)
        ))
        .at_path(path));
    }
    Ok(())
}

fn preview(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// Rows tokenized and converted together: their spans (`GROUP_FIELDS` pairs) stay in cache.
const GROUP_FIELDS: usize = 32 * 1024;

/// Records per group for `ncols` fields each.
pub(crate) fn group_rows(ncols: usize) -> usize {
    (GROUP_FIELDS / ncols.max(1)).max(64)
}

pub(crate) fn decode_block(ctx: &DecodeCtx, block: &mut Block) -> Result<Decoded, DecodeError> {
    check_utf8(block, &ctx.path)?;
    let rows = std::mem::take(&mut block.rows);
    let result = decode_rows(ctx, block, &rows);
    block.rows = rows;
    result
}

fn decode_rows(
    ctx: &DecodeCtx,
    block: &mut Block,
    rows: &[RowSpan],
) -> Result<Decoded, DecodeError> {
    let mut skipped = 0u64;
    // raw offsets of the first skipped records (their lines are reported)
    let mut skipped_at: Vec<u32> = Vec::new();
    let mut builders = ctx
        .columns
        .iter()
        .map(|c| ColumnBuilder::new(&c.data_type, rows.len()))
        .collect::<Result<Vec<_>>>()?;
    let group = group_rows(ctx.ncols);
    let mut nrows = 0usize;
    // Groups that type inference already tokenized come first; their spans stay valid because
    // unescaped copies are only ever appended to the block.
    let pre = std::mem::take(&mut block.pretokenized);
    if pre.is_empty() {
        block.data.truncate(block.raw_len);
    }
    let pre_rows: usize = pre.iter().map(|p| p.rows).sum();
    let mut pre = pre.into_iter();
    let mut rest = rows[pre_rows.min(rows.len())..].chunks(group);
    loop {
        let (mut fields, bad) = if let Some(p) = pre.next() {
            (p.fields, p.bad)
        } else if let Some(chunk) = rest.next() {
            let mut bad = Vec::new();
            let skip = ctx.skip_bad;
            let (d, q) = (ctx.delimiter, ctx.quote);
            let fields = tokenize_block(block, chunk, ctx.ncols, d, q, |b| {
                bad.push(b);
                skip
            });
            (fields, bad)
        } else {
            break;
        };
        if let (false, Some(b)) = (ctx.skip_bad, bad.first()) {
            return Err(Error::corrupt(format!(
                "line {}: expected {} fields, found {}",
                block.line_at(b.row_start as usize),
                ctx.ncols,
                b.found
            ))
            .at_path(&ctx.path)
            .into());
        }
        skipped += bad.len() as u64;
        for b in bad {
            if skipped_at.len() < MAX_REPORTED_LINES {
                skipped_at.push(b.row_start);
            }
        }
        let marks: Vec<usize> = builders.iter().map(ColumnBuilder::len).collect();
        if let Some(mut bad_rows) = convert_group(ctx, block, &fields, &mut builders)? {
            // skip mode: roll the group back, drop the rows with unparseable values, redo it
            bad_rows.sort_unstable();
            bad_rows.dedup();
            skipped += bad_rows.len() as u64;
            for &r in &bad_rows {
                if skipped_at.len() < MAX_REPORTED_LINES {
                    skipped_at.push(fields.row_starts[r as usize]);
                }
            }
            for (b, m) in builders.iter_mut().zip(marks) {
                b.truncate(m);
            }
            remove_rows(&mut fields, ctx.ncols, &bad_rows);
            if convert_group(ctx, block, &fields, &mut builders)?.is_some() {
                return Err(Error::corrupt("rows still fail after dropping bad rows").into());
            }
        }
        nrows += fields.nrows();
    }
    if let Some(start) = block.unterminated {
        if ctx.skip_bad {
            skipped += 1;
            if skipped_at.len() < MAX_REPORTED_LINES {
                skipped_at.push(start);
            }
        } else {
            return Err(Error::corrupt(format!(
                "line {}: a quoted field is never closed before the end of the file",
                block.line_at(start as usize)
            ))
            .at_path(&ctx.path)
            .into());
        }
    }
    let columns = builders
        .into_iter()
        .map(ColumnBuilder::finish)
        .collect::<Result<Vec<ArrayRef>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(nrows));
    let batch = RecordBatch::try_new_with_options(ctx.schema.clone(), columns, &options)
        .map_err(|e| Error::schema(format!("{}: {e}", ctx.path.display())))?;
    Ok(Decoded {
        batch,
        skipped,
        skipped_lines: lines_of(block, skipped_at),
    })
}

/// How many skipped records a reader reports by line number (the count is always exact).
pub(crate) const MAX_REPORTED_LINES: usize = 1000;

/// Physical line numbers of raw offsets, in one pass over the block.
fn lines_of(block: &Block, mut offsets: Vec<u32>) -> Vec<u64> {
    offsets.sort_unstable();
    let (mut line, mut pos) = (block.first_line, 0usize);
    offsets
        .into_iter()
        .map(|o| {
            let o = (o as usize).min(block.raw_len).max(pos);
            line += memchr::memchr_iter(b'\n', &block.data[pos..o]).count() as u64;
            pos = o;
            line
        })
        .collect()
}

/// Append one group of rows to every column. `Some(rows)` (skip mode only): these rows hold
/// values that do not parse; the builders then hold nulls for them and must be rolled back.
fn convert_group(
    ctx: &DecodeCtx,
    block: &Block,
    fields: &Fields,
    builders: &mut [ColumnBuilder],
) -> Result<Option<Vec<u32>>, DecodeError> {
    let view = View {
        data: &block.data,
        spans: &fields.spans,
        ncols: ctx.ncols,
        nrows: fields.nrows(),
    };
    let mut bad_rows: Vec<u32> = Vec::new();
    // error mode: the earliest failing (row, column)
    let mut first: Option<(usize, usize)> = None;
    let collect = ctx.skip_bad && !ctx.widen;
    for (i, (col, builder)) in ctx.columns.iter().zip(builders.iter_mut()).enumerate() {
        let mut fail = if collect {
            OnFail::Collect(&mut bad_rows)
        } else {
            OnFail::Stop
        };
        match builder.append(&view, col.source, &ctx.nulls, &mut fail) {
            Ok(()) => {}
            Err(ConvError::Other(e)) => return Err(e.at_path(&ctx.path).into()),
            Err(ConvError::Value(r)) => {
                if ctx.widen {
                    return Err(DecodeError::Widen);
                }
                if first.is_none_or(|(fr, _)| r < fr) {
                    first = Some((r, i));
                }
            }
        }
    }
    if let Some((r, i)) = first {
        let col = &ctx.columns[i];
        let k = 2 * (r * ctx.ncols + col.source);
        let start = fields.spans[k] as usize;
        let at = if start < block.raw_len {
            start
        } else {
            fields.row_starts[r] as usize
        };
        let hint = match ctx.inferred_from {
            Some(n) => format!(
                " (the type was inferred from the first {n} records: pass a schema, a larger \
                 infer_rows, or use read_csv, which widens types)"
            ),
            None => String::new(),
        };
        return Err(Error::schema(format!(
            "{}: line {}, column '{}' (#{}): cannot parse {:?} as {}{hint}",
            ctx.path.display(),
            block.line_at(at),
            col.name,
            col.source + 1,
            preview(view.field(r, col.source)),
            col.data_type
        ))
        .into());
    }
    Ok((!bad_rows.is_empty()).then_some(bad_rows))
}

fn remove_rows(fields: &mut Fields, ncols: usize, sorted_bad: &[u32]) {
    let w = 2 * ncols;
    let mut spans = Vec::with_capacity(fields.spans.len());
    let mut starts = Vec::with_capacity(fields.row_starts.len());
    let mut bad = sorted_bad.iter().peekable();
    for (r, &s) in fields.row_starts.iter().enumerate() {
        if bad.peek().is_some_and(|&&b| b as usize == r) {
            bad.next();
            continue;
        }
        starts.push(s);
        spans.extend_from_slice(&fields.spans[r * w..(r + 1) * w]);
    }
    fields.spans = spans;
    fields.row_starts = starts;
}
