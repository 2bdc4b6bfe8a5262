//! Selection kernels written for the engine's normalized layouts: `take` (gather rows by index,
//! optionally producing nulls), `filter` (keep rows where a boolean mask is true) and `concat`.
//! arrow's compute crates are off limits, so these few loops live here.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use crate::types::{Chunk, DType, null_array};

/// Marks a missing row in `take_opt` (the null side of an outer join).
pub const NO_ROW: u32 = u32::MAX;

fn take_prim<T: ArrowPrimitiveType>(a: &ArrayRef, idx: &[u32]) -> ArrayRef {
    let p = a.as_primitive::<T>();
    let values = p.values();
    if !idx.contains(&NO_ROW) {
        // Common case (filters, inner joins): a plain gather the compiler can unroll.
        let out: Vec<T::Native> = idx.iter().map(|&i| values[i as usize]).collect();
        let nulls = take_nulls(p.nulls(), idx, false);
        return Arc::new(
            PrimitiveArray::<T>::new(ScalarBuffer::from(out), nulls)
                .with_data_type(a.data_type().clone()),
        );
    }
    let mut out = Vec::with_capacity(idx.len());
    let mut any_missing = false;
    for &i in idx {
        if i == NO_ROW {
            any_missing = true;
            out.push(T::Native::default());
        } else {
            out.push(values[i as usize]);
        }
    }
    let nulls = take_nulls(p.nulls(), idx, any_missing);
    Arc::new(
        PrimitiveArray::<T>::new(ScalarBuffer::from(out), nulls)
            .with_data_type(a.data_type().clone()),
    )
}

fn take_nulls(nulls: Option<&NullBuffer>, idx: &[u32], any_missing: bool) -> Option<NullBuffer> {
    match nulls {
        None if !any_missing => None,
        None => Some(NullBuffer::new(BooleanBuffer::collect_bool(
            idx.len(),
            |k| idx[k] != NO_ROW,
        ))),
        Some(n) => Some(NullBuffer::new(BooleanBuffer::collect_bool(
            idx.len(),
            |k| {
                let i = idx[k];
                i != NO_ROW && n.is_valid(i as usize)
            },
        ))),
    }
}

/// Gather rows `idx` of `a`; `NO_ROW` entries become nulls. Indices come from the engine itself.
pub fn take(a: &ArrayRef, idx: &[u32]) -> Result<ArrayRef> {
    Ok(match a.data_type() {
        DataType::Int64 => take_prim::<Int64Type>(a, idx),
        DataType::Float64 => take_prim::<Float64Type>(a, idx),
        DataType::Date32 => take_prim::<Date32Type>(a, idx),
        DataType::Timestamp(_, _) => take_prim::<TimestampMicrosecondType>(a, idx),
        DataType::Decimal128(..) => take_prim::<Decimal128Type>(a, idx),
        DataType::Boolean => {
            let b = a.as_boolean();
            let vals = b.values();
            let any_missing = idx.contains(&NO_ROW);
            let values = BooleanBuffer::collect_bool(idx.len(), |k| {
                let i = idx[k];
                i != NO_ROW && vals.value(i as usize)
            });
            Arc::new(BooleanArray::new(
                values,
                take_nulls(b.nulls(), idx, any_missing),
            ))
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            let offsets = s.value_offsets();
            let data = s.value_data();
            let mut total = 0usize;
            let mut any_missing = false;
            for &i in idx {
                if i == NO_ROW {
                    any_missing = true;
                } else {
                    let i = i as usize;
                    total += (offsets[i + 1] - offsets[i]) as usize;
                }
            }
            if total > i32::MAX as usize {
                return Err(Error::Unsupported(
                    "string column over 2 GiB in one morsel".into(),
                ));
            }
            let mut bytes = Vec::with_capacity(total);
            let mut offs = Vec::with_capacity(idx.len() + 1);
            offs.push(0i32);
            for &i in idx {
                if i != NO_ROW {
                    let i = i as usize;
                    bytes.extend_from_slice(&data[offsets[i] as usize..offsets[i + 1] as usize]);
                }
                offs.push(bytes.len() as i32);
            }
            let nulls = take_nulls(s.nulls(), idx, any_missing);
            // SAFETY-free constructor: offsets are monotonic and bytes are concatenated valid UTF-8.
            Arc::new(
                StringArray::try_new(OffsetBuffer::new(offs.into()), bytes.into(), nulls)
                    .map_err(|e| Error::Schema(e.to_string()))?,
            )
        }
        other => return Err(Error::Unsupported(format!("take over {other}"))),
    })
}

/// Row indices where `mask` is true (null counts as false).
pub fn mask_indices(mask: &BooleanArray) -> Vec<u32> {
    let mut out = Vec::with_capacity(mask.len() / 4);
    let values = mask.values();
    match mask.nulls() {
        None => out.extend(values.set_indices().map(|i| i as u32)),
        Some(n) => {
            let both = values & n.inner();
            out.extend(both.set_indices().map(|i| i as u32));
        }
    }
    out
}

/// Keep the rows of `chunk` where `mask` is true.
pub fn filter_chunk(chunk: &Chunk, mask: &BooleanArray) -> Result<Chunk> {
    let idx = mask_indices(mask);
    if idx.len() == chunk.len {
        return Ok(chunk.clone());
    }
    take_chunk(chunk, &idx)
}

pub fn take_chunk(chunk: &Chunk, idx: &[u32]) -> Result<Chunk> {
    let cols = chunk
        .cols
        .iter()
        .map(|c| take(c, idx))
        .collect::<Result<Vec<_>>>()?;
    Ok(Chunk::new(cols, idx.len()))
}

/// Concatenate columns of the same type into one.
pub fn concat(arrays: &[&ArrayRef]) -> Result<ArrayRef> {
    if arrays.len() == 1 {
        return Ok(arrays[0].clone());
    }
    // Gather through `take` on each part with identity indices, then stitch: simple and reuses
    // the one gather kernel per layout.
    let first = arrays
        .first()
        .ok_or_else(|| Error::InvalidArgument("concat of zero arrays".into()))?;
    let dt = first.data_type().clone();
    match dt {
        DataType::Int64 => Ok(concat_prim::<Int64Type>(arrays)),
        DataType::Float64 => Ok(concat_prim::<Float64Type>(arrays)),
        DataType::Date32 => Ok(concat_prim::<Date32Type>(arrays)),
        DataType::Timestamp(_, _) => Ok(concat_prim::<TimestampMicrosecondType>(arrays)),
        DataType::Decimal128(..) => Ok(concat_prim::<Decimal128Type>(arrays)),
        DataType::Boolean => {
            let v: BooleanArray = arrays.iter().flat_map(|a| a.as_boolean().iter()).collect();
            Ok(Arc::new(v))
        }
        DataType::Utf8 => {
            let total: usize = arrays
                .iter()
                .map(|a| a.as_string::<i32>().value_data().len())
                .sum();
            if total > i32::MAX as usize {
                return Err(Error::Unsupported("string column over 2 GiB".into()));
            }
            let v: StringArray = arrays
                .iter()
                .flat_map(|a| a.as_string::<i32>().iter())
                .collect();
            Ok(Arc::new(v))
        }
        other => Err(Error::Unsupported(format!("concat of {other}"))),
    }
}

fn concat_prim<T: ArrowPrimitiveType>(arrays: &[&ArrayRef]) -> ArrayRef {
    let len: usize = arrays.iter().map(|a| a.len()).sum();
    let mut vals = Vec::with_capacity(len);
    let any_null = arrays.iter().any(|a| a.null_count() > 0);
    for a in arrays {
        vals.extend_from_slice(a.as_primitive::<T>().values());
    }
    let nulls = if any_null {
        let mut bits = Vec::with_capacity(len);
        for a in arrays {
            let p = a.as_primitive::<T>();
            for i in 0..p.len() {
                bits.push(p.is_valid(i));
            }
        }
        Some(NullBuffer::from(bits))
    } else {
        None
    };
    Arc::new(
        PrimitiveArray::<T>::new(ScalarBuffer::from(vals), nulls)
            .with_data_type(arrays[0].data_type().clone()),
    )
}

/// All chunks glued into one; `types` gives the columns (and their types when there are no chunks).
pub fn concat_chunks(chunks: &[Chunk], types: &[DType]) -> Result<Chunk> {
    let len = chunks.iter().map(|c| c.len).sum();
    if chunks.len() == 1 {
        return Ok(chunks[0].clone());
    }
    if chunks.is_empty() {
        return Ok(Chunk::new(
            types.iter().map(|t| null_array(*t, 0)).collect(),
            0,
        ));
    }
    let mut cols = Vec::with_capacity(types.len());
    for i in 0..types.len() {
        let parts = chunks
            .iter()
            .map(|c| c.col(i))
            .collect::<Result<Vec<_>>>()?;
        cols.push(concat(&parts)?);
    }
    Ok(Chunk::new(cols, len))
}

/// Build a column by picking, for each output row, `(source array, row)` out of `arrays` (all of
/// one type). The kernel behind CASE and COALESCE. `picks` with `which == NO_ROW` give NULL.
pub fn interleave(arrays: &[ArrayRef], ty: DType, picks: &[(u32, u32)]) -> Result<ArrayRef> {
    fn prim<T: ArrowPrimitiveType>(
        arrays: &[ArrayRef],
        picks: &[(u32, u32)],
        dt: &DataType,
    ) -> ArrayRef {
        let srcs: Vec<&PrimitiveArray<T>> = arrays.iter().map(|a| a.as_primitive::<T>()).collect();
        let mut vals = Vec::with_capacity(picks.len());
        let mut valid = Vec::with_capacity(picks.len());
        for &(w, r) in picks {
            if w == NO_ROW {
                vals.push(T::Native::default());
                valid.push(false);
            } else {
                let s = srcs[w as usize];
                vals.push(s.values()[r as usize]);
                valid.push(s.is_valid(r as usize));
            }
        }
        Arc::new(
            PrimitiveArray::<T>::new(ScalarBuffer::from(vals), Some(NullBuffer::from(valid)))
                .with_data_type(dt.clone()),
        )
    }
    let dt = ty.physical();
    Ok(match ty {
        DType::Decimal(..) if ty.is_wide_decimal() => prim::<Decimal128Type>(arrays, picks, &dt),
        DType::Int64 | DType::Int32 | DType::Int16 | DType::Int8 | DType::Decimal(..) => {
            prim::<Int64Type>(arrays, picks, &dt)
        }
        DType::Float64 | DType::Float32 => prim::<Float64Type>(arrays, picks, &dt),
        DType::Date32 => prim::<Date32Type>(arrays, picks, &dt),
        DType::Timestamp | DType::TimestampTz => {
            prim::<TimestampMicrosecondType>(arrays, picks, &dt)
        }
        DType::Bool => {
            let srcs: Vec<&BooleanArray> = arrays.iter().map(|a| a.as_boolean()).collect();
            let v: BooleanArray = picks
                .iter()
                .map(|&(w, r)| {
                    if w == NO_ROW {
                        None
                    } else {
                        let s = srcs[w as usize];
                        if s.is_valid(r as usize) {
                            Some(s.value(r as usize))
                        } else {
                            None
                        }
                    }
                })
                .collect();
            Arc::new(v)
        }
        DType::Utf8 => {
            let srcs: Vec<&StringArray> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
            let v: StringArray = picks
                .iter()
                .map(|&(w, r)| {
                    if w == NO_ROW {
                        None
                    } else {
                        let s = srcs[w as usize];
                        if s.is_valid(r as usize) {
                            Some(s.value(r as usize))
                        } else {
                            None
                        }
                    }
                })
                .collect();
            Arc::new(v)
        }
    })
}
