//! Row keys for hashing: GROUP BY keys and join keys.
//!
//! A single integer-like key (INT, DATE) is hashed as an `i64` directly — the common case in
//! TPC-H. Anything else is encoded per row into bytes: per column a tag (0 = NULL, 1 = value) and
//! the value (8 bytes for numbers, u32 length + UTF-8 for strings). Encoded keys decode back to
//! columns, so GROUP BY outputs need no copy of the input rows.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use crate::types::DType;

/// Keys of one batch of rows.
pub enum Keys {
    /// One integer-like key column: values and validity.
    Int(Vec<i64>, Vec<bool>),
    /// Two integer-like key columns packed into one i128 (composite join keys such as
    /// (partkey, suppkey)).
    Pair(Vec<i128>, Vec<bool>),
    /// Encoded rows: `data[offsets[i]..offsets[i+1]]`; `has_null[i]` if any key column is NULL.
    Bytes {
        data: Vec<u8>,
        offsets: Vec<usize>,
        has_null: Vec<bool>,
    },
}

impl Keys {
    pub fn len(&self) -> usize {
        match self {
            Keys::Int(v, _) => v.len(),
            Keys::Pair(v, _) => v.len(),
            Keys::Bytes { has_null, .. } => has_null.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_null(&self, i: usize) -> bool {
        match self {
            Keys::Int(_, valid) | Keys::Pair(_, valid) => !valid[i],
            Keys::Bytes { has_null, .. } => has_null[i],
        }
    }

    pub fn bytes(&self, i: usize) -> &[u8] {
        match self {
            Keys::Bytes { data, offsets, .. } => &data[offsets[i]..offsets[i + 1]],
            Keys::Int(..) | Keys::Pair(..) => &[],
        }
    }
}

/// Whether keys of these types hash as a single i64.
pub fn int_mode(types: &[DType]) -> bool {
    match types {
        [DType::Int64 | DType::Date32 | DType::Timestamp] => true,
        [t @ DType::Decimal(..)] => !t.is_wide_decimal(),
        _ => false,
    }
}

pub(crate) fn ints_of(a: &ArrayRef) -> Result<Vec<i64>> {
    Ok(match a.data_type() {
        DataType::Int64 => a.as_primitive::<Int64Type>().values().to_vec(),
        DataType::Date32 => a
            .as_primitive::<Date32Type>()
            .values()
            .iter()
            .map(|d| i64::from(*d))
            .collect(),
        DataType::Timestamp(_, _) => a
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec(),
        other => {
            return Err(Error::InvalidArgument(format!(
                "integer key of type {other}"
            )));
        }
    })
}

fn int_like(a: &ArrayRef) -> bool {
    matches!(
        a.data_type(),
        DataType::Int64 | DataType::Date32 | DataType::Timestamp(_, _)
    )
}

/// Encode the key columns of `n` rows. `force_bytes` disables the integer fast paths (one
/// integer key -> `Int`, two -> `Pair`).
pub fn encode(cols: &[ArrayRef], n: usize, force_bytes: bool) -> Result<Keys> {
    if !force_bytes && cols.len() == 2 && cols.iter().all(int_like) {
        let a = ints_of(&cols[0])?;
        let b = ints_of(&cols[1])?;
        let vals = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (i128::from(*x) << 64) | i128::from(*y as u64))
            .collect();
        let valid = (0..n)
            .map(|i| cols[0].is_valid(i) && cols[1].is_valid(i))
            .collect();
        return Ok(Keys::Pair(vals, valid));
    }
    if !force_bytes && cols.len() == 1 {
        let a = &cols[0];
        if matches!(
            a.data_type(),
            DataType::Int64 | DataType::Date32 | DataType::Timestamp(_, _)
        ) {
            let vals = ints_of(a)?;
            let valid = (0..n).map(|i| a.is_valid(i)).collect();
            return Ok(Keys::Int(vals, valid));
        }
    }
    let mut data = Vec::with_capacity(n * (cols.len() * 9));
    let mut offsets = Vec::with_capacity(n + 1);
    let mut has_null = vec![false; n];
    offsets.push(0);
    enum Acc<'a> {
        I(&'a [i64]),
        D(&'a [i32]),
        F(&'a [f64]),
        W(&'a [i128]),
        S(&'a StringArray),
        B(&'a BooleanArray),
    }
    let accs = cols
        .iter()
        .map(|a| {
            Ok(match a.data_type() {
                DataType::Int64 => Acc::I(a.as_primitive::<Int64Type>().values()),
                DataType::Timestamp(_, _) => {
                    Acc::I(a.as_primitive::<TimestampMicrosecondType>().values())
                }
                DataType::Date32 => Acc::D(a.as_primitive::<Date32Type>().values()),
                DataType::Float64 => Acc::F(a.as_primitive::<Float64Type>().values()),
                DataType::Decimal128(..) => Acc::W(
                    a.as_primitive::<arrow_array::types::Decimal128Type>()
                        .values(),
                ),
                DataType::Utf8 => Acc::S(a.as_string::<i32>()),
                DataType::Boolean => Acc::B(a.as_boolean()),
                other => return Err(Error::InvalidArgument(format!("key of type {other}"))),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Null masks looked up once, not through a dynamic call per row.
    let nulls: Vec<Option<arrow_buffer::NullBuffer>> =
        cols.iter().map(|c| c.logical_nulls()).collect();
    for (i, hn) in has_null.iter_mut().enumerate() {
        for (nb, acc) in nulls.iter().zip(&accs) {
            if nb.as_ref().is_some_and(|n| n.is_null(i)) {
                data.push(0);
                *hn = true;
                continue;
            }
            data.push(1);
            match acc {
                Acc::I(v) => data.extend_from_slice(&v[i].to_le_bytes()),
                Acc::D(v) => data.extend_from_slice(&i64::from(v[i]).to_le_bytes()),
                Acc::W(v) => data.extend_from_slice(&v[i].to_le_bytes()),
                Acc::F(v) => {
                    let x = v[i];
                    // -0.0 groups with 0.0, and every NaN with every other NaN.
                    let x = if x == 0.0 {
                        0.0
                    } else if x.is_nan() {
                        f64::NAN
                    } else {
                        x
                    };
                    data.extend_from_slice(&x.to_bits().to_le_bytes());
                }
                Acc::S(s) => {
                    let b = s.value(i).as_bytes();
                    data.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    data.extend_from_slice(b);
                }
                Acc::B(b) => data.push(u8::from(b.value(i))),
            }
        }
        offsets.push(data.len());
    }
    Ok(Keys::Bytes {
        data,
        offsets,
        has_null,
    })
}

fn corrupt_key() -> Error {
    Error::InvalidArgument("malformed group key".into())
}

/// Decode encoded keys (as produced by [`encode`] in byte mode) back into columns.
pub fn decode(keys: &[&[u8]], types: &[DType]) -> Result<Vec<ArrayRef>> {
    let mut pos = vec![0usize; keys.len()];
    let mut out = Vec::with_capacity(types.len());
    for ty in types {
        let mut valid = Vec::with_capacity(keys.len());
        let mut nums: Vec<i64> = Vec::new();
        let mut wide: Vec<i128> = Vec::new();
        let mut strs: Vec<Option<String>> = Vec::new();
        let mut bools: Vec<Option<bool>> = Vec::new();
        for (k, p) in keys.iter().zip(pos.iter_mut()) {
            let tag = *k.get(*p).ok_or_else(corrupt_key)?;
            *p += 1;
            valid.push(tag == 1);
            match ty {
                DType::Utf8 => {
                    if tag == 1 {
                        let len_bytes: [u8; 4] = k
                            .get(*p..*p + 4)
                            .ok_or_else(corrupt_key)?
                            .try_into()
                            .map_err(|_| corrupt_key())?;
                        let len = u32::from_le_bytes(len_bytes) as usize;
                        *p += 4;
                        let s = k.get(*p..*p + len).ok_or_else(corrupt_key)?;
                        *p += len;
                        strs.push(Some(String::from_utf8_lossy(s).into_owned()));
                    } else {
                        strs.push(None);
                    }
                }
                DType::Decimal(..) if ty.is_wide_decimal() => {
                    if tag == 1 {
                        let b: [u8; 16] = k
                            .get(*p..*p + 16)
                            .ok_or_else(corrupt_key)?
                            .try_into()
                            .map_err(|_| corrupt_key())?;
                        wide.push(i128::from_le_bytes(b));
                        *p += 16;
                    } else {
                        wide.push(0);
                    }
                }
                DType::Bool => {
                    if tag == 1 {
                        bools.push(Some(*k.get(*p).ok_or_else(corrupt_key)? == 1));
                        *p += 1;
                    } else {
                        bools.push(None);
                    }
                }
                _ => {
                    if tag == 1 {
                        let b: [u8; 8] = k
                            .get(*p..*p + 8)
                            .ok_or_else(corrupt_key)?
                            .try_into()
                            .map_err(|_| corrupt_key())?;
                        nums.push(i64::from_le_bytes(b));
                        *p += 8;
                    } else {
                        nums.push(0);
                    }
                }
            }
        }
        let nulls = Some(arrow_buffer::NullBuffer::from(valid));
        let arr: ArrayRef = match ty {
            DType::Utf8 => Arc::new(StringArray::from(strs)),
            DType::Bool => Arc::new(BooleanArray::from(bools)),
            DType::Decimal(..) if ty.is_wide_decimal() => {
                Arc::new(arrow_array::PrimitiveArray::<
                    arrow_array::types::Decimal128Type,
                >::new(wide.into(), nulls))
            }
            DType::Int64 | DType::Decimal(..) => Arc::new(Int64Array::new(nums.into(), nulls)),
            DType::Timestamp => Arc::new(TimestampMicrosecondArray::new(nums.into(), nulls)),
            DType::Date32 => Arc::new(Date32Array::new(
                nums.iter().map(|x| *x as i32).collect(),
                nulls,
            )),
            DType::Float64 => Arc::new(Float64Array::new(
                nums.iter().map(|x| f64::from_bits(*x as u64)).collect(),
                nulls,
            )),
        };
        out.push(arr);
    }
    Ok(out)
}

/// Build a column from integer keys (the integer fast path's decode).
pub fn decode_ints(vals: &[Option<i64>], ty: DType) -> ArrayRef {
    match ty {
        DType::Date32 => Arc::new(
            vals.iter()
                .map(|v| v.map(|x| x as i32))
                .collect::<Date32Array>(),
        ),
        DType::Timestamp => Arc::new(vals.iter().copied().collect::<TimestampMicrosecondArray>()),
        _ => Arc::new(vals.iter().copied().collect::<Int64Array>()),
    }
}
