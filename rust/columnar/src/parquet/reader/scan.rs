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
        // 1. The filter's columns, decoded whole.
        let mut names = Vec::new();
        pred.columns(&mut names);
        let mut filter_cols: Vec<(usize, ArrayRef)> = Vec::with_capacity(names.len());
        for n in &names {
            let c = self
                .columns
                .iter()
                .position(|t| &t.name == n)
                .ok_or_else(|| Error::schema(format!("filter column {n:?} is not in the file")))?;
            filter_cols.push((c, self.read_column_as(rg, c, dec)?));
        }
        // 2. The row mask.
        let lookup = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .map(|i| &filter_cols[i].1)
        };
        let mask = match fast_mask(pred, &lookup, rows, !opts.exact) {
            Some(m) => m,
            // A superset is allowed: the slow evaluator is not worth running.
            None if !opts.exact => vec![true; rows],
            None => {
                let fields: Vec<Field> = filter_cols
                    .iter()
                    .map(|(c, _)| self.output_field(*c, dec))
                    .collect();
                let fb = RecordBatch::try_new_with_options(
                    Arc::new(Schema::new(fields)),
                    filter_cols.iter().map(|(_, a)| a.clone()).collect(),
                    &RecordBatchOptions::new().with_row_count(Some(rows)),
                )
                .map_err(Error::from)?;
                filter::evaluate(&fb, pred)?
                    .into_iter()
                    .map(|m| m == Some(true))
                    .collect()
            }
        };
        let kept: Vec<u32> = mask
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| i as u32)
            .collect();
        let whole = kept.len() == rows
            || (!opts.exact && kept.len() as f64 > opts.max_keep_fraction * rows as f64);
        // 3. The other columns: whole, or only the kept rows.
        let mut arrays = Vec::with_capacity(projection.len());
        for &c in projection {
            let known = filter_cols.iter().find(|(f, _)| *f == c).map(|(_, a)| a);
            let a = match (known, whole) {
                (Some(a), true) => a.clone(),
                (Some(a), false) => take(a, &kept)?,
                (None, true) => self.read_column_as(rg, c, dec)?,
                (None, false) if self.keepable(c) => self
                    .read_column_inner(rg, c, None, dec, Some(&kept))
                    .map(|(a, _, _)| a)?,
                (None, false) => take(&self.read_column_as(rg, c, dec)?, &kept)?,
            };
            arrays.push(a);
        }
        let n = if whole { rows } else { kept.len() };
        Ok(ScannedGroup {
            batch: batch(arrays, n)?,
            rows_read: rows,
        })
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

/// `op` applied to every value against `lit`, with `filter.rs`'s comparison rules (integers
/// exactly, an integer against a float as f64, NaN compares false). One tight loop per
/// operator: the operator and literal are resolved before the loop.
fn compare_all(col: &Nums<'_>, op: CmpOp, lit: &Literal, out: &mut [bool]) -> Option<()> {
    match (col, lit) {
        (Nums::I32(v), Literal::Int(x)) => match i32::try_from(*x) {
            Ok(x) => cmp_slice(v, x, op, out),
            Err(_) => out.fill(outside(op, *x > 0)),
        },
        (Nums::I64(v), Literal::Int(x)) => match i64::try_from(*x) {
            Ok(x) => cmp_slice(v, x, op, out),
            Err(_) => out.fill(outside(op, *x > 0)),
        },
        (Nums::I32(v), Literal::Float(x)) => cmp_f64(v.iter().map(|&a| f64::from(a)), *x, op, out),
        (Nums::I64(v), Literal::Float(x)) => cmp_f64(v.iter().map(|&a| a as f64), *x, op, out),
        (Nums::F64(v), Literal::Float(x)) => cmp_f64(v.iter().copied(), *x, op, out),
        (Nums::F64(v), Literal::Int(x)) => cmp_f64(v.iter().copied(), *x as f64, op, out),
        _ => return None,
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
