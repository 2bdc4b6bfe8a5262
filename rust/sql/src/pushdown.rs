//! Predicate pushdown into file scans: the part of a scan's SQL filter the scan core
//! ([`minide_columnar::scan`]) can use to skip partitions, row groups and pages, as its typed
//! [`Predicate`] tree.
//!
//! A conjunct is pushed when it compares a bare column with a literal of the column's own type
//! (`col <op> lit`, `lit <op> col`, `col [NOT] IN (...)`, `col IS [NOT] NULL`, and AND/OR/NOT of
//! those). A column under a cast is not pushed: the scan core compares values exactly, while SQL
//! compares in the cast's type (`float_col = 0.1` holds in DOUBLE, not exactly), so only
//! same-type comparisons mean the same on both sides. The scan core may return more rows than
//! match (it is run with `exact: false`); the SQL filter is always evaluated again on them, so
//! pushing only ever removes rows that cannot match.

use arrow_schema::{Schema, TimeUnit};
use minide_columnar::scan::bind::bind;
use minide_columnar::scan::{CmpOp, Literal, Predicate};

use crate::plan::{BinOp, Expr};
use crate::types::{DType, Scalar, scalar_i128};

/// The pushable part of `filter` (columns are positions into `names`/`types`), or None.
/// Each conjunct is checked against `schema` (what the scan binds to); one that would not bind
/// is left to the SQL filter.
pub fn to_predicate(
    filter: &Expr,
    names: &[String],
    types: &[DType],
    schema: &Schema,
) -> Option<Predicate> {
    let mut parts = Vec::new();
    conjuncts(filter, &mut parts);
    parts
        .into_iter()
        .filter_map(|c| convert(c, names, types))
        .filter(|p| bind(p, schema).is_ok())
        .reduce(Predicate::and)
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            l,
            r,
            ..
        } => {
            conjuncts(l, out);
            conjuncts(r, out);
        }
        other => out.push(other),
    }
}

fn column<'a>(e: &Expr, names: &'a [String], types: &[DType]) -> Option<(&'a str, DType)> {
    match e {
        Expr::Col(i) => Some((names.get(*i)?.as_str(), *types.get(*i)?)),
        _ => None,
    }
}

fn cmp_op(op: BinOp) -> Option<CmpOp> {
    Some(match op {
        BinOp::Eq => CmpOp::Eq,
        BinOp::NotEq => CmpOp::Ne,
        BinOp::Lt => CmpOp::Lt,
        BinOp::LtEq => CmpOp::Le,
        BinOp::Gt => CmpOp::Gt,
        BinOp::GtEq => CmpOp::Ge,
        _ => return None,
    })
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// A SQL literal of type `lit_ty` as a scan literal for a column of type `col_ty` (None: types
/// differ, or NULL: a comparison with NULL is never true and is left to the SQL filter).
pub fn literal(value: &Scalar, lit_ty: DType, col_ty: DType) -> Option<Literal> {
    let same = match (lit_ty, col_ty) {
        (DType::Decimal(..), DType::Decimal(..)) => true,
        (a, b) => a == b,
    };
    if !same {
        return None;
    }
    Some(match (value, lit_ty) {
        (Scalar::Null, _) => return None,
        (Scalar::Bool(b), DType::Bool) => Literal::Bool(*b),
        (Scalar::Int(i), DType::Int64 | DType::Int32 | DType::Int16 | DType::Int8) => {
            Literal::Int(i128::from(*i))
        }
        (Scalar::Float(f), DType::Float64 | DType::Float32) => Literal::Float(*f),
        (Scalar::Str(s), DType::Utf8) => Literal::Str(s.clone()),
        (Scalar::Int(d), DType::Date32) => Literal::Date(i32::try_from(*d).ok()?),
        (Scalar::Int(us), DType::Timestamp | DType::TimestampTz) => Literal::Timestamp {
            value: *us,
            unit: TimeUnit::Microsecond,
        },
        (v, DType::Decimal(_, s)) => Literal::Decimal {
            unscaled: scalar_i128(v).ok()?,
            scale: i8::try_from(s).ok()?,
        },
        _ => return None,
    })
}

fn convert(e: &Expr, names: &[String], types: &[DType]) -> Option<Predicate> {
    match e {
        Expr::Binary { op, l, r, .. } => match op {
            BinOp::And => Some(Predicate::and(
                convert(l, names, types)?,
                convert(r, names, types)?,
            )),
            BinOp::Or => Some(Predicate::or(
                convert(l, names, types)?,
                convert(r, names, types)?,
            )),
            _ => {
                let op = cmp_op(*op)?;
                let (col, lit, op) = match (l.as_ref(), r.as_ref()) {
                    (c, Expr::Lit { value, ty }) => (column(c, names, types)?, (value, *ty), op),
                    (Expr::Lit { value, ty }, c) => {
                        (column(c, names, types)?, (value, *ty), flip(op))
                    }
                    _ => return None,
                };
                let value = literal(lit.0, lit.1, col.1)?;
                Some(Predicate::cmp(col.0, op, value))
            }
        },
        Expr::Not(inner) => Some(Predicate::negate(convert(inner, names, types)?)),
        Expr::IsNull(c) | Expr::IsNotNull(c) => {
            let (name, _) = column(c, names, types)?;
            Some(Predicate::IsNull {
                column: name.to_string(),
                negated: matches!(e, Expr::IsNotNull(_)),
            })
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let (name, ty) = column(expr, names, types)?;
            // the planner types IN-list values as the column's type
            let values = list
                .iter()
                .map(|v| literal(v, ty, ty))
                .collect::<Option<Vec<_>>>()?;
            if values.is_empty() {
                return None;
            }
            Some(Predicate::In {
                column: name.to_string(),
                values,
                negated: *negated,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};

    fn lit(value: Scalar, ty: DType) -> Box<Expr> {
        Box::new(Expr::Lit { value, ty })
    }

    fn bin(op: BinOp, l: Box<Expr>, r: Box<Expr>) -> Expr {
        Expr::Binary {
            op,
            l,
            r,
            ty: DType::Bool,
        }
    }

    #[test]
    fn pushes_same_type_comparisons_and_keeps_the_rest_for_sql() {
        let names = vec!["a".to_string(), "b".to_string(), "x".to_string()];
        let types = vec![DType::Int64, DType::Float64, DType::Decimal(12, 2)];
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Float64, true),
            Field::new("x", DataType::Decimal128(12, 2), true),
        ]);
        // a > 3 AND 5 >= a AND CAST(a AS DOUBLE) = 0.1 AND x < 1.50
        let cast = Box::new(Expr::Cast {
            expr: Box::new(Expr::Col(0)),
            to: DType::Float64,
            from: Some(DType::Int64),
        });
        let e = bin(
            BinOp::And,
            Box::new(bin(
                BinOp::And,
                Box::new(bin(
                    BinOp::Gt,
                    Box::new(Expr::Col(0)),
                    lit(Scalar::Int(3), DType::Int64),
                )),
                Box::new(bin(
                    BinOp::GtEq,
                    lit(Scalar::Int(5), DType::Int64),
                    Box::new(Expr::Col(0)),
                )),
            )),
            Box::new(bin(
                BinOp::And,
                Box::new(bin(
                    BinOp::Eq,
                    cast,
                    lit(Scalar::Float(0.1), DType::Float64),
                )),
                Box::new(bin(
                    BinOp::Lt,
                    Box::new(Expr::Col(2)),
                    lit(Scalar::Int(150), DType::Decimal(3, 2)),
                )),
            )),
        );
        let p = to_predicate(&e, &names, &types, &schema).expect("pushed");
        assert_eq!(
            p.to_string(),
            "((\"a\" > 3 AND \"a\" <= 5) AND \"x\" < 1.50)"
        );
        // a float column against an integer literal is not pushed (SQL casts one side)
        let e = bin(
            BinOp::Eq,
            Box::new(Expr::Col(1)),
            lit(Scalar::Int(1), DType::Int64),
        );
        assert!(to_predicate(&e, &names, &types, &schema).is_none());
        // an OR is pushed only whole
        let e = bin(
            BinOp::Or,
            Box::new(bin(
                BinOp::Eq,
                Box::new(Expr::Col(0)),
                lit(Scalar::Int(1), DType::Int64),
            )),
            Box::new(bin(
                BinOp::Eq,
                Box::new(Expr::Col(1)),
                lit(Scalar::Int(1), DType::Int64),
            )),
        );
        assert!(to_predicate(&e, &names, &types, &schema).is_none());
    }
}
