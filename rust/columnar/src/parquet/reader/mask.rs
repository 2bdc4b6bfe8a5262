//! Typed row masks for the late-materializing scan: one tight loop per comparison over a
//! decoded column without nulls (integers, dates, floats, decimals, strings), for predicates of
//! AND, OR, comparisons and IN lists. Anything else returns None and the caller falls back to
//! the three-valued evaluator (`parquet::filter`), or, when a superset is allowed, keeps rows.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, Float64Array};
use arrow_schema::DataType;

use crate::parquet::filter::{CmpOp, Literal, Predicate};
use crate::scan::predicate::{IntBound, int_bound};

/// A column without nulls, viewed for comparisons. Decimals carry their scale.
enum Nums<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
    F64(&'a [f64]),
    Dec64(&'a [i64], i8),
    Dec128(&'a [i128], i8),
    Str(&'a dyn Array),
}

fn nums(a: &ArrayRef) -> Option<Nums<'_>> {
    if a.null_count() > 0 {
        return None;
    }
    Some(match a.data_type() {
        DataType::Int32 => Nums::I32(a.as_primitive::<Int32Type>().values()),
        DataType::Date32 => Nums::I32(a.as_primitive::<Date32Type>().values()),
        DataType::Int64 => Nums::I64(a.as_primitive::<Int64Type>().values()),
        DataType::Float64 => Nums::F64(a.as_any().downcast_ref::<Float64Array>()?.values()),
        DataType::Decimal64(_, s) if *s >= 0 => {
            Nums::Dec64(a.as_primitive::<Decimal64Type>().values(), *s)
        }
        DataType::Decimal128(_, s) if *s >= 0 => {
            Nums::Dec128(a.as_primitive::<Decimal128Type>().values(), *s)
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Nums::Str(a.as_ref()),
        _ => return None,
    })
}

/// `lit` in units of a decimal column of `scale` (`1.5` against scale 2 is `150`), for the
/// integer comparison of the unscaled values; None for floats (compared as floats by the
/// evaluator) and on overflow.
fn in_units(lit: &Literal, scale: i8) -> Option<Literal> {
    let pow = |n: i8| 10i128.checked_pow(u32::try_from(n).ok()?);
    Some(match lit {
        Literal::Int(i) => Literal::Int(i.checked_mul(pow(scale)?)?),
        Literal::Decimal {
            unscaled,
            scale: ls,
        } if *ls <= scale => Literal::Int(unscaled.checked_mul(pow(scale - ls)?)?),
        Literal::Decimal {
            unscaled,
            scale: ls,
        } => Literal::Decimal {
            unscaled: *unscaled,
            scale: ls - scale,
        },
        _ => return None,
    })
}

/// `op` applied to every value against `lit`, with `predicate::compare`'s rules (exact for
/// integer and decimal columns against any integer or decimal; NaN compares false; strings by
/// their bytes). One tight loop per operator: the operator and literal are resolved before
/// the loop.
fn compare_all(col: &Nums<'_>, op: CmpOp, lit: &Literal, out: &mut [bool]) -> Option<()> {
    let float = match lit {
        Literal::Float(x) => Some(*x),
        Literal::Int(x) => Some(*x as f64),
        Literal::Decimal { unscaled, scale } => {
            Some(*unscaled as f64 / 10f64.powi(i32::from(*scale)))
        }
        _ => None,
    };
    // Integers (and unscaled decimals) against any number exactly: `v > 2.5` is `v >= 3`,
    // `v = 2.5` never holds.
    let bound = |lit: &Literal| int_bound(op, lit);
    match col {
        Nums::F64(v) => cmp_f64(v.iter().copied(), float?, op, out),
        Nums::Str(a) => {
            let x: &[u8] = match lit {
                Literal::Str(s) => s.as_bytes(),
                Literal::Bytes(b) => b,
                _ => return None,
            };
            cmp_strings(*a, x, op, out)?;
        }
        Nums::I32(v) => ints(v, bound(lit)?, out),
        Nums::I64(v) => ints(v, bound(lit)?, out),
        Nums::Dec64(v, s) => ints(v, bound(&in_units(lit, *s)?)?, out),
        Nums::Dec128(v, s) => ints(v, bound(&in_units(lit, *s)?)?, out),
    }
    Some(())
}

/// Integer values against an [`IntBound`] (a literal beyond the type's range decides alone).
fn ints<T: Copy + PartialOrd + TryFrom<i128>>(v: &[T], b: IntBound, out: &mut [bool]) {
    match b {
        IntBound::Const(c) => out.fill(c),
        IntBound::Cmp(op, k) => match T::try_from(k) {
            Ok(x) => cmp_slice(v, x, op, out),
            Err(_) => out.fill(outside(op, k > 0)),
        },
    }
}

/// Every string of `a` against `x`, bytewise (UTF-8 order is code point order).
fn cmp_strings(a: &dyn Array, x: &[u8], op: CmpOp, out: &mut [bool]) -> Option<()> {
    fn each<'s>(it: impl Iterator<Item = &'s [u8]>, x: &[u8], op: CmpOp, out: &mut [bool]) {
        let it = out.iter_mut().zip(it);
        match op {
            CmpOp::Eq => it.for_each(|(o, a)| *o = a == x),
            CmpOp::Ne => it.for_each(|(o, a)| *o = a != x),
            CmpOp::Lt => it.for_each(|(o, a)| *o = a < x),
            CmpOp::Le => it.for_each(|(o, a)| *o = a <= x),
            CmpOp::Gt => it.for_each(|(o, a)| *o = a > x),
            CmpOp::Ge => it.for_each(|(o, a)| *o = a >= x),
        }
    }
    match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            let (offs, data) = (s.value_offsets(), s.value_data());
            let it = offs.windows(2).map(|w| &data[w[0] as usize..w[1] as usize]);
            each(it, x, op, out);
        }
        DataType::LargeUtf8 => {
            let s = a.as_string::<i64>();
            each((0..s.len()).map(|i| s.value(i).as_bytes()), x, op, out);
        }
        DataType::Utf8View => {
            let s = a.as_string_view();
            each((0..s.len()).map(|i| s.value(i).as_bytes()), x, op, out);
        }
        _ => return None,
    }
    Some(())
}

/// The result of `value op x` for every value when `x` lies beyond the column type's range
/// (`above`: greater than every value).
fn outside(op: CmpOp, above: bool) -> bool {
    match op {
        CmpOp::Eq => false,
        CmpOp::Ne => true,
        CmpOp::Lt | CmpOp::Le => above,
        CmpOp::Gt | CmpOp::Ge => !above,
    }
}

fn cmp_slice<T: Copy + PartialOrd>(v: &[T], x: T, op: CmpOp, out: &mut [bool]) {
    let it = out.iter_mut().zip(v);
    match op {
        CmpOp::Eq => it.for_each(|(o, &a)| *o = a == x),
        CmpOp::Ne => it.for_each(|(o, &a)| *o = a != x),
        CmpOp::Lt => it.for_each(|(o, &a)| *o = a < x),
        CmpOp::Le => it.for_each(|(o, &a)| *o = a <= x),
        CmpOp::Gt => it.for_each(|(o, &a)| *o = a > x),
        CmpOp::Ge => it.for_each(|(o, &a)| *o = a >= x),
    }
}

/// Float comparisons: every operator is false when NaN is involved (as `partial_cmp` gives
/// None there), also `!=`.
// `a < x || a > x` is not `a != x`: it is false for NaN, as `partial_cmp` says.
#[allow(clippy::double_comparisons)]
fn cmp_f64(v: impl Iterator<Item = f64>, x: f64, op: CmpOp, out: &mut [bool]) {
    let it = out.iter_mut().zip(v);
    match op {
        CmpOp::Eq => it.for_each(|(o, a)| *o = a == x),
        CmpOp::Ne => it.for_each(|(o, a)| *o = a < x || a > x),
        CmpOp::Lt => it.for_each(|(o, a)| *o = a < x),
        CmpOp::Le => it.for_each(|(o, a)| *o = a <= x),
        CmpOp::Gt => it.for_each(|(o, a)| *o = a > x),
        CmpOp::Ge => it.for_each(|(o, a)| *o = a >= x),
    }
}

/// The row mask of a predicate built from AND, OR, comparisons and IN lists of non-null
/// literals on number columns without nulls; None for anything else (the caller falls back to
/// the three-valued evaluator). Without NOT, "unknown" (a NaN comparison) and "false" drop a
/// row alike, so two-valued masks are exact here. `loose`: a superset of the matching rows is
/// enough, so an AND keeps the mask of the side it can evaluate.
pub(super) fn fast_mask<'a>(
    p: &Predicate,
    col: &dyn Fn(&str) -> Option<&'a ArrayRef>,
    rows: usize,
    loose: bool,
) -> Option<Vec<bool>> {
    Some(match p {
        Predicate::And(a, b) => {
            let (x, y) = (
                fast_mask(a, col, rows, loose),
                fast_mask(b, col, rows, loose),
            );
            match (x, y) {
                (Some(mut x), Some(y)) => {
                    x.iter_mut().zip(y).for_each(|(x, y)| *x &= y);
                    x
                }
                (Some(x), None) | (None, Some(x)) if loose => x,
                _ => return None,
            }
        }
        Predicate::Or(a, b) => {
            let mut x = fast_mask(a, col, rows, loose)?;
            let y = fast_mask(b, col, rows, loose)?;
            x.iter_mut().zip(y).for_each(|(x, y)| *x |= y);
            x
        }
        Predicate::Cmp { column, op, value } => {
            let c = nums(col(column)?)?;
            let mut out = vec![false; rows];
            compare_all(&c, *op, value, &mut out)?;
            out
        }
        Predicate::Const(c) => vec![*c == Some(true); rows],
        // a join's keys: a NULL key is never among them (its row cannot join)
        Predicate::InSet { column, set } => {
            let a = col(column)?;
            let mut out = vec![false; rows];
            match a.data_type() {
                DataType::Int32 | DataType::Date32 => {
                    let v: &[i32] = match a.data_type() {
                        DataType::Int32 => a.as_primitive::<Int32Type>().values(),
                        _ => a.as_primitive::<Date32Type>().values(),
                    };
                    let it = out.iter_mut().zip(v);
                    it.for_each(|(o, k)| *o = set.contains(i64::from(*k)));
                }
                DataType::Int64 => {
                    let v = a.as_primitive::<Int64Type>().values();
                    let it = out.iter_mut().zip(v);
                    it.for_each(|(o, k)| *o = set.contains(*k));
                }
                _ => return None,
            }
            if let Some(n) = a.nulls() {
                out.iter_mut()
                    .zip(n.iter())
                    .for_each(|(o, valid)| *o &= valid);
            }
            out
        }
        Predicate::In {
            column,
            values,
            negated: false,
        } if !values.is_empty() => {
            let c = nums(col(column)?)?;
            let mut out = vec![false; rows];
            let mut hit = vec![false; rows];
            for v in values {
                compare_all(&c, CmpOp::Eq, v, &mut hit)?;
                out.iter_mut().zip(&hit).for_each(|(o, h)| *o |= h);
            }
            out
        }
        _ => return None,
    })
}
