//! Dense decoded values -> Arrow arrays of the column's type (the last step of a chunk decode):
//! narrowing of INT32 to 8/16-bit and unsigned types, decimals from INT32/INT64/BYTE_ARRAY/
//! FIXED_LEN_BYTE_ARRAY, INT96 timestamps, float16, UTF-8 validation of strings.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Decimal128Array, FixedSizeBinaryArray, Float16Array,
    Float32Array, Float64Array, PrimitiveArray, StringArray, types::*,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, TimeUnit as ATU};

use super::column::Dense;
use minide_common::{Error, Result};

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt(what.into())
}

/// Build the array of `dt` from `dense` (one slot per decoded row) and check it has `n` rows.
pub(super) fn to_array(
    dense: Dense,
    nulls: Option<NullBuffer>,
    dt: &DataType,
    n: usize,
) -> Result<ArrayRef> {
    fn prim<T: arrow_array::ArrowPrimitiveType>(
        v: Vec<T::Native>,
        nulls: Option<NullBuffer>,
        dt: &DataType,
    ) -> ArrayRef {
        Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), nulls).with_data_type(dt.clone()))
    }
    let array: ArrayRef = match (dense, dt) {
        (Dense::Bool(v), _) => Arc::new(BooleanArray::new(v.into_iter().collect(), nulls)),
        (Dense::I32(v), DataType::Int32) => prim::<Int32Type>(v, nulls, dt),
        (Dense::I32(v), DataType::Date32) => prim::<Date32Type>(v, nulls, dt),
        (Dense::I32(v), DataType::Time32(_)) => prim::<Time32MillisecondType>(v, nulls, dt),
        (Dense::I32(v), DataType::Int8) => {
            prim::<Int8Type>(v.iter().map(|&x| x as i8).collect(), nulls, dt)
        }
        (Dense::I32(v), DataType::Int16) => {
            prim::<Int16Type>(v.iter().map(|&x| x as i16).collect(), nulls, dt)
        }
        (Dense::I32(v), DataType::UInt8) => {
            prim::<UInt8Type>(v.iter().map(|&x| x as u8).collect(), nulls, dt)
        }
        (Dense::I32(v), DataType::UInt16) => {
            prim::<UInt16Type>(v.iter().map(|&x| x as u16).collect(), nulls, dt)
        }
        (Dense::I32(v), DataType::UInt32) => {
            prim::<UInt32Type>(v.iter().map(|&x| x as u32).collect(), nulls, dt)
        }
        (Dense::I32(v), DataType::Decimal64(..)) => {
            prim::<Decimal64Type>(v.iter().map(|&x| i64::from(x)).collect(), nulls, dt)
        }
        (Dense::I64(v), DataType::Decimal64(..)) => prim::<Decimal64Type>(v, nulls, dt),
        (Dense::I32(v), DataType::Decimal128(..)) => {
            prim::<Decimal128Type>(v.iter().map(|&x| i128::from(x)).collect(), nulls, dt)
        }
        (Dense::I64(v), DataType::Int64) => prim::<Int64Type>(v, nulls, dt),
        (Dense::I64(v), DataType::UInt64) => {
            prim::<UInt64Type>(v.iter().map(|&x| x as u64).collect(), nulls, dt)
        }
        (Dense::I64(v), DataType::Timestamp(u, _)) => match u {
            ATU::Second => prim::<TimestampSecondType>(v, nulls, dt),
            ATU::Millisecond => prim::<TimestampMillisecondType>(v, nulls, dt),
            ATU::Microsecond => prim::<TimestampMicrosecondType>(v, nulls, dt),
            ATU::Nanosecond => prim::<TimestampNanosecondType>(v, nulls, dt),
        },
        (Dense::I64(v), DataType::Time64(ATU::Nanosecond)) => {
            prim::<Time64NanosecondType>(v, nulls, dt)
        }
        (Dense::I64(v), DataType::Time64(_)) => prim::<Time64MicrosecondType>(v, nulls, dt),
        (Dense::I64(v), DataType::Decimal128(..)) => {
            prim::<Decimal128Type>(v.iter().map(|&x| i128::from(x)).collect(), nulls, dt)
        }
        (Dense::F32(v), _) => Arc::new(Float32Array::new(ScalarBuffer::from(v), nulls)),
        (Dense::F64(v), _) => Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls)),
        (Dense::Bytes { offsets, data }, DataType::Decimal128(..)) => {
            let vals = offsets
                .windows(2)
                .map(|w| be_to_i128(&data[w[0] as usize..w[1] as usize]))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(
                Decimal128Array::new(ScalarBuffer::from(vals), nulls).with_data_type(dt.clone()),
            )
        }
        (Dense::Bytes { offsets, data }, _) => {
            let last = offsets.last().copied().unwrap_or(0);
            if last > i64::from(i32::MAX) {
                return Err(Error::unsupported(
                    "a column chunk with more than 2 GiB of byte-array data",
                ));
            }
            let offs: Vec<i32> = offsets.iter().map(|&o| o as i32).collect();
            let offs = OffsetBuffer::new(ScalarBuffer::from(offs));
            let values = Buffer::from_vec(data);
            if matches!(dt, DataType::Utf8) {
                Arc::new(
                    StringArray::try_new(offs, values, nulls)
                        .map_err(|e| corrupt(format!("string column: {e}")))?,
                )
            } else {
                Arc::new(
                    BinaryArray::try_new(offs, values, nulls)
                        .map_err(|e| corrupt(format!("binary column: {e}")))?,
                )
            }
        }
        (Dense::Fixed { data, .. }, DataType::Timestamp(ATU::Nanosecond, _)) => {
            let vals: Vec<i64> = data
                .chunks_exact(12)
                .map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&c[..8]);
                    let nanos = i64::from_le_bytes(a);
                    let day = i32::from_le_bytes([c[8], c[9], c[10], c[11]]);
                    (i64::from(day) - 2_440_588)
                        .wrapping_mul(86_400_000_000_000)
                        .wrapping_add(nanos)
                })
                .collect();
            prim::<TimestampNanosecondType>(vals, nulls, dt)
        }
        (Dense::Fixed { width, data }, DataType::Decimal128(..)) => {
            let vals = data
                .chunks_exact(width)
                .map(be_to_i128)
                .collect::<Result<Vec<_>>>()?;
            Arc::new(
                Decimal128Array::new(ScalarBuffer::from(vals), nulls).with_data_type(dt.clone()),
            )
        }
        (Dense::Fixed { data, .. }, DataType::Float16) => {
            let vals: Vec<HalfF16> = data
                .chunks_exact(2)
                .map(|c| HalfF16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                .collect();
            Arc::new(Float16Array::new(ScalarBuffer::from(vals), nulls))
        }
        (Dense::Fixed { width, data }, _) => Arc::new(
            FixedSizeBinaryArray::try_new(width as i32, Buffer::from_vec(data), nulls)
                .map_err(|e| corrupt(format!("fixed-size binary column: {e}")))?,
        ),
        (_, dt) => {
            return Err(corrupt(format!("column values do not fit type {dt}")));
        }
    };
    if array.len() != n {
        return Err(corrupt(format!(
            "column decoded {} values for {n} rows",
            array.len()
        )));
    }
    Ok(array)
}

/// INT32/INT64 decimal values -> Float64 `value / 10^scale` (division, like the SQL engine's
/// Decimal128 -> Float64 normalization, so both paths give bit-identical floats).
pub(super) fn decimal_to_f64(
    dense: Dense,
    nulls: Option<NullBuffer>,
    scale: i8,
    n: usize,
) -> Result<ArrayRef> {
    let div = 10f64.powi(i32::from(scale));
    let vals: ScalarBuffer<f64> = match dense {
        Dense::I32(v) => v.iter().map(|&x| f64::from(x) / div).collect(),
        Dense::I64(mut v) => {
            // In place: the i64 buffer becomes the f64 one (same width), no second allocation
            // (fresh pages cost as much as the conversion itself).
            for x in v.iter_mut() {
                *x = ((*x as f64) / div).to_bits() as i64;
            }
            let len = v.len();
            ScalarBuffer::new(Buffer::from_vec(v), 0, len)
        }
        _ => return Err(corrupt("decimal to float64: not INT32/INT64 values")),
    };
    if vals.len() != n {
        return Err(corrupt(format!(
            "column decoded {} values for {n} rows",
            vals.len()
        )));
    }
    Ok(Arc::new(Float64Array::new(vals, nulls)))
}

type HalfF16 = <Float16Type as arrow_array::ArrowPrimitiveType>::Native;

fn be_to_i128(b: &[u8]) -> Result<i128> {
    if b.len() > 16 {
        return Err(corrupt("decimal wider than 16 bytes"));
    }
    if b.is_empty() {
        return Ok(0);
    }
    let neg = b[0] & 0x80 != 0;
    let mut a = if neg { [0xFFu8; 16] } else { [0u8; 16] };
    a[16 - b.len()..].copy_from_slice(b);
    Ok(i128::from_be_bytes(a))
}
