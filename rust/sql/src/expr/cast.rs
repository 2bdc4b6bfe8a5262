//! CAST between the engine's types. Failing string conversions raise an error naming the value.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::BooleanBuffer;
use arrow_schema::DataType;
use minide_common::{Error, Result};

use super::date::{format_date, parse_date};
use crate::types::{DType, narrow};

fn bad(v: &str, to: DType) -> Error {
    Error::InvalidArgument(format!("could not convert string '{v}' to {}", to.name()))
}

/// CAST from the engine type `from` (None: read it off the array's layout, which is ambiguous
/// only for decimals) to `to`.
pub fn cast_from(a: &ArrayRef, from: Option<DType>, to: DType) -> Result<ArrayRef> {
    if from == Some(to) {
        return Ok(a.clone());
    }
    if to.phys() != to {
        // to a narrow integer or REAL: the cast to its engine layout, then range-checked/rounded
        return narrow(cast_from(a, from, to.phys())?, to, "cast");
    }
    match from {
        Some(DType::Float32) if to == DType::Utf8 => Ok(float32_strings(a)),
        Some(DType::TimestampTz) if to == DType::Utf8 => {
            // DuckDB's text of an instant in the session's zone (UTC here): `... 12:00:00+00`
            let s = cast(a, to)?;
            let out: StringArray = s
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(|t| format!("{t}+00")))
                .collect();
            Ok(Arc::new(out))
        }
        Some(f @ DType::Decimal(..)) => super::decimal::cast_decimal(a, f, to),
        Some(f) if matches!(to, DType::Decimal(..)) => {
            super::decimal::cast_decimal(a, f.phys(), to)
        }
        _ => cast(a, to),
    }
}

/// REAL values as text: the shortest digits that read back as the same f32 (`3.1`, not the
/// double `3.0999999046325684` the engine holds).
fn float32_strings(a: &ArrayRef) -> ArrayRef {
    let p = a.as_primitive::<Float64Type>();
    let out: StringArray = p.iter().map(|v| v.map(|x| format_float(x, true))).collect();
    Arc::new(out)
}

/// CAST between non-decimal types (see [`cast_from`] for decimals).
pub fn cast(a: &ArrayRef, to: DType) -> Result<ArrayRef> {
    if to.phys() != to {
        return narrow(cast(a, to.phys())?, to, "cast");
    }
    if let DType::Decimal(..) = to {
        let from = DType::of(a.data_type())?;
        return super::decimal::cast_decimal(a, from, to);
    }
    let from = DType::of(a.data_type())?;
    if from == to {
        return Ok(a.clone());
    }
    let nulls = a.nulls().cloned();
    let n = a.len();
    Ok(match (from, to) {
        (DType::Int64, DType::Float64) => {
            let p = a.as_primitive::<Int64Type>();
            Arc::new(Float64Array::new(
                p.values().iter().map(|x| *x as f64).collect(),
                nulls,
            ))
        }
        (DType::Float64, DType::Int64) => {
            // Rounded half to even (DuckDB: CAST(2.5 AS BIGINT) = 2); a value outside BIGINT
            // (or NaN, infinity) is an error, as in DuckDB, not a saturated number.
            const TWO_63: f64 = 9_223_372_036_854_775_808.0;
            let p = a.as_primitive::<Float64Type>();
            let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
            let mut out = Vec::with_capacity(n);
            for (i, x) in p.values().iter().enumerate() {
                let r = x.round_ties_even();
                if !(-TWO_63..TWO_63).contains(&r) && valid(i) {
                    return Err(Error::InvalidArgument(format!(
                        "cannot cast DOUBLE {x:e} to BIGINT: out of range"
                    )));
                }
                out.push(r as i64);
            }
            Arc::new(Int64Array::new(out.into(), nulls))
        }
        (DType::Date32, DType::Int64) => {
            let p = a.as_primitive::<Date32Type>();
            Arc::new(Int64Array::new(
                p.values().iter().map(|x| i64::from(*x)).collect(),
                nulls,
            ))
        }
        (DType::Timestamp, DType::Int64) => {
            let p = a.as_primitive::<TimestampMicrosecondType>();
            Arc::new(Int64Array::new(p.values().clone(), nulls))
        }
        (DType::Date32, DType::Timestamp) => {
            let p = a.as_primitive::<Date32Type>();
            Arc::new(TimestampMicrosecondArray::new(
                p.values()
                    .iter()
                    .map(|x| i64::from(*x) * 86_400_000_000)
                    .collect(),
                nulls,
            ))
        }
        (DType::Timestamp, DType::Date32) => {
            let p = a.as_primitive::<TimestampMicrosecondType>();
            Arc::new(Date32Array::new(
                p.values()
                    .iter()
                    .map(|x| x.div_euclid(86_400_000_000) as i32)
                    .collect(),
                nulls,
            ))
        }
        (DType::Bool, DType::Int64) => {
            let b = a.as_boolean();
            Arc::new(Int64Array::new(
                (0..n).map(|i| i64::from(b.value(i))).collect(),
                nulls,
            ))
        }
        (DType::Bool, DType::Float64) => {
            let b = a.as_boolean();
            Arc::new(Float64Array::new(
                (0..n).map(|i| f64::from(u8::from(b.value(i)))).collect(),
                nulls,
            ))
        }
        (DType::Int64, DType::Bool) => {
            let p = a.as_primitive::<Int64Type>();
            Arc::new(BooleanArray::new(
                BooleanBuffer::collect_bool(n, |i| p.value(i) != 0),
                nulls,
            ))
        }
        (_, DType::Utf8) => {
            let out: StringArray = (0..n)
                .map(|i| {
                    if a.is_null(i) {
                        return None;
                    }
                    Some(match from {
                        DType::Int64 | DType::Int32 | DType::Int16 | DType::Int8 => {
                            a.as_primitive::<Int64Type>().value(i).to_string()
                        }
                        DType::Float64 => {
                            format_float(a.as_primitive::<Float64Type>().value(i), false)
                        }
                        DType::Float32 => {
                            format_float(a.as_primitive::<Float64Type>().value(i), true)
                        }
                        DType::Bool => a.as_boolean().value(i).to_string(),
                        DType::Date32 => {
                            format_date(i64::from(a.as_primitive::<Date32Type>().value(i)))
                        }
                        DType::Timestamp | DType::TimestampTz => {
                            let us = a.as_primitive::<TimestampMicrosecondType>().value(i);
                            let secs = us.div_euclid(1_000_000);
                            let (d, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
                            let mut t = format!(
                                "{} {:02}:{:02}:{:02}",
                                format_date(d),
                                s / 3600,
                                s / 60 % 60,
                                s % 60
                            );
                            // DuckDB's fraction: the microseconds without trailing zeros
                            let frac = us.rem_euclid(1_000_000);
                            if frac != 0 {
                                let digits = format!("{frac:06}");
                                t.push('.');
                                t.push_str(digits.trim_end_matches('0'));
                            }
                            t
                        }
                        DType::Utf8 | DType::Decimal(..) => String::new(),
                    })
                })
                .collect();
            Arc::new(out)
        }
        (DType::Utf8, _) => {
            let s = a.as_string::<i32>();
            match to {
                DType::Int64 => {
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push(if s.is_null(i) {
                            0
                        } else {
                            s.value(i)
                                .trim()
                                .parse::<i64>()
                                .map_err(|_| bad(s.value(i), to))?
                        });
                    }
                    Arc::new(Int64Array::new(v.into(), nulls))
                }
                DType::Float64 => {
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push(if s.is_null(i) {
                            0.0
                        } else {
                            s.value(i)
                                .trim()
                                .parse::<f64>()
                                .map_err(|_| bad(s.value(i), to))?
                        });
                    }
                    Arc::new(Float64Array::new(v.into(), nulls))
                }
                DType::Date32 | DType::Timestamp => {
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push(if s.is_null(i) {
                            0
                        } else {
                            parse_date(s.value(i)).ok_or_else(|| bad(s.value(i), to))?
                        });
                    }
                    if to == DType::Date32 {
                        Arc::new(Date32Array::new(
                            v.iter().map(|d| *d as i32).collect(),
                            nulls,
                        ))
                    } else {
                        Arc::new(TimestampMicrosecondArray::new(
                            v.iter().map(|d| d * 86_400_000_000).collect(),
                            nulls,
                        ))
                    }
                }
                DType::Bool => {
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push(if s.is_null(i) {
                            false
                        } else {
                            match s.value(i).trim().to_ascii_lowercase().as_str() {
                                "true" | "t" | "1" => true,
                                "false" | "f" | "0" => false,
                                _ => return Err(bad(s.value(i), to)),
                            }
                        });
                    }
                    Arc::new(BooleanArray::new(v.into_iter().collect(), nulls))
                }
                DType::Utf8 => a.clone(),
                DType::Decimal(..)
                | DType::Int8
                | DType::Int16
                | DType::Int32
                | DType::Float32
                | DType::TimestampTz => unreachable_decimal()?,
            }
        }
        (f, t) => {
            return Err(Error::Unsupported(format!(
                "CAST from {} to {}",
                f.name(),
                t.name()
            )));
        }
    })
}

fn unreachable_decimal() -> Result<ArrayRef> {
    Err(Error::InvalidArgument(
        "internal: decimal and narrow-type casts go through cast_decimal and narrow".into(),
    ))
}

/// DuckDB's text of a DOUBLE, or of a REAL (`real`: the shortest digits of its f32, `3.1`):
/// whole numbers below 10^15 (REAL: 10^7) keep one decimal (`2.0`).
fn format_float(f: f64, real: bool) -> String {
    let whole_below = if real { 1e7 } else { 1e15 };
    if f.is_finite() && f == f.trunc() && f.abs() < whole_below {
        format!("{f:.1}")
    } else if real {
        (f as f32).to_string()
    } else {
        f.to_string()
    }
}

#[allow(dead_code)]
fn _assert_types(_: &DataType) {}
