//! msgpack objects → one Arrow batch by a declared schema, in one pass without per-row
//! allocation (strings are validated and copied straight into the column buffers).
//!
//! Rules (the same as python/minide/stream/formats.py): each message is a map with string keys;
//! unknown keys are ignored; a missing or nil value is a null (an error for non-nullable
//! fields); integers fit integer and timestamp fields (range-checked) and float fields; floats
//! fit float fields; str fits string fields; bin or str fit binary fields; bools fit bool fields.
//! A message that breaks a rule is reported as `(row index, reason)` and left out of the batch.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, BooleanBuilder, StringBuilder};
use arrow_array::types::*;
use arrow_array::{ArrayRef, BinaryArray, PrimitiveArray, RecordBatch};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef};
use minide_common::{Error, Result};

#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Nested,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

const TRUNCATED: &str = "not valid msgpack: truncated";

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or(TRUNCATED)?;
        let s = self.buf.get(self.pos..end).ok_or(TRUNCATED)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn be<const N: usize>(&mut self) -> std::result::Result<[u8; N], &'static str> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn len(&mut self, bytes: usize) -> std::result::Result<usize, &'static str> {
        Ok(match bytes {
            1 => self.u8()? as usize,
            2 => u16::from_be_bytes(self.be()?) as usize,
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    /// One value; arrays, maps and extensions are skipped whole and reported as `Nested`.
    fn value(&mut self, depth: u32) -> std::result::Result<Value<'a>, &'static str> {
        if depth > 64 {
            return Err("not valid msgpack: nested too deeply");
        }
        let b = self.u8()?;
        Ok(match b {
            0x00..=0x7f => Value::Int(i64::from(b)),
            0xe0..=0xff => Value::Int(i64::from(b as i8)),
            0xa0..=0xbf => Value::Str(self.take((b & 0x1f) as usize)?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xcc => Value::UInt(u64::from(self.u8()?)),
            0xcd => Value::UInt(u64::from(u16::from_be_bytes(self.be()?))),
            0xce => Value::UInt(u64::from(u32::from_be_bytes(self.be()?))),
            0xcf => Value::UInt(u64::from_be_bytes(self.be()?)),
            0xd0 => Value::Int(i64::from(self.u8()? as i8)),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.be()?)),
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.be()?)),
            0xd9..=0xdb => {
                let n = self.len(1 << (b - 0xd9))?;
                Value::Str(self.take(n)?)
            }
            0xc4..=0xc6 => {
                let n = self.len(1 << (b - 0xc4))?;
                Value::Bin(self.take(n)?)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = match b {
                    0xdc => self.len(2)?,
                    0xdd => self.len(4)?,
                    _ => (b & 0x0f) as usize,
                };
                for _ in 0..n {
                    self.value(depth + 1)?;
                }
                Value::Nested
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = self.map_len(b)?;
                for _ in 0..2 * n {
                    self.value(depth + 1)?;
                }
                Value::Nested
            }
            0xd4..=0xd8 => {
                self.take(1 + (1usize << (b - 0xd4)))?;
                Value::Nested
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (b - 0xc7))?;
                self.take(1 + n)?;
                Value::Nested
            }
            _ => return Err("not valid msgpack: reserved byte 0xc1"),
        })
    }

    fn map_len(&mut self, b: u8) -> std::result::Result<usize, &'static str> {
        match b {
            0x80..=0x8f => Ok((b & 0x0f) as usize),
            0xde => self.len(2),
            0xdf => self.len(4),
            _ => Err("expected an object (msgpack map)"),
        }
    }
}

/// Where the values of one field go.
enum Column {
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
    fn check(&self, v: Value<'_>) -> Option<&'static str> {
        let ok = match (self, v) {
            (_, Value::Nil) => true,
            (Column::Bool(_), Value::Bool(_)) => true,
            (Column::Int { min, max, .. }, Value::Int(i)) => i >= *min && i <= *max,
            (Column::Int { max, .. }, Value::UInt(u)) => u <= *max as u64,
            (Column::UInt64 { .. }, Value::Int(i)) => i >= 0,
            (Column::UInt64 { .. }, Value::UInt(_)) => true,
            (Column::Float(..), Value::Int(_) | Value::UInt(_) | Value::Float(_)) => true,
            (Column::Str(_), Value::Str(s)) => {
                return std::str::from_utf8(s)
                    .err()
                    .map(|_| "string is not valid UTF-8");
            }
            (Column::Bin(_), Value::Str(_) | Value::Bin(_)) => true,
            _ => false,
        };
        (!ok).then_some("value does not fit the field's type")
    }

    /// Append a value that passed `check`.
    fn push(&mut self, v: Value<'_>) {
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
            Column::Str(b) => match v {
                // Validated in `check`.
                Value::Str(s) => b.append_value(std::str::from_utf8(s).unwrap_or_default()),
                _ => b.append_null(),
            },
            Column::Bin(b) => match v {
                Value::Str(s) | Value::Bin(s) => b.append_value(s),
                _ => b.append_null(),
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

use arrow_schema::TimeUnit;

/// Decoded rows and `(index, reason)` of the messages left out.
pub struct Decoded {
    pub batch: RecordBatch,
    pub bad: Vec<(u32, String)>,
}

/// Decode every payload (null payloads are bad: "missing field") into a batch of `schema`.
pub fn decode(payloads: &BinaryArray, schema: &SchemaRef) -> Result<Decoded> {
    use arrow_array::Array;
    let fields = schema.fields();
    let rows = payloads.len();
    let mut cols = fields
        .iter()
        .map(|f| Column::new(f.data_type(), rows))
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<&[u8]> = fields.iter().map(|f| f.name().as_bytes()).collect();
    let mut slots: Vec<Value<'_>> = vec![Value::Nil; fields.len()];
    let mut bad = Vec::new();
    for row in 0..rows {
        if payloads.is_null(row) {
            bad.push((row as u32, "the entry has no payload field".to_string()));
            continue;
        }
        slots.iter_mut().for_each(|s| *s = Value::Nil);
        let mut cur = Cursor {
            buf: payloads.value(row),
            pos: 0,
        };
        let parsed = (|| -> std::result::Result<(), String> {
            let n = cur.u8().and_then(|b| cur.map_len(b))?;
            for _ in 0..n {
                let k = cur.value(0)?;
                let v = cur.value(0)?;
                if let Value::Str(k) = k
                    && let Some(i) = names.iter().position(|n| *n == k)
                {
                    slots[i] = v;
                }
            }
            if cur.pos != cur.buf.len() {
                return Err("not valid msgpack: extra data after the object".into());
            }
            for (i, f) in fields.iter().enumerate() {
                if matches!(slots[i], Value::Nil) {
                    if !f.is_nullable() {
                        return Err(format!("missing required field {:?}", f.name()));
                    }
                } else if let Some(why) = cols[i].check(slots[i]) {
                    return Err(format!("field {:?}: {why} ({})", f.name(), f.data_type()));
                }
            }
            Ok(())
        })();
        match parsed {
            Ok(()) => {
                for (c, v) in cols.iter_mut().zip(slots.iter()) {
                    c.push(*v);
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
