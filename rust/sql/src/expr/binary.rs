//! Binary operators: arithmetic, comparisons, Kleene AND/OR, string concatenation.
//!
//! The binder gives both operands the same type (inserting casts), except date ± days. A literal
//! operand is kept as a scalar so `l_quantity < 24` never materializes a column of 24s.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use super::{as_bool, eval, type_error};
use crate::plan::{BinOp, Expr};
use crate::types::{Chunk, DType, Scalar, null_array};

/// One operand: a column or a (non-NULL) literal.
pub(crate) enum Operand {
    Col(ArrayRef),
    Lit(Scalar),
}

fn operand(e: &Expr, chunk: &Chunk) -> Result<Operand> {
    match e {
        Expr::Lit { value, .. } if !matches!(value, Scalar::Null) => {
            Ok(Operand::Lit(value.clone()))
        }
        _ => Ok(Operand::Col(eval(e, chunk)?)),
    }
}

pub(crate) fn is_null_lit(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Lit {
            value: Scalar::Null,
            ..
        }
    )
}

pub fn eval_binary(op: BinOp, l: &Expr, r: &Expr, ty: DType, chunk: &Chunk) -> Result<ArrayRef> {
    match op {
        BinOp::And | BinOp::Or => {
            let a = eval(l, chunk)?;
            let b = eval(r, chunk)?;
            return kleene(op, as_bool(&a)?, as_bool(&b)?);
        }
        BinOp::IsNotDistinct => {
            let a = eval(l, chunk)?;
            let b = eval(r, chunk)?;
            return not_distinct(&a, &b);
        }
        _ => {}
    }
    if is_null_lit(l) || is_null_lit(r) {
        return Ok(null_array(ty, chunk.len));
    }
    let lo = operand(l, chunk)?;
    let ro = operand(r, chunk)?;
    let (la, ra) = match (&lo, &ro) {
        (Operand::Lit(_), Operand::Lit(_)) => {
            // Both literal (constant folding was switched off): broadcast the left one.
            let a = eval(l, chunk)?;
            return eval_binary_ops(op, Operand::Col(a), ro, ty, chunk.len);
        }
        _ => (lo, ro),
    };
    eval_binary_ops(op, la, ra, ty, chunk.len)
}

pub(crate) fn eval_binary_ops(
    op: BinOp,
    l: Operand,
    r: Operand,
    ty: DType,
    len: usize,
) -> Result<ArrayRef> {
    let col_type = match (&l, &r) {
        (Operand::Col(a), _) | (_, Operand::Col(a)) => a.data_type().clone(),
        _ => {
            return Err(Error::InvalidArgument(
                "binary operator without a column".into(),
            ));
        }
    };
    match op {
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
            compare(op, &l, &r, &col_type, len)
        }
        BinOp::Concat => concat_str(&l, &r, len),
        _ => arith(op, &l, &r, ty, len),
    }
}

fn nulls_of(l: &Operand, r: &Operand) -> Option<NullBuffer> {
    let ln = if let Operand::Col(a) = l {
        a.logical_nulls()
    } else {
        None
    };
    let rn = if let Operand::Col(a) = r {
        a.logical_nulls()
    } else {
        None
    };
    NullBuffer::union(ln.as_ref(), rn.as_ref())
}

fn lit_i64(s: &Scalar) -> Result<i64> {
    match s {
        Scalar::Int(v) => Ok(*v),
        Scalar::Float(f) => Ok(*f as i64),
        Scalar::Bool(b) => Ok(i64::from(*b)),
        other => Err(Error::InvalidArgument(format!(
            "expected an integer literal, got {other:?}"
        ))),
    }
}

fn lit_f64(s: &Scalar) -> Result<f64> {
    match s {
        Scalar::Int(v) => Ok(*v as f64),
        Scalar::Float(f) => Ok(*f),
        other => Err(Error::InvalidArgument(format!(
            "expected a numeric literal, got {other:?}"
        ))),
    }
}

/// Values of a primitive operand as an indexable source.
enum Src<'a, T: Copy> {
    Slice(&'a [T]),
    Const(T),
}

impl<T: Copy> Src<'_, T> {
    #[inline(always)]
    fn get(&self, i: usize) -> T {
        match self {
            Src::Slice(s) => s[i],
            Src::Const(c) => *c,
        }
    }
}

fn src_i64<'a>(o: &'a Operand) -> Result<Src<'a, i64>> {
    Ok(match o {
        Operand::Col(a) => match a.data_type() {
            DataType::Int64 => Src::Slice(a.as_primitive::<Int64Type>().values()),
            DataType::Timestamp(_, _) => {
                Src::Slice(a.as_primitive::<TimestampMicrosecondType>().values())
            }
            _ => return Err(type_error("an integer operator", a)),
        },
        Operand::Lit(s) => Src::Const(lit_i64(s)?),
    })
}

fn src_i32<'a>(o: &'a Operand) -> Result<Src<'a, i32>> {
    Ok(match o {
        Operand::Col(a) => match a.data_type() {
            DataType::Date32 => Src::Slice(a.as_primitive::<Date32Type>().values()),
            _ => return Err(type_error("a date operator", a)),
        },
        Operand::Lit(s) => Src::Const(lit_i64(s)? as i32),
    })
}

fn src_f64<'a>(o: &'a Operand) -> Result<Src<'a, f64>> {
    Ok(match o {
        Operand::Col(a) => match a.data_type() {
            DataType::Float64 => Src::Slice(a.as_primitive::<Float64Type>().values()),
            _ => return Err(type_error("a float operator", a)),
        },
        Operand::Lit(s) => Src::Const(lit_f64(s)?),
    })
}

fn operand_type(o: &Operand) -> Option<DataType> {
    match o {
        Operand::Col(a) => Some(a.data_type().clone()),
        Operand::Lit(_) => None,
    }
}

/// Run `f` over every row with specialised loops for column/constant combinations.
macro_rules! map2 {
    ($a:expr, $b:expr, $len:expr, $f:expr) => {{
        let f = $f;
        match (&$a, &$b) {
            (Src::Slice(x), Src::Slice(y)) => x
                .iter()
                .zip(y.iter())
                .map(|(p, q)| f(*p, *q))
                .collect::<Vec<_>>(),
            (Src::Slice(x), Src::Const(c)) => x.iter().map(|p| f(*p, *c)).collect::<Vec<_>>(),
            (Src::Const(c), Src::Slice(y)) => y.iter().map(|q| f(*c, *q)).collect::<Vec<_>>(),
            (Src::Const(c), Src::Const(d)) => vec![f(*c, *d); $len],
        }
    }};
}

macro_rules! cmp_bits {
    ($a:expr, $b:expr, $len:expr, $op:expr) => {{
        let (a, b) = ($a, $b);
        match $op {
            BinOp::Eq => BooleanBuffer::collect_bool($len, |i| a.get(i) == b.get(i)),
            BinOp::NotEq => BooleanBuffer::collect_bool($len, |i| a.get(i) != b.get(i)),
            BinOp::Lt => BooleanBuffer::collect_bool($len, |i| a.get(i) < b.get(i)),
            BinOp::LtEq => BooleanBuffer::collect_bool($len, |i| a.get(i) <= b.get(i)),
            BinOp::Gt => BooleanBuffer::collect_bool($len, |i| a.get(i) > b.get(i)),
            _ => BooleanBuffer::collect_bool($len, |i| a.get(i) >= b.get(i)),
        }
    }};
}

fn compare(op: BinOp, l: &Operand, r: &Operand, dt: &DataType, len: usize) -> Result<ArrayRef> {
    let nulls = nulls_of(l, r);
    let bits = match dt {
        DataType::Int64 | DataType::Timestamp(_, _) => cmp_bits!(src_i64(l)?, src_i64(r)?, len, op),
        DataType::Date32 => cmp_bits!(src_i32(l)?, src_i32(r)?, len, op),
        DataType::Decimal128(..) => cmp_bits!(
            super::decimal::dec_operand(l)?,
            super::decimal::dec_operand(r)?,
            len,
            op
        ),
        DataType::Float64 => {
            let (a, b) = (src_f64(l)?, src_f64(r)?);
            // DuckDB's order: NaN is the largest value, equal to itself; -0.0 = 0.0.
            let c = |i: usize| crate::types::cmp_f64(a.get(i), b.get(i));
            cmp_from_ordering(op, len, c)
        }
        DataType::Boolean => {
            let get = |o: &Operand, i: usize| -> bool {
                match o {
                    Operand::Col(a) => a.as_boolean().value(i),
                    Operand::Lit(Scalar::Bool(b)) => *b,
                    Operand::Lit(_) => false,
                }
            };
            cmp_from_ordering(op, len, |i| get(l, i).cmp(&get(r, i)))
        }
        DataType::Utf8 => {
            let ls = str_src(l)?;
            let rs = str_src(r)?;
            match op {
                BinOp::Eq => BooleanBuffer::collect_bool(len, |i| ls.get(i) == rs.get(i)),
                BinOp::NotEq => BooleanBuffer::collect_bool(len, |i| ls.get(i) != rs.get(i)),
                _ => cmp_from_ordering(op, len, |i| ls.get(i).cmp(rs.get(i))),
            }
        }
        other => return Err(Error::Unsupported(format!("comparison of {other}"))),
    };
    Ok(Arc::new(BooleanArray::new(bits, nulls)))
}

fn cmp_from_ordering(op: BinOp, len: usize, c: impl Fn(usize) -> Ordering) -> BooleanBuffer {
    match op {
        BinOp::Eq => BooleanBuffer::collect_bool(len, |i| c(i) == Ordering::Equal),
        BinOp::NotEq => BooleanBuffer::collect_bool(len, |i| c(i) != Ordering::Equal),
        BinOp::Lt => BooleanBuffer::collect_bool(len, |i| c(i) == Ordering::Less),
        BinOp::LtEq => BooleanBuffer::collect_bool(len, |i| c(i) != Ordering::Greater),
        BinOp::Gt => BooleanBuffer::collect_bool(len, |i| c(i) == Ordering::Greater),
        _ => BooleanBuffer::collect_bool(len, |i| c(i) != Ordering::Less),
    }
}

enum StrSrc<'a> {
    Col(&'a StringArray),
    Const(&'a str),
}

impl StrSrc<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> &str {
        match self {
            StrSrc::Col(a) => a.value(i),
            StrSrc::Const(s) => s,
        }
    }
}

fn str_src(o: &Operand) -> Result<StrSrc<'_>> {
    Ok(match o {
        Operand::Col(a) => StrSrc::Col(
            a.as_string_opt::<i32>()
                .ok_or_else(|| type_error("a string operator", a))?,
        ),
        Operand::Lit(Scalar::Str(s)) => StrSrc::Const(s.as_str()),
        Operand::Lit(other) => {
            return Err(Error::InvalidArgument(format!(
                "expected a string literal, got {other:?}"
            )));
        }
    })
}

fn concat_str(l: &Operand, r: &Operand, len: usize) -> Result<ArrayRef> {
    let nulls = nulls_of(l, r);
    let (a, b) = (str_src(l)?, str_src(r)?);
    let out: StringArray = (0..len)
        .map(|i| {
            if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                None
            } else {
                Some(format!("{}{}", a.get(i), b.get(i)))
            }
        })
        .collect();
    Ok(Arc::new(out))
}

fn prim_array<T: ArrowPrimitiveType>(vals: Vec<T::Native>, nulls: Option<NullBuffer>) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(vals), nulls))
}

/// `a op b` (+, - or *) on 64-bit integers. A result out of range in a row that is not NULL is
/// an error naming the operands, as in DuckDB: it never wraps around.
fn checked_i64(
    op: BinOp,
    a: &Src<'_, i64>,
    b: &Src<'_, i64>,
    len: usize,
    nulls: Option<&NullBuffer>,
    ty: DType,
) -> Result<Vec<i64>> {
    type Op = fn(i64, i64) -> (i64, bool);
    let (f, what, sign): (Op, _, _) = match op {
        BinOp::Add => (i64::overflowing_add, "addition", "+"),
        BinOp::Sub => (i64::overflowing_sub, "subtraction", "-"),
        _ => (i64::overflowing_mul, "multiplication", "*"),
    };
    let mut bad = false;
    let vals: Vec<i64> = (0..len)
        .map(|i| {
            let (r, o) = f(a.get(i), b.get(i));
            bad |= o;
            r
        })
        .collect();
    if bad {
        // The first overflow in a row that is not NULL (NULL rows may hold anything).
        for i in 0..len {
            if nulls.is_none_or(|n| n.is_valid(i)) && f(a.get(i), b.get(i)).1 {
                let name = if ty == DType::Timestamp {
                    "TIMESTAMP"
                } else {
                    "BIGINT"
                };
                return Err(Error::InvalidArgument(format!(
                    "Overflow in {what} of {name} ({} {sign} {})",
                    a.get(i),
                    b.get(i)
                )));
            }
        }
    }
    Ok(vals)
}

fn arith(op: BinOp, l: &Operand, r: &Operand, ty: DType, len: usize) -> Result<ArrayRef> {
    if ty.phys() != ty {
        // INTEGER/SMALLINT/TINYINT/REAL: computed in the engine layout (no i64 overflow is
        // possible from two narrow operands), then checked against the type's range / rounded.
        let what = match op {
            BinOp::Add => "addition",
            BinOp::Sub => "subtraction",
            BinOp::Mul => "multiplication",
            BinOp::Div => "division",
            _ => "modulo",
        };
        return crate::types::narrow(arith(op, l, r, ty.phys(), len)?, ty, what);
    }
    let nulls = nulls_of(l, r);
    let lt = operand_type(l);
    let rt = operand_type(r);
    let is_date = |t: &Option<DataType>| matches!(t, Some(DataType::Date32));
    match ty {
        DType::Decimal(..) => super::decimal::arith(op, l, r, ty, len, nulls),
        DType::Float64 => {
            let (a, b) = (src_f64(l)?, src_f64(r)?);
            let (vals, extra_nulls): (Vec<f64>, Option<NullBuffer>) = match op {
                BinOp::Add => (map2!(a, b, len, |x: f64, y: f64| x + y), None),
                BinOp::Sub => (map2!(a, b, len, |x: f64, y: f64| x - y), None),
                BinOp::Mul => (map2!(a, b, len, |x: f64, y: f64| x * y), None),
                BinOp::Div => {
                    let v = map2!(a, b, len, |x: f64, y: f64| x / y);
                    (v, zero_nulls_f64(&b, len))
                }
                BinOp::Mod => {
                    let v = map2!(a, b, len, |x: f64, y: f64| x % y);
                    (v, zero_nulls_f64(&b, len))
                }
                _ => return Err(Error::InvalidArgument(format!("{op:?} is not arithmetic"))),
            };
            Ok(prim_array::<Float64Type>(
                vals,
                NullBuffer::union(nulls.as_ref(), extra_nulls.as_ref()),
            ))
        }
        DType::Int64 if op == BinOp::Sub && (is_date(&lt) || is_date(&rt)) => {
            // date - date = days
            let (a, b) = (src_i32(l)?, src_i32(r)?);
            let vals = map2!(a, b, len, |x: i32, y: i32| i64::from(x) - i64::from(y));
            Ok(prim_array::<Int64Type>(vals, nulls))
        }
        DType::Int64 | DType::Timestamp => {
            let (a, b) = (src_i64(l)?, src_i64(r)?);
            let (vals, extra): (Vec<i64>, Option<NullBuffer>) = match op {
                BinOp::Add | BinOp::Sub | BinOp::Mul => {
                    (checked_i64(op, &a, &b, len, nulls.as_ref(), ty)?, None)
                }
                BinOp::Div => (
                    map2!(a, b, len, |x: i64, y: i64| if y == 0 {
                        0
                    } else {
                        x.wrapping_div(y)
                    }),
                    zero_nulls_i64(&b, len),
                ),
                BinOp::Mod => (
                    map2!(a, b, len, |x: i64, y: i64| if y == 0 {
                        0
                    } else {
                        x.wrapping_rem(y)
                    }),
                    zero_nulls_i64(&b, len),
                ),
                _ => return Err(Error::InvalidArgument(format!("{op:?} is not arithmetic"))),
            };
            let nulls = NullBuffer::union(nulls.as_ref(), extra.as_ref());
            if ty == DType::Timestamp {
                Ok(prim_array::<TimestampMicrosecondType>(vals, nulls))
            } else {
                Ok(prim_array::<Int64Type>(vals, nulls))
            }
        }
        DType::Date32 => {
            // date ± days (either side may be the date for +).
            let (d, n, flip) = if is_date(&lt) || (lt.is_none() && !is_date(&rt)) {
                (l, r, false)
            } else {
                (r, l, true)
            };
            let a = src_i32(d)?;
            let b = match n {
                Operand::Col(x) if x.data_type() == &DataType::Int64 => {
                    Src::Slice(x.as_primitive::<Int64Type>().values())
                }
                Operand::Lit(s) => Src::Const(lit_i64(s)?),
                Operand::Col(x) => return Err(type_error("date arithmetic", x)),
            };
            let vals = match (op, flip) {
                (BinOp::Add, _) => (0..len)
                    .map(|i| a.get(i).wrapping_add(b.get(i) as i32))
                    .collect(),
                (BinOp::Sub, false) => (0..len)
                    .map(|i| a.get(i).wrapping_sub(b.get(i) as i32))
                    .collect(),
                _ => {
                    return Err(Error::InvalidArgument(
                        "only date + days and date - days are supported".into(),
                    ));
                }
            };
            Ok(prim_array::<Date32Type>(vals, nulls))
        }
        other => Err(Error::InvalidArgument(format!(
            "arithmetic producing {}",
            other.name()
        ))),
    }
}

fn zero_nulls_f64(b: &Src<'_, f64>, len: usize) -> Option<NullBuffer> {
    match b {
        Src::Const(c) if *c != 0.0 => None,
        _ => Some(NullBuffer::new(BooleanBuffer::collect_bool(len, |i| {
            b.get(i) != 0.0
        }))),
    }
}

fn zero_nulls_i64(b: &Src<'_, i64>, len: usize) -> Option<NullBuffer> {
    match b {
        Src::Const(c) if *c != 0 => None,
        _ => Some(NullBuffer::new(BooleanBuffer::collect_bool(len, |i| {
            b.get(i) != 0
        }))),
    }
}

fn kleene(op: BinOp, a: &BooleanArray, b: &BooleanArray) -> Result<ArrayRef> {
    let n = a.len();
    let valid = |x: &BooleanArray| {
        x.nulls()
            .map(|v| v.inner().clone())
            .unwrap_or_else(|| BooleanBuffer::new_set(n))
    };
    let (av, bv) = (valid(a), valid(b));
    let a_true = a.values() & &av;
    let b_true = b.values() & &bv;
    let a_false = &!a.values() & &av;
    let b_false = &!b.values() & &bv;
    let (t, f) = if op == BinOp::And {
        (&a_true & &b_true, &a_false | &b_false)
    } else {
        (&a_true | &b_true, &a_false & &b_false)
    };
    let valid = &t | &f;
    let nulls = if valid.count_set_bits() == n {
        None
    } else {
        Some(NullBuffer::new(valid))
    };
    Ok(Arc::new(BooleanArray::new(t, nulls)))
}

fn not_distinct(a: &ArrayRef, b: &ArrayRef) -> Result<ArrayRef> {
    let eq = compare(
        BinOp::Eq,
        &Operand::Col(a.clone()),
        &Operand::Col(b.clone()),
        a.data_type(),
        a.len(),
    )?;
    let eq = eq.as_boolean();
    let v = BooleanBuffer::collect_bool(a.len(), |i| match (a.is_null(i), b.is_null(i)) {
        (true, true) => true,
        (false, false) => eq.value(i),
        _ => false,
    });
    Ok(Arc::new(BooleanArray::new(v, None)))
}

pub fn negate(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(match a.data_type() {
        DataType::Int64 => {
            let p = a.as_primitive::<Int64Type>();
            prim_array::<Int64Type>(
                p.values().iter().map(|x| x.wrapping_neg()).collect(),
                p.nulls().cloned(),
            )
        }
        DataType::Float64 => {
            let p = a.as_primitive::<Float64Type>();
            prim_array::<Float64Type>(p.values().iter().map(|x| -x).collect(), p.nulls().cloned())
        }
        DataType::Decimal128(..) => super::decimal::map_wide(a, |x| -x)?,
        _ => return Err(type_error("unary minus", a)),
    })
}
