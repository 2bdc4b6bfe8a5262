//! Binding a predicate to a schema: every column must exist, every literal is converted to
//! the column's domain (what `filter::value_at` and the statistics decoder produce), exactly:
//!
//! - integer columns: integral numbers become `Int`; 2.5 stays a float or decimal and is
//!   compared exactly (`predicate::compare`, `predicate::int_bound`);
//! - decimal columns: integers and decimals are rescaled to the column's scale when exact;
//! - dates: `Date` literals and ISO text become days; timestamps: any unit, dates and ISO
//!   text become the column's unit (a finer literal keeps its fraction as a decimal);
//! - strings and binaries take text or bytes; booleans take booleans.
//!
//! Anything else is a clear `InvalidArgument` error naming the column and its type.

use arrow_schema::{DataType, Schema, TimeUnit};
use minide_common::{Error, Result};

use super::predicate::{Literal, Predicate};
use crate::csv::parse::{parse_date, parse_timestamp};

/// `p` checked against `schema`, literals converted to their columns' domains.
pub fn bind(p: &Predicate, schema: &Schema) -> Result<Predicate> {
    Ok(match p {
        Predicate::And(a, b) => Predicate::and(bind(a, schema)?, bind(b, schema)?),
        Predicate::Or(a, b) => Predicate::or(bind(a, schema)?, bind(b, schema)?),
        Predicate::Not(a) => Predicate::negate(bind(a, schema)?),
        Predicate::Const(c) => Predicate::Const(*c),
        Predicate::InSet { column, set } => {
            let t = field_type(schema, column)?;
            if !t.is_integer() && !matches!(t, DataType::Date32) {
                return Err(Error::InvalidArgument(format!(
                    "join key filter on {column:?}: {t} is not an integer column"
                )));
            }
            Predicate::InSet {
                column: column.clone(),
                set: set.clone(),
            }
        }
        Predicate::IsNull { column, negated } => {
            field_type(schema, column)?;
            Predicate::IsNull {
                column: column.clone(),
                negated: *negated,
            }
        }
        Predicate::Cmp { column, op, value } => {
            let t = field_type(schema, column)?;
            Predicate::Cmp {
                column: column.clone(),
                op: *op,
                value: coerce(value, t, column)?,
            }
        }
        Predicate::In {
            column,
            values,
            negated,
        } => {
            let t = field_type(schema, column)?;
            Predicate::In {
                column: column.clone(),
                values: values
                    .iter()
                    .map(|v| coerce(v, t, column))
                    .collect::<Result<_>>()?,
                negated: *negated,
            }
        }
    })
}

fn field_type<'s>(schema: &'s Schema, column: &str) -> Result<&'s DataType> {
    match schema.field_with_name(column) {
        Ok(f) => Ok(f.data_type()),
        Err(_) => Err(Error::schema(format!(
            "filter column {column:?} is not in the file (columns: {})",
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn unit_digits(u: TimeUnit) -> i8 {
    match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    }
}

/// `unscaled / 10^scale` as an `Int` when integral, else a `Decimal`.
fn normalized(unscaled: i128, scale: i8) -> Literal {
    if scale <= 0 {
        return match 10i128
            .checked_pow(u32::from(scale.unsigned_abs()))
            .and_then(|m| unscaled.checked_mul(m))
        {
            Some(v) => Literal::Int(v),
            None => Literal::Float(unscaled as f64 * 10f64.powi(-i32::from(scale))),
        };
    }
    let d = 10i128.pow(u32::from(scale.unsigned_abs()));
    if unscaled % d == 0 {
        Literal::Int(unscaled / d)
    } else {
        Literal::Decimal { unscaled, scale }
    }
}

/// A number of nanoseconds in `unit` (exact: a decimal when it has a fraction).
fn from_nanos(ns: i128, unit: TimeUnit) -> Literal {
    normalized(ns, 9 - unit_digits(unit))
}

fn to_nanos(value: i64, unit: TimeUnit) -> i128 {
    i128::from(value) * 10i128.pow(u32::from((9 - unit_digits(unit)).unsigned_abs()))
}

fn parse_number(s: &str) -> Option<Literal> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i128>() {
        return Some(Literal::Int(i));
    }
    if let Some(d) = parse_decimal(t) {
        return Some(d);
    }
    t.parse::<f64>().ok().map(Literal::Float)
}

/// `[-]digits[.digits]` as an exact decimal.
fn parse_decimal(t: &str) -> Option<Literal> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.')?;
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || frac.len() > 38
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mut u: i128 = digits.parse().ok()?;
    if neg {
        u = -u;
    }
    Some(normalized(u, frac.len() as i8))
}

fn coerce(lit: &Literal, t: &DataType, column: &str) -> Result<Literal> {
    let mismatch = || {
        Error::invalid(format!(
            "filter: column {column:?} is {t}, cannot compare it with {}",
            describe(lit)
        ))
    };
    if *lit == Literal::Null {
        return Ok(Literal::Null);
    }
    if let DataType::Dictionary(_, v) = t {
        return coerce(lit, v, column);
    }
    let number = |l: &Literal| -> Option<Literal> {
        match l {
            Literal::Int(_) | Literal::Float(_) => Some(l.clone()),
            Literal::Decimal { unscaled, scale } => Some(normalized(*unscaled, *scale)),
            Literal::Str(s) => parse_number(s),
            _ => None,
        }
    };
    Ok(match t {
        t if t.is_integer() => match number(lit).ok_or_else(mismatch)? {
            Literal::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.0e38 => {
                Literal::Int(f as i128)
            }
            other => other,
        },
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            match number(lit).ok_or_else(mismatch)? {
                Literal::Decimal { unscaled, scale } => {
                    Literal::Float(unscaled as f64 / 10f64.powi(i32::from(scale)))
                }
                other => other,
            }
        }
        DataType::Decimal64(_, s) | DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => {
            let (u, ls) = match number(lit).ok_or_else(mismatch)? {
                Literal::Int(i) => (i, 0i8),
                Literal::Decimal { unscaled, scale } => (unscaled, scale),
                other => return Ok(other),
            };
            // At the column's scale when exact (Bloom probes hash the unscaled value).
            let to = *s;
            if ls <= to {
                match 10i128
                    .checked_pow(u32::from((to - ls).unsigned_abs()))
                    .and_then(|m| u.checked_mul(m))
                {
                    Some(v) => Literal::Decimal {
                        unscaled: v,
                        scale: to,
                    },
                    None => Literal::Decimal {
                        unscaled: u,
                        scale: ls,
                    },
                }
            } else {
                Literal::Decimal {
                    unscaled: u,
                    scale: ls,
                }
            }
        }
        DataType::Date32 => match lit {
            Literal::Date(d) => Literal::Int(i128::from(*d)),
            Literal::Int(i) => Literal::Int(*i),
            Literal::Str(s) => match parse_date(s.trim().as_bytes()) {
                Some(d) => Literal::Int(i128::from(d)),
                None => {
                    return Err(Error::invalid(format!(
                        "filter: {s:?} is not a date (YYYY-MM-DD) for column {column:?}"
                    )));
                }
            },
            Literal::Timestamp { value, unit } => {
                // Days, with the time of day as a fraction (exact: a day has 86_400 * 10^9 ns).
                let ns = to_nanos(*value, *unit);
                let day = 86_400_000_000_000i128;
                if ns % day == 0 {
                    Literal::Int(ns / day)
                } else {
                    // Between two days: compare against the fractional day exactly enough
                    // for ordering (no date equals it).
                    Literal::Float(ns as f64 / day as f64)
                }
            }
            _ => return Err(mismatch()),
        },
        DataType::Timestamp(u, _) => match lit {
            Literal::Timestamp { value, unit } => from_nanos(to_nanos(*value, *unit), *u),
            Literal::Date(d) => from_nanos(i128::from(*d) * 86_400_000_000_000, *u),
            Literal::Int(i) => Literal::Int(*i),
            Literal::Str(s) => match parse_timestamp(s.trim().as_bytes()) {
                Some(ts) => from_nanos(
                    i128::from(ts.secs) * 1_000_000_000 + i128::from(ts.nanos),
                    *u,
                ),
                None => {
                    return Err(Error::invalid(format!(
                        "filter: {s:?} is not an ISO timestamp for column {column:?}"
                    )));
                }
            },
            _ => return Err(mismatch()),
        },
        DataType::Time32(_) | DataType::Time64(_) | DataType::Date64 | DataType::Duration(_) => {
            match lit {
                Literal::Int(i) => Literal::Int(*i),
                _ => return Err(mismatch()),
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => match lit {
            Literal::Str(_) | Literal::Bytes(_) => lit.clone(),
            _ => return Err(mismatch()),
        },
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => match lit {
            Literal::Str(s) => Literal::Bytes(s.as_bytes().to_vec()),
            Literal::Bytes(_) => lit.clone(),
            _ => return Err(mismatch()),
        },
        DataType::Boolean => match lit {
            Literal::Bool(_) => lit.clone(),
            _ => return Err(mismatch()),
        },
        other => {
            return Err(Error::unsupported(format!(
                "filter on column {column:?} of type {other} is not supported"
            )));
        }
    })
}

fn describe(lit: &Literal) -> String {
    match lit {
        Literal::Null => "NULL".into(),
        Literal::Bool(b) => format!("the boolean {b}"),
        Literal::Int(i) => format!("the integer {i}"),
        Literal::Float(f) => format!("the float {f}"),
        Literal::Decimal { unscaled, scale } => {
            format!("the decimal {unscaled}e-{scale}")
        }
        Literal::Str(s) => format!("the string {s:?}"),
        Literal::Bytes(b) => format!("{} bytes", b.len()),
        Literal::Date(d) => format!("the date {}", crate::dataset::hive::format_date(*d)),
        Literal::Timestamp { value, unit } => format!("the timestamp {value} ({unit:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;

    #[test]
    fn literals_take_the_column_domain() {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("d", DataType::Decimal128(10, 2), true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let lit = |c: &str, l: Literal| match bind(
            &Predicate::cmp(c, super::super::predicate::CmpOp::Eq, l),
            &schema,
        )
        .unwrap()
        {
            Predicate::Cmp { value, .. } => value,
            _ => unreachable!(),
        };
        assert_eq!(lit("i", Literal::Float(3.0)), Literal::Int(3));
        assert_eq!(lit("i", Literal::Float(2.5)), Literal::Float(2.5));
        assert_eq!(
            lit("d", Literal::Int(3)),
            Literal::Decimal {
                unscaled: 300,
                scale: 2
            }
        );
        assert_eq!(
            lit(
                "ts",
                Literal::Timestamp {
                    value: 1_500,
                    unit: TimeUnit::Microsecond
                }
            ),
            Literal::Decimal {
                unscaled: 1_500_000,
                scale: 6
            }
        );
        assert_eq!(
            lit("ts", Literal::Str("1970-01-01T00:00:01".into())),
            Literal::Int(1000)
        );
        assert!(
            bind(
                &Predicate::cmp("s", super::super::predicate::CmpOp::Eq, Literal::Int(1)),
                &schema
            )
            .is_err()
        );
        assert!(
            bind(
                &Predicate::cmp("nope", super::super::predicate::CmpOp::Eq, Literal::Int(1)),
                &schema
            )
            .is_err()
        );
    }
}
