//! Exact row filtering of decoded batches (the last step of `read_parquet(filter=...)`, after
//! row groups were pruned by statistics).
//!
//! A [`Predicate`] (the scan core's tree, `crate::scan::predicate`) is evaluated with SQL
//! three-valued logic (a comparison with a null is unknown; unknown rows are dropped). Literals
//! arrive bound to the column's domain (`crate::scan::bind`), compared by `predicate::compare`.
//! Kept rows are copied with `MutableArrayData` in runs, so every Arrow type filters alike.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, make_array};
use arrow_data::transform::MutableArrayData;
use arrow_schema::{DataType, TimeUnit};

use minide_common::{Error, Result};

pub use crate::scan::predicate::{CmpOp, Literal, Predicate, Val, compare};

pub fn value_at<'a>(a: &'a dyn Array, i: usize) -> Result<Val<'a>> {
    macro_rules! int {
        ($t:ty) => {
            Val::Int(i128::from(a.as_primitive::<$t>().value(i)))
        };
    }
    Ok(match a.data_type() {
        DataType::Boolean => Val::Bool(a.as_boolean().value(i)),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Date32 => int!(Date32Type),
        DataType::Time32(_) => int!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Nanosecond) => int!(Time64NanosecondType),
        DataType::Time64(_) => int!(Time64MicrosecondType),
        DataType::Timestamp(u, _) => match u {
            TimeUnit::Second => int!(TimestampSecondType),
            TimeUnit::Millisecond => int!(TimestampMillisecondType),
            TimeUnit::Microsecond => int!(TimestampMicrosecondType),
            TimeUnit::Nanosecond => int!(TimestampNanosecondType),
        },
        DataType::Float32 => Val::Float(f64::from(a.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => Val::Float(a.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, s) => Val::Dec(a.as_primitive::<Decimal128Type>().value(i), *s),
        DataType::Decimal64(_, s) => {
            Val::Dec(i128::from(a.as_primitive::<Decimal64Type>().value(i)), *s)
        }
        DataType::Utf8 => Val::Str(a.as_string::<i32>().value(i).as_bytes()),
        DataType::LargeUtf8 => Val::Str(a.as_string::<i64>().value(i).as_bytes()),
        DataType::Binary => Val::Str(a.as_binary::<i32>().value(i)),
        DataType::LargeBinary => Val::Str(a.as_binary::<i64>().value(i)),
        other => {
            return Err(Error::unsupported(format!(
                "filtering a column of type {other}"
            )));
        }
    })
}

/// Three-valued result per row: Some(true/false), None = unknown (null involved).
pub fn evaluate(batch: &RecordBatch, p: &Predicate) -> Result<Vec<Option<bool>>> {
    let n = batch.num_rows();
    let col = |name: &str| -> Result<&ArrayRef> {
        batch
            .column_by_name(name)
            .ok_or_else(|| Error::schema(format!("filter column {name:?} is not in the file")))
    };
    Ok(match p {
        Predicate::And(a, b) => {
            let (x, y) = (evaluate(batch, a)?, evaluate(batch, b)?);
            x.into_iter()
                .zip(y)
                .map(|(x, y)| match (x, y) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                })
                .collect()
        }
        Predicate::Or(a, b) => {
            let (x, y) = (evaluate(batch, a)?, evaluate(batch, b)?);
            x.into_iter()
                .zip(y)
                .map(|(x, y)| match (x, y) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                })
                .collect()
        }
        Predicate::Const(c) => vec![*c; n],
        Predicate::Not(a) => evaluate(batch, a)?
            .into_iter()
            .map(|x| x.map(|b| !b))
            .collect(),
        Predicate::InSet { column, set } => {
            let a = col(column)?.as_ref();
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(match (a.is_null(i), value_at(a, i)?) {
                    (true, _) => None,
                    (false, Val::Int(v)) => Some(i64::try_from(v).is_ok_and(|v| set.contains(v))),
                    (false, _) => {
                        return Err(Error::schema(format!(
                            "join key filter on {column:?}: not an integer column"
                        )));
                    }
                });
            }
            out
        }
        Predicate::IsNull { column, negated } => {
            let a = col(column)?;
            (0..n).map(|i| Some(a.is_null(i) != *negated)).collect()
        }
        Predicate::Cmp { column, op, value } => {
            let a = col(column)?.as_ref();
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                if a.is_null(i) {
                    out.push(None);
                    continue;
                }
                let v = value_at(a, i)?;
                out.push(compare(&v, value).map(|o| op.holds(o)));
            }
            out
        }
        Predicate::In {
            column,
            values,
            negated,
        } => {
            let a = col(column)?.as_ref();
            let has_null = values.contains(&Literal::Null);
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                if a.is_null(i) {
                    out.push(None);
                    continue;
                }
                let v = value_at(a, i)?;
                let hit = values
                    .iter()
                    .any(|l| compare(&v, l) == Some(std::cmp::Ordering::Equal));
                out.push(match (hit, has_null) {
                    (true, _) => Some(!negated),
                    (false, true) => None,
                    (false, false) => Some(*negated),
                });
            }
            out
        }
    })
}

/// Keep the rows where `mask` is true.
pub fn filter_batch(batch: &RecordBatch, mask: &[Option<bool>]) -> Result<RecordBatch> {
    let kept = mask.iter().filter(|m| **m == Some(true)).count();
    if kept == batch.num_rows() {
        return Ok(batch.clone());
    }
    // Runs of kept rows.
    let mut runs = Vec::new();
    let mut i = 0;
    while i < mask.len() {
        if mask[i] == Some(true) {
            let s = i;
            while i < mask.len() && mask[i] == Some(true) {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            let data = c.to_data();
            let mut m = MutableArrayData::new(vec![&data], false, kept);
            for &(s, e) in &runs {
                m.try_extend(0, s, e)
                    .map_err(|e| Error::invalid(format!("filter: {e}")))?;
            }
            Ok(make_array(m.freeze()))
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(kept)),
    )
    .map_err(Error::from)
}
