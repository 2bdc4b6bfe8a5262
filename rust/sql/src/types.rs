//! The engine's value model: its logical types over Arrow arrays, scalars, and [`Chunk`], the
//! unit every operator consumes and produces (a morsel of rows as Arrow columns).
//!
//! Every input column is normalized once, when a table is registered (see [`normalize`]): all
//! integers are held as Int64, Float32 as Float64, every string flavour becomes Utf8,
//! timestamps become Int64 microseconds. Operators therefore only handle these few layouts.
//! TINYINT/SMALLINT/INTEGER and REAL stay types of their own ([`DType::phys`] gives their
//! layout): [`narrow`] checks / rounds their arithmetic results, [`to_output`] returns them in
//! their own widths.
//!
//! `DECIMAL(p, s)` ([`DType::Decimal`]) is exact: a scaled integer (value * 10^s). Its layout
//! inside the engine ([`DType::physical`]) is an `Int64Array` when p <= 18 (so comparisons, keys,
//! sorting, MIN/MAX reuse the integer paths) and a `Decimal128Array` above; the Arrow array's own
//! precision and scale are not meaningful inside the engine, the `DType` carries them. Query
//! results are converted to `decimal128(p, s)` once, at the end ([`to_output`]). Kernels:
//! `expr/decimal.rs`.

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

mod normalize;
pub use normalize::{has_layout, normalize, normalized_type, to_output};

/// Logical column types of the engine (the binder in `python/minide/sql/binder.py` mirrors them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    Bool,
    Int64,
    Float64,
    /// TINYINT, SMALLINT, INTEGER: their own types in the binder and in results, held as Int64
    /// inside the engine ([`DType::phys`]); arithmetic on them is checked against their range.
    Int8,
    Int16,
    Int32,
    /// REAL (FLOAT): held as Float64 inside the engine, every value exactly an f32 (arithmetic
    /// rounds each result to f32, which gives f32 arithmetic's answer: a double holds the exact
    /// sum, difference, product or quotient of two f32s closely enough to round it correctly).
    Float32,
    Utf8,
    Date32,
    Timestamp,
    /// TIMESTAMP WITH TIME ZONE: an instant (UTC microseconds, held like `Timestamp`), returned as
    /// `timestamp[us, tz=UTC]`; Arrow timestamps that carry a time zone are read as this type.
    TimestampTz,
    /// DECIMAL(precision 1..=38, scale 0..=precision).
    Decimal(u8, u8),
}

/// Widest precision held as an i64 (10^18 - 1 < 2^63).
pub const MAX_I64_PRECISION: u8 = 18;

/// SQL's order of doubles (DuckDB's): NaN is the largest value and equal to itself, and
/// -0.0 equals 0.0 (IEEE). `f64::total_cmp` differs on the second point (-0.0 < 0.0).
#[inline]
pub fn cmp_f64(a: f64, b: f64) -> std::cmp::Ordering {
    match a.partial_cmp(&b) {
        Some(o) => o,
        None => a.is_nan().cmp(&b.is_nan()),
    }
}

/// 10^n for n <= 38.
pub fn pow10(n: u8) -> i128 {
    10i128.pow(u32::from(n.min(38)))
}

impl DType {
    /// True for decimals held as i128 (precision above 18).
    pub fn is_wide_decimal(self) -> bool {
        matches!(self, DType::Decimal(p, _) if p > MAX_I64_PRECISION)
    }

    /// The Arrow type of this type's arrays inside the engine (see the module docs).
    pub fn physical(self) -> DataType {
        match self.phys() {
            DType::Decimal(p, _) if p <= MAX_I64_PRECISION => DataType::Int64,
            DType::Decimal(..) => DataType::Decimal128(38, 10),
            other => other.arrow(),
        }
    }

    /// The type whose layout and kernels this type uses inside the engine: the narrow integers
    /// are Int64, REAL is Float64, every other type is itself.
    pub fn phys(self) -> DType {
        match self {
            DType::Int8 | DType::Int16 | DType::Int32 => DType::Int64,
            DType::Float32 => DType::Float64,
            DType::TimestampTz => DType::Timestamp,
            other => other,
        }
    }

    /// The range of a narrow integer type (None for BIGINT and non-integers).
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            DType::Int8 => Some((i64::from(i8::MIN), i64::from(i8::MAX))),
            DType::Int16 => Some((i64::from(i16::MIN), i64::from(i16::MAX))),
            DType::Int32 => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
            _ => None,
        }
    }

    /// The SQL name of the type, for error messages (DuckDB's spelling).
    pub fn sql_name(self) -> String {
        match self {
            DType::Bool => "BOOLEAN".into(),
            DType::Int8 => "TINYINT".into(),
            DType::Int16 => "SMALLINT".into(),
            DType::Int32 => "INTEGER".into(),
            DType::Int64 => "BIGINT".into(),
            DType::Float32 => "FLOAT".into(),
            DType::Float64 => "DOUBLE".into(),
            DType::Utf8 => "VARCHAR".into(),
            DType::Date32 => "DATE".into(),
            DType::Timestamp => "TIMESTAMP".into(),
            DType::TimestampTz => "TIMESTAMP WITH TIME ZONE".into(),
            DType::Decimal(p, s) => format!("DECIMAL({p},{s})"),
        }
    }

    /// Parse a type name as [`DType::name`] writes it.
    pub fn parse(name: &str) -> Result<DType> {
        Ok(match name {
            "bool" => DType::Bool,
            "int64" => DType::Int64,
            "float64" => DType::Float64,
            "int8" => DType::Int8,
            "int16" => DType::Int16,
            "int32" => DType::Int32,
            "float32" => DType::Float32,
            "utf8" => DType::Utf8,
            "date32" => DType::Date32,
            "timestamp" => DType::Timestamp,
            "timestamptz" => DType::TimestampTz,
            other => {
                let inner = other
                    .strip_prefix("decimal(")
                    .and_then(|r| r.strip_suffix(')'))
                    .and_then(|r| r.split_once(','))
                    .and_then(|(p, s)| {
                        Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<u8>().ok()?))
                    });
                match inner {
                    Some((p, s)) if (1..=38).contains(&p) && s <= p => DType::Decimal(p, s),
                    _ => {
                        return Err(Error::InvalidArgument(format!(
                            "unknown column type {other}"
                        )));
                    }
                }
            }
        })
    }

    /// The Arrow type of this type in query results and registered inputs.
    pub fn arrow(self) -> DataType {
        match self {
            DType::Decimal(p, s) => DataType::Decimal128(p, s as i8),
            DType::Bool => DataType::Boolean,
            DType::Int64 => DataType::Int64,
            DType::Float64 => DataType::Float64,
            DType::Int8 => DataType::Int8,
            DType::Int16 => DataType::Int16,
            DType::Int32 => DataType::Int32,
            DType::Float32 => DataType::Float32,
            DType::Utf8 => DataType::Utf8,
            DType::Date32 => DataType::Date32,
            DType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            DType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    pub fn of(dt: &DataType) -> Result<DType> {
        Ok(match dt {
            DataType::Boolean => DType::Bool,
            DataType::Int64 => DType::Int64,
            DataType::Float64 => DType::Float64,
            DataType::Int8 => DType::Int8,
            DataType::Int16 => DType::Int16,
            DataType::Int32 => DType::Int32,
            DataType::Float32 => DType::Float32,
            DataType::Utf8 => DType::Utf8,
            DataType::Date32 => DType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, _) => DType::Timestamp,
            DataType::Decimal128(p, s) if *s >= 0 && (*s as u8) <= *p => {
                DType::Decimal(*p, *s as u8)
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "column type {other} in the executor"
                )));
            }
        })
    }

    pub fn name(self) -> String {
        match self {
            DType::Bool => "bool".into(),
            DType::Int64 => "int64".into(),
            DType::Float64 => "float64".into(),
            DType::Int8 => "int8".into(),
            DType::Int16 => "int16".into(),
            DType::Int32 => "int32".into(),
            DType::Float32 => "float32".into(),
            DType::Utf8 => "utf8".into(),
            DType::Date32 => "date32".into(),
            DType::Timestamp => "timestamp".into(),
            DType::TimestampTz => "timestamptz".into(),
            DType::Decimal(p, s) => format!("decimal({p},{s})"),
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
    /// A scaled decimal above 64 bits (never sent by the planner, which writes those as `Str`).
    Big(i128),
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

/// A scaled decimal literal: the planner sends `Int` up to 64 bits, `Str` (digits) above.
pub fn scalar_i128(v: &Scalar) -> Result<i128> {
    match v {
        Scalar::Int(x) => Ok(i128::from(*x)),
        Scalar::Big(x) => Ok(*x),
        Scalar::Str(s) => s
            .parse::<i128>()
            .map_err(|_| Error::InvalidArgument(format!("bad decimal literal {s:?}"))),
        other => Err(Error::InvalidArgument(format!(
            "expected a decimal literal, got {other:?}"
        ))),
    }
}

/// An engine-layout array of `ty.phys()` holding values of `ty`: narrow integers are checked
/// against their range (an error names `what`, e.g. "addition", DuckDB's wording), REAL values
/// are rounded to f32. Other types pass through.
pub fn narrow(a: ArrayRef, ty: DType, what: &str) -> Result<ArrayRef> {
    if let Some((lo, hi)) = ty.int_range() {
        let p = a.as_primitive_opt::<Int64Type>().ok_or_else(|| {
            Error::InvalidArgument(format!("{} value held as {}", ty.sql_name(), a.data_type()))
        })?;
        let nulls = p.nulls();
        let bad = p
            .values()
            .iter()
            .enumerate()
            .find(|(i, x)| !(lo..=hi).contains(*x) && nulls.is_none_or(|n| n.is_valid(*i)));
        if let Some((_, x)) = bad {
            return Err(Error::InvalidArgument(format!(
                "Overflow in {what} of {}: {x} is out of its range [{lo}, {hi}]",
                ty.sql_name()
            )));
        }
        return Ok(a);
    }
    if ty == DType::Float32 {
        let p = a.as_primitive_opt::<Float64Type>().ok_or_else(|| {
            Error::InvalidArgument(format!("FLOAT value held as {}", a.data_type()))
        })?;
        if p.values()
            .iter()
            .all(|x| f64::from(*x as f32).to_bits() == x.to_bits())
        {
            return Ok(a);
        }
        let v: Vec<f64> = p.values().iter().map(|x| f64::from(*x as f32)).collect();
        return Ok(Arc::new(Float64Array::new(v.into(), p.nulls().cloned())));
    }
    Ok(a)
}

/// An all-null column of `ty` with `len` rows.
pub fn null_array(ty: DType, len: usize) -> ArrayRef {
    let nulls = Some(NullBuffer::new_null(len));
    match ty.phys() {
        DType::Bool => Arc::new(BooleanArray::new(BooleanBuffer::new_unset(len), nulls)),
        DType::Int64 => Arc::new(Int64Array::new(vec![0; len].into(), nulls)),
        DType::Float64 => Arc::new(Float64Array::new(vec![0.0; len].into(), nulls)),
        DType::Utf8 => Arc::new(StringArray::new_null(len)),
        DType::Date32 => Arc::new(Date32Array::new(vec![0; len].into(), nulls)),
        DType::Timestamp => Arc::new(TimestampMicrosecondArray::new(vec![0; len].into(), nulls)),
        DType::Decimal(p, _) if p <= MAX_I64_PRECISION => {
            Arc::new(Int64Array::new(vec![0; len].into(), nulls))
        }
        DType::Decimal(..) => Arc::new(PrimitiveArray::<Decimal128Type>::new(
            vec![0i128; len].into(),
            nulls,
        )),
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Float32 | DType::TimestampTz => {
            null_array(ty.phys(), len)
        }
    }
}

/// A column repeating `value` `len` times.
pub fn scalar_array(value: &Scalar, ty: DType, len: usize) -> Result<ArrayRef> {
    if let (Scalar::Int(v), Some((lo, hi))) = (value, ty.int_range())
        && !(lo..=hi).contains(v)
    {
        return Err(Error::InvalidArgument(format!(
            "value {v} is out of range for {}",
            ty.sql_name()
        )));
    }
    if let (Scalar::Float(v), DType::Float32) = (value, ty) {
        return scalar_array(&Scalar::Float(f64::from(*v as f32)), DType::Float64, len);
    }
    let ty = ty.phys();
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
        (v, DType::Decimal(p, _)) => {
            let x = scalar_i128(v)?;
            if p <= MAX_I64_PRECISION {
                let x = i64::try_from(x).map_err(|_| {
                    Error::InvalidArgument(format!("literal {x} does not fit {}", ty.name()))
                })?;
                Arc::new(Int64Array::new(vec![x; len].into(), None))
            } else {
                Arc::new(PrimitiveArray::<Decimal128Type>::new(
                    vec![x; len].into(),
                    None,
                ))
            }
        }
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
        DataType::Decimal128(..) => Scalar::Big(array.as_primitive::<Decimal128Type>().value(i)),
        _ => Scalar::Null,
    }
}

/// Build a column of `ty` from scalars (used for small outputs: aggregate states, VALUES).
pub fn array_from_scalars(ty: DType, values: &[Scalar]) -> Result<ArrayRef> {
    fn bad(v: &Scalar, ty: DType) -> Error {
        Error::InvalidArgument(format!("value {v:?} does not fit type {}", ty.name()))
    }
    Ok(match ty {
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Float32 | DType::TimestampTz => {
            return narrow(array_from_scalars(ty.phys(), values)?, ty, "conversion");
        }
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
        DType::Decimal(p, _) if p > MAX_I64_PRECISION => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Scalar::Null => None,
                    v => {
                        let x = scalar_i128(v)?;
                        if x.unsigned_abs() >= pow10(38) as u128 {
                            return Err(Error::InvalidArgument(format!(
                                "Overflow in SUM of {}: the result does not fit",
                                ty.name()
                            )));
                        }
                        Some(x)
                    }
                });
            }
            Arc::new(out.into_iter().collect::<PrimitiveArray<Decimal128Type>>())
        }
        DType::Decimal(..) => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Scalar::Null => None,
                    v => Some(i64::try_from(scalar_i128(v)?).map_err(|_| bad(v, ty))?),
                });
            }
            Arc::new(Int64Array::from(out))
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
