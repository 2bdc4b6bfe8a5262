//! Window keys: per-row keys from [`crate::keyhash`], and the key *values* kept for the output.
//!
//! The state is keyed like the deduplicator's: one integer/temporal column is its own 64-bit key
//! ([`KeyRepr::Int`], exact); anything else (strings, floats, several columns) is the xxh3-128 of
//! the row's canonical encoding ([`KeyRepr::Hashed`]); no key columns is one global key.
//! A hash cannot be turned back into values, so for hashed keys each distinct key's values are
//! copied once, when the key first appears ([`KeyStore`]), and emitted windows read them there.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, LargeBinaryArray, LargeStringArray, StringArray,
};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use crate::checkpoint::{Reader, Writer};
use crate::keyhash::KeyClass;

/// How keys are represented in the state; fixed by the first batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRepr {
    /// No key columns: every row has the same key.
    None = 0,
    /// One integer/temporal column: the value (sign/zero-extended to 64 bits) is the key.
    Int = 1,
    /// Anything else: xxh3-128 of the canonical row encoding.
    Hashed = 2,
}

impl KeyRepr {
    pub fn from_code(c: u8) -> Result<Self> {
        Ok(match c {
            0 => KeyRepr::None,
            1 => KeyRepr::Int,
            2 => KeyRepr::Hashed,
            _ => return Err(Error::corrupt(format!("unknown key representation {c}"))),
        })
    }
}

/// The Arrow type a key column has in the output: the column's own type, dictionaries decoded,
/// string/binary views and fixed-size binary as their plain variants, float16 as float64.
pub fn output_type(dt: &DataType) -> DataType {
    use DataType as D;
    match dt {
        D::Dictionary(_, v) => output_type(v),
        D::Utf8View => D::Utf8,
        D::BinaryView | D::FixedSizeBinary(_) => D::Binary,
        D::Float16 => D::Float64,
        other => other.clone(),
    }
}

/// One key value read from a batch or a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Box<[u8]>),
}

/// Read one key column's value at row `i` (only for keys seen for the first time).
pub fn read_value(a: &dyn Array, i: usize) -> KeyValue {
    use DataType as D;
    if a.is_null(i) {
        return KeyValue::Null;
    }
    macro_rules! int {
        ($t:ty) => {
            KeyValue::Int(a.as_primitive::<$t>().value(i) as i64)
        };
    }
    match a.data_type() {
        D::Int8 => int!(Int8Type),
        D::Int16 => int!(Int16Type),
        D::Int32 => int!(Int32Type),
        D::Int64 => int!(Int64Type),
        D::UInt8 => int!(UInt8Type),
        D::UInt16 => int!(UInt16Type),
        D::UInt32 => int!(UInt32Type),
        D::UInt64 => int!(UInt64Type),
        D::Date32 => int!(Date32Type),
        D::Date64 => int!(Date64Type),
        D::Time32(_) | D::Time64(_) | D::Timestamp(_, _) | D::Duration(_) => {
            // All of these store i32 or i64: read the value buffer directly.
            let d = a.to_data();
            let idx = d.offset() + i;
            match d.data_type().primitive_width() {
                Some(4) => KeyValue::Int(i64::from(d.buffers()[0].typed_data::<i32>()[idx])),
                _ => KeyValue::Int(d.buffers()[0].typed_data::<i64>()[idx]),
            }
        }
        D::Float16 => KeyValue::Float(a.as_primitive::<Float16Type>().value(i).to_f64()),
        D::Float32 => KeyValue::Float(f64::from(a.as_primitive::<Float32Type>().value(i))),
        D::Float64 => KeyValue::Float(a.as_primitive::<Float64Type>().value(i)),
        D::Boolean => KeyValue::Bool(a.as_boolean().value(i)),
        D::Utf8 => KeyValue::Bytes(a.as_string::<i32>().value(i).as_bytes().into()),
        D::LargeUtf8 => KeyValue::Bytes(a.as_string::<i64>().value(i).as_bytes().into()),
        D::Utf8View => KeyValue::Bytes(a.as_string_view().value(i).as_bytes().into()),
        D::Binary => KeyValue::Bytes(a.as_binary::<i32>().value(i).into()),
        D::LargeBinary => KeyValue::Bytes(a.as_binary::<i64>().value(i).into()),
        D::BinaryView => KeyValue::Bytes(a.as_binary_view().value(i).into()),
        D::FixedSizeBinary(_) => KeyValue::Bytes(a.as_fixed_size_binary().value(i).into()),
        D::Dictionary(_, _) => {
            let dict = a.as_any_dictionary();
            match dict.normalized_keys().get(i) {
                Some(&k) if k < dict.values().len() => read_value(dict.values().as_ref(), k),
                _ => KeyValue::Null,
            }
        }
        _ => KeyValue::Null,
    }
}

/// Key values by key id, one vector per key column (hashed keys only).
#[derive(Debug, Default)]
pub struct KeyStore {
    cols: Vec<Vec<KeyValue>>,
    bytes: usize,
}

impl KeyStore {
    pub fn new(columns: usize) -> Self {
        KeyStore {
            cols: (0..columns).map(|_| Vec::new()).collect(),
            bytes: 0,
        }
    }

    /// Store key `id`'s values (`id` is either new, == len, or a reused id).
    pub fn set(&mut self, id: usize, values: impl Iterator<Item = KeyValue>) {
        for (col, v) in self.cols.iter_mut().zip(values) {
            if let KeyValue::Bytes(b) = &v {
                self.bytes += b.len();
            }
            if id == col.len() {
                col.push(v);
            } else {
                if let KeyValue::Bytes(b) = &col[id] {
                    self.bytes -= b.len();
                }
                col[id] = v;
            }
        }
    }

    /// Forget key `id`'s values (its id goes back to the free list).
    pub fn clear(&mut self, id: usize) {
        for col in &mut self.cols {
            if let Some(KeyValue::Bytes(b)) = col.get(id) {
                self.bytes -= b.len();
            }
            if let Some(v) = col.get_mut(id) {
                *v = KeyValue::Null;
            }
        }
    }

    pub fn columns(&self) -> usize {
        self.cols.len()
    }

    pub fn get(&self, col: usize, id: usize) -> &KeyValue {
        &self.cols[col][id]
    }

    pub fn heap_bytes(&self) -> usize {
        self.bytes
            + self
                .cols
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<KeyValue>())
                .sum::<usize>()
    }
}

/// Checkpoint encoding of one key value of a column of `class`: a validity byte, then the value.
pub fn write_value(w: &mut Writer, v: &KeyValue) {
    match v {
        KeyValue::Null => w.u8(0),
        KeyValue::Int(x) => {
            w.u8(1);
            w.i64(*x);
        }
        KeyValue::Float(x) => {
            w.u8(1);
            w.f64(*x);
        }
        KeyValue::Bool(x) => {
            w.u8(1);
            w.u8(u8::from(*x));
        }
        KeyValue::Bytes(b) => {
            w.u8(1);
            w.bytes(b);
        }
    }
}

pub fn read_value_ckpt(r: &mut Reader<'_>, class: KeyClass) -> Result<KeyValue> {
    Ok(match r.u8()? {
        0 => KeyValue::Null,
        1 => match class {
            KeyClass::Int => KeyValue::Int(r.i64()?),
            KeyClass::Float => KeyValue::Float(r.f64()?),
            KeyClass::Bool => KeyValue::Bool(r.u8()? != 0),
            KeyClass::Bytes => KeyValue::Bytes(r.bytes()?.into()),
            KeyClass::Decimal => {
                return Err(Error::corrupt("decimal key in a window checkpoint"));
            }
        },
        v => return Err(Error::corrupt(format!("key value validity byte {v}"))),
    })
}

/// Build an output key column of type `dt` (from [`output_type`]) from values.
pub fn key_array(dt: &DataType, values: &[&KeyValue]) -> Result<ArrayRef> {
    use DataType as D;
    let ints = || -> Vec<Option<i64>> {
        values
            .iter()
            .map(|v| match v {
                KeyValue::Int(x) => Some(*x),
                _ => None,
            })
            .collect()
    };
    let floats = || -> Vec<Option<f64>> {
        values
            .iter()
            .map(|v| match v {
                KeyValue::Float(x) => Some(*x),
                _ => None,
            })
            .collect()
    };
    let bytes = || -> Vec<Option<&[u8]>> {
        values
            .iter()
            .map(|v| match v {
                KeyValue::Bytes(b) => Some(&b[..]),
                _ => None,
            })
            .collect()
    };
    let strs = || -> Result<Vec<Option<&str>>> {
        bytes()
            .into_iter()
            .map(|b| {
                b.map(std::str::from_utf8)
                    .transpose()
                    .map_err(|_| Error::corrupt("string key is not UTF-8"))
            })
            .collect()
    };
    // Integer and temporal types are built at their width, then given their logical type.
    let retype = |a: ArrayRef| -> Result<ArrayRef> {
        if a.data_type() == dt {
            return Ok(a);
        }
        let data = a
            .to_data()
            .into_builder()
            .data_type(dt.clone())
            .build()
            .map_err(|e| Error::invalid(format!("key column of type {dt}: {e}")))?;
        Ok(arrow_array::make_array(data))
    };
    Ok(match dt {
        D::Int8 | D::UInt8 => retype(Arc::new(Int8Array::from_iter(
            ints().into_iter().map(|v| v.map(|x| x as i8)),
        )))?,
        D::Int16 | D::UInt16 => retype(Arc::new(Int16Array::from_iter(
            ints().into_iter().map(|v| v.map(|x| x as i16)),
        )))?,
        D::Int32 | D::UInt32 | D::Date32 | D::Time32(_) => retype(Arc::new(
            Int32Array::from_iter(ints().into_iter().map(|v| v.map(|x| x as i32))),
        ))?,
        D::Int64 | D::UInt64 | D::Date64 | D::Time64(_) | D::Timestamp(_, _) | D::Duration(_) => {
            retype(Arc::new(Int64Array::from(ints())))?
        }
        D::Float32 => Arc::new(Float32Array::from_iter(
            floats().into_iter().map(|v| v.map(|x| x as f32)),
        )),
        D::Float64 => Arc::new(Float64Array::from(floats())),
        D::Boolean => Arc::new(BooleanArray::from(
            values
                .iter()
                .map(|v| match v {
                    KeyValue::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        D::Utf8 => Arc::new(StringArray::from(strs()?)),
        D::LargeUtf8 => Arc::new(LargeStringArray::from(strs()?)),
        D::Binary => Arc::new(BinaryArray::from(bytes())),
        D::LargeBinary => Arc::new(LargeBinaryArray::from(bytes())),
        other => {
            return Err(Error::unsupported(format!(
                "window key columns of type {other}"
            )));
        }
    })
}
