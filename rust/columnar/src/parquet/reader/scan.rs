//! Filtered scans with late materialization (`ParquetFile::scan_row_groups`).
//!
//! Per row group: decode the filter's columns first, evaluate the predicate into a row mask
//! (typed loops for the common `column <op> number` shapes, the generic three-valued evaluator
//! of `filter.rs` otherwise), then decode the other projected columns for the surviving rows
//! only: flat required fixed-width and byte-array columns gather just those rows from their
//! dictionary pages (`ChunkDecoder::keep`), everything else is decoded whole and cut. A row
//! group where most rows survive is returned unfiltered when the caller allows it (`exact:
//! false`, the SQL engine, which evaluates its predicate again): cutting every column then
//! costs more than it saves.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use std::sync::Arc;

use super::mask::fast_mask;
use super::{Decimals, ParquetFile};
use crate::parquet::filter::{self, Predicate};
use crate::parquet::metadata::ptype;
use minide_common::{Error, Result};

/// How `scan_row_groups` decodes and filters.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// How INT32/INT64-backed decimals come out (see `ParquetFile::output_field`); the filter
    /// compares the values as decoded.
    pub decimals: Decimals,
    /// Keep exactly the matching rows. When false, a row group where more than
    /// `max_keep_fraction` of the rows match is returned whole (its rows are a superset).
    pub exact: bool,
    pub max_keep_fraction: f64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            decimals: Decimals::Decimal128,
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
        let dec = opts.decimals;
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
        // 1. Pre-filter, one column at a time: the conjuncts on a column give a superset of
        //    the matching rows (the "universe"); the masks of successive columns are ANDed
        //    until the universe is sparse, and the other filter columns are then decoded for
        //    those rows only (TPC-H Q6: l_shipdate keeps ~15%). Fixed-width columns (cheap to
        //    decode and compare) go first: strings are then compared for fewer rows.
        let mut conj = Vec::new();
        conjuncts(pred, &mut conj);
        let mut order: Vec<String> = Vec::new();
        for n in conj.iter().filter_map(|c| single_column(c)) {
            if !order.contains(&n) {
                order.push(n);
            }
        }
        order.sort_by_key(|n| !index_of(n).is_ok_and(|c| self.fixed_width(c)));
        // Every conjunct is on one column and evaluated by the typed loops: the pre-filter's
        // mask is then the whole predicate's (no second evaluation).
        let mut complete = conj.iter().all(|c| single_column(c).is_some());
        let mut pre: Vec<(usize, ArrayRef)> = Vec::new();
        let mut acc: Option<Vec<bool>> = None;
        let mut universe: Option<Vec<u32>> = None;
        for name in &order {
            let c0 = index_of(name)?;
            let a0 = self.read_filter_column(rg, c0, dec)?;
            // A dictionary-keyed string column is compared once per distinct value.
            let keyed = a0.as_dictionary_opt::<UInt32Type>();
            let (target, n_target) = match keyed {
                Some(d) => (d.values(), d.values().len()),
                None => (&a0, rows),
            };
            let only = |n: &str| (n == name.as_str()).then_some(target);
            for c in conj
                .iter()
                .filter(|c| single_column(c).as_ref() == Some(name))
            {
                let m = fast_mask(c, &only, n_target, false).map(|m| match keyed {
                    Some(d) => d.keys().values().iter().map(|&k| m[k as usize]).collect(),
                    None => m,
                });
                // A conjunct the typed loops cannot evaluate only widens the universe.
                match m {
                    Some(m) => match &mut acc {
                        Some(a) => a.iter_mut().zip(m).for_each(|(a, b)| *a &= b),
                        None => acc = Some(m),
                    },
                    None => complete = false,
                }
            }
            pre.push((c0, a0));
            if let Some(m) = &acc
                && sparse(m.iter().filter(|&&b| b).count())
            {
                let sel = positions(m);
                for (_, a) in pre.iter_mut() {
                    *a = take(a, &sel)?;
                }
                universe = Some(sel);
                break;
            }
        }
        // Filter columns still as keys (no sparse universe cut them): their strings, every row.
        for (_, a) in pre.iter_mut() {
            if let Some(d) = a.as_dictionary_opt::<UInt32Type>() {
                *a = take(d.values(), d.keys().values())?;
            }
        }
        let final_mask = match (&universe, acc) {
            (None, Some(m)) if complete && pre.len() == order.len() => Some(m),
            _ => None,
        };
        let n_u = universe.as_ref().map_or(rows, Vec::len);
        // 2. The filter's columns, for the universe's rows.
        let mut filter_cols: Vec<(usize, ArrayRef)> = Vec::with_capacity(names.len());
        for n in &names {
            let c = index_of(n)?;
            let a = match (pre.iter().find(|(p, _)| *p == c), &universe) {
                (Some((_, a)), _) => a.clone(),
                (None, None) => self.read_column_as(rg, c, dec)?,
                (None, Some(u)) => self.read_rows(rg, c, dec, u)?,
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
    fn read_rows(&self, rg: usize, col: usize, dec: Decimals, rows: &[u32]) -> Result<ArrayRef> {
        if rows.is_empty() {
            return Ok(arrow_array::new_empty_array(
                self.output_field(col, dec).data_type(),
            ));
        }
        if self.keepable(col) {
            return self
                .read_column_inner(rg, col, None, dec, super::Rows::Keep(rows))
                .map(|(a, _, _)| a);
        }
        take(&self.read_column_as(rg, col, dec)?, rows)
    }

    /// A filter column: a flat required string column as dictionary keys (a
    /// `DictionaryArray<UInt32>`) when its pages are dictionary-encoded, else its values.
    fn read_filter_column(&self, rg: usize, col: usize, dec: Decimals) -> Result<ArrayRef> {
        let utf8 = *self.output_field(col, dec).data_type() == DataType::Utf8;
        if !(utf8 && self.keepable(col) && !self.fixed_width(col)) {
            return self.read_column_as(rg, col, dec);
        }
        self.read_column_inner(rg, col, None, dec, super::Rows::Keys)
            .map(|(a, _, _)| a)
    }

    /// Flat, required, fixed-width or byte-array: the columns `ChunkDecoder::keep` can gather
    /// rows of.
    fn keepable(&self, col: usize) -> bool {
        self.columns[col].max_def == 0
            && (self.fixed_width(col)
                || self.columns[col]
                    .element
                    .as_ref()
                    .is_some_and(|el| el.type_ == Some(ptype::BYTE_ARRAY)))
    }

    /// A flat column of a fixed-width physical type (numbers, dates, timestamps).
    fn fixed_width(&self, col: usize) -> bool {
        self.columns[col].element.as_ref().is_some_and(|el| {
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
    if let Some(d) = a.as_dictionary_opt::<UInt32Type>() {
        let keys = d.keys().values();
        let picked: Vec<u32> = rows.iter().map(|&r| keys[r as usize]).collect();
        return take(d.values(), &picked);
    }
    if a.null_count() == 0 {
        match a.data_type() {
            DataType::Utf8 => return gather_strings(a.as_string::<i32>(), rows),
            DataType::Int32 => return Ok(prim::<Int32Type>(a, rows)),
            DataType::Date32 => return Ok(prim::<Date32Type>(a, rows)),
            DataType::Int64 => return Ok(prim::<Int64Type>(a, rows)),
            DataType::Decimal64(..) => return Ok(prim::<Decimal64Type>(a, rows)),
            DataType::Decimal128(..) => return Ok(prim::<Decimal128Type>(a, rows)),
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

/// Strings `rows` (any order, repeats allowed) of `s`, which has no nulls. Short strings (at
/// most [`WINDOW`] bytes) are copied as fixed windows out of a padded copy of the data, a
/// register move per value instead of a `memcpy` call.
fn gather_strings(s: &arrow_array::StringArray, rows: &[u32]) -> Result<ArrayRef> {
    const WINDOW: usize = 16;
    let (offs, data) = (s.value_offsets(), s.value_data());
    let len = |r: u32| (offs[r as usize + 1] - offs[r as usize]) as usize;
    let total: usize = rows.iter().map(|&r| len(r)).sum();
    if i32::try_from(total).is_err() {
        return Err(Error::invalid("string column over 2 GiB"));
    }
    let longest = offs.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) as usize;
    let mut out_offs = Vec::with_capacity(rows.len() + 1);
    out_offs.push(0i32);
    let mut out;
    if longest <= WINDOW && rows.len() >= s.len() {
        let mut padded = Vec::with_capacity(data.len() + WINDOW);
        padded.extend_from_slice(data);
        padded.resize(data.len() + WINDOW, 0);
        out = vec![0u8; total + WINDOW];
        let mut pos = 0usize;
        for &r in rows {
            let lo = offs[r as usize] as usize;
            out[pos..pos + WINDOW].copy_from_slice(&padded[lo..lo + WINDOW]);
            pos += len(r);
            out_offs.push(pos as i32);
        }
        out.truncate(pos);
    } else {
        out = Vec::with_capacity(total);
        for &r in rows {
            let (lo, hi) = (offs[r as usize] as usize, offs[r as usize + 1] as usize);
            out.extend_from_slice(&data[lo..hi]);
            out_offs.push(out.len() as i32);
        }
    }
    let arr = arrow_array::StringArray::try_new(
        arrow_buffer::OffsetBuffer::new(ScalarBuffer::from(out_offs)),
        out.into(),
        None,
    )
    .map_err(Error::from)?;
    Ok(Arc::new(arr))
}
