//! ORDER BY: glue the morsels, evaluate the sort keys, sort row indices with a comparator over
//! the key columns (stable, NULLS FIRST/LAST per key), gather.

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use crate::expr::eval;
use crate::kernels::{concat_chunks, take_chunk};
use crate::plan::SortKey;
use crate::types::{Chunk, DType, MORSEL_ROWS};

/// Row comparator over evaluated key columns.
pub type RowCmp<'a> = Box<dyn Fn(usize, usize) -> Ordering + Sync + 'a>;

fn col_cmp<'a>(a: &'a ArrayRef) -> Result<RowCmp<'a>> {
    Ok(match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>().values();
            Box::new(move |i, j| v[i].cmp(&v[j]))
        }
        DataType::Timestamp(_, _) => {
            let v = a.as_primitive::<TimestampMicrosecondType>().values();
            Box::new(move |i, j| v[i].cmp(&v[j]))
        }
        DataType::Date32 => {
            let v = a.as_primitive::<Date32Type>().values();
            Box::new(move |i, j| v[i].cmp(&v[j]))
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>().values();
            Box::new(move |i, j| crate::types::cmp_f64(v[i], v[j]))
        }
        DataType::Decimal128(..) => {
            let v = a
                .as_primitive::<arrow_array::types::Decimal128Type>()
                .values();
            Box::new(move |i, j| v[i].cmp(&v[j]))
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Box::new(move |i, j| s.value(i).cmp(s.value(j)))
        }
        DataType::Boolean => {
            let b = a.as_boolean();
            Box::new(move |i, j| b.value(i).cmp(&b.value(j)))
        }
        other => return Err(Error::Unsupported(format!("sorting by {other}"))),
    })
}

/// A comparator for the whole key list (NULL placement and direction applied).
pub fn compare_rows<'a>(cols: &'a [ArrayRef], keys: &'a [SortKey]) -> Result<RowCmp<'a>> {
    let cmps = cols.iter().map(col_cmp).collect::<Result<Vec<_>>>()?;
    Ok(Box::new(move |i, j| {
        for ((c, k), a) in cmps.iter().zip(keys).zip(cols) {
            let (ni, nj) = (a.is_null(i), a.is_null(j));
            let o = match (ni, nj) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if k.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if k.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (false, false) => {
                    let o = c(i, j);
                    if k.desc { o.reverse() } else { o }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }))
}

/// Gather `idx` from `all` and cut the result back into morsels.
pub fn gather_morsels(all: &Chunk, idx: &[u32]) -> Result<Vec<Chunk>> {
    idx.chunks(MORSEL_ROWS)
        .map(|part| take_chunk(all, part))
        .collect()
}

pub fn sort(input: Vec<Chunk>, keys: &[SortKey], types: &[DType]) -> Result<Vec<Chunk>> {
    let all = concat_chunks(&input, types)?;
    drop(input);
    let cols = keys
        .iter()
        .map(|k| eval(&k.expr, &all))
        .collect::<Result<Vec<_>>>()?;
    let cmp = compare_rows(&cols, keys)?;
    let mut idx: Vec<u32> = (0..all.len as u32).collect();
    idx.sort_by(|a, b| cmp(*a as usize, *b as usize));
    gather_morsels(&all, &idx)
}
