//! Array conversions the scan needs, written here (no arrow-cast): the `ARROW:schema` hint's
//! types (large strings, dictionaries, time zones, durations), widening
//! across a dataset's files (int32 -> int64, float32 -> float64), and constant columns for
//! partition values.

use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, Int32Array, LargeBinaryArray, LargeListArray,
    LargeStringArray, ListArray, MapArray, PrimitiveArray, StringArray, StructArray, make_array,
    new_null_array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use super::stats::Scalar;

/// Same bits, another type: no conversion of values.
fn same_bits(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    matches!(
        (from, to),
        (Timestamp(a, _), Timestamp(b, _)) if a == b
    ) || matches!(
        (from, to),
        (Int64, Duration(_))
            | (Int64, Timestamp(..))
            | (Int32, Date32)
            | (Int32, Time32(_))
            | (Int64, Time64(_))
    )
}

/// Whether [`convert`] turns `from` into `to`.
pub fn can_convert(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to || *from == Null || same_bits(from, to) {
        return true;
    }
    match (from, to) {
        (List(a), List(b) | LargeList(b)) => can_convert(a.data_type(), b.data_type()),
        (Struct(a), Struct(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|(x, y)| x.name() == y.name() && can_convert(x.data_type(), y.data_type()))
        }
        (Map(a, _), Map(b, _)) => can_convert(a.data_type(), b.data_type()),
        (a, b) if a.is_signed_integer() && b.is_signed_integer() => width(a) <= width(b),
        (a, b) if a.is_unsigned_integer() && b.is_unsigned_integer() => width(a) <= width(b),
        (a, b) if a.is_unsigned_integer() && b.is_signed_integer() => width(a) < width(b),
        // Date32 -> Date64 is left out on purpose: pyarrow reads a date64 hint as date32.
        (Float32, Float64) => true,
        (Utf8, LargeUtf8) | (Binary, LargeBinary) => true,
        (Utf8, Dictionary(k, v)) => **k == Int32 && **v == Utf8,
        _ => false,
    }
}

fn width(t: &DataType) -> usize {
    t.primitive_width().unwrap_or(usize::MAX)
}

fn widen<F: ArrowPrimitiveType, T: ArrowPrimitiveType>(
    a: &ArrayRef,
    f: impl Fn(F::Native) -> T::Native,
) -> ArrayRef {
    let p = a.as_primitive::<F>();
    let out: PrimitiveArray<T> = p.unary(f);
    Arc::new(out)
}

fn int_to(a: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
    macro_rules! from {
        ($f:ty) => {
            Some(match to {
                DataType::Int16 => widen::<$f, Int16Type>(a, |v| v as i16),
                DataType::Int32 => widen::<$f, Int32Type>(a, |v| v as i32),
                DataType::Int64 => widen::<$f, Int64Type>(a, |v| v as i64),
                DataType::UInt16 => widen::<$f, UInt16Type>(a, |v| v as u16),
                DataType::UInt32 => widen::<$f, UInt32Type>(a, |v| v as u32),
                DataType::UInt64 => widen::<$f, UInt64Type>(a, |v| v as u64),
                _ => return None,
            })
        };
    }
    match a.data_type() {
        DataType::Int8 => from!(Int8Type),
        DataType::Int16 => from!(Int16Type),
        DataType::Int32 => from!(Int32Type),
        DataType::UInt8 => from!(UInt8Type),
        DataType::UInt16 => from!(UInt16Type),
        DataType::UInt32 => from!(UInt32Type),
        _ => None,
    }
}

/// `a` as type `to` (see [`can_convert`]).
pub fn convert(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let from = a.data_type();
    if from == to {
        return Ok(a.clone());
    }
    if *from == DataType::Null {
        return Ok(new_null_array(to, a.len()));
    }
    if same_bits(from, to) {
        let data = a
            .to_data()
            .into_builder()
            .data_type(to.clone())
            .build()
            .map_err(Error::from)?;
        return Ok(make_array(data));
    }
    let unsupported = || Error::unsupported(format!("converting {from} to {to}"));
    Ok(match (from, to) {
        (DataType::Float32, DataType::Float64) => widen::<Float32Type, Float64Type>(a, f64::from),
        (DataType::Utf8, DataType::LargeUtf8) => {
            let s = a.as_string::<i32>();
            let offsets: ScalarBuffer<i64> = s.offsets().iter().map(|&o| i64::from(o)).collect();
            Arc::new(LargeStringArray::new(
                OffsetBuffer::new(offsets),
                s.values().clone(),
                s.nulls().cloned(),
            ))
        }
        (DataType::Binary, DataType::LargeBinary) => {
            let s = a.as_binary::<i32>();
            let offsets: ScalarBuffer<i64> = s.offsets().iter().map(|&o| i64::from(o)).collect();
            Arc::new(LargeBinaryArray::new(
                OffsetBuffer::new(offsets),
                s.values().clone(),
                s.nulls().cloned(),
            ))
        }
        (DataType::Utf8, DataType::Dictionary(..)) => {
            let s = a.as_string::<i32>();
            let mut b = StringDictionaryBuilder::<Int32Type>::with_capacity(s.len(), 256, 4096);
            for v in s.iter() {
                match v {
                    Some(v) => {
                        b.append(v).map_err(Error::from)?;
                    }
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        (DataType::List(_), DataType::List(f) | DataType::LargeList(f)) => {
            let l = a.as_list::<i32>();
            let values = convert(l.values(), f.data_type())?;
            match to {
                DataType::List(_) => Arc::new(
                    ListArray::try_new(f.clone(), l.offsets().clone(), values, l.nulls().cloned())
                        .map_err(Error::from)?,
                ),
                _ => {
                    let offsets: ScalarBuffer<i64> =
                        l.offsets().iter().map(|&o| i64::from(o)).collect();
                    Arc::new(
                        LargeListArray::try_new(
                            f.clone(),
                            OffsetBuffer::new(offsets),
                            values,
                            l.nulls().cloned(),
                        )
                        .map_err(Error::from)?,
                    )
                }
            }
        }
        (DataType::Struct(_), DataType::Struct(fields)) => {
            let s = a.as_struct();
            let cols = s
                .columns()
                .iter()
                .zip(fields.iter())
                .map(|(c, f)| convert(c, f.data_type()))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(
                StructArray::try_new(fields.clone(), cols, s.nulls().cloned())
                    .map_err(Error::from)?,
            )
        }
        (DataType::Map(_, _), DataType::Map(f, sorted)) => {
            let m = a.as_map();
            let entries = convert(&(Arc::new(m.entries().clone()) as ArrayRef), f.data_type())?;
            Arc::new(
                MapArray::try_new(
                    f.clone(),
                    m.offsets().clone(),
                    entries.as_struct().clone(),
                    m.nulls().cloned(),
                    *sorted,
                )
                .map_err(Error::from)?,
            )
        }
        (f, t) if f.is_integer() && t.is_integer() => int_to(a, to).ok_or_else(unsupported)?,
        _ => return Err(unsupported()),
    })
}

/// `n` copies of a partition value (`None`: nulls) as type `t` (Int32 or Utf8, as inferred).
pub fn constant(v: Option<&Scalar>, t: &DataType, n: usize) -> Result<ArrayRef> {
    Ok(match (v, t) {
        (None, _) => new_null_array(t, n),
        (Some(Scalar::Int(i)), DataType::Int32) => {
            let x = i32::try_from(*i)
                .map_err(|_| Error::invalid(format!("partition value {i} overflows int32")))?;
            Arc::new(Int32Array::from(vec![x; n]))
        }
        (Some(Scalar::Bytes(b)), DataType::Utf8) => {
            let s = String::from_utf8_lossy(b);
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                s.as_ref(),
                n,
            )))
        }
        (Some(other), t) => {
            return Err(Error::invalid(format!(
                "partition value {other:?} does not fit type {t}"
            )));
        }
    })
}
