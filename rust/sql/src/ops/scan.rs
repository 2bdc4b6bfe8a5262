//! Scan: a table's morsels, narrowed to the needed columns (projection pushdown) and filtered
//! by the pushed-down predicate, morsel-parallel.
//!
//! In-memory tables hand out their morsels. File tables are decoded here, per query, by the
//! scan core: the filter's pushable part ([`crate::pushdown`]) prunes partitions, row groups
//! and pages and drives late materialization; the scan's counters go to EXPLAIN ANALYZE.

use minide_common::{Error, Result};
use rayon::prelude::*;

use super::Ctx;
use crate::catalog::Source;
use crate::expr::select_rows;
use crate::files::FileTable;
use crate::kernels::take_chunk;
use crate::plan::Expr;
use crate::pushdown::to_predicate;
use crate::types::{Chunk, DType};
use minide_columnar::scan::{Predicate, ScanCounters};

/// The morsels of `table`'s `columns` (positions; may repeat). With `filter`, only the rows it
/// keeps when `apply` (else the filter is only pushed into file scans, and the caller evaluates
/// it: the fused scan → aggregate).
pub fn scan(
    ctx: &Ctx<'_>,
    id: u32,
    table: &str,
    columns: &[usize],
    filter: Option<&Expr>,
    apply: bool,
) -> Result<Vec<Chunk>> {
    let entry = ctx.catalog.entry(table).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "table {table} is not registered in this connection"
        ))
    })?;
    let shared = apply && matches!(entry.source, Source::File(_));
    if shared && let Some(chunks) = ctx.shared.take(table, columns, filter) {
        return Ok(chunks);
    }
    let out = scan_entry(ctx, id, &entry.source, columns, filter, apply)?;
    if shared {
        ctx.shared.put(table, columns, filter, &out);
    }
    Ok(out)
}

fn scan_entry(
    ctx: &Ctx<'_>,
    id: u32,
    source: &Source,
    columns: &[usize],
    filter: Option<&Expr>,
    apply: bool,
) -> Result<Vec<Chunk>> {
    let (chunks, columns): (Vec<Chunk>, Vec<usize>) = match source {
        Source::Memory(t) => (t.chunks.clone(), columns.to_vec()),
        Source::File(f) => {
            let (wanted, remap) = distinct(columns);
            let (names, types) = output_columns(f, columns)?;
            let chunks = read_file(ctx, id, f, &wanted, filter, &names, &types)?;
            (chunks, remap)
        }
    };
    let pick = |c: &Chunk| -> Result<Chunk> {
        let cols = columns
            .iter()
            .map(|i| c.col(*i).cloned())
            .collect::<Result<Vec<_>>>()?;
        Ok(Chunk::new(cols, c.len))
    };
    match filter.filter(|_| apply) {
        None => chunks.iter().map(pick).collect(),
        Some(pred) => {
            let out: Vec<Chunk> = chunks
                .par_iter()
                .map(|c| {
                    let c = pick(c)?;
                    match select_rows(pred, &c)? {
                        None => Ok(c),
                        Some(rows) => take_chunk(&c, &rows),
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(out.into_iter().filter(|c| c.len > 0).collect())
        }
    }
}

/// Names and types of a file table's `columns` (positions from the plan, checked).
fn output_columns(f: &FileTable, columns: &[usize]) -> Result<(Vec<String>, Vec<DType>)> {
    columns
        .iter()
        .map(|&i| match (f.file_names.get(i), f.types.get(i)) {
            (Some(n), Some(t)) => Ok((n.clone(), *t)),
            _ => Err(Error::InvalidArgument(format!(
                "{} has no column {i}",
                f.path.display()
            ))),
        })
        .collect::<Result<Vec<_>>>()
        .map(|v| v.into_iter().unzip())
}

/// The distinct positions in first-use order, and each column's index among them.
fn distinct(columns: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut wanted: Vec<usize> = Vec::new();
    let remap = columns
        .iter()
        .map(|c| match wanted.iter().position(|w| w == c) {
            Some(i) => i,
            None => {
                wanted.push(*c);
                wanted.len() - 1
            }
        })
        .collect();
    (wanted, remap)
}

/// Decode a file table's `wanted` columns (COUNT(*) alone still reads one column, for the row
/// count of what matches). `names`/`types` are the scan's output columns, which the filter's
/// column numbers refer to.
fn read_file(
    ctx: &Ctx<'_>,
    id: u32,
    f: &FileTable,
    wanted: &[usize],
    filter: Option<&Expr>,
    names: &[String],
    types: &[DType],
) -> Result<Vec<Chunk>> {
    let mut predicate = match (filter, f.bind_schema()) {
        (Some(e), Some(schema)) => to_predicate(e, names, types, schema),
        _ => None,
    };
    // keys of the joins above (superset filters: the joins still match what they get)
    let keys = ctx.join_filters.take(id);
    for (col, set) in &keys {
        let leaf = Predicate::InSet {
            column: names[*col].clone(),
            set: set.clone(),
        };
        predicate = Some(match predicate {
            Some(p) => Predicate::and(p, leaf),
            None => leaf,
        });
    }
    let note = |c: Option<ScanCounters>| {
        c.map(|mut c| {
            c.join_filters = keys.len();
            c
        })
    };
    if wanted.is_empty() {
        let (chunks, counters) = f.read(&[0], predicate, ctx.threads, None)?;
        ctx.record_scan(id, note(counters));
        return Ok(chunks
            .into_iter()
            .map(|c| Chunk::new(Vec::new(), c.len))
            .collect());
    }
    let (chunks, counters) = f.read(wanted, predicate, ctx.threads, None)?;
    ctx.record_scan(id, note(counters));
    Ok(chunks)
}

/// EXPLAIN's line for a scan of a file table: what is read and what is pushed into the reader.
pub fn describe(f: &FileTable, columns: &[usize], filter: Option<&Expr>) -> Result<String> {
    let (wanted, _) = distinct(columns);
    let (cols, _) = output_columns(f, &wanted)?;
    let name = f
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = format!("{} {name} columns=[{}]", f.kind.operator(), cols.join(", "));
    if let Some(schema) = f.bind_schema() {
        let (names, types) = output_columns(f, columns)?;
        match filter.and_then(|e| to_predicate(e, &names, &types, schema)) {
            Some(p) => out.push_str(&format!(" pushed filter: {p}")),
            None => out.push_str(" pushed filter: none"),
        }
    }
    Ok(out)
}
