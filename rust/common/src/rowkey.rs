//! Row keys over Arrow columns: the one encoder and hasher of multi-column keys.
//!
//! Used by the SQL executor (GROUP BY and join keys, `rust/sql/src/keys.rs`), the stream engine
//! (dedup keys and keyed log partitioning, `rust/stream/src/keyhash.rs`) and any engine that needs
//! "these rows have equal keys" over Arrow data.
//!
//! ## The canonical row encoding
//! A row's key is the concatenation, per key column, of
//!
//! ```text
//!  null   → 0x00
//!  value  → 0x01  canonical value bytes
//!           integer / temporal : the value as i64, 8 bytes LE (u64 above i64::MAX: its bits)
//!           float              : as f64, 8 bytes LE; -0.0 is 0.0 and every NaN one NaN
//!           boolean            : 1 byte, 0 or 1
//!           decimal128         : the unscaled i128, 16 bytes LE (the scale is the column's)
//!           string / binary    : u32 LE length, then the bytes
//! ```
//!
//! so two rows encode equally iff their key values are equal (SQL GROUP BY equality: NULL is a
//! value of its own, one NaN), and the encoding is independent of the physical Arrow type:
//! int32 5 and int64 5, `utf8` / `large_utf8` / `utf8_view`, a dictionary and its decoded
//! values all encode the same. The encoding is self-delimiting, so (`"ab"`, `"c"`) and (`"a"`,
//! `"bc"`) differ. The SQL executor decodes it back into GROUP BY output columns.
//!
//! ## Adding an Arrow type
//! [`Reader::new`] holds the one match from Arrow type to a canonical reader; a type that fits an
//! existing class is one arm there (and one in [`class_of`]).
//!
//! ## Hashes
//! [`hash_rows128`] gives xxh3-128 per row of the encoding, with one shortcut that stream dedup
//! checkpoints depend on: a single string/binary key column hashes each value's raw bytes (no tag,
//! no length) and a null as [`NULL_KEY`]. Single integer columns use their value itself
//! ([`int_values`]) rather than a hash.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, BooleanArray};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use xxhash_rust::xxh3::xxh3_128;

use crate::{Error, Result};

/// Canonical class of a key column. Stream dedup stores the codes in its checkpoints and refuses
/// a batch whose key columns changed class (an int key turning into a string key would silently
/// never match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    Int = 1,
    Float = 2,
    Bool = 3,
    Bytes = 4,
    Decimal = 5,
}

impl KeyClass {
    pub fn from_code(c: u8) -> Result<Self> {
        Ok(match c {
            1 => KeyClass::Int,
            2 => KeyClass::Float,
            3 => KeyClass::Bool,
            4 => KeyClass::Bytes,
            5 => KeyClass::Decimal,
            _ => return Err(Error::corrupt(format!("unknown key class {c}"))),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyClass::Int => "integer/temporal",
            KeyClass::Float => "float",
            KeyClass::Bool => "boolean",
            KeyClass::Bytes => "string/binary",
            KeyClass::Decimal => "decimal",
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
        D::Decimal128(_, _) => KeyClass::Decimal,
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

fn not_a_key(dt: &DataType) -> Error {
    Error::schema(format!(
        "{dt} cannot be a key column; use integers, floats, booleans, decimals, strings, binary \
         or temporal types"
    ))
}

/// Integer/temporal column values as 64-bit keys (sign-extended; null slots hold anything).
/// 64-bit columns are viewed in place; narrower ones and dictionaries are widened.
pub fn int_values(a: &dyn Array) -> Result<ScalarBuffer<u64>> {
    use DataType as D;
    if let D::Int64 | D::UInt64 | D::Date64 | D::Time64(_) | D::Timestamp(_, _) | D::Duration(_) =
        a.data_type()
    {
        let d = a.to_data();
        let buf = d
            .buffers()
            .first()
            .ok_or_else(|| Error::invalid("64-bit integer array without a value buffer"))?;
        if buf.len() < (d.offset() + d.len()) * 8 {
            return Err(Error::invalid("value buffer shorter than the array"));
        }
        return Ok(ScalarBuffer::new(buf.clone(), d.offset(), d.len()));
    }
    match Reader::new(a)? {
        Reader::IntWidened(v) => Ok(ScalarBuffer::from(
            v.into_iter().map(|x| x as u64).collect::<Vec<u64>>(),
        )),
        Reader::Int32(v) => Ok(ScalarBuffer::from(
            v.iter().map(|&x| i64::from(x) as u64).collect::<Vec<u64>>(),
        )),
        Reader::Dict(keys, inner) => {
            let widened: Vec<i64>;
            let dv: &[i64] = match &*inner {
                Reader::Int(v) => v,
                Reader::IntWidened(v) => v,
                Reader::Int32(v) => {
                    widened = v.iter().map(|&x| i64::from(x)).collect();
                    &widened
                }
                _ => {
                    return Err(Error::schema(format!(
                        "{} is not an integer key",
                        a.data_type()
                    )));
                }
            };
            Ok((0..a.len())
                .map(|i| {
                    keys.get(i)
                        .and_then(|&k| dv.get(k))
                        .map_or(0, |&v| v as u64)
                })
                .collect::<Vec<u64>>()
                .into())
        }
        _ => Err(Error::schema(format!(
            "{} is not an integer key type",
            a.data_type()
        ))),
    }
}

/// String/binary values, read straight from the Arrow buffers.
enum Bytes<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Binary(&'a arrow_array::BinaryArray),
    LargeBinary(&'a arrow_array::LargeBinaryArray),
    Utf8View(&'a arrow_array::StringViewArray),
    BinaryView(&'a arrow_array::BinaryViewArray),
    Fixed(&'a arrow_array::FixedSizeBinaryArray),
}

impl<'a> Bytes<'a> {
    /// Value `i`'s bytes (arrays from outside are validated when imported).
    #[inline]
    fn get(&self, i: usize) -> &'a [u8] {
        match *self {
            Bytes::Utf8(a) => a.value(i).as_bytes(),
            Bytes::LargeUtf8(a) => a.value(i).as_bytes(),
            Bytes::Binary(a) => a.value(i),
            Bytes::LargeBinary(a) => a.value(i),
            Bytes::Utf8View(a) => a.value(i).as_bytes(),
            Bytes::BinaryView(a) => a.value(i),
            Bytes::Fixed(a) => a.value(i),
        }
    }
}

/// One key column's canonical reader (its nulls are kept beside it in [`RowEncoder`]).
enum Reader<'a> {
    /// 64-bit integer/temporal values in place.
    Int(&'a [i64]),
    /// 32-bit integer/temporal values in place (the common INT and DATE columns).
    Int32(&'a [i32]),
    /// Other integers widened once.
    IntWidened(Vec<i64>),
    Float(&'a [f64]),
    FloatWidened(Vec<f64>),
    Bool(&'a BooleanArray),
    Decimal(&'a [i128]),
    Bytes(Bytes<'a>),
    /// Dictionary: normalized keys into the values' reader (whose own nulls are folded into the
    /// column's logical nulls).
    Dict(Vec<usize>, Box<Reader<'a>>),
}

/// A dictionary's keys as indexes into its values, clamped in range; empty when there are no
/// values (every slot is then null; arrow's `normalized_keys` would panic).
fn dict_keys(dict: &dyn arrow_array::AnyDictionaryArray) -> Vec<usize> {
    if dict.values().is_empty() {
        Vec::new()
    } else {
        dict.normalized_keys()
    }
}

fn widen<T: ArrowPrimitiveType>(a: &dyn Array, f: impl Fn(T::Native) -> i64) -> Vec<i64> {
    a.as_primitive::<T>()
        .values()
        .iter()
        .map(|&v| f(v))
        .collect()
}

fn i64_slice<T: ArrowPrimitiveType<Native = i64>>(a: &dyn Array) -> &[i64] {
    a.as_primitive::<T>().values()
}

impl<'a> Reader<'a> {
    /// The one match from Arrow type to canonical reader.
    fn new(a: &'a dyn Array) -> Result<Self> {
        use DataType as D;
        use arrow_schema::TimeUnit as U;
        Ok(match a.data_type() {
            D::Int64 => Reader::Int(i64_slice::<Int64Type>(a)),
            D::Date64 => Reader::Int(i64_slice::<Date64Type>(a)),
            D::Timestamp(U::Second, _) => Reader::Int(i64_slice::<TimestampSecondType>(a)),
            D::Timestamp(U::Millisecond, _) => {
                Reader::Int(i64_slice::<TimestampMillisecondType>(a))
            }
            D::Timestamp(U::Microsecond, _) => {
                Reader::Int(i64_slice::<TimestampMicrosecondType>(a))
            }
            D::Timestamp(U::Nanosecond, _) => Reader::Int(i64_slice::<TimestampNanosecondType>(a)),
            D::Time64(U::Microsecond) => Reader::Int(i64_slice::<Time64MicrosecondType>(a)),
            D::Time64(U::Nanosecond) => Reader::Int(i64_slice::<Time64NanosecondType>(a)),
            D::Duration(U::Second) => Reader::Int(i64_slice::<DurationSecondType>(a)),
            D::Duration(U::Millisecond) => Reader::Int(i64_slice::<DurationMillisecondType>(a)),
            D::Duration(U::Microsecond) => Reader::Int(i64_slice::<DurationMicrosecondType>(a)),
            D::Duration(U::Nanosecond) => Reader::Int(i64_slice::<DurationNanosecondType>(a)),
            D::Int32 => Reader::Int32(a.as_primitive::<Int32Type>().values()),
            D::Date32 => Reader::Int32(a.as_primitive::<Date32Type>().values()),
            D::Time32(U::Second) => Reader::Int32(a.as_primitive::<Time32SecondType>().values()),
            D::Time32(U::Millisecond) => {
                Reader::Int32(a.as_primitive::<Time32MillisecondType>().values())
            }
            D::Int16 => Reader::IntWidened(widen::<Int16Type>(a, i64::from)),
            D::Int8 => Reader::IntWidened(widen::<Int8Type>(a, i64::from)),
            D::UInt64 => Reader::IntWidened(widen::<UInt64Type>(a, |v| v as i64)),
            D::UInt32 => Reader::IntWidened(widen::<UInt32Type>(a, i64::from)),
            D::UInt16 => Reader::IntWidened(widen::<UInt16Type>(a, i64::from)),
            D::UInt8 => Reader::IntWidened(widen::<UInt8Type>(a, i64::from)),
            D::Float64 => Reader::Float(a.as_primitive::<Float64Type>().values()),
            D::Float32 => Reader::FloatWidened(
                a.as_primitive::<Float32Type>()
                    .values()
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect(),
            ),
            D::Float16 => Reader::FloatWidened(
                a.as_primitive::<Float16Type>()
                    .values()
                    .iter()
                    .map(|v| v.to_f64())
                    .collect(),
            ),
            D::Boolean => Reader::Bool(a.as_boolean()),
            D::Decimal128(_, _) => Reader::Decimal(a.as_primitive::<Decimal128Type>().values()),
            D::Utf8 => Reader::Bytes(Bytes::Utf8(a.as_string::<i32>())),
            D::LargeUtf8 => Reader::Bytes(Bytes::LargeUtf8(a.as_string::<i64>())),
            D::Binary => Reader::Bytes(Bytes::Binary(a.as_binary::<i32>())),
            D::LargeBinary => Reader::Bytes(Bytes::LargeBinary(a.as_binary::<i64>())),
            D::Utf8View => Reader::Bytes(Bytes::Utf8View(a.as_string_view())),
            D::BinaryView => Reader::Bytes(Bytes::BinaryView(a.as_binary_view())),
            D::FixedSizeBinary(_) => Reader::Bytes(Bytes::Fixed(a.as_fixed_size_binary())),
            D::Dictionary(_, v) if class_of(v).is_some() => {
                let dict = a.as_any_dictionary();
                Reader::Dict(
                    dict_keys(dict),
                    Box::new(Reader::new(dict.values().as_ref())?),
                )
            }
            other => return Err(not_a_key(other)),
        })
    }

    /// Append value `i` (known non-null) in canonical form, after its 0x01 tag.
    #[inline]
    fn put(&self, i: usize, buf: &mut Vec<u8>) {
        match self {
            Reader::Int(v) => put_int(buf, v[i]),
            Reader::Int32(v) => put_int(buf, i64::from(v[i])),
            Reader::IntWidened(v) => put_int(buf, v[i]),
            Reader::Float(v) => put_float(buf, v[i]),
            Reader::FloatWidened(v) => put_float(buf, v[i]),
            Reader::Bool(a) => {
                buf.push(1);
                buf.push(u8::from(a.value(i)));
            }
            Reader::Decimal(v) => {
                buf.push(1);
                buf.extend_from_slice(&v[i].to_le_bytes());
            }
            Reader::Bytes(b) => {
                let s = b.get(i);
                buf.push(1);
                buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
                buf.extend_from_slice(s);
            }
            // Valid slots hold in-range keys (out-of-range ones only behind nulls).
            Reader::Dict(keys, values) => match keys.get(i) {
                Some(&k) => values.put(k, buf),
                None => buf.push(0),
            },
        }
    }

    /// Bytes per row a value takes (for sizing buffers); strings count their average length.
    fn width(&self, rows: usize) -> usize {
        match self {
            Reader::Int(_)
            | Reader::Int32(_)
            | Reader::IntWidened(_)
            | Reader::Float(_)
            | Reader::FloatWidened(_) => 9,
            Reader::Bool(_) => 2,
            Reader::Decimal(_) => 17,
            Reader::Bytes(Bytes::Utf8(a)) => 5 + a.value_data().len() / rows.max(1),
            Reader::Bytes(_) => 21,
            Reader::Dict(_, v) => v.width(rows),
        }
    }
}

#[inline(always)]
fn put_int(buf: &mut Vec<u8>, v: i64) {
    buf.push(1);
    buf.extend_from_slice(&v.to_le_bytes());
}

#[inline(always)]
fn put_float(buf: &mut Vec<u8>, x: f64) {
    // -0.0 equals 0.0 and every NaN is one NaN, as in SQL GROUP BY.
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

/// Encodes rows of key columns in the canonical form (module docs).
pub struct RowEncoder<'a> {
    cols: Vec<(Reader<'a>, Option<NullBuffer>)>,
    rows: usize,
}

impl<'a> RowEncoder<'a> {
    /// Readers over `cols`, each of `rows` rows (no columns: every row encodes empty); an error
    /// names a column type that cannot be a key.
    pub fn new(cols: &'a [ArrayRef], rows: usize) -> Result<Self> {
        let cols = cols
            .iter()
            .map(|c| {
                if c.len() != rows {
                    return Err(Error::invalid(format!(
                        "key column has {} rows, expected {rows}",
                        c.len()
                    )));
                }
                Ok((Reader::new(c.as_ref())?, c.logical_nulls()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RowEncoder { cols, rows })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Append row `i`'s encoding to `buf`; true if any of its key values is null.
    #[inline]
    pub fn encode_row(&self, i: usize, buf: &mut Vec<u8>) -> bool {
        let mut any_null = false;
        for (r, nulls) in &self.cols {
            if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                buf.push(0);
                any_null = true;
            } else {
                r.put(i, buf);
            }
        }
        any_null
    }

    /// Every row encoded back to back: row `i` is `data[offsets[i]..offsets[i + 1]]`.
    pub fn encode_all(&self) -> EncodedRows {
        let n = self.rows;
        let width: usize = self.cols.iter().map(|(r, _)| r.width(n)).sum();
        let mut data = Vec::with_capacity(n * width);
        let mut offsets = Vec::with_capacity(n + 1);
        let mut has_null = Vec::with_capacity(n);
        offsets.push(0);
        for i in 0..n {
            has_null.push(self.encode_row(i, &mut data));
            offsets.push(data.len());
        }
        EncodedRows {
            data,
            offsets,
            has_null,
        }
    }
}

/// Rows encoded by [`RowEncoder::encode_all`].
#[derive(Debug, Default)]
pub struct EncodedRows {
    pub data: Vec<u8>,
    pub offsets: Vec<usize>,
    /// Whether any key value of the row is null (SQL joins never match such rows).
    pub has_null: Vec<bool>,
}

/// xxh3-128 of a null single string/binary key (a fixed value no byte string is likely to hash
/// to). Stored in stream dedup checkpoints: never change it.
pub const NULL_KEY: [u64; 2] = [0x8c3a_5b1e_7f20_d94b, 0x1d6e_f0a2_43b7_c859];

/// Below this many rows, hashing stays on the calling thread.
const PARALLEL_HASH_ROWS: usize = 16_384;

#[inline]
fn split(h: u128) -> [u64; 2] {
    [h as u64, (h >> 64) as u64]
}

/// xxh3-128 per row: equal keys ⇔ equal hashes (up to a 2^-128 collision). See the module docs
/// for the single string/binary column shortcut. Large single-column batches hash in parallel.
pub fn hash_rows128(cols: &[ArrayRef]) -> Result<Vec<[u64; 2]>> {
    if let [only] = cols
        && let Some(h) = single_bytes_hashes(only.as_ref())?
    {
        return Ok(h);
    }
    let enc = RowEncoder::new(cols, cols.first().map_or(0, |c| c.len()))?;
    let mut buf = Vec::with_capacity(64);
    Ok((0..enc.rows())
        .map(|i| {
            buf.clear();
            enc.encode_row(i, &mut buf);
            split(xxh3_128(&buf))
        })
        .collect())
}

/// One string/binary column (or a dictionary of one): xxh3-128 of each value's raw bytes.
/// `None` for other types.
fn single_bytes_hashes(a: &dyn Array) -> Result<Option<Vec<[u64; 2]>>> {
    let nulls = a.logical_nulls();
    let n = a.len();
    if let DataType::Dictionary(_, v) = a.data_type() {
        if class_of(v) != Some(KeyClass::Bytes) {
            return Ok(None);
        }
        let dict = a.as_any_dictionary();
        let values = single_bytes_hashes(dict.values().as_ref())?.unwrap_or_default();
        let keys = dict_keys(dict);
        return Ok(Some(
            (0..n)
                .map(|i| match &nulls {
                    Some(nb) if nb.is_null(i) => NULL_KEY,
                    _ => keys
                        .get(i)
                        .and_then(|&k| values.get(k))
                        .copied()
                        .unwrap_or(NULL_KEY),
                })
                .collect(),
        ));
    }
    if class_of(a.data_type()) != Some(KeyClass::Bytes) {
        return Ok(None);
    }
    let Reader::Bytes(bytes) = Reader::new(a)? else {
        return Ok(None);
    };
    // One monomorphized loop per layout, not a match per row.
    Ok(Some(match bytes {
        Bytes::Utf8(s) => hash_each(n, nulls, |i| s.value(i).as_bytes()),
        Bytes::LargeUtf8(s) => hash_each(n, nulls, |i| s.value(i).as_bytes()),
        Bytes::Binary(s) => hash_each(n, nulls, |i| s.value(i)),
        Bytes::LargeBinary(s) => hash_each(n, nulls, |i| s.value(i)),
        Bytes::Utf8View(s) => hash_each(n, nulls, |i| s.value(i).as_bytes()),
        Bytes::BinaryView(s) => hash_each(n, nulls, |i| s.value(i)),
        Bytes::Fixed(s) => hash_each(n, nulls, |i| s.value(i)),
    }))
}

/// xxh3-128 of `value(i)` per row (NULL_KEY for nulls), in parallel for large inputs.
fn hash_each<'a>(
    n: usize,
    nulls: Option<NullBuffer>,
    value: impl Fn(usize) -> &'a [u8] + Sync,
) -> Vec<[u64; 2]> {
    let one = |i: usize| {
        if nulls.as_ref().is_some_and(|nb| nb.is_null(i)) {
            NULL_KEY
        } else {
            split(xxh3_128(value(i)))
        }
    };
    if n < PARALLEL_HASH_ROWS {
        (0..n).map(one).collect()
    } else {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(one).collect()
    }
}

#[cfg(test)]
mod tests;
