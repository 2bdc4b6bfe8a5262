//! Key columns of a batch → one fixed-size key per row, the unit the dedup state stores.
//!
//! Two representations, chosen by the key columns' types once per deduplicator:
//! - [`Keys::Int`]: a single integer or temporal column. The value itself (sign-extended to 64
//!   bits) is the key: exact, 8 bytes, no hashing. Null keys are reported separately.
//! - [`Keys::Hashed`]: anything else (strings, binary, floats, several columns). The key is the
//!   xxh3-128 of a canonical, length-prefixed encoding of the row's key values, so two rows get
//!   the same key iff their values are equal (up to a 2^-128 collision). Nulls are part of the
//!   encoding (a null is a distinct value).
//!
//! Canonical per-column classes make the key independent of the physical Arrow type: int32 5 and
//! int64 5 are the same key, `utf8`, `large_utf8` and `utf8_view` hash identically, a dictionary
//! column hashes as its decoded values (same idea as `minide_common::hash`).

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use minide_common::{Error, Result};
use xxhash_rust::xxh3::xxh3_128;

/// Canonical class of a key column: the dedup state remembers these and refuses a batch whose key
/// columns changed class (an int key turning into a string key would silently never match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    Int = 1,
    Float = 2,
    Bool = 3,
    Bytes = 4,
}

impl KeyClass {
    pub fn from_code(c: u8) -> Result<Self> {
        Ok(match c {
            1 => KeyClass::Int,
            2 => KeyClass::Float,
            3 => KeyClass::Bool,
            4 => KeyClass::Bytes,
            _ => return Err(Error::corrupt(format!("unknown key class {c}"))),
        })
    }
    fn name(self) -> &'static str {
        match self {
            KeyClass::Int => "integer/temporal",
            KeyClass::Float => "float",
            KeyClass::Bool => "boolean",
            KeyClass::Bytes => "string/binary",
        }
    }
}

/// The class of an Arrow type, or `None` if it cannot be a key.
pub fn class_of(dt: &DataType) -> Option<KeyClass> {
    use DataType as D;
    Some(match dt {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
            KeyClass::Int
        }
        D::Date32
        | D::Date64
        | D::Time32(_)
        | D::Time64(_)
        | D::Timestamp(_, _)
        | D::Duration(_) => KeyClass::Int,
        D::Float16 | D::Float32 | D::Float64 => KeyClass::Float,
        D::Boolean => KeyClass::Bool,
        D::Utf8
        | D::LargeUtf8
        | D::Utf8View
        | D::Binary
        | D::LargeBinary
        | D::BinaryView
        | D::FixedSizeBinary(_) => KeyClass::Bytes,
        D::Dictionary(_, v) => class_of(v)?,
        _ => return None,
    })
}

/// Keys of one batch, one per row.
#[derive(Debug)]
pub enum Keys {
    /// Single integer column: the value; `nulls` marks rows whose key is null.
    Int {
        values: ScalarBuffer<u64>,
        nulls: Option<NullBuffer>,
    },
    /// xxh3-128 of the canonical row encoding (nulls included), as two u64 halves.
    Hashed(Vec<[u64; 2]>),
}

/// Resolve the key columns of `batch` by name and check their classes against `expected`
/// (empty = first batch, anything goes). Returns the columns and their classes.
pub fn key_columns(
    batch: &RecordBatch,
    names: &[String],
    expected: &[KeyClass],
) -> Result<(Vec<ArrayRef>, Vec<KeyClass>)> {
    let mut cols = Vec::with_capacity(names.len());
    let mut classes = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let col = batch.column_by_name(name).ok_or_else(|| {
            Error::schema(format!(
                "key column {name:?} is not in the batch (columns: {})",
                column_list(batch)
            ))
        })?;
        let class = class_of(col.data_type()).ok_or_else(|| {
            Error::schema(format!(
                "key column {name:?} has type {} which cannot be a dedup key; use integers, \
                 floats, booleans, strings, binary or timestamps",
                col.data_type()
            ))
        })?;
        if let Some(&want) = expected.get(i)
            && want != class
        {
            return Err(Error::schema(format!(
                "key column {name:?} changed from {} to {} ({}) since the first batch",
                want.name(),
                class.name(),
                col.data_type()
            )));
        }
        cols.push(col.clone());
        classes.push(class);
    }
    Ok((cols, classes))
}

pub fn column_list(batch: &RecordBatch) -> String {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether these key columns use the exact 8-byte integer representation.
pub fn is_int_key(classes: &[KeyClass]) -> bool {
    classes == [KeyClass::Int]
}

/// Compute the per-row keys. `int_repr` selects [`Keys::Int`] (requires a single Int column).
pub fn compute_keys(cols: &[ArrayRef], int_repr: bool) -> Result<Keys> {
    if int_repr {
        let col = cols
            .first()
            .ok_or_else(|| Error::invalid("no key column"))?;
        let values = int_values(col.as_ref())?;
        return Ok(Keys::Int {
            values,
            nulls: col.logical_nulls(),
        });
    }
    let n = cols.first().map_or(0, |c| c.len());
    if let [only] = cols
        && let Some(h) = bytes_hashes(only.as_ref())
    {
        return Ok(Keys::Hashed(h));
    }
    let readers = cols
        .iter()
        .map(|c| Reader::new(c.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(n);
    {
        let mut buf = Vec::with_capacity(64);
        for i in 0..n {
            buf.clear();
            for r in &readers {
                r.encode(i, &mut buf);
            }
            out.push(split(xxh3_128(&buf)));
        }
    }
    Ok(Keys::Hashed(out))
}

/// xxh3-128 of a null key (any fixed value no byte string is likely to hash to).
const NULL_KEY: [u64; 2] = [0x8c3a_5b1e_7f20_d94b, 0x1d6e_f0a2_43b7_c859];

/// Below this many rows, hashing stays on the calling thread.
const PARALLEL_HASH_ROWS: usize = 16_384;

/// Single string/binary column: xxh3-128 of each value's bytes, hashed in parallel straight from
/// the Arrow buffers (no per-row copy). Every physical variant (utf8, large, view, binary,
/// dictionary) gives the same key for the same bytes. `None` for other column types.
fn bytes_hashes(a: &dyn Array) -> Option<Vec<[u64; 2]>> {
    use DataType as D;
    fn go<'a>(
        n: usize,
        nulls: Option<NullBuffer>,
        f: impl Fn(usize) -> &'a [u8] + Sync,
    ) -> Vec<[u64; 2]> {
        let one = |i: usize| {
            if nulls.as_ref().is_some_and(|nb| nb.is_null(i)) {
                NULL_KEY
            } else {
                split(xxh3_128(f(i)))
            }
        };
        if n < PARALLEL_HASH_ROWS {
            (0..n).map(one).collect()
        } else {
            use rayon::prelude::*;
            (0..n).into_par_iter().map(one).collect()
        }
    }
    let n = a.len();
    let nulls = a.logical_nulls();
    Some(match a.data_type() {
        D::Utf8 => {
            let s = a.as_string::<i32>();
            go(n, nulls, |i| s.value(i).as_bytes())
        }
        D::LargeUtf8 => {
            let s = a.as_string::<i64>();
            go(n, nulls, |i| s.value(i).as_bytes())
        }
        D::Utf8View => {
            let s = a.as_string_view();
            go(n, nulls, |i| s.value(i).as_bytes())
        }
        D::Binary => {
            let s = a.as_binary::<i32>();
            go(n, nulls, |i| s.value(i))
        }
        D::LargeBinary => {
            let s = a.as_binary::<i64>();
            go(n, nulls, |i| s.value(i))
        }
        D::BinaryView => {
            let s = a.as_binary_view();
            go(n, nulls, |i| s.value(i))
        }
        D::FixedSizeBinary(_) => {
            let s = a.as_fixed_size_binary();
            go(n, nulls, |i| s.value(i))
        }
        D::Dictionary(_, v) if class_of(v) == Some(KeyClass::Bytes) => {
            let dict = a.as_any_dictionary();
            let values = bytes_hashes(dict.values().as_ref())?;
            let keys = dict.normalized_keys();
            (0..n)
                .map(|i| match &nulls {
                    Some(nb) if nb.is_null(i) => NULL_KEY,
                    _ => keys
                        .get(i)
                        .and_then(|&k| values.get(k))
                        .copied()
                        .unwrap_or(NULL_KEY),
                })
                .collect()
        }
        _ => return None,
    })
}

#[inline]
fn split(h: u128) -> [u64; 2] {
    [h as u64, (h >> 64) as u64]
}

/// Integer/temporal column values sign- or zero-extended to 64 bits (null slots hold garbage).
fn int_values(a: &dyn Array) -> Result<ScalarBuffer<u64>> {
    use DataType as D;
    if let D::Int64 | D::UInt64 | D::Date64 | D::Time64(_) | D::Timestamp(_, _) | D::Duration(_) =
        a.data_type()
    {
        // 64-bit values are their own keys: view the buffer in place.
        let d = a.to_data();
        let buf = d
            .buffers()
            .first()
            .ok_or_else(|| Error::invalid("int64 array without values"))?;
        if buf.len() < (d.offset() + d.len()) * 8 {
            return Err(Error::invalid("value buffer shorter than the array"));
        }
        return Ok(ScalarBuffer::new(buf.clone(), d.offset(), d.len()));
    }
    int_values_widened(a).map(ScalarBuffer::from)
}

/// Narrower integer columns (and dictionaries) widened to 64 bits.
fn int_values_widened(a: &dyn Array) -> Result<Vec<u64>> {
    use DataType as D;
    fn prim<T: ArrowPrimitiveType>(a: &dyn Array, f: impl Fn(T::Native) -> u64) -> Vec<u64> {
        a.as_primitive::<T>()
            .values()
            .iter()
            .map(|&v| f(v))
            .collect()
    }
    Ok(match a.data_type() {
        D::Int8 => prim::<Int8Type>(a, |v| v as i64 as u64),
        D::Int16 => prim::<Int16Type>(a, |v| v as i64 as u64),
        D::Int32 | D::Date32 | D::Time32(_) => {
            let d = a.to_data();
            let buf = d
                .buffers()
                .first()
                .ok_or_else(|| Error::invalid("int32 array without values"))?;
            let vals: &[i32] = buf.typed_data();
            vals.get(d.offset()..d.offset() + d.len())
                .ok_or_else(|| Error::invalid("value buffer shorter than the array"))?
                .iter()
                .map(|&v| v as i64 as u64)
                .collect()
        }
        D::Int64 | D::Date64 | D::Time64(_) | D::Timestamp(_, _) | D::Duration(_) => {
            let d = a.to_data();
            let buf = d
                .buffers()
                .first()
                .ok_or_else(|| Error::invalid("int64 array without values"))?;
            let vals: &[i64] = buf.typed_data();
            vals.get(d.offset()..d.offset() + d.len())
                .ok_or_else(|| Error::invalid("value buffer shorter than the array"))?
                .iter()
                .map(|&v| v as u64)
                .collect()
        }
        D::UInt8 => prim::<UInt8Type>(a, u64::from),
        D::UInt16 => prim::<UInt16Type>(a, u64::from),
        D::UInt32 => prim::<UInt32Type>(a, u64::from),
        D::UInt64 => prim::<UInt64Type>(a, |v| v),
        D::Dictionary(_, _) => {
            let dict = a.as_any_dictionary();
            let dv = if dict.values().is_empty() {
                Vec::new()
            } else {
                int_values(dict.values().as_ref())?.to_vec()
            };
            dict.normalized_keys()
                .iter()
                .map(|&k| dv.get(k).copied().unwrap_or(0))
                .collect()
        }
        other => {
            return Err(Error::schema(format!("{other} is not an integer key type")));
        }
    })
}

/// Reads one key column and appends a row's canonical encoding:
/// null → `[0]`; value → `[1]` + class bytes (ints/floats 8 bytes LE, bool 1 byte,
/// bytes u32 length + payload).
enum Reader<'a> {
    Int(Vec<u64>, Option<NullBuffer>),
    Float(Vec<f64>, Option<NullBuffer>),
    Bool(&'a arrow_array::BooleanArray),
    Bytes(&'a dyn Array),
    Dict(Vec<usize>, Option<NullBuffer>, Box<Reader<'a>>),
}

impl<'a> Reader<'a> {
    fn new(a: &'a dyn Array) -> Result<Self> {
        use DataType as D;
        let class = class_of(a.data_type())
            .ok_or_else(|| Error::schema(format!("{} cannot be a key", a.data_type())))?;
        if let D::Dictionary(_, _) = a.data_type() {
            let dict = a.as_any_dictionary();
            return Ok(Reader::Dict(
                dict.normalized_keys(),
                a.logical_nulls(),
                Box::new(Reader::new(dict.values().as_ref())?),
            ));
        }
        Ok(match class {
            KeyClass::Int => Reader::Int(int_values(a)?.to_vec(), a.logical_nulls()),
            KeyClass::Float => {
                let v: Vec<f64> = match a.data_type() {
                    D::Float16 => a
                        .as_primitive::<Float16Type>()
                        .values()
                        .iter()
                        .map(|v| v.to_f64())
                        .collect(),
                    D::Float32 => a
                        .as_primitive::<Float32Type>()
                        .values()
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect(),
                    _ => a.as_primitive::<Float64Type>().values().to_vec(),
                };
                Reader::Float(v, a.logical_nulls())
            }
            KeyClass::Bool => Reader::Bool(a.as_boolean()),
            KeyClass::Bytes => Reader::Bytes(a),
        })
    }

    fn value_bytes(a: &dyn Array, i: usize) -> &[u8] {
        use DataType as D;
        match a.data_type() {
            D::Utf8 => a.as_string::<i32>().value(i).as_bytes(),
            D::LargeUtf8 => a.as_string::<i64>().value(i).as_bytes(),
            D::Utf8View => a.as_string_view().value(i).as_bytes(),
            D::Binary => a.as_binary::<i32>().value(i),
            D::LargeBinary => a.as_binary::<i64>().value(i),
            D::BinaryView => a.as_binary_view().value(i),
            D::FixedSizeBinary(_) => a.as_fixed_size_binary().value(i),
            _ => &[],
        }
    }

    #[inline]
    fn encode(&self, i: usize, buf: &mut Vec<u8>) {
        let is_null = |n: &Option<NullBuffer>| n.as_ref().is_some_and(|n| n.is_null(i));
        match self {
            Reader::Int(v, n) => {
                if is_null(n) {
                    buf.push(0);
                } else {
                    buf.push(1);
                    buf.extend_from_slice(&v[i].to_le_bytes());
                }
            }
            Reader::Float(v, n) => {
                if is_null(n) {
                    buf.push(0);
                } else {
                    // -0.0 equals 0.0 and every NaN is one NaN, as in SQL GROUP BY.
                    let x = v[i];
                    let bits = if x == 0.0 {
                        0
                    } else if x.is_nan() {
                        f64::NAN.to_bits()
                    } else {
                        x.to_bits()
                    };
                    buf.push(1);
                    buf.extend_from_slice(&bits.to_le_bytes());
                }
            }
            Reader::Bool(a) => {
                if a.is_null(i) {
                    buf.push(0);
                } else {
                    buf.push(1);
                    buf.push(u8::from(a.value(i)));
                }
            }
            Reader::Bytes(a) => {
                if a.is_null(i) {
                    buf.push(0);
                } else {
                    let b = Self::value_bytes(*a, i);
                    buf.push(1);
                    buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    buf.extend_from_slice(b);
                }
            }
            Reader::Dict(keys, n, values) => {
                if is_null(n) {
                    buf.push(0);
                } else {
                    // Null slots may hold out-of-range keys; valid ones index the values.
                    values.encode(keys[i], buf);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{DictionaryArray, Int32Array, Int64Array, LargeStringArray, StringArray};
    use std::sync::Arc;

    fn hashed(cols: Vec<ArrayRef>) -> Vec<[u64; 2]> {
        match compute_keys(&cols, false).unwrap() {
            Keys::Hashed(h) => h,
            Keys::Int { .. } => unreachable!(),
        }
    }

    #[test]
    fn string_kinds_agree_and_null_is_distinct() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("")]));
        let b: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("")]));
        let d: ArrayRef = Arc::new(
            vec![Some("a"), None, Some("")]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let (ha, hb, hd) = (hashed(vec![a]), hashed(vec![b]), hashed(vec![d]));
        assert_eq!(ha, hb);
        assert_eq!(ha, hd);
        assert_ne!(ha[1], ha[2]);
    }

    #[test]
    fn multi_column_is_unambiguous() {
        // ("ab","c") vs ("a","bc") must differ: the length prefix separates them.
        let x: ArrayRef = Arc::new(StringArray::from(vec!["ab", "a"]));
        let y: ArrayRef = Arc::new(StringArray::from(vec!["c", "bc"]));
        let h = hashed(vec![x, y]);
        assert_ne!(h[0], h[1]);
    }

    #[test]
    fn int_widths_agree() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![-5, 7]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![-5, 7]));
        let ka = compute_keys(&[a], true).unwrap();
        let kb = compute_keys(&[b], true).unwrap();
        match (ka, kb) {
            (Keys::Int { values: va, .. }, Keys::Int { values: vb, .. }) => assert_eq!(va, vb),
            _ => unreachable!(),
        }
    }
}
