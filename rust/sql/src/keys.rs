//! Row keys for hashing: GROUP BY keys and join keys.
//!
//! A single integer-like key (INT, DATE) is hashed as an `i64` directly — the common case in
//! TPC-H. Anything else is encoded per row by the shared row-key encoder
//! (`minide_common::rowkey`): per column a tag (0 = NULL, 1 = value) and the value (8 bytes for
//! numbers, u32 length + UTF-8 for strings). Encoded keys decode back to columns ([`decode`]
//! reads that format), so GROUP BY outputs need no copy of the input rows.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::DataType;
use minide_common::rowkey::{self, RowEncoder};
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
        [DType::Int64 | DType::Int32 | DType::Int16 | DType::Int8] => true,
        [DType::Date32 | DType::Timestamp | DType::TimestampTz] => true,
        [t @ DType::Decimal(..)] => !t.is_wide_decimal(),
        _ => false,
    }
}

pub(crate) fn ints_of(a: &ArrayRef) -> Result<Vec<i64>> {
    if !int_like(a) {
        return Err(Error::InvalidArgument(format!(
            "integer key of type {}",
            a.data_type()
        )));
    }
    Ok(rowkey::int_values(a.as_ref())?
        .iter()
        .map(|&v| v as i64)
        .collect())
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
    if !force_bytes && cols.len() == 1 && int_like(&cols[0]) {
        let a = &cols[0];
        let vals = ints_of(a)?;
        let valid = (0..n).map(|i| a.is_valid(i)).collect();
        return Ok(Keys::Int(vals, valid));
    }
    let e = RowEncoder::new(cols, n)?.encode_all();
    Ok(Keys::Bytes {
        data: e.data,
        offsets: e.offsets,
        has_null: e.has_null,
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
            DType::Int64 | DType::Int32 | DType::Int16 | DType::Int8 | DType::Decimal(..) => {
                Arc::new(Int64Array::new(nums.into(), nulls))
            }
            DType::Timestamp | DType::TimestampTz => {
                Arc::new(TimestampMicrosecondArray::new(nums.into(), nulls))
            }
            DType::Date32 => Arc::new(Date32Array::new(
                nums.iter().map(|x| *x as i32).collect(),
                nulls,
            )),
            DType::Float64 | DType::Float32 => Arc::new(Float64Array::new(
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
        DType::Timestamp | DType::TimestampTz => {
            Arc::new(vals.iter().copied().collect::<TimestampMicrosecondArray>())
        }
        _ => Arc::new(vals.iter().copied().collect::<Int64Array>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use proptest::prelude::*;

    fn col(kind: u8, vals: &[Option<i8>]) -> ArrayRef {
        match kind {
            0 => Arc::new(
                vals.iter()
                    .map(|v| v.map(i64::from))
                    .collect::<Int64Array>(),
            ),
            1 => Arc::new(
                vals.iter()
                    .map(|v| v.map(i32::from))
                    .collect::<Date32Array>(),
            ),
            2 => Arc::new(
                vals.iter()
                    .map(|v| v.map(i64::from))
                    .collect::<TimestampMicrosecondArray>(),
            ),
            3 => Arc::new(
                vals.iter()
                    .map(|v| {
                        v.map(|x| match x % 4 {
                            0 => 0.0,
                            1 => -0.0,
                            2 => f64::NAN,
                            _ => f64::from(x) / 3.0,
                        })
                    })
                    .collect::<Float64Array>(),
            ),
            4 => Arc::new(
                vals.iter()
                    .map(|v| v.map(|x| "ab\0".repeat(x.unsigned_abs() as usize % 3)))
                    .collect::<StringArray>(),
            ),
            _ => Arc::new(
                vals.iter()
                    .map(|v| v.map(|x| x % 2 == 0))
                    .collect::<BooleanArray>(),
            ),
        }
    }

    fn rows(k: &Keys) -> Vec<(Vec<u8>, bool, Option<i128>)> {
        (0..k.len())
            .map(|i| {
                let num = match k {
                    Keys::Int(v, _) => Some(i128::from(v[i])),
                    Keys::Pair(v, _) => Some(v[i]),
                    Keys::Bytes { .. } => None,
                };
                (
                    k.bytes(i).to_vec(),
                    k.has_null(i),
                    num.filter(|_| !k.has_null(i)),
                )
            })
            .collect()
    }

    proptest! {
        /// Integer modes carry the values; byte mode is the shared row encoding and decodes
        /// back to the input columns.
        #[test]
        fn keys_carry_the_values_and_decode_back(
            kinds in proptest::collection::vec(0u8..6, 1..4),
            vals in proptest::collection::vec(proptest::option::of(-9i8..9), 0..30),
            force in any::<bool>(),
        ) {
            let cols: Vec<ArrayRef> = kinds
                .iter()
                .enumerate()
                .map(|(j, &k)| {
                    let shifted: Vec<Option<i8>> =
                        vals.iter().map(|v| v.map(|x| x.wrapping_add(j as i8))).collect();
                    col(k, &shifted)
                })
                .collect();
            let n = vals.len();
            let keys = encode(&cols, n, force).expect("encode");
            let got = rows(&keys);
            match &keys {
                Keys::Int(..) | Keys::Pair(..) => {
                    let ints: Vec<Vec<i64>> =
                        cols.iter().map(|c| ints_of(c).expect("ints")).collect();
                    for (i, (_, null, num)) in got.iter().enumerate() {
                        prop_assert_eq!(*null, cols.iter().any(|c| c.is_null(i)));
                        if !null {
                            let want = match ints.as_slice() {
                                [a] => i128::from(a[i]),
                                [a, b] => (i128::from(a[i]) << 64) | i128::from(b[i] as u64),
                                _ => unreachable!(),
                            };
                            prop_assert_eq!(*num, Some(want));
                        }
                    }
                }
                Keys::Bytes { .. } => {
                    let shared = RowEncoder::new(&cols, n).expect("shared").encode_all();
                    for (i, (bytes, null, _)) in got.iter().enumerate() {
                        let want = &shared.data[shared.offsets[i]..shared.offsets[i + 1]];
                        prop_assert_eq!(bytes.as_slice(), want);
                        prop_assert_eq!(*null, shared.has_null[i]);
                    }
                    let types: Vec<DType> = kinds
                        .iter()
                        .map(|k| match k {
                            0 => DType::Int64,
                            1 => DType::Date32,
                            2 => DType::Timestamp,
                            3 => DType::Float64,
                            4 => DType::Utf8,
                            _ => DType::Bool,
                        })
                        .collect();
                    let refs: Vec<&[u8]> = (0..n).map(|i| keys.bytes(i)).collect();
                    let back = decode(&refs, &types).expect("decode");
                    for (b, c) in back.iter().zip(&cols) {
                        if c.data_type() == &DataType::Float64 {
                            // -0.0 and NaN payloads come back canonical.
                            let (b, c) = (b.as_any().downcast_ref::<Float64Array>().expect("f"),
                                          c.as_any().downcast_ref::<Float64Array>().expect("f"));
                            for i in 0..n {
                                prop_assert_eq!(b.is_null(i), c.is_null(i));
                                if c.is_valid(i) {
                                    let (x, y) = (b.value(i), c.value(i));
                                    prop_assert!(x == y || (x.is_nan() && y.is_nan()));
                                }
                            }
                        } else {
                            prop_assert_eq!(&b.to_data(), &c.to_data());
                        }
                    }
                }
            }
        }
    }
}
