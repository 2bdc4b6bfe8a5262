//! Exact decimal kernels: arithmetic, comparison of 128-bit decimals, casts, floor/ceil.
//!
//! A `DECIMAL(p, s)` value is the integer value * 10^s, held as i64 when p <= 18 and as i128
//! above (see `types.rs`). The binder (`python/minide/sql/bind_expr.py`) has already rescaled the
//! operands of `+ - %` to the result scale, so these kernels add scaled integers as they are; `*`
//! multiplies them as they are (the result scale is the sum of the scales). Every result is
//! checked against its precision (|value| < 10^p): an overflow is an error naming the operation,
//! never a wrapped value. Rows that are NULL never raise (their slots may hold anything).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, PrimitiveArray, StringArray};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use super::binary::Operand;
use crate::plan::BinOp;
use crate::types::{DType, MAX_I64_PRECISION, pow10, scalar_i128};

/// One decimal operand: a narrow column, a wide column or a constant.
pub(crate) enum Dec<'a> {
    N(&'a [i64]),
    W(&'a [i128]),
    C(i128),
}

impl Dec<'_> {
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> i128 {
        match self {
            Dec::N(v) => i128::from(v[i]),
            Dec::W(v) => v[i],
            Dec::C(c) => *c,
        }
    }
}

/// The scaled integers of a decimal column (any engine layout).
pub(crate) fn dec_values(a: &ArrayRef) -> Result<Dec<'_>> {
    Ok(match a.data_type() {
        DataType::Int64 => Dec::N(a.as_primitive::<Int64Type>().values()),
        DataType::Decimal128(..) => Dec::W(a.as_primitive::<Decimal128Type>().values()),
        other => {
            return Err(Error::InvalidArgument(format!(
                "a decimal operator got a column of type {other}"
            )));
        }
    })
}

pub(crate) fn dec_operand(o: &Operand) -> Result<Dec<'_>> {
    match o {
        Operand::Col(a) => dec_values(a),
        Operand::Lit(s) => Ok(Dec::C(scalar_i128(s)?)),
    }
}

/// The error for a result that does not fit its type.
pub fn overflow(what: &str, ty: DType, example: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!(
        "Overflow in {what} of {}: {example} does not fit; CAST an operand to a wider DECIMAL \
         or to DOUBLE",
        ty.name()
    ))
}

/// Build a column of decimal type `ty` from scaled i128 values, checking the precision of every
/// valid row (`what` names the operation in the error).
pub fn from_i128(
    vals: Vec<i128>,
    nulls: Option<NullBuffer>,
    ty: DType,
    what: &str,
) -> Result<ArrayRef> {
    let DType::Decimal(p, _) = ty else {
        return Err(Error::InvalidArgument(format!(
            "{} is not a decimal",
            ty.name()
        )));
    };
    let limit = pow10(p);
    let mut bad = false;
    for v in &vals {
        bad |= v.unsigned_abs() >= limit as u128;
    }
    if bad {
        check_rows(
            &vals,
            nulls.as_ref(),
            |v| v.unsigned_abs() >= limit as u128,
            what,
            ty,
        )?;
    }
    Ok(if p <= MAX_I64_PRECISION {
        // |v| < 10^18 for every valid row; invalid rows become 0.
        let v: Vec<i64> = vals
            .iter()
            .map(|x| i64::try_from(*x).unwrap_or(0))
            .collect();
        Arc::new(Int64Array::new(v.into(), nulls))
    } else {
        Arc::new(PrimitiveArray::<Decimal128Type>::new(vals.into(), nulls))
    })
}

fn check_rows<T: Copy + std::fmt::Display>(
    vals: &[T],
    nulls: Option<&NullBuffer>,
    is_bad: impl Fn(T) -> bool,
    what: &str,
    ty: DType,
) -> Result<()> {
    for (i, v) in vals.iter().enumerate() {
        if is_bad(*v) && nulls.is_none_or(|n| n.is_valid(i)) {
            return Err(overflow(what, ty, v));
        }
    }
    Ok(())
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "addition",
        BinOp::Sub => "subtraction",
        BinOp::Mul => "multiplication",
        _ => "modulo",
    }
}

/// `l op r` for decimal operands giving `ty` (see the module docs for the scales).
pub(crate) fn arith(
    op: BinOp,
    l: &Operand,
    r: &Operand,
    ty: DType,
    len: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    let DType::Decimal(p, _) = ty else {
        return Err(Error::InvalidArgument(format!(
            "{} is not a decimal",
            ty.name()
        )));
    };
    let (a, b) = (dec_operand(l)?, dec_operand(r)?);
    let what = op_name(op);
    let narrow_in = |d: &Dec<'_>| match d {
        Dec::N(_) => true,
        Dec::W(_) => false,
        Dec::C(c) => i64::try_from(*c).is_ok(),
    };
    if p <= MAX_I64_PRECISION && narrow_in(&a) && narrow_in(&b) && op != BinOp::Mod {
        return arith_i64(op, &a, &b, ty, len, nulls, what);
    }
    let mut zero = false;
    // An i128 overflow becomes i128::MAX, which fails the precision check of a valid row.
    let vals: Vec<i128> = (0..len)
        .map(|i| {
            let (x, y) = (a.get(i), b.get(i));
            let r = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                _ => {
                    if y == 0 {
                        zero = true;
                        Some(0)
                    } else {
                        Some(x % y)
                    }
                }
            };
            r.unwrap_or(i128::MAX)
        })
        .collect();
    let mut nulls = nulls;
    if zero {
        let nz = NullBuffer::new(BooleanBuffer::collect_bool(len, |i| b.get(i) != 0));
        nulls = NullBuffer::union(nulls.as_ref(), Some(&nz));
    }
    from_i128(vals, nulls, ty, what)
}

/// The 64-bit path: both operands and the result fit i64 (TPC-H's prices, discounts, taxes).
fn arith_i64(
    op: BinOp,
    a: &Dec<'_>,
    b: &Dec<'_>,
    ty: DType,
    len: usize,
    nulls: Option<NullBuffer>,
    what: &str,
) -> Result<ArrayRef> {
    let DType::Decimal(p, _) = ty else {
        return Err(Error::InvalidArgument(format!(
            "{} is not a decimal",
            ty.name()
        )));
    };
    let limit = pow10(p) as u64;
    let f = |x: i64, y: i64| -> (i64, bool) {
        let (r, o) = match op {
            BinOp::Add => x.overflowing_add(y),
            BinOp::Sub => x.overflowing_sub(y),
            _ => x.overflowing_mul(y),
        };
        (r, o | (r.unsigned_abs() >= limit))
    };
    let mut bad = false;
    let mut vals = Vec::with_capacity(len);
    match (a, b) {
        (Dec::N(x), Dec::N(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let (r, o) = f(*p, *q);
                bad |= o;
                vals.push(r);
            }
        }
        (Dec::N(x), Dec::C(c)) => {
            let c = *c as i64;
            for p in x.iter() {
                let (r, o) = f(*p, c);
                bad |= o;
                vals.push(r);
            }
        }
        (Dec::C(c), Dec::N(y)) => {
            let c = *c as i64;
            for q in y.iter() {
                let (r, o) = f(c, *q);
                bad |= o;
                vals.push(r);
            }
        }
        _ => {
            for i in 0..len {
                let (r, o) = f(a.get(i) as i64, b.get(i) as i64);
                bad |= o;
                vals.push(r);
            }
        }
    }
    if bad {
        // Find a valid row that overflowed (NULL rows may hold anything).
        for i in 0..len {
            if nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                let (x, y) = (a.get(i), b.get(i));
                if f(x as i64, y as i64).1 {
                    let sym = match op {
                        BinOp::Add => "+",
                        BinOp::Sub => "-",
                        _ => "*",
                    };
                    return Err(overflow(what, ty, format!("{x} {sym} {y}")));
                }
            }
        }
    }
    Ok(Arc::new(Int64Array::new(vals.into(), nulls)))
}

/// Round `v / d` (d > 0) half away from zero.
#[inline(always)]
fn div_round(v: i128, d: i128) -> i128 {
    let (q, r) = (v / d, v % d);
    if 2 * r.abs() >= d { q + v.signum() } else { q }
}

/// CAST involving a decimal: `from` and `to` are the engine types; one of them is a decimal.
pub fn cast_decimal(a: &ArrayRef, from: DType, to: DType) -> Result<ArrayRef> {
    let nulls = a.logical_nulls();
    let n = a.len();
    let what = "CAST";
    match (from, to) {
        (DType::Decimal(_, s1), DType::Decimal(_, s2)) => {
            let v = dec_values(a)?;
            let vals: Vec<i128> = if s2 >= s1 {
                let m = pow10(s2 - s1);
                (0..n)
                    .map(|i| v.get(i).checked_mul(m).unwrap_or(i128::MAX))
                    .collect()
            } else {
                let d = pow10(s1 - s2);
                (0..n).map(|i| div_round(v.get(i), d)).collect()
            };
            from_i128(vals, nulls, to, what)
        }
        (DType::Int64, DType::Decimal(_, s)) => {
            let m = pow10(s);
            let v = a.as_primitive::<Int64Type>().values();
            let vals = v
                .iter()
                .map(|x| i128::from(*x).checked_mul(m).unwrap_or(i128::MAX))
                .collect();
            from_i128(vals, nulls, to, what)
        }
        (DType::Bool, DType::Decimal(..)) => {
            let i = super::cast(a, DType::Int64)?;
            cast_decimal(&i, DType::Int64, to)
        }
        (DType::Float64, DType::Decimal(p, s)) => {
            let m = pow10(s) as f64;
            let limit = pow10(p) as f64;
            let v = a.as_primitive::<Float64Type>().values();
            let mut vals = Vec::with_capacity(n);
            for (i, x) in v.iter().enumerate() {
                let y = (x * m).round();
                if y.is_nan() || y.abs() >= limit {
                    if nulls.as_ref().is_none_or(|nb| nb.is_valid(i)) {
                        return Err(Error::InvalidArgument(format!(
                            "could not cast {x} to {}",
                            to.name()
                        )));
                    }
                    vals.push(0);
                } else {
                    vals.push(y as i128);
                }
            }
            from_i128(vals, nulls, to, what)
        }
        (DType::Utf8, DType::Decimal(_, s)) => {
            let st = a.as_string::<i32>();
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                vals.push(if st.is_null(i) {
                    0
                } else {
                    parse_decimal(st.value(i), s).ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "could not convert string '{}' to {}",
                            st.value(i),
                            to.name()
                        ))
                    })?
                });
            }
            from_i128(vals, nulls, to, what)
        }
        (DType::Decimal(_, s), DType::Float64) => {
            let d = pow10(s) as f64;
            let vals: Vec<f64> = match dec_values(a)? {
                Dec::N(v) => v.iter().map(|x| *x as f64 / d).collect(),
                other => (0..n).map(|i| other.get(i) as f64 / d).collect(),
            };
            Ok(Arc::new(Float64Array::new(vals.into(), nulls)))
        }
        (DType::Decimal(_, s), DType::Int64) => {
            let d = pow10(s);
            let v = dec_values(a)?;
            let mut vals = Vec::with_capacity(n);
            for i in 0..n {
                let q = div_round(v.get(i), d);
                match i64::try_from(q) {
                    Ok(x) => vals.push(x),
                    Err(_) if nulls.as_ref().is_some_and(|nb| nb.is_null(i)) => vals.push(0),
                    Err(_) => {
                        return Err(Error::InvalidArgument(format!(
                            "could not cast {} to int64: out of range",
                            format_decimal(v.get(i), s)
                        )));
                    }
                }
            }
            Ok(Arc::new(Int64Array::new(vals.into(), nulls)))
        }
        (DType::Decimal(_, s), DType::Utf8) => {
            let v = dec_values(a)?;
            let out: StringArray = (0..n)
                .map(|i| {
                    (!nulls.as_ref().is_some_and(|nb| nb.is_null(i)))
                        .then(|| format_decimal(v.get(i), s))
                })
                .collect();
            Ok(Arc::new(out))
        }
        (DType::Decimal(..), DType::Bool) => {
            let v = dec_values(a)?;
            Ok(Arc::new(arrow_array::BooleanArray::new(
                BooleanBuffer::collect_bool(n, |i| v.get(i) != 0),
                nulls,
            )))
        }
        (f, t) => Err(Error::Unsupported(format!(
            "CAST from {} to {}",
            f.name(),
            t.name()
        ))),
    }
}

/// `123.45` at scale `s` as a scaled integer, rounded half away from zero; None if malformed.
pub fn parse_decimal(text: &str, s: u8) -> Option<i128> {
    let t = text.trim();
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|c| c.is_ascii_digit()) || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = 0;
    for c in whole.bytes() {
        v = v.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    let fb = frac.as_bytes();
    for k in 0..usize::from(s) {
        let digit = fb.get(k).map_or(0, |c| i128::from(c - b'0'));
        v = v.checked_mul(10)?.checked_add(digit)?;
    }
    if fb.get(usize::from(s)).is_some_and(|c| *c >= b'5') {
        v = v.checked_add(1)?;
    }
    Some(if neg { -v } else { v })
}

/// The scaled integer `v` at scale `s` as text: `-12.50`.
pub fn format_decimal(v: i128, s: u8) -> String {
    let digits = v.unsigned_abs().to_string();
    let sign = if v < 0 { "-" } else { "" };
    if s == 0 {
        return format!("{sign}{digits}");
    }
    let s = usize::from(s);
    let padded = if digits.len() <= s {
        format!("{}{digits}", "0".repeat(s + 1 - digits.len()))
    } else {
        digits
    };
    let (w, f) = padded.split_at(padded.len() - s);
    format!("{sign}{w}.{f}")
}

/// floor / ceil of a decimal at scale `s`: a DECIMAL(p, 0).
pub fn floor_ceil(a: &ArrayRef, s: u8, ceil: bool, ty: DType) -> Result<ArrayRef> {
    let d = pow10(s);
    let v = dec_values(a)?;
    let vals = (0..a.len())
        .map(|i| {
            let x = v.get(i);
            let q = x.div_euclid(d);
            if ceil && x.rem_euclid(d) != 0 {
                q + 1
            } else {
                q
            }
        })
        .collect();
    from_i128(
        vals,
        a.logical_nulls(),
        ty,
        if ceil { "ceil" } else { "floor" },
    )
}

/// Unary minus / abs of a 128-bit decimal column (narrow ones take the integer kernels).
pub fn map_wide(a: &ArrayRef, f: impl Fn(i128) -> i128) -> Result<ArrayRef> {
    let p = a.as_primitive::<Decimal128Type>();
    Ok(Arc::new(PrimitiveArray::<Decimal128Type>::new(
        p.values().iter().map(|x| f(*x)).collect(),
        p.nulls().cloned(),
    )))
}

#[cfg(test)]
mod tests;
