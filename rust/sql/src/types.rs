//! The engine's value model: five logical types over Arrow arrays, scalars, and [`Chunk`], the
//! unit every operator consumes and produces (a morsel of rows as Arrow columns).
//!
//! Every input column is normalized once, when a table is registered (see [`normalize`]): all
//! integers become Int64, decimals and Float32 become Float64, every string flavour becomes Utf8,
//! timestamps become Int64 microseconds. Operators therefore only handle these few layouts.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, PrimitiveArray,
    StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::{DataType, TimeUnit};
use minide_common::{Error, Result};
use serde::{Deserialize, Serialize};

/// Logical column types of the engine (the binder in `python/minide/sql/binder.py` mirrors them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    Bool,
    Int64,
    Float64,
    Utf8,
    Date32,
    Timestamp,
}

impl DType {
    pub fn arrow(self) -> DataType {
        match self {
            DType::Bool => DataType::Boolean,
            DType::Int64 => DataType::Int64,
            DType::Float64 => DataType::Float64,
            DType::Utf8 => DataType::Utf8,
            DType::Date32 => DataType::Date32,
            DType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    pub fn of(dt: &DataType) -> Result<DType> {
        Ok(match dt {
            DataType::Boolean => DType::Bool,
            DataType::Int64 => DType::Int64,
            DataType::Float64 => DType::Float64,
            DataType::Utf8 => DType::Utf8,
            DataType::Date32 => DType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, _) => DType::Timestamp,
            other => {
                return Err(Error::Unsupported(format!(
                    "column type {other} in the executor"
                )));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Int64 => "int64",
            DType::Float64 => "float64",
            DType::Utf8 => "utf8",
            DType::Date32 => "date32",
            DType::Timestamp => "timestamp",
        }
    }
}

/// One value. Dates are days since 1970-01-01, timestamps microseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// A morsel: equally long Arrow columns. `len` is explicit so zero-column chunks (`COUNT(*)` after
/// projection pruning) still carry their row count.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub cols: Vec<ArrayRef>,
    pub len: usize,
}

impl Chunk {
    pub fn new(cols: Vec<ArrayRef>, len: usize) -> Chunk {
        Chunk { cols, len }
    }

    pub fn col(&self, i: usize) -> Result<&ArrayRef> {
        self.cols.get(i).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "plan refers to column {i} of a {}-column input",
                self.cols.len()
            ))
        })
    }
}

/// Rows per morsel: large enough to amortize per-batch overhead, small enough to spread over cores.
pub const MORSEL_ROWS: usize = 64 * 1024;

/// Convert any supported Arrow column to the engine's layout (see the module docs).
pub fn normalize(array: &ArrayRef) -> Result<ArrayRef> {
    fn ints<T: arrow_array::ArrowPrimitiveType>(a: &ArrayRef) -> ArrayRef
    where
        T::Native: Into<i64>,
    {
        let p = a.as_primitive::<T>();
        let v: Vec<i64> = p.values().iter().map(|x| (*x).into()).collect();
        Arc::new(Int64Array::new(v.into(), p.nulls().cloned()))
    }
    Ok(match array.data_type() {
        DataType::Boolean
        | DataType::Int64
        | DataType::Float64
        | DataType::Utf8
        | DataType::Date32
        | DataType::Timestamp(TimeUnit::Microsecond, None) => array.clone(),
        DataType::Int8 => ints::<Int8Type>(array),
        DataType::Int16 => ints::<Int16Type>(array),
        DataType::Int32 => ints::<Int32Type>(array),
        DataType::UInt8 => ints::<UInt8Type>(array),
        DataType::UInt16 => ints::<UInt16Type>(array),
        DataType::UInt32 => ints::<UInt32Type>(array),
        DataType::UInt64 => {
            let p = array.as_primitive::<UInt64Type>();
            let mut v = Vec::with_capacity(p.len());
            for x in p.values().iter() {
                v.push(i64::try_from(*x).map_err(|_| {
                    Error::Unsupported(format!("uint64 value {x} does not fit int64"))
                })?);
            }
            Arc::new(Int64Array::new(v.into(), p.nulls().cloned()))
        }
        DataType::Float32 => {
            let p = array.as_primitive::<Float32Type>();
            let v: Vec<f64> = p.values().iter().map(|x| f64::from(*x)).collect();
            Arc::new(Float64Array::new(v.into(), p.nulls().cloned()))
        }
        DataType::Decimal128(_, scale) => {
            let p = array.as_primitive::<Decimal128Type>();
            let div = 10f64.powi(i32::from(*scale));
            // i128 -> f64 is a slow software conversion; values that fit i64 (all of them in
            // practice) take the hardware one, which rounds identically.
            let v: Vec<f64> = p
                .values()
                .iter()
                .map(|x| match i64::try_from(*x) {
                    Ok(small) => small as f64 / div,
                    Err(_) => *x as f64 / div,
                })
                .collect();
            Arc::new(Float64Array::new(v.into(), p.nulls().cloned()))
        }
        DataType::LargeUtf8 => {
            let s: StringArray = array.as_string::<i64>().iter().collect();
            Arc::new(s)
        }
        DataType::Utf8View => {
            let s: StringArray = array.as_string_view().iter().collect();
            Arc::new(s)
        }
        DataType::Date64 => {
            let p = array.as_primitive::<Date64Type>();
            let v: Vec<i32> = p
                .values()
                .iter()
                .map(|ms| ms.div_euclid(86_400_000) as i32)
                .collect();
            Arc::new(Date32Array::new(v.into(), p.nulls().cloned()))
        }
        DataType::Timestamp(unit, _) => {
            let (vals, nulls): (Vec<i64>, Option<NullBuffer>) = match unit {
                TimeUnit::Second => {
                    let p = array.as_primitive::<TimestampSecondType>();
                    (
                        p.values().iter().map(|x| x * 1_000_000).collect(),
                        p.nulls().cloned(),
                    )
                }
                TimeUnit::Millisecond => {
                    let p = array.as_primitive::<TimestampMillisecondType>();
                    (
                        p.values().iter().map(|x| x * 1_000).collect(),
                        p.nulls().cloned(),
                    )
                }
                TimeUnit::Microsecond => {
                    let p = array.as_primitive::<TimestampMicrosecondType>();
                    (p.values().to_vec(), p.nulls().cloned())
                }
                TimeUnit::Nanosecond => {
                    let p = array.as_primitive::<TimestampNanosecondType>();
                    (
                        p.values().iter().map(|x| x.div_euclid(1_000)).collect(),
                        p.nulls().cloned(),
                    )
                }
            };
            Arc::new(TimestampMicrosecondArray::new(vals.into(), nulls))
        }
        DataType::Dictionary(_, value)
            if value.as_ref() == &DataType::Utf8 || value.as_ref() == &DataType::LargeUtf8 =>
        {
            let d = array.as_any_dictionary();
            let values = normalize(d.values())?;
            let keys = d.normalized_keys();
            let strs = values.as_string::<i32>();
            let out: StringArray = (0..array.len())
                .map(|i| {
                    if array.is_null(i) {
                        None
                    } else {
                        keys.get(i).and_then(|k| {
                            if strs.is_null(*k) {
                                None
                            } else {
                                Some(strs.value(*k))
                            }
                        })
                    }
                })
                .collect();
            Arc::new(out)
        }
        DataType::Null => Arc::new(Int64Array::new(
            vec![0i64; array.len()].into(),
            Some(NullBuffer::new_null(array.len())),
        )),
        other => {
            return Err(Error::Unsupported(format!(
                "column type {other}; supported: booleans, integers, floats, decimals, strings, dates, timestamps"
            )));
        }
    })
}

/// The engine type an input column of Arrow type `dt` is normalized to.
pub fn normalized_type(dt: &DataType) -> Result<DType> {
    let empty = arrow_array::new_empty_array(dt);
    DType::of(normalize(&empty)?.data_type())
}

/// An all-null column of `ty` with `len` rows.
pub fn null_array(ty: DType, len: usize) -> ArrayRef {
    let nulls = Some(NullBuffer::new_null(len));
    match ty {
        DType::Bool => Arc::new(BooleanArray::new(BooleanBuffer::new_unset(len), nulls)),
        DType::Int64 => Arc::new(Int64Array::new(vec![0; len].into(), nulls)),
        DType::Float64 => Arc::new(Float64Array::new(vec![0.0; len].into(), nulls)),
        DType::Utf8 => Arc::new(StringArray::new_null(len)),
        DType::Date32 => Arc::new(Date32Array::new(vec![0; len].into(), nulls)),
        DType::Timestamp => Arc::new(TimestampMicrosecondArray::new(vec![0; len].into(), nulls)),
    }
}

/// A column repeating `value` `len` times.
pub fn scalar_array(value: &Scalar, ty: DType, len: usize) -> Result<ArrayRef> {
    Ok(match (value, ty) {
        (Scalar::Null, _) => null_array(ty, len),
        (Scalar::Bool(b), DType::Bool) => Arc::new(BooleanArray::new(
            if *b {
                BooleanBuffer::new_set(len)
            } else {
                BooleanBuffer::new_unset(len)
            },
            None,
        )),
        (Scalar::Int(v), DType::Int64) => Arc::new(Int64Array::new(vec![*v; len].into(), None)),
        (Scalar::Int(v), DType::Float64) => {
            Arc::new(Float64Array::new(vec![*v as f64; len].into(), None))
        }
        (Scalar::Float(v), DType::Float64) => {
            Arc::new(Float64Array::new(vec![*v; len].into(), None))
        }
        (Scalar::Int(v), DType::Date32) => {
            let d = i32::try_from(*v)
                .map_err(|_| Error::InvalidArgument(format!("date {v} out of range")))?;
            Arc::new(Date32Array::new(vec![d; len].into(), None))
        }
        (Scalar::Int(v), DType::Timestamp) => {
            Arc::new(TimestampMicrosecondArray::new(vec![*v; len].into(), None))
        }
        (Scalar::Str(s), DType::Utf8) => Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(s.as_str(), len),
        )),
        (v, t) => {
            return Err(Error::InvalidArgument(format!(
                "literal {v:?} does not fit type {}",
                t.name()
            )));
        }
    })
}

/// The value at row `i` of a normalized column.
pub fn scalar_at(array: &ArrayRef, i: usize) -> Scalar {
    if array.is_null(i) {
        return Scalar::Null;
    }
    match array.data_type() {
        DataType::Boolean => Scalar::Bool(array.as_boolean().value(i)),
        DataType::Int64 => Scalar::Int(array.as_primitive::<Int64Type>().value(i)),
        DataType::Float64 => Scalar::Float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => Scalar::Str(array.as_string::<i32>().value(i).to_string()),
        DataType::Date32 => Scalar::Int(i64::from(array.as_primitive::<Date32Type>().value(i))),
        DataType::Timestamp(_, _) => {
            Scalar::Int(array.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        _ => Scalar::Null,
    }
}

/// Build a column of `ty` from scalars (used for small outputs: aggregate states, VALUES).
pub fn array_from_scalars(ty: DType, values: &[Scalar]) -> Result<ArrayRef> {
    fn bad(v: &Scalar, ty: DType) -> Error {
        Error::InvalidArgument(format!("value {v:?} does not fit type {}", ty.name()))
    }
    Ok(match ty {
        DType::Bool => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Scalar::Null => None,
                    Scalar::Bool(b) => Some(*b),
                    v => return Err(bad(v, ty)),
                });
            }
            Arc::new(BooleanArray::from(out))
        }
        DType::Int64 | DType::Date32 | DType::Timestamp => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Scalar::Null => None,
                    Scalar::Int(x) => Some(*x),
                    v => return Err(bad(v, ty)),
                });
            }
            match ty {
                DType::Int64 => Arc::new(Int64Array::from(out)),
                DType::Timestamp => Arc::new(TimestampMicrosecondArray::from(out)),
                _ => {
                    let d: PrimitiveArray<Date32Type> =
                        out.into_iter().map(|x| x.map(|v| v as i32)).collect();
                    Arc::new(d)
                }
            }
        }
        DType::Float64 => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Scalar::Null => None,
                    Scalar::Float(x) => Some(*x),
                    Scalar::Int(x) => Some(*x as f64),
                    v => return Err(bad(v, ty)),
                });
            }
            Arc::new(Float64Array::from(out))
        }
        DType::Utf8 => {
            let mut out: Vec<Option<&str>> = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Scalar::Null => None,
                    Scalar::Str(s) => Some(s.as_str()),
                    v => return Err(bad(v, ty)),
                });
            }
            Arc::new(StringArray::from(out))
        }
    })
}
