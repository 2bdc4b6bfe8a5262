//! Decoded message values → Arrow columns by a declared schema (shared by the msgpack and
//! JSON decoders).
//!
//! The one message decoder of minide (python/minide/stream/formats.py is a facade over it).
//! Rules: each message is an object with string keys; unknown keys are ignored; a missing or null
//! value is a null (an error for non-nullable fields); integers fit integer and timestamp fields
//! (range-checked) and float fields; floats fit float fields; ISO 8601 strings fit timestamp
//! fields (`2024-01-02T03:04:05.123+02:00`; with a zone converted to UTC, without one taken as
//! is; digits finer than the field's unit do not fit); strings fit string fields; bytes or
//! strings fit binary fields; bools fit bool fields. A message that breaks a rule is reported as
//! `(row index, reason)` and left out; the reason names the field, the value and the type.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, LargeBinaryBuilder, LargeStringBuilder, StringBuilder,
};
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, BinaryArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use minide_common::time::{parse_timestamp, unit_nanos};
use minide_common::{Error, Result};

/// One scalar of a message. Strings borrow the payload, or (JSON strings with escapes) a range
/// of the row's scratch buffer.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a [u8]),
    /// `scratch[start..start + len]`
    Unescaped(u32, u32),
    Bin(&'a [u8]),
    Nested,
}

impl<'a> Value<'a> {
    /// The string's bytes, resolving scratch ranges.
    pub(crate) fn text<'s>(&self, scratch: &'s [u8]) -> Option<&'s [u8]>
    where
        'a: 's,
    {
        match *self {
            Value::Str(s) => Some(s),
            Value::Unescaped(a, n) => scratch.get(a as usize..(a + n) as usize),
            _ => None,
        }
    }
}

/// A message format: parses one payload's top-level object into `slots` (by field position in
/// `names`), using `scratch` for unescaped strings. `Err` is the reason the message is bad.
pub trait ObjectParser {
    fn parse<'a>(
        payload: &'a [u8],
        names: &[&[u8]],
        slots: &mut [Value<'a>],
        scratch: &mut Vec<u8>,
    ) -> std::result::Result<(), String>;
}

/// Where the values of one field go.
pub(crate) enum Column {
    Bool(BooleanBuilder),
    Int {
        values: Vec<i64>,
        valid: BooleanBufferBuilder,
        min: i64,
        max: i64,
        /// Timestamp fields: nanoseconds per unit (ISO 8601 strings are accepted).
        ts_unit: Option<u32>,
    },
    UInt64 {
        values: Vec<u64>,
        valid: BooleanBufferBuilder,
    },
    Float(Vec<f64>, BooleanBufferBuilder),
    Str(StringBuilder),
    LargeStr(LargeStringBuilder),
    Bin(BinaryBuilder),
    LargeBin(LargeBinaryBuilder),
}

fn int_range(t: &DataType) -> Option<(i64, i64)> {
    Some(match t {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::Int64 | DataType::Timestamp(..) => (i64::MIN, i64::MAX),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        _ => return None,
    })
}

impl Column {
    fn new(t: &DataType, rows: usize) -> Option<Column> {
        if let Some((min, max)) = int_range(t) {
            let ts_unit = match t {
                DataType::Timestamp(u, _) => Some(unit_nanos(*u)),
                _ => None,
            };
            return Some(Column::Int {
                values: Vec::with_capacity(rows),
                valid: BooleanBufferBuilder::new(rows),
                min,
                max,
                ts_unit,
            });
        }
        Some(match t {
            DataType::UInt64 => Column::UInt64 {
                values: Vec::with_capacity(rows),
                valid: BooleanBufferBuilder::new(rows),
            },
            DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Float32 | DataType::Float64 => {
                Column::Float(Vec::with_capacity(rows), BooleanBufferBuilder::new(rows))
            }
            DataType::Utf8 => Column::Str(StringBuilder::with_capacity(rows, rows * 16)),
            DataType::LargeUtf8 => {
                Column::LargeStr(LargeStringBuilder::with_capacity(rows, rows * 16))
            }
            DataType::Binary => Column::Bin(BinaryBuilder::with_capacity(rows, rows * 16)),
            DataType::LargeBinary => {
                Column::LargeBin(LargeBinaryBuilder::with_capacity(rows, rows * 16))
            }
            _ => return None,
        })
    }

    /// `Some(detail)` if `v` does not fit (detail: empty or `": why"`), None if it does.
    fn check(&self, v: Value<'_>, scratch: &[u8]) -> Option<&'static str> {
        let ok = match (self, v) {
            (_, Value::Nil) => true,
            (Column::Bool(_), Value::Bool(_)) => true,
            (Column::Int { min, max, .. }, Value::Int(i)) => i >= *min && i <= *max,
            (Column::Int { max, .. }, Value::UInt(u)) => u <= *max as u64,
            (
                Column::Int {
                    ts_unit: Some(unit),
                    ..
                },
                Value::Str(_) | Value::Unescaped(..),
            ) => {
                return iso_timestamp(v.text(scratch).unwrap_or_default(), *unit).err();
            }
            (Column::UInt64 { .. }, Value::Int(i)) => i >= 0,
            (Column::UInt64 { .. }, Value::UInt(_)) => true,
            (Column::Float(..), Value::Int(_) | Value::UInt(_) | Value::Float(_)) => true,
            (Column::Str(_) | Column::LargeStr(_), Value::Str(_) | Value::Unescaped(..)) => {
                let s = v.text(scratch).unwrap_or_default();
                return std::str::from_utf8(s)
                    .err()
                    .map(|_| ": the string is not valid UTF-8");
            }
            (
                Column::Bin(_) | Column::LargeBin(_),
                Value::Str(_) | Value::Unescaped(..) | Value::Bin(_),
            ) => true,
            _ => false,
        };
        (!ok).then_some("")
    }

    /// Append a value that passed `check`.
    fn push(&mut self, v: Value<'_>, scratch: &[u8]) {
        match self {
            Column::Bool(b) => match v {
                Value::Bool(x) => b.append_value(x),
                _ => b.append_null(),
            },
            Column::Int {
                values,
                valid,
                ts_unit,
                ..
            } => {
                let x = match v {
                    Value::Int(i) => Some(i),
                    Value::UInt(u) => Some(u as i64),
                    Value::Str(_) | Value::Unescaped(..) => ts_unit.and_then(|unit| {
                        iso_timestamp(v.text(scratch).unwrap_or_default(), unit).ok()
                    }),
                    _ => None,
                };
                values.push(x.unwrap_or(0));
                valid.append(x.is_some());
            }
            Column::UInt64 { values, valid } => {
                let x = match v {
                    Value::Int(i) => Some(i as u64),
                    Value::UInt(u) => Some(u),
                    _ => None,
                };
                values.push(x.unwrap_or(0));
                valid.append(x.is_some());
            }
            Column::Float(values, valid) => {
                let x = match v {
                    Value::Int(i) => Some(i as f64),
                    Value::UInt(u) => Some(u as f64),
                    Value::Float(f) => Some(f),
                    _ => None,
                };
                values.push(x.unwrap_or(0.0));
                valid.append(x.is_some());
            }
            Column::Str(b) => match v.text(scratch) {
                // Validated in `check`.
                Some(s) => b.append_value(std::str::from_utf8(s).unwrap_or_default()),
                None => b.append_null(),
            },
            Column::LargeStr(b) => match v.text(scratch) {
                Some(s) => b.append_value(std::str::from_utf8(s).unwrap_or_default()),
                None => b.append_null(),
            },
            Column::Bin(b) => match bytes_of(v, scratch) {
                Some(s) => b.append_value(s),
                None => b.append_null(),
            },
            Column::LargeBin(b) => match bytes_of(v, scratch) {
                Some(s) => b.append_value(s),
                None => b.append_null(),
            },
        }
    }

    fn finish(self, t: &DataType) -> ArrayRef {
        fn prim<T: ArrowPrimitiveType>(
            v: Vec<T::Native>,
            mut valid: BooleanBufferBuilder,
            t: &DataType,
        ) -> ArrayRef {
            let nulls = NullBuffer::new(valid.finish());
            let nulls = (nulls.null_count() > 0).then_some(nulls);
            Arc::new(
                PrimitiveArray::<T>::new(ScalarBuffer::from(v), nulls).with_data_type(t.clone()),
            )
        }
        match self {
            Column::Bool(mut b) => Arc::new(b.finish()),
            Column::Str(mut b) => Arc::new(b.finish()),
            Column::LargeStr(mut b) => Arc::new(b.finish()),
            Column::Bin(mut b) => Arc::new(b.finish()),
            Column::LargeBin(mut b) => Arc::new(b.finish()),
            Column::UInt64 { values, valid } => prim::<UInt64Type>(values, valid, t),
            Column::Float(values, valid) => match t {
                DataType::Float32 => {
                    prim::<Float32Type>(values.into_iter().map(|x| x as f32).collect(), valid, t)
                }
                _ => prim::<Float64Type>(values, valid, t),
            },
            Column::Int { values, valid, .. } => match t {
                DataType::Int8 => {
                    prim::<Int8Type>(values.into_iter().map(|x| x as i8).collect(), valid, t)
                }
                DataType::Int16 => {
                    prim::<Int16Type>(values.into_iter().map(|x| x as i16).collect(), valid, t)
                }
                DataType::Int32 => {
                    prim::<Int32Type>(values.into_iter().map(|x| x as i32).collect(), valid, t)
                }
                DataType::UInt8 => {
                    prim::<UInt8Type>(values.into_iter().map(|x| x as u8).collect(), valid, t)
                }
                DataType::UInt16 => {
                    prim::<UInt16Type>(values.into_iter().map(|x| x as u16).collect(), valid, t)
                }
                DataType::UInt32 => {
                    prim::<UInt32Type>(values.into_iter().map(|x| x as u32).collect(), valid, t)
                }
                DataType::Timestamp(TimeUnit::Second, _) => {
                    prim::<TimestampSecondType>(values, valid, t)
                }
                DataType::Timestamp(TimeUnit::Millisecond, _) => {
                    prim::<TimestampMillisecondType>(values, valid, t)
                }
                DataType::Timestamp(TimeUnit::Microsecond, _) => {
                    prim::<TimestampMicrosecondType>(values, valid, t)
                }
                DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                    prim::<TimestampNanosecondType>(values, valid, t)
                }
                _ => prim::<Int64Type>(values, valid, t),
            },
        }
    }
}

/// Payload bytes of a binary value (msgpack bin, or any string).
fn bytes_of<'s>(v: Value<'s>, scratch: &'s [u8]) -> Option<&'s [u8]> {
    match v {
        Value::Bin(s) => Some(s),
        _ => v.text(scratch),
    }
}

/// An ISO 8601 timestamp string in units of `unit` nanoseconds since the epoch (UTC).
fn iso_timestamp(text: &[u8], unit: u32) -> std::result::Result<i64, &'static str> {
    let ts = parse_timestamp(text).ok_or(": not an ISO 8601 timestamp")?;
    ts.in_units(unit)
        .ok_or(": digits finer than the field's unit, or out of range")
}

/// `value` described for a reason: its kind and (shortened) text, e.g. `str "7"`, `int 300`.
fn describe(v: Value<'_>, scratch: &[u8]) -> String {
    fn short(s: &[u8]) -> String {
        let t = String::from_utf8_lossy(s);
        let mut out: String = t.chars().take(40).collect();
        if t.chars().count() > 40 {
            out.push_str("...");
        }
        out
    }
    match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => format!("bool {b}"),
        Value::Int(i) => format!("int {i}"),
        Value::UInt(u) => format!("int {u}"),
        Value::Float(f) => format!("float {f}"),
        Value::Str(_) | Value::Unescaped(..) => {
            format!("str {:?}", short(v.text(scratch).unwrap_or_default()))
        }
        Value::Bin(b) => format!("bytes of length {}", b.len()),
        Value::Nested => "array or object".into(),
    }
}

/// The Arrow type as pyarrow names it (`int64`, `double`, `timestamp[ms]`, ...).
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "bool".into(),
        DataType::Utf8 => "string".into(),
        DataType::LargeUtf8 => "large_string".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::Timestamp(u, tz) => {
            let u = match u {
                TimeUnit::Second => "s",
                TimeUnit::Millisecond => "ms",
                TimeUnit::Microsecond => "us",
                TimeUnit::Nanosecond => "ns",
            };
            match tz {
                Some(tz) => format!("timestamp[{u}, tz={tz}]"),
                None => format!("timestamp[{u}]"),
            }
        }
        other => other.to_string().to_lowercase(),
    }
}

/// Decoded rows and `(index, reason)` of the messages left out.
pub struct Decoded {
    pub batch: RecordBatch,
    pub bad: Vec<(u32, String)>,
}

/// Decode every payload with format `P` (null payloads are bad) into a batch of `schema`.
pub fn decode<P: ObjectParser>(payloads: &BinaryArray, schema: &SchemaRef) -> Result<Decoded> {
    let fields = schema.fields();
    let rows = payloads.len();
    let mut cols = fields
        .iter()
        .map(|f| {
            Column::new(f.data_type(), rows).ok_or_else(|| {
                Error::unsupported(format!(
                    "decoding messages into field '{}' of type {}; use integer, float, double, \
                     bool, string, large_string, binary, large_binary or timestamp fields",
                    f.name(),
                    type_name(f.data_type())
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<&[u8]> = fields.iter().map(|f| f.name().as_bytes()).collect();
    let mut slots: Vec<Value<'_>> = vec![Value::Nil; fields.len()];
    let mut scratch: Vec<u8> = Vec::new();
    let mut bad = Vec::new();
    for row in 0..rows {
        if payloads.is_null(row) {
            bad.push((row as u32, "the entry has no payload field".to_string()));
            continue;
        }
        slots.iter_mut().for_each(|s| *s = Value::Nil);
        scratch.clear();
        let parsed =
            P::parse(payloads.value(row), &names, &mut slots, &mut scratch).and_then(|()| {
                for (i, f) in fields.iter().enumerate() {
                    if matches!(slots[i], Value::Nil) {
                        if !f.is_nullable() {
                            return Err(format!("missing required field '{}'", f.name()));
                        }
                    } else if let Some(why) = cols[i].check(slots[i], &scratch) {
                        return Err(format!(
                            "field '{}': {} does not fit {}{why}",
                            f.name(),
                            describe(slots[i], &scratch),
                            type_name(f.data_type())
                        ));
                    }
                }
                Ok(())
            });
        match parsed {
            Ok(()) => {
                for (c, v) in cols.iter_mut().zip(slots.iter()) {
                    c.push(*v, &scratch);
                }
            }
            Err(why) => bad.push((row as u32, why)),
        }
    }
    let arrays: Vec<ArrayRef> = cols
        .into_iter()
        .zip(fields.iter())
        .map(|(c, f)| c.finish(f.data_type()))
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| Error::schema(format!("decoded batch: {e}")))?;
    Ok(Decoded { batch, bad })
}
