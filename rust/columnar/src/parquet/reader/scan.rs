//! Filtered scans with late materialization (`ParquetFile::scan_row_groups`).
//!
//! Per row group: decode the filter's columns first, evaluate the predicate into a row mask
//! (typed loops for the common `column <op> number` shapes, the generic three-valued evaluator
//! of `filter.rs` otherwise), then decode the other projected columns for the surviving rows
//! only: flat required fixed-width columns gather just those rows from their dictionary pages
//! (`ChunkDecoder::keep`), everything else is decoded whole and cut. A row group where most rows
//! survive is returned unfiltered when the caller allows it (`exact: false`, the SQL engine,
//! which evaluates its predicate again): cutting every column then costs more than it saves.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, Float64Array, PrimitiveArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use std::sync::Arc;

use super::ParquetFile;
use crate::parquet::filter::{self, CmpOp, Literal, Predicate};
use crate::parquet::metadata::ptype;
use crate::scan::predicate::{IntBound, int_bound};
use minide_common::{Error, Result};

/// How `scan_row_groups` decodes and filters.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// INT32/INT64-backed decimals come out as Float64 (see `ParquetFile::output_field`); the
    /// filter then compares those floats.
    pub decimals_as_f64: bool,
    /// Keep exactly the matching rows. When false, a row group where more than
    /// `max_keep_fraction` of the rows match is returned whole (its rows are a superset).
    pub exact: bool,
    pub max_keep_fraction: f64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            decimals_as_f64: false,
            exact: true,
            max_keep_fraction: 0.5,
        }
    }
}

/// One scanned row group: its batch and the rows decoded for the filter.
pub struct ScannedGroup {
    pub batch: RecordBatch,
    pub rows_read: usize,
}

impl ParquetFile {
    /// Scan row groups `groups` (in order) projected to `projection`, keeping the rows where
    /// `filter` holds; whole row groups are spread over `threads`.
    pub fn scan_row_groups(
        &self,
        groups: &[usize],
        projection: &[usize],
        filter: Option<&Predicate>,
        threads: usize,
        opts: ScanOptions,
    ) -> Result<Vec<ScannedGroup>> {
        let one = |g: usize| self.scan_row_group(g, projection, filter, opts);
        if threads <= 1 || groups.len() <= 1 {
            return groups.iter().map(|&g| one(g)).collect();
        }
        crate::parquet::writer::with_pool(threads, || groups.par_iter().map(|&g| one(g)).collect())?
    }

    fn scan_row_group(
        &self,
        rg: usize,
        projection: &[usize],
        filter: Option<&Predicate>,
        opts: ScanOptions,
    ) -> Result<ScannedGroup> {
        if rg >= self.metadata.row_groups.len() {
            return Err(Error::invalid(format!("row group {rg} does not exist")));
        }
        let rows = self.metadata.row_groups[rg].num_rows as usize;
        let dec = opts.decimals_as_f64;
        let fields: Vec<Field> = projection
            .iter()
            .map(|&c| self.output_field(c, dec))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batch = |arrays: Vec<ArrayRef>, n: usize| {
            RecordBatch::try_new_with_options(
                schema.clone(),
                arrays,
                &RecordBatchOptions::new().with_row_count(Some(n)),
            )
            .map_err(|e| Error::corrupt(format!("row group {rg}: {e}")).at_path(&self.path))
        };
        let Some(pred) = filter else {
            let arrays = projection
                .iter()
                .map(|&c| self.read_column_as(rg, c, dec))
                .collect::<Result<Vec<_>>>()?;
            return Ok(ScannedGroup {
                batch: batch(arrays, rows)?,
                rows_read: rows,
            });
        };
        let mut names = Vec::new();
        pred.columns(&mut names);
        let index_of = |n: &String| {
            self.columns
                .iter()
                .position(|t| &t.name == n)
                .ok_or_else(|| Error::schema(format!("filter column {n:?} is not in the file")))
        };
        let loose = !opts.exact;
        let sparse = |k: usize| k as f64 <= opts.max_keep_fraction * rows as f64;
        // 1. Pre-filter on the first conjunct's column: its conjuncts give a superset of the
        //    matching rows (the "universe"); when that is sparse the other filter columns are
        //    decoded for those rows only (TPC-H Q6: l_shipdate keeps ~15%).
        let mut conj = Vec::new();
        conjuncts(pred, &mut conj);
        let first = conj.iter().find_map(|c| single_column(c));
        let mut pre: Option<(usize, ArrayRef)> = None;
        let mut universe: Option<Vec<u32>> = None;
        // The first column's mask when it already is the whole predicate's (all conjuncts on
        // that column, all evaluated by the typed loops): no second evaluation.
        let mut final_mask: Option<Vec<bool>> = None;
        if let Some(name) = first {
            let c0 = index_of(&name)?;
            let a0 = self.read_column_as(rg, c0, dec)?;
            let only = |n: &str| (n == name).then_some(&a0);
            let mut mask0: Option<Vec<bool>> = None;
            let mut complete = true;
            for c in &conj {
                if single_column(c).as_deref() != Some(&name) {
                    complete = false;
                    continue;
                }
                // A conjunct the typed loops cannot evaluate only widens the universe.
                match fast_mask(c, &only, rows, false) {
                    Some(m) => match &mut mask0 {
                        Some(acc) => acc.iter_mut().zip(m).for_each(|(a, b)| *a &= b),
                        None => mask0 = Some(m),
                    },
                    None => complete = false,
                }
            }
            let count = mask0.as_ref().map(|m| m.iter().filter(|&&b| b).count());
            match (mask0, count) {
                (Some(m), Some(k)) if sparse(k) => {
                    let sel0 = positions(&m);
                    pre = Some((c0, take(&a0, &sel0)?));
                    universe = Some(sel0);
                }
                (Some(m), _) if complete => {
                    final_mask = Some(m);
                    pre = Some((c0, a0));
                }
                _ => pre = Some((c0, a0)),
            }
        }
        let n_u = universe.as_ref().map_or(rows, Vec::len);
        // 2. The filter's columns, for the universe's rows.
        let mut filter_cols: Vec<(usize, ArrayRef)> = Vec::with_capacity(names.len());
        for n in &names {
            let c = index_of(n)?;
            let a = match (&pre, &universe) {
                (Some((c0, a0)), _) if *c0 == c => a0.clone(),
                (_, None) => self.read_column_as(rg, c, dec)?,
                (_, Some(u)) => self.read_rows(rg, c, dec, u)?,
            };
            filter_cols.push((c, a));
        }
        // 3. The row mask over the universe.
        let lookup = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .map(|i| &filter_cols[i].1)
        };
        let fast = match final_mask {
            Some(m) => Some(m),
            None => fast_mask(pred, &lookup, n_u, loose),
        };
        let mask = match fast {
            Some(m) => m,
            // A superset is allowed: the slow evaluator is not worth running.
            None if loose => vec![true; n_u],
            None => {
                let fields: Vec<Field> = filter_cols
                    .iter()
                    .map(|(c, _)| self.output_field(*c, dec))
                    .collect();
                let fb = RecordBatch::try_new_with_options(
                    Arc::new(Schema::new(fields)),
                    filter_cols.iter().map(|(_, a)| a.clone()).collect(),
                    &RecordBatchOptions::new().with_row_count(Some(n_u)),
                )
                .map_err(Error::from)?;
                filter::evaluate(&fb, pred)?
                    .into_iter()
                    .map(|m| m == Some(true))
                    .collect()
            }
        };
        let matched = mask.iter().filter(|&&b| b).count();
        let whole = universe.is_none() && (matched == rows || (loose && !sparse(matched)));
        // Positions in the universe, and the same rows as row-group row numbers.
        let kept_local = if whole { Vec::new() } else { positions(&mask) };
        let kept: Vec<u32> = match &universe {
            Some(u) => kept_local.iter().map(|&i| u[i as usize]).collect(),
            None => kept_local.clone(),
        };
        // 4. The other columns: whole, or only the kept rows.
        let mut arrays = Vec::with_capacity(projection.len());
        for &c in projection {
            let known = filter_cols.iter().find(|(f, _)| *f == c).map(|(_, a)| a);
            let a = match (known, whole) {
                (Some(a), true) => a.clone(),
                (Some(a), false) => take(a, &kept_local)?,
                (None, true) => self.read_column_as(rg, c, dec)?,
                (None, false) => self.read_rows(rg, c, dec, &kept)?,
            };
            arrays.push(a);
        }
        let n = if whole { rows } else { kept.len() };
        Ok(ScannedGroup {
            batch: batch(arrays, n)?,
            rows_read: rows,
        })
    }

    /// The rows `rows` (sorted) of column `col` of row group `rg`: gathered from the pages for
    /// the columns `ChunkDecoder::keep` handles, decoded whole and cut for the rest; nothing is
    /// read when no row is wanted.
    fn read_rows(&self, rg: usize, col: usize, dec: bool, rows: &[u32]) -> Result<ArrayRef> {
        if rows.is_empty() {
            return Ok(arrow_array::new_empty_array(
                self.output_field(col, dec).data_type(),
            ));
        }
        if self.keepable(col) {
            return self
                .read_column_inner(rg, col, None, dec, Some(rows))
                .map(|(a, _, _)| a);
        }
        take(&self.read_column_as(rg, col, dec)?, rows)
    }

    /// Flat, required, fixed-width: the columns `ChunkDecoder::keep` can gather rows of.
    fn keepable(&self, col: usize) -> bool {
        let top = &self.columns[col];
        top.max_def == 0
            && top.element.as_ref().is_some_and(|el| {
                matches!(
                    el.type_,
                    Some(ptype::INT32 | ptype::INT64 | ptype::FLOAT | ptype::DOUBLE)
                )
            })
    }
}

/// The top-level conjuncts of `p`.
fn conjuncts<'p>(p: &'p Predicate, out: &mut Vec<&'p Predicate>) {
    match p {
        Predicate::And(a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => out.push(other),
    }
}

/// The one column `p` refers to, if it refers to exactly one.
fn single_column(p: &Predicate) -> Option<String> {
    let mut names = Vec::new();
    p.columns(&mut names);
    (names.len() == 1).then(|| names.swap_remove(0))
}

/// Indexes of the true entries.
fn positions(mask: &[bool]) -> Vec<u32> {
    mask.iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| i as u32)
        .collect()
}

/// The rows `rows` (sorted) of `a`: typed copies for primitive columns without nulls, runs of
/// `MutableArrayData` for the rest.
fn take(a: &ArrayRef, rows: &[u32]) -> Result<ArrayRef> {
    fn prim<T: arrow_array::ArrowPrimitiveType>(a: &ArrayRef, rows: &[u32]) -> ArrayRef {
        let p = a.as_primitive::<T>();
        let v = p.values();
        let out: ScalarBuffer<T::Native> = rows.iter().map(|&r| v[r as usize]).collect();
        Arc::new(PrimitiveArray::<T>::new(out, None).with_data_type(a.data_type().clone()))
    }
    if a.null_count() == 0 {
        match a.data_type() {
            DataType::Int32 => return Ok(prim::<Int32Type>(a, rows)),
            DataType::Date32 => return Ok(prim::<Date32Type>(a, rows)),
            DataType::Int64 => return Ok(prim::<Int64Type>(a, rows)),
            DataType::Float64 => return Ok(prim::<Float64Type>(a, rows)),
            _ => {}
        }
    }
    let mut mask = vec![None; a.len()];
    for &r in rows {
        mask[r as usize] = Some(true);
    }
    let schema = Arc::new(Schema::new(vec![Field::new(
        "c",
        a.data_type().clone(),
        true,
    )]));
    let b = RecordBatch::try_new(schema, vec![a.clone()]).map_err(Error::from)?;
    Ok(filter::filter_batch(&b, &mask)?.column(0).clone())
}

/// A number column without nulls, viewed for comparisons.
enum Nums<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
    F64(&'a [f64]),
}

fn nums(a: &ArrayRef) -> Option<Nums<'_>> {
    if a.null_count() > 0 {
        return None;
    }
    Some(match a.data_type() {
        DataType::Int32 => Nums::I32(a.as_primitive::<Int32Type>().values()),
        DataType::Date32 => Nums::I32(a.as_primitive::<Date32Type>().values()),
        DataType::Int64 => Nums::I64(a.as_primitive::<Int64Type>().values()),
        DataType::Float64 => Nums::F64(a.as_any().downcast_ref::<Float64Array>()?.values()),
        _ => return None,
    })
}

/// `op` applied to every value against `lit`, with `predicate::compare`'s rules (exact for
/// integer columns against any number; NaN compares false). One tight loop per
/// operator: the operator and literal are resolved before the loop.
fn compare_all(col: &Nums<'_>, op: CmpOp, lit: &Literal, out: &mut [bool]) -> Option<()> {
    let float = match lit {
        Literal::Float(x) => Some(*x),
        Literal::Int(x) => Some(*x as f64),
        Literal::Decimal { unscaled, scale } => {
            Some(*unscaled as f64 / 10f64.powi(i32::from(*scale)))
        }
        _ => None,
    };
    match col {
        Nums::F64(v) => cmp_f64(v.iter().copied(), float?, op, out),
        // Integers against any number exactly: `v > 2.5` is `v >= 3`, `v = 2.5` never holds.
        Nums::I32(_) | Nums::I64(_) => match int_bound(op, lit)? {
            IntBound::Const(b) => out.fill(b),
            IntBound::Cmp(op, k) => match col {
                Nums::I32(v) => match i32::try_from(k) {
                    Ok(x) => cmp_slice(v, x, op, out),
                    Err(_) => out.fill(outside(op, k > 0)),
                },
                Nums::I64(v) => match i64::try_from(k) {
                    Ok(x) => cmp_slice(v, x, op, out),
                    Err(_) => out.fill(outside(op, k > 0)),
                },
                Nums::F64(_) => return None,
            },
        },
    }
    Some(())
}

/// The result of `value op x` for every value when `x` lies beyond the column type's range
/// (`above`: greater than every value).
fn outside(op: CmpOp, above: bool) -> bool {
    match op {
        CmpOp::Eq => false,
        CmpOp::Ne => true,
        CmpOp::Lt | CmpOp::Le => above,
        CmpOp::Gt | CmpOp::Ge => !above,
    }
}

fn cmp_slice<T: Copy + PartialOrd>(v: &[T], x: T, op: CmpOp, out: &mut [bool]) {
    let it = out.iter_mut().zip(v);
    match op {
        CmpOp::Eq => it.for_each(|(o, &a)| *o = a == x),
        CmpOp::Ne => it.for_each(|(o, &a)| *o = a != x),
        CmpOp::Lt => it.for_each(|(o, &a)| *o = a < x),
        CmpOp::Le => it.for_each(|(o, &a)| *o = a <= x),
        CmpOp::Gt => it.for_each(|(o, &a)| *o = a > x),
        CmpOp::Ge => it.for_each(|(o, &a)| *o = a >= x),
    }
}

/// Float comparisons: every operator is false when NaN is involved (as `partial_cmp` gives
/// None there), also `!=`.
// `a < x || a > x` is not `a != x`: it is false for NaN, as `partial_cmp` says.
#[allow(clippy::double_comparisons)]
fn cmp_f64(v: impl Iterator<Item = f64>, x: f64, op: CmpOp, out: &mut [bool]) {
    let it = out.iter_mut().zip(v);
    match op {
        CmpOp::Eq => it.for_each(|(o, a)| *o = a == x),
        CmpOp::Ne => it.for_each(|(o, a)| *o = a < x || a > x),
        CmpOp::Lt => it.for_each(|(o, a)| *o = a < x),
        CmpOp::Le => it.for_each(|(o, a)| *o = a <= x),
        CmpOp::Gt => it.for_each(|(o, a)| *o = a > x),
        CmpOp::Ge => it.for_each(|(o, a)| *o = a >= x),
    }
}

/// The row mask of a predicate built from AND, OR, comparisons and IN lists of non-null
/// literals on number columns without nulls; None for anything else (the caller falls back to
/// the three-valued evaluator). Without NOT, "unknown" (a NaN comparison) and "false" drop a
/// row alike, so two-valued masks are exact here. `loose`: a superset of the matching rows is
/// enough, so an AND keeps the mask of the side it can evaluate.
fn fast_mask<'a>(
    p: &Predicate,
    col: &dyn Fn(&str) -> Option<&'a ArrayRef>,
    rows: usize,
    loose: bool,
) -> Option<Vec<bool>> {
    Some(match p {
        Predicate::And(a, b) => {
            let (x, y) = (
                fast_mask(a, col, rows, loose),
                fast_mask(b, col, rows, loose),
            );
            match (x, y) {
                (Some(mut x), Some(y)) => {
                    x.iter_mut().zip(y).for_each(|(x, y)| *x &= y);
                    x
                }
                (Some(x), None) | (None, Some(x)) if loose => x,
                _ => return None,
            }
        }
        Predicate::Or(a, b) => {
            let mut x = fast_mask(a, col, rows, loose)?;
            let y = fast_mask(b, col, rows, loose)?;
            x.iter_mut().zip(y).for_each(|(x, y)| *x |= y);
            x
        }
        Predicate::Cmp { column, op, value } => {
            let c = nums(col(column)?)?;
            let mut out = vec![false; rows];
            compare_all(&c, *op, value, &mut out)?;
            out
        }
        Predicate::Const(c) => vec![*c == Some(true); rows],
        Predicate::In {
            column,
            values,
            negated: false,
        } if !values.is_empty() => {
            let c = nums(col(column)?)?;
            let mut out = vec![false; rows];
            let mut hit = vec![false; rows];
            for v in values {
                compare_all(&c, CmpOp::Eq, v, &mut hit)?;
                out.iter_mut().zip(&hit).for_each(|(o, h)| *o |= h);
            }
            out
        }
        _ => return None,
    })
}
