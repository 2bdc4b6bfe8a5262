//! Decoded message values → Arrow columns by a declared schema (shared by the msgpack and
//! JSON decoders).
//!
//! Rules (the same as python/minide/stream/formats.py): each message is an object with string
//! keys; unknown keys are ignored; a missing or null value is a null (an error for non-nullable
//! fields); integers fit integer and timestamp fields (range-checked) and float fields; floats
//! fit float fields; strings fit string fields; bytes or strings fit binary fields; bools fit
//! bool fields. A message that breaks a rule is reported as `(row index, reason)` and left out.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, BooleanBuilder, StringBuilder};
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, BinaryArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
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
    },
    UInt64 {
        values: Vec<u64>,
        valid: BooleanBufferBuilder,
    },
    Float(Vec<f64>, BooleanBufferBuilder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
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

/// True when every field of `schema` has a type this decoder builds.
pub fn supports(schema: &SchemaRef) -> bool {
    schema.fields().iter().all(|f| {
        int_range(f.data_type()).is_some()
            || matches!(
                f.data_type(),
                DataType::UInt64
                    | DataType::Boolean
                    | DataType::Float32
                    | DataType::Float64
                    | DataType::Utf8
                    | DataType::Binary
            )
    })
}

impl Column {
    fn new(t: &DataType, rows: usize) -> Result<Column> {
        if let Some((min, max)) = int_range(t) {
            return Ok(Column::Int {
                values: Vec::with_capacity(rows),
                valid: BooleanBufferBuilder::new(rows),
                min,
                max,
            });
        }
        Ok(match t {
            DataType::UInt64 => Column::UInt64 {
                values: Vec::with_capacity(rows),
                valid: BooleanBufferBuilder::new(rows),
            },
            DataType::Boolean => Column::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Float32 | DataType::Float64 => {
                Column::Float(Vec::with_capacity(rows), BooleanBufferBuilder::new(rows))
            }
            DataType::Utf8 => Column::Str(StringBuilder::with_capacity(rows, rows * 16)),
            DataType::Binary => Column::Bin(BinaryBuilder::with_capacity(rows, rows * 16)),
            other => {
                return Err(Error::unsupported(format!(
                    "msgpack decoding into {other} columns"
                )));
            }
        })
    }

    /// Why `v` does not fit, or None.
    fn check(&self, v: Value<'_>, scratch: &[u8]) -> Option<&'static str> {
        let ok = match (self, v) {
            (_, Value::Nil) => true,
            (Column::Bool(_), Value::Bool(_)) => true,
            (Column::Int { min, max, .. }, Value::Int(i)) => i >= *min && i <= *max,
            (Column::Int { max, .. }, Value::UInt(u)) => u <= *max as u64,
            (Column::UInt64 { .. }, Value::Int(i)) => i >= 0,
            (Column::UInt64 { .. }, Value::UInt(_)) => true,
            (Column::Float(..), Value::Int(_) | Value::UInt(_) | Value::Float(_)) => true,
            (Column::Str(_), Value::Str(_) | Value::Unescaped(..)) => {
                let s = v.text(scratch).unwrap_or_default();
                return std::str::from_utf8(s)
                    .err()
                    .map(|_| "string is not valid UTF-8");
            }
            (Column::Bin(_), Value::Str(_) | Value::Unescaped(..) | Value::Bin(_)) => true,
            _ => false,
        };
        (!ok).then_some("value does not fit the field's type")
    }

    /// Append a value that passed `check`.
    fn push(&mut self, v: Value<'_>, scratch: &[u8]) {
        match self {
            Column::Bool(b) => match v {
                Value::Bool(x) => b.append_value(x),
                _ => b.append_null(),
            },
            Column::Int { values, valid, .. } => {
                let x = match v {
                    Value::Int(i) => Some(i),
                    Value::UInt(u) => Some(u as i64),
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
            Column::Bin(b) => match v {
                Value::Bin(s) => b.append_value(s),
                _ => match v.text(scratch) {
                    Some(s) => b.append_value(s),
                    None => b.append_null(),
                },
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
            Column::Bin(mut b) => Arc::new(b.finish()),
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
        .map(|f| Column::new(f.data_type(), rows))
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
                            return Err(format!("missing required field {:?}", f.name()));
                        }
                    } else if let Some(why) = cols[i].check(slots[i], &scratch) {
                        return Err(format!("field {:?}: {why} ({})", f.name(), f.data_type()));
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
