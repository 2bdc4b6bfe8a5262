//! Row selection for filters: which rows of a chunk satisfy a predicate (TRUE, not NULL).
//!
//! A conjunction is evaluated one conjunct at a time. The first conjunct runs over the whole
//! chunk; every later one runs only over the rows still selected, so a selective first test
//! (TPC-H Q12's `l_shipmode IN ('MAIL', 'SHIP')`, 2 of 7 values) spares the others most of their
//! work. Simple conjuncts (`col <op> literal`, `col <op> col`, `col IN (literals)`) are tested
//! directly at the selected row numbers; anything else is evaluated over a gathered copy of the
//! selected rows of just the columns it reads.

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::DataType;
use minide_common::Result;

use super::eval_predicate;
use crate::kernels::{mask_indices, take};
use crate::plan::{BinOp, Expr};
use crate::types::{Chunk, Scalar};

/// Row numbers of `chunk` where `pred` is TRUE; `None` when every row is.
pub fn select_rows(pred: &Expr, chunk: &Chunk) -> Result<Option<Vec<u32>>> {
    let mut parts = Vec::new();
    flatten_and(pred, &mut parts);
    let mut sel: Option<Vec<u32>> = None;
    for c in parts {
        sel = Some(match sel {
            None => {
                let idx = mask_indices(&eval_predicate(c, chunk)?);
                if idx.len() == chunk.len {
                    continue;
                }
                idx
            }
            Some(rows) => refine(c, chunk, rows)?,
        });
        if sel.as_ref().is_some_and(|s| s.is_empty()) {
            break;
        }
    }
    Ok(sel)
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            l,
            r,
            ..
        } => {
            flatten_and(l, out);
            flatten_and(r, out);
        }
        _ => out.push(e),
    }
}

/// The subset of `rows` where `c` is TRUE.
fn refine(c: &Expr, chunk: &Chunk, rows: Vec<u32>) -> Result<Vec<u32>> {
    if let Some(out) = refine_simple(c, chunk, &rows)? {
        return Ok(out);
    }
    // General case: gather the selected rows of the columns `c` reads. The other columns keep
    // their full-length arrays as placeholders (never read by `c`) so column numbers stay valid.
    let mut used = Vec::new();
    col_refs(c, &mut used);
    let cols = chunk
        .cols
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if used.contains(&i) {
                take(a, &rows)
            } else {
                Ok(a.clone())
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let sub = Chunk::new(cols, rows.len());
    let keep = mask_indices(&eval_predicate(c, &sub)?);
    Ok(keep.into_iter().map(|j| rows[j as usize]).collect())
}

fn col_refs(e: &Expr, out: &mut Vec<usize>) {
    match e {
        Expr::Col(i) => out.push(*i),
        Expr::Lit { .. } => {}
        Expr::Binary { l, r, .. } => {
            col_refs(l, out);
            col_refs(r, out);
        }
        Expr::Not(x) | Expr::Neg(x) | Expr::IsNull(x) | Expr::IsNotNull(x) => col_refs(x, out),
        Expr::Cast { expr, .. } | Expr::Like { expr, .. } | Expr::InList { expr, .. } => {
            col_refs(expr, out)
        }
        Expr::Case {
            whens, otherwise, ..
        } => {
            for (w, t) in whens {
                col_refs(w, out);
                col_refs(t, out);
            }
            if let Some(o) = otherwise {
                col_refs(o, out);
            }
        }
        Expr::Func { args, .. } => {
            for a in args {
                col_refs(a, out);
            }
        }
    }
}

fn is_cmp(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
    )
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::LtEq => BinOp::GtEq,
        BinOp::Gt => BinOp::Lt,
        BinOp::GtEq => BinOp::LtEq,
        o => o,
    }
}

#[inline(always)]
fn test<T: PartialOrd>(op: BinOp, a: T, b: T) -> bool {
    match op {
        BinOp::Eq => a == b,
        BinOp::NotEq => a != b,
        BinOp::Lt => a < b,
        BinOp::LtEq => a <= b,
        BinOp::Gt => a > b,
        _ => a >= b,
    }
}

/// `c` tested at each selected row without building a column, for the shapes filters use
/// most; `None` when `c` has another shape (or a type this fast path does not cover).
fn refine_simple(c: &Expr, chunk: &Chunk, rows: &[u32]) -> Result<Option<Vec<u32>>> {
    match c {
        Expr::Binary { op, l, r, .. } if is_cmp(*op) => match (l.as_ref(), r.as_ref()) {
            (Expr::Col(i), Expr::Lit { value, .. }) => col_vs_lit(*op, chunk.col(*i)?, value, rows),
            (Expr::Lit { value, .. }, Expr::Col(i)) => {
                col_vs_lit(flip(*op), chunk.col(*i)?, value, rows)
            }
            (Expr::Col(i), Expr::Col(j)) => col_vs_col(*op, chunk.col(*i)?, chunk.col(*j)?, rows),
            _ => Ok(None),
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => match expr.as_ref() {
            Expr::Col(i) => str_in_list(chunk.col(*i)?, list, *negated, rows),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

fn keep_valid(a: &ArrayRef, rows: &[u32], f: impl Fn(usize) -> bool) -> Vec<u32> {
    match a.logical_nulls() {
        None => rows.iter().copied().filter(|&r| f(r as usize)).collect(),
        Some(n) => rows
            .iter()
            .copied()
            .filter(|&r| n.is_valid(r as usize) && f(r as usize))
            .collect(),
    }
}

fn col_vs_lit(op: BinOp, a: &ArrayRef, lit: &Scalar, rows: &[u32]) -> Result<Option<Vec<u32>>> {
    Ok(Some(match (a.data_type(), lit) {
        (DataType::Int64, Scalar::Int(v)) => {
            let p = a.as_primitive::<Int64Type>().values();
            keep_valid(a, rows, |r| test(op, p[r], *v))
        }
        (DataType::Timestamp(_, _), Scalar::Int(v)) => {
            let p = a.as_primitive::<TimestampMicrosecondType>().values();
            keep_valid(a, rows, |r| test(op, p[r], *v))
        }
        (DataType::Date32, Scalar::Int(v)) => {
            let Ok(v) = i32::try_from(*v) else {
                return Ok(None);
            };
            let p = a.as_primitive::<Date32Type>().values();
            keep_valid(a, rows, |r| test(op, p[r], v))
        }
        (DataType::Float64, Scalar::Float(v)) => {
            // The order `binary::compare` uses (`types::cmp_f64`): NaN largest, -0.0 = 0.0.
            let p = a.as_primitive::<Float64Type>().values();
            keep_valid(a, rows, |r| {
                test(op, crate::types::cmp_f64(p[r], *v), Ordering::Equal)
            })
        }
        (DataType::Utf8, Scalar::Str(v)) => {
            let s: &StringArray = a.as_string::<i32>();
            let v = v.as_str();
            keep_valid(a, rows, |r| test(op, s.value(r), v))
        }
        _ => return Ok(None),
    }))
}

fn col_vs_col(op: BinOp, a: &ArrayRef, b: &ArrayRef, rows: &[u32]) -> Result<Option<Vec<u32>>> {
    if a.data_type() != b.data_type() {
        return Ok(None);
    }
    let both = |f: &dyn Fn(usize) -> bool| -> Vec<u32> {
        let na = a.logical_nulls();
        let nb = b.logical_nulls();
        rows.iter()
            .copied()
            .filter(|&r| {
                let r = r as usize;
                na.as_ref().is_none_or(|n| n.is_valid(r))
                    && nb.as_ref().is_none_or(|n| n.is_valid(r))
                    && f(r)
            })
            .collect()
    };
    Ok(Some(match a.data_type() {
        DataType::Int64 => {
            let (x, y) = (
                a.as_primitive::<Int64Type>().values(),
                b.as_primitive::<Int64Type>().values(),
            );
            both(&|r| test(op, x[r], y[r]))
        }
        DataType::Date32 => {
            let (x, y) = (
                a.as_primitive::<Date32Type>().values(),
                b.as_primitive::<Date32Type>().values(),
            );
            both(&|r| test(op, x[r], y[r]))
        }
        _ => return Ok(None),
    }))
}

/// `string_col [NOT] IN ('a', 'b', ...)` with no NULL in the list (a NULL makes NOT IN
/// never TRUE and is left to the general path).
fn str_in_list(
    a: &ArrayRef,
    list: &[Scalar],
    negated: bool,
    rows: &[u32],
) -> Result<Option<Vec<u32>>> {
    let Some(s) = a.as_string_opt::<i32>() else {
        return Ok(None);
    };
    let mut lits: Vec<&[u8]> = Vec::with_capacity(list.len());
    for v in list {
        match v {
            Scalar::Str(x) => lits.push(x.as_bytes()),
            _ => return Ok(None),
        }
    }
    Ok(Some(keep_valid(a, rows, |r| {
        let v = s.value(r).as_bytes();
        lits.contains(&v) != negated
    })))
}
