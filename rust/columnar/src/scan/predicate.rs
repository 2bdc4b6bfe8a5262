//! The predicate tree of the scan core: what a scan keeps, as a typed expression (not text).
//!
//! Leaves compare one column with typed literals; `And`/`Or`/`Not` combine them with SQL's
//! three-valued logic (a comparison with a null is unknown, unknown rows are dropped). Callers
//! build trees with typed literals ([`Literal::Date`], [`Literal::Timestamp`],
//! [`Literal::Decimal`], ...); [`super::bind::bind`] checks them against a schema and converts
//! each literal to the column's domain, so the evaluators ([`crate::parquet::filter`], the fast
//! loops of the late-materializing scan, statistics/page/Bloom/dictionary pruning) compare a
//! value of the column with a literal by one rule: [`compare`], exact across numeric types
//! (an integer column against 2.5, a decimal column against an integer).

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_schema::TimeUnit;
use minide_common::{Error, Result};

use super::keyset::KeySet;

/// A typed literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// `unscaled / 10^scale`, exactly.
    Decimal {
        unscaled: i128,
        scale: i8,
    },
    Str(String),
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Since the epoch (UTC for zoned columns), in `unit`.
    Timestamp {
        value: i64,
        unit: TimeUnit,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "=" | "==" => CmpOp::Eq,
            "!=" | "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            other => return Err(Error::invalid(format!("unknown comparison {other:?}"))),
        })
    }

    /// Whether `value <op> literal` holds when `value.cmp(literal)` is `o`.
    pub fn holds(self, o: Ordering) -> bool {
        use Ordering::*;
        match self {
            CmpOp::Eq => o == Equal,
            CmpOp::Ne => o != Equal,
            CmpOp::Lt => o == Less,
            CmpOp::Le => o != Greater,
            CmpOp::Gt => o == Greater,
            CmpOp::Ge => o != Less,
        }
    }
}

/// A row predicate. `BETWEEN` is [`Predicate::between`] (an `And` of two comparisons).
#[derive(Clone, Debug)]
pub enum Predicate {
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    Not(Box<Predicate>),
    Cmp {
        column: String,
        op: CmpOp,
        value: Literal,
    },
    In {
        column: String,
        values: Vec<Literal>,
        negated: bool,
    },
    IsNull {
        column: String,
        negated: bool,
    },
    /// An integer column's value is one of a set of keys (a runtime join filter: the build
    /// side's keys of a hash join, see [`KeySet`]); NULL is unknown.
    InSet {
        column: String,
        set: Arc<KeySet>,
    },
    /// A constant: true, false or unknown (`None`); left by partition pruning, where a
    /// partition column's predicate was decided for a whole file.
    Const(Option<bool>),
}

impl Predicate {
    pub fn cmp(column: &str, op: CmpOp, value: Literal) -> Self {
        Predicate::Cmp {
            column: column.to_string(),
            op,
            value,
        }
    }

    pub fn and(a: Predicate, b: Predicate) -> Self {
        Predicate::And(Box::new(a), Box::new(b))
    }

    pub fn or(a: Predicate, b: Predicate) -> Self {
        Predicate::Or(Box::new(a), Box::new(b))
    }

    pub fn negate(a: Predicate) -> Self {
        Predicate::Not(Box::new(a))
    }

    /// `column BETWEEN lo AND hi`.
    pub fn between(column: &str, lo: Literal, hi: Literal) -> Self {
        Predicate::and(
            Predicate::cmp(column, CmpOp::Ge, lo),
            Predicate::cmp(column, CmpOp::Le, hi),
        )
    }

    /// The columns the predicate reads, in first-use order.
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            Predicate::And(a, b) | Predicate::Or(a, b) => {
                a.columns(out);
                b.columns(out);
            }
            Predicate::Not(a) => a.columns(out),
            Predicate::Cmp { column, .. }
            | Predicate::In { column, .. }
            | Predicate::InSet { column, .. }
            | Predicate::IsNull { column, .. } => {
                if !out.contains(column) {
                    out.push(column.clone())
                }
            }
            Predicate::Const(_) => {}
        }
    }

    /// The column a leaf reads (None for And/Or/Not/Const).
    pub fn leaf_column(&self) -> Option<&str> {
        match self {
            Predicate::Cmp { column, .. }
            | Predicate::In { column, .. }
            | Predicate::InSet { column, .. }
            | Predicate::IsNull { column, .. } => Some(column),
            _ => None,
        }
    }
}

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Literal::Null => write!(f, "NULL"),
            Literal::Bool(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Decimal { unscaled, scale } => {
                let s = usize::try_from(*scale).unwrap_or(0);
                let digits = unscaled.unsigned_abs().to_string();
                let digits = format!("{digits:0>width$}", width = s + 1);
                let (int, frac) = digits.split_at(digits.len() - s);
                let sign = if *unscaled < 0 { "-" } else { "" };
                if frac.is_empty() {
                    write!(f, "{sign}{int}")
                } else {
                    write!(f, "{sign}{int}.{frac}")
                }
            }
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Bytes(b) => write!(
                f,
                "x'{}'",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
            Literal::Date(d) => write!(
                f,
                "DATE {}",
                minide_common::time::format_date(i64::from(*d))
            ),
            Literal::Timestamp { value, unit } => write!(f, "TIMESTAMP {value} ({unit:?})"),
        }
    }
}

impl std::fmt::Display for CmpOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

/// SQL-like text of a predicate (EXPLAIN output, error messages).
impl std::fmt::Display for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quote = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
        match self {
            Predicate::And(a, b) => write!(f, "({a} AND {b})"),
            Predicate::Or(a, b) => write!(f, "({a} OR {b})"),
            Predicate::Not(a) => write!(f, "NOT {a}"),
            Predicate::Cmp { column, op, value } => write!(f, "{} {op} {value}", quote(column)),
            Predicate::In {
                column,
                values,
                negated,
            } => {
                let vs: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{} {not}IN ({})", quote(column), vs.join(", "))
            }
            Predicate::IsNull { column, negated } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{} IS {not}NULL", quote(column))
            }
            Predicate::InSet { column, set } => {
                let (lo, hi) = set.range();
                let n = set.len();
                write!(f, "{} IN <join keys: {n} in [{lo}, {hi}]>", quote(column))
            }
            Predicate::Const(None) => write!(f, "NULL"),
            Predicate::Const(Some(b)) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
        }
    }
}

/// A value of a row or of statistics, seen for comparison with a literal.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    Int(i128),
    Float(f64),
    Dec(i128, i8),
    Str(&'a [u8]),
    Bool(bool),
}

/// `a` against `b` exactly: integers, decimals, floats against integers (`3 < 3.5`),
/// decimals against decimals of another scale. `None` when incomparable (NaN, other kinds,
/// a null literal).
pub fn compare(v: &Val<'_>, lit: &Literal) -> Option<Ordering> {
    match (v, lit) {
        (_, Literal::Null) => None,
        (Val::Int(a), Literal::Int(b)) => Some(a.cmp(b)),
        (Val::Int(a), Literal::Float(b)) => cmp_int_float(*a, *b),
        (Val::Int(a), Literal::Decimal { unscaled, scale }) => {
            Some(cmp_dec(*a, 0, *unscaled, *scale))
        }
        (Val::Float(a), Literal::Float(b)) => a.partial_cmp(b),
        (Val::Float(a), Literal::Int(b)) => cmp_int_float(*b, *a).map(Ordering::reverse),
        (Val::Float(a), Literal::Decimal { unscaled, scale }) => {
            a.partial_cmp(&(*unscaled as f64 / 10f64.powi(i32::from(*scale))))
        }
        (Val::Dec(a, s), Literal::Int(b)) => Some(cmp_dec(*a, *s, *b, 0)),
        (Val::Dec(a, s), Literal::Decimal { unscaled, scale }) => {
            Some(cmp_dec(*a, *s, *unscaled, *scale))
        }
        (Val::Dec(a, s), Literal::Float(b)) => {
            (*a as f64 / 10f64.powi(i32::from(*s))).partial_cmp(b)
        }
        (Val::Str(a), Literal::Str(b)) => Some((*a).cmp(b.as_bytes())),
        (Val::Str(a), Literal::Bytes(b)) => Some((*a).cmp(b.as_slice())),
        (Val::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// An integer against a float, exactly (no rounding of either through the other's type).
pub fn cmp_int_float(a: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    const LIMIT: f64 = 1.7014118346046923e38; // 2^127
    if f >= LIMIT {
        return Some(Ordering::Less);
    }
    if f < -LIMIT {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    match a.cmp(&(t as i128)) {
        Ordering::Equal if f > t => Some(Ordering::Less),
        Ordering::Equal if f < t => Some(Ordering::Greater),
        o => Some(o),
    }
}

/// `a / 10^sa` against `b / 10^sb`, exactly (overflow while rescaling decides by sign).
pub fn cmp_dec(a: i128, sa: i8, b: i128, sb: i8) -> Ordering {
    let up = |x: i128, by: i32| -> Option<i128> { 10i128.checked_pow(by as u32)?.checked_mul(x) };
    let (sa, sb) = (i32::from(sa), i32::from(sb));
    let (x, y) = if sa >= sb {
        (Some(a), up(b, sa - sb))
    } else {
        (up(a, sb - sa), Some(b))
    };
    match (x, y) {
        (Some(x), Some(y)) => x.cmp(&y),
        // The rescaled side is beyond i128, so beyond the other side: its sign decides.
        (Some(_), None) => {
            if b > 0 {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (None, _) => {
            if a > 0 {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

/// Where an integer column stands against a non-integral literal `r`: `v <op> r` is the same
/// as `v <op'> k` for an integer `k`, or a constant (for `=`/`!=`). `None` when `lit` is not a
/// number or is NaN.
pub fn int_bound(op: CmpOp, lit: &Literal) -> Option<IntBound> {
    // (floor, exact) of the literal
    let (floor, exact) = match lit {
        Literal::Int(i) => (*i, true),
        Literal::Float(f) => {
            if f.is_nan() {
                return None;
            }
            const LIMIT: f64 = 1.7014118346046923e38;
            if f.abs() >= LIMIT {
                let above = *f > 0.0;
                return Some(IntBound::Const(match op {
                    CmpOp::Eq => false,
                    CmpOp::Ne => true,
                    CmpOp::Lt | CmpOp::Le => above,
                    CmpOp::Gt | CmpOp::Ge => !above,
                }));
            }
            let fl = f.floor();
            (fl as i128, fl == *f)
        }
        Literal::Decimal { unscaled, scale } => {
            let d = 10i128.checked_pow(u32::try_from(*scale).ok()?)?;
            (unscaled.div_euclid(d), unscaled.rem_euclid(d) == 0)
        }
        _ => return None,
    };
    if exact {
        return Some(IntBound::Cmp(op, floor));
    }
    Some(match op {
        CmpOp::Eq => IntBound::Const(false),
        CmpOp::Ne => IntBound::Const(true),
        CmpOp::Lt | CmpOp::Le => IntBound::Cmp(CmpOp::Le, floor),
        CmpOp::Gt | CmpOp::Ge => IntBound::Cmp(CmpOp::Ge, floor + 1),
    })
}

/// See [`int_bound`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntBound {
    Const(bool),
    Cmp(CmpOp, i128),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_mixed_comparisons() {
        assert_eq!(cmp_int_float(3, 2.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(2, 2.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(-3, -2.5), Some(Ordering::Less));
        assert_eq!(
            cmp_int_float(1 << 60, (1u64 << 60) as f64),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp_int_float((1 << 60) + 1, (1u64 << 60) as f64),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp_int_float(0, f64::NAN), None);
        assert_eq!(cmp_dec(150, 2, 15, 1), Ordering::Equal);
        assert_eq!(cmp_dec(151, 2, 15, 1), Ordering::Greater);
        assert_eq!(cmp_dec(5, 0, 49, 1), Ordering::Greater);
        assert_eq!(cmp_dec(i128::MAX, 0, 1, 0), Ordering::Greater);
        assert_eq!(cmp_dec(1, 0, i128::MAX / 2, 30), Ordering::Less);
        let lit = Literal::Float(2.5);
        assert_eq!(
            int_bound(CmpOp::Gt, &lit),
            Some(IntBound::Cmp(CmpOp::Ge, 3))
        );
        assert_eq!(
            int_bound(CmpOp::Lt, &lit),
            Some(IntBound::Cmp(CmpOp::Le, 2))
        );
        assert_eq!(int_bound(CmpOp::Eq, &lit), Some(IntBound::Const(false)));
        let lit = Literal::Decimal {
            unscaled: -25,
            scale: 1,
        };
        assert_eq!(
            int_bound(CmpOp::Gt, &lit),
            Some(IntBound::Cmp(CmpOp::Ge, -2))
        );
    }
}
