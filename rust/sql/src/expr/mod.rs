//! The expression evaluator: `eval(expr, chunk) -> Arrow column`, one vectorized kernel per node.
//!
//! NULL follows SQL's three-valued logic: arithmetic and comparisons are NULL when an input is
//! NULL; AND/OR use Kleene logic (FALSE AND NULL = FALSE, TRUE OR NULL = TRUE). Literals are not
//! broadcast when the other side of a binary operator is a column (see [`binary`]).

mod binary;
mod cast;
pub mod date;
pub mod decimal;
mod func;
mod like;
mod select;

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use crate::kernels::{NO_ROW, interleave};
use crate::plan::Expr;
use crate::types::{Chunk, DType, Scalar, scalar_array};

pub use cast::{cast, cast_from};
pub use like::LikeMatcher;
pub use select::select_rows;

/// Evaluate `expr` over every row of `chunk`.
pub fn eval(expr: &Expr, chunk: &Chunk) -> Result<ArrayRef> {
    match expr {
        Expr::Col(i) => Ok(chunk.col(*i)?.clone()),
        Expr::Lit { value, ty } => scalar_array(value, *ty, chunk.len),
        Expr::Binary { op, l, r, ty } => binary::eval_binary(*op, l, r, *ty, chunk),
        Expr::Not(e) => {
            let a = eval(e, chunk)?;
            let b = as_bool(&a)?;
            Ok(Arc::new(BooleanArray::new(!b.values(), b.nulls().cloned())))
        }
        Expr::Neg(e) => {
            let a = eval(e, chunk)?;
            binary::negate(&a)
        }
        Expr::IsNull(e) => {
            let a = eval(e, chunk)?;
            let v = match a.logical_nulls() {
                None => BooleanBuffer::new_unset(a.len()),
                Some(n) => !n.inner(),
            };
            Ok(Arc::new(BooleanArray::new(v, None)))
        }
        Expr::IsNotNull(e) => {
            let a = eval(e, chunk)?;
            let v = match a.logical_nulls() {
                None => BooleanBuffer::new_set(a.len()),
                Some(n) => n.inner().clone(),
            };
            Ok(Arc::new(BooleanArray::new(v, None)))
        }
        Expr::Case {
            whens,
            otherwise,
            ty,
        } => eval_case(whens, otherwise.as_deref(), *ty, chunk),
        Expr::Cast { expr, to, from } => {
            let a = eval(expr, chunk)?;
            cast_from(&a, *from, *to)
        }
        Expr::Like {
            expr,
            pattern,
            negated,
            case_insensitive,
        } => {
            let a = eval(expr, chunk)?;
            let m = LikeMatcher::new(pattern, *case_insensitive);
            let s = a
                .as_string_opt::<i32>()
                .ok_or_else(|| type_error("LIKE", &a))?;
            let v = BooleanBuffer::collect_bool(s.len(), |i| m.matches(s.value(i)) != *negated);
            Ok(Arc::new(BooleanArray::new(v, s.nulls().cloned())))
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let a = eval(expr, chunk)?;
            in_list(&a, list, *negated)
        }
        Expr::Func { name, args, ty } => func::eval_func(name, args, *ty, chunk),
    }
}

/// Evaluate `expr` like [`eval`], reusing arithmetic subexpressions already computed for this
/// chunk (`memo`): TPC-H Q1's `l_extendedprice * (1 - l_discount)` appears in two aggregates.
pub fn eval_memo<'e>(
    expr: &'e Expr,
    chunk: &Chunk,
    memo: &mut Vec<(&'e Expr, ArrayRef)>,
) -> Result<ArrayRef> {
    let Expr::Binary { op, l, r, ty } = expr else {
        return eval(expr, chunk);
    };
    let arithmetic = matches!(
        op,
        crate::plan::BinOp::Add
            | crate::plan::BinOp::Sub
            | crate::plan::BinOp::Mul
            | crate::plan::BinOp::Div
            | crate::plan::BinOp::Mod
    );
    let lit = |e: &Expr| matches!(e, Expr::Lit { .. });
    if !arithmetic || binary::is_null_lit(l) || binary::is_null_lit(r) || (lit(l) && lit(r)) {
        return eval(expr, chunk);
    }
    if let Some((_, a)) = memo.iter().find(|(e, _)| *e == expr) {
        return Ok(a.clone());
    }
    let side = |e: &'e Expr, memo: &mut Vec<(&'e Expr, ArrayRef)>| -> Result<binary::Operand> {
        Ok(match e {
            Expr::Lit { value, .. } => binary::Operand::Lit(value.clone()),
            _ => binary::Operand::Col(eval_memo(e, chunk, memo)?),
        })
    };
    let lo = side(l, memo)?;
    let ro = side(r, memo)?;
    let out = binary::eval_binary_ops(*op, lo, ro, *ty, chunk.len)?;
    memo.push((expr, out.clone()));
    Ok(out)
}

/// Evaluate a predicate into a boolean column.
pub fn eval_predicate(expr: &Expr, chunk: &Chunk) -> Result<BooleanArray> {
    let a = eval(expr, chunk)?;
    Ok(as_bool(&a)?.clone())
}

pub(crate) fn as_bool(a: &ArrayRef) -> Result<&BooleanArray> {
    a.as_boolean_opt()
        .ok_or_else(|| type_error("a boolean operator", a))
}

pub(crate) fn type_error(what: &str, a: &ArrayRef) -> Error {
    Error::InvalidArgument(format!("{what} got a column of type {}", a.data_type()))
}

fn eval_case(
    whens: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    ty: DType,
    chunk: &Chunk,
) -> Result<ArrayRef> {
    let n = chunk.len;
    // picks[i] = (branch, row); branches decided in order, the first TRUE condition wins.
    let mut picks: Vec<(u32, u32)> = (0..n as u32).map(|i| (NO_ROW, i)).collect();
    let mut decided = vec![false; n];
    let mut values = Vec::with_capacity(whens.len() + 1);
    for (k, (cond, val)) in whens.iter().enumerate() {
        let c = eval_predicate(cond, chunk)?;
        values.push(eval(val, chunk)?);
        for i in 0..n {
            if !decided[i] && c.is_valid(i) && c.value(i) {
                decided[i] = true;
                picks[i].0 = k as u32;
            }
        }
    }
    if let Some(e) = otherwise {
        let k = values.len() as u32;
        values.push(eval(e, chunk)?);
        for i in 0..n {
            if !decided[i] {
                picks[i].0 = k;
            }
        }
    }
    let picks: Vec<(u32, u32)> = picks
        .into_iter()
        .map(|(w, r)| if w == NO_ROW { (NO_ROW, 0) } else { (w, r) })
        .collect();
    interleave(&values, ty, &picks)
}

fn in_list(a: &ArrayRef, list: &[Scalar], negated: bool) -> Result<ArrayRef> {
    let has_null = list.iter().any(|s| matches!(s, Scalar::Null));
    let n = a.len();
    let found: BooleanBuffer = if let Some(s) = a.as_string_opt::<i32>() {
        let set: hashbrown::HashSet<&str> = list
            .iter()
            .filter_map(|v| {
                if let Scalar::Str(s) = v {
                    Some(s.as_str())
                } else {
                    None
                }
            })
            .collect();
        if set.len() <= 8 {
            // A few literals (TPC-H's IN lists): comparing bytes beats hashing every row.
            let lits: Vec<&[u8]> = set.iter().map(|x| x.as_bytes()).collect();
            BooleanBuffer::collect_bool(n, |i| lits.contains(&s.value(i).as_bytes()))
        } else {
            BooleanBuffer::collect_bool(n, |i| set.contains(s.value(i)))
        }
    } else if let DataType::Decimal128(..) = a.data_type() {
        let vals: Vec<i128> = list
            .iter()
            .filter(|v| !matches!(v, Scalar::Null))
            .map(crate::types::scalar_i128)
            .collect::<Result<_>>()?;
        let d = decimal::dec_values(a)?;
        BooleanBuffer::collect_bool(n, |i| vals.contains(&d.get(i)))
    } else {
        let ty = DType::of(a.data_type())?;
        match ty {
            DType::Float64 | DType::Float32 => {
                let p = a.as_primitive::<arrow_array::types::Float64Type>();
                let vals: Vec<f64> = list
                    .iter()
                    .filter_map(|v| match v {
                        Scalar::Float(f) => Some(*f),
                        Scalar::Int(i) => Some(*i as f64),
                        _ => None,
                    })
                    .collect();
                BooleanBuffer::collect_bool(n, |i| vals.contains(&p.value(i)))
            }
            DType::Int64
            | DType::Int32
            | DType::Int16
            | DType::Int8
            | DType::Date32
            | DType::Timestamp
            | DType::TimestampTz => {
                let vals: hashbrown::HashSet<i64> = list
                    .iter()
                    .filter_map(|v| {
                        if let Scalar::Int(i) = v {
                            Some(*i)
                        } else {
                            None
                        }
                    })
                    .collect();
                let col = cast(a, DType::Int64)?;
                let p = col.as_primitive::<arrow_array::types::Int64Type>();
                BooleanBuffer::collect_bool(n, |i| vals.contains(&p.value(i)))
            }
            DType::Bool => {
                let b = as_bool(a)?;
                let t = list.contains(&Scalar::Bool(true));
                let f = list.contains(&Scalar::Bool(false));
                BooleanBuffer::collect_bool(n, |i| if b.value(i) { t } else { f })
            }
            DType::Utf8 | DType::Decimal(..) => BooleanBuffer::new_unset(n),
        }
    };
    // x IN (..., NULL) is NULL when not found; NULL IN (...) is NULL.
    let mut valid = match a.logical_nulls() {
        Some(nb) => nb.inner().clone(),
        None => BooleanBuffer::new_set(n),
    };
    if has_null {
        valid = &valid & &found;
    }
    let values = if negated { !&found } else { found };
    Ok(Arc::new(BooleanArray::new(
        values,
        Some(NullBuffer::new(valid)),
    )))
}
