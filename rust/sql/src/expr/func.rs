//! Scalar functions by name. The binder (`python/minide/sql/functions.py`) checks arity and types
//! and picks the result type; this file only computes.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use minide_common::{Error, Result};

use super::date::{add_months, civil_from_days};
use super::{eval, type_error};
use crate::kernels::{NO_ROW, interleave};
use crate::plan::Expr;
use crate::types::{Chunk, DType};

fn arg<'a>(name: &str, args: &'a [Expr], i: usize) -> Result<&'a Expr> {
    args.get(i)
        .ok_or_else(|| Error::InvalidArgument(format!("{name}() is missing argument {}", i + 1)))
}

fn ints(a: &ArrayRef) -> Result<&arrow_array::Int64Array> {
    a.as_primitive_opt::<Int64Type>()
        .ok_or_else(|| type_error("an integer argument", a))
}

fn floats(a: &ArrayRef) -> Result<&arrow_array::Float64Array> {
    a.as_primitive_opt::<Float64Type>()
        .ok_or_else(|| type_error("a float argument", a))
}

fn strings(a: &ArrayRef) -> Result<&StringArray> {
    a.as_string_opt::<i32>()
        .ok_or_else(|| type_error("a string argument", a))
}

/// Day numbers of a date or timestamp column (timestamps floor to their day).
fn day_numbers(a: &ArrayRef) -> Result<Vec<i64>> {
    Ok(match a.data_type() {
        DataType::Date32 => a
            .as_primitive::<Date32Type>()
            .values()
            .iter()
            .map(|d| i64::from(*d))
            .collect(),
        DataType::Timestamp(_, _) => a
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .iter()
            .map(|t| t.div_euclid(86_400_000_000))
            .collect(),
        _ => return Err(type_error("a date function", a)),
    })
}

pub fn eval_func(name: &str, args: &[Expr], ty: DType, chunk: &Chunk) -> Result<ArrayRef> {
    let out = eval_func_in(name, args, ty, chunk)?;
    // a narrow integer or REAL result (abs(), coalesce(), round() ...) is checked / rounded
    crate::types::narrow(out, ty, name)
}

fn eval_func_in(name: &str, args: &[Expr], ty: DType, chunk: &Chunk) -> Result<ArrayRef> {
    let a0 = || -> Result<ArrayRef> { eval(arg(name, args, 0)?, chunk) };
    Ok(match name {
        "extract_year" | "extract_month" | "extract_day" | "extract_quarter" | "extract_dow"
        | "extract_doy" => {
            let a = a0()?;
            let days = day_numbers(&a)?;
            let v: Vec<i64> = days
                .iter()
                .map(|d| {
                    let (y, m, dd) = civil_from_days(*d);
                    match name {
                        "extract_year" => y,
                        "extract_month" => i64::from(m),
                        "extract_day" => i64::from(dd),
                        "extract_quarter" => i64::from((m - 1) / 3 + 1),
                        "extract_dow" => (d + 4).rem_euclid(7),
                        _ => d - super::date::days_from_civil(y, 1, 1) + 1,
                    }
                })
                .collect();
            Arc::new(Int64Array::new(v.into(), a.nulls().cloned()))
        }
        "add_months" => {
            let a = a0()?;
            let n = eval(arg(name, args, 1)?, chunk)?;
            let n = ints(&n)?;
            let days = day_numbers(&a)?;
            let v: Vec<i32> = days
                .iter()
                .enumerate()
                .map(|(i, d)| add_months(*d, n.value(i)) as i32)
                .collect();
            let nulls = NullBuffer::union(a.nulls(), n.nulls());
            Arc::new(Date32Array::new(v.into(), nulls))
        }
        "substring" => {
            let a = a0()?;
            let s = strings(&a)?;
            let start = eval(arg(name, args, 1)?, chunk)?;
            let start = ints(&start)?;
            let len = match args.get(2) {
                Some(e) => Some(eval(e, chunk)?),
                None => None,
            };
            let len_i = match &len {
                Some(l) => Some(ints(l)?),
                None => None,
            };
            let out: StringArray = (0..s.len())
                .map(|i| {
                    if s.is_null(i) || start.is_null(i) || len_i.is_some_and(|l| l.is_null(i)) {
                        return None;
                    }
                    Some(substring(
                        s.value(i),
                        start.value(i),
                        len_i.map(|l| l.value(i)),
                    ))
                })
                .collect();
            Arc::new(out)
        }
        "coalesce" => {
            let vals = args
                .iter()
                .map(|e| eval(e, chunk))
                .collect::<Result<Vec<_>>>()?;
            let picks: Vec<(u32, u32)> = (0..chunk.len)
                .map(|i| match vals.iter().position(|v| v.is_valid(i)) {
                    Some(k) => (k as u32, i as u32),
                    None => (NO_ROW, 0),
                })
                .collect();
            interleave(&vals, ty, &picks)?
        }
        "abs" => {
            let a = a0()?;
            match ty.phys() {
                DType::Decimal(..) if ty.is_wide_decimal() => {
                    super::decimal::map_wide(&a, |x| x.abs())?
                }
                DType::Int64 | DType::Decimal(..) => {
                    let p = ints(&a)?;
                    Arc::new(Int64Array::new(
                        p.values().iter().map(|x| x.wrapping_abs()).collect(),
                        p.nulls().cloned(),
                    ))
                }
                _ => float_map(&a, f64::abs)?,
            }
        }
        "floor_dec" | "ceil_dec" => {
            let scale = match args.get(1) {
                Some(Expr::Lit {
                    value: crate::types::Scalar::Int(d),
                    ..
                }) => u8::try_from(*d).unwrap_or(0),
                _ => {
                    return Err(Error::InvalidArgument(
                        "floor/ceil of a decimal needs its scale".into(),
                    ));
                }
            };
            super::decimal::floor_ceil(&a0()?, scale, name == "ceil_dec", ty)?
        }
        "floor" => float_map(&a0()?, f64::floor)?,
        "ceil" => float_map(&a0()?, f64::ceil)?,
        "sqrt" => float_map(&a0()?, f64::sqrt)?,
        "ln" => float_map(&a0()?, f64::ln)?,
        "exp" => float_map(&a0()?, f64::exp)?,
        "round" => {
            let a = a0()?;
            let digits = match args.get(1) {
                Some(Expr::Lit {
                    value: crate::types::Scalar::Int(d),
                    ..
                }) => *d as i32,
                Some(_) => {
                    return Err(Error::Unsupported(
                        "round() digits must be a constant".into(),
                    ));
                }
                None => 0,
            };
            let scale = 10f64.powi(digits);
            float_map(&a, move |x| (x * scale).round() / scale)?
        }
        "upper" | "lower" | "trim" | "ltrim" | "rtrim" | "reverse" => {
            let a = a0()?;
            let s = strings(&a)?;
            let out: StringArray = s
                .iter()
                .map(|v| {
                    v.map(|v| match name {
                        "upper" => v.to_uppercase(),
                        "lower" => v.to_lowercase(),
                        "trim" => v.trim().to_string(),
                        "ltrim" => v.trim_start().to_string(),
                        "rtrim" => v.trim_end().to_string(),
                        _ => v.chars().rev().collect(),
                    })
                })
                .collect();
            Arc::new(out)
        }
        "length" => {
            let a = a0()?;
            let s = strings(&a)?;
            Arc::new(Int64Array::new(
                (0..s.len())
                    .map(|i| s.value(i).chars().count() as i64)
                    .collect(),
                s.nulls().cloned(),
            ))
        }
        "starts_with" | "contains" => {
            let a = a0()?;
            let b = eval(arg(name, args, 1)?, chunk)?;
            let (s, t) = (strings(&a)?, strings(&b)?);
            let v: BooleanArray = (0..s.len())
                .map(|i| {
                    if s.is_null(i) || t.is_null(i) {
                        None
                    } else if name == "contains" {
                        Some(s.value(i).contains(t.value(i)))
                    } else {
                        Some(s.value(i).starts_with(t.value(i)))
                    }
                })
                .collect();
            Arc::new(v)
        }
        other => return Err(Error::Unsupported(format!("function {other}()"))),
    })
}

fn float_map(a: &ArrayRef, f: impl Fn(f64) -> f64) -> Result<ArrayRef> {
    let p = floats(a)?;
    Ok(Arc::new(Float64Array::new(
        p.values().iter().map(|x| f(*x)).collect(),
        p.nulls().cloned(),
    )))
}

/// SQL SUBSTRING: 1-based, in characters; a start before 1 eats into the length (as in DuckDB).
fn substring(s: &str, start: i64, len: Option<i64>) -> String {
    let (from, to) = match len {
        Some(l) => (start, start.saturating_add(l.max(0))),
        None => (start, i64::MAX),
    };
    let from = from.max(1);
    if to <= from {
        return String::new();
    }
    let skip = (from - 1) as usize;
    let take = if to == i64::MAX {
        usize::MAX
    } else {
        (to - from) as usize
    };
    if s.is_ascii() {
        let b = s.len();
        let st = skip.min(b);
        let en = st.saturating_add(take).min(b);
        return s[st..en].to_string();
    }
    s.chars().skip(skip).take(take).collect()
}
