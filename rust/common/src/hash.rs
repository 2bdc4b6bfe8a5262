//! xxh3-64 hashes of Arrow arrays: the kernel behind `minide.hash_column`.
//!
//! The hash of a value is `xxh3_64` of its bytes as Arrow stores them: little-endian fixed-width
//! values (a bool as one byte 0/1, a decimal128 as 16 bytes), UTF-8 / binary payloads as-is.
//! That makes every hash reproducible with any xxh3 implementation (the tests use Python's
//! `xxhash`). Nulls stay null. Dictionary arrays hash their decoded values, so a dictionary
//! column hashes exactly like its plain form.
//!
//! The array is read in place (zero-copy from Python through the C data interface); the only
//! allocation is the output buffer.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrowPrimitiveType, OffsetSizeTrait, UInt64Array};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use xxhash_rust::xxh3::xxh3_64;

use crate::{Error, Result};

/// Hash every value of `array`; the output has the same length and null positions.
pub fn hash_array(array: &dyn Array) -> Result<UInt64Array> {
    use DataType as D;
    let values: Vec<u64> = match array.data_type() {
        D::Null => vec![0; array.len()],
        D::Boolean => {
            let a = array.as_boolean();
            (0..a.len())
                .map(|i| xxh3_64(&[u8::from(a.value(i))]))
                .collect()
        }
        D::Int8 => fixed::<Int8Type>(array),
        D::Int16 => fixed::<Int16Type>(array),
        D::Int32 => fixed::<Int32Type>(array),
        D::Int64 => fixed::<Int64Type>(array),
        D::UInt8 => fixed::<UInt8Type>(array),
        D::UInt16 => fixed::<UInt16Type>(array),
        D::UInt32 => fixed::<UInt32Type>(array),
        D::UInt64 => fixed::<UInt64Type>(array),
        D::Float16 => fixed::<Float16Type>(array),
        D::Float32 => fixed::<Float32Type>(array),
        D::Float64 => fixed::<Float64Type>(array),
        D::Date32 => fixed::<Date32Type>(array),
        D::Date64 => fixed::<Date64Type>(array),
        D::Decimal128(_, _) => fixed::<Decimal128Type>(array),
        D::Decimal256(_, _) => fixed::<Decimal256Type>(array),
        // Time, timestamp, duration and interval all store plain integers.
        D::Time32(_) | D::Time64(_) | D::Timestamp(_, _) | D::Duration(_) | D::Interval(_) => {
            raw_fixed(array)?
        }
        D::Utf8 => bytes_like::<i32>(
            array.as_string::<i32>().offsets(),
            array.as_string::<i32>().values(),
        )?,
        D::LargeUtf8 => bytes_like::<i64>(
            array.as_string::<i64>().offsets(),
            array.as_string::<i64>().values(),
        )?,
        D::Binary => bytes_like::<i32>(
            array.as_binary::<i32>().offsets(),
            array.as_binary::<i32>().values(),
        )?,
        D::LargeBinary => bytes_like::<i64>(
            array.as_binary::<i64>().offsets(),
            array.as_binary::<i64>().values(),
        )?,
        D::Utf8View => {
            let a = array.as_string_view();
            (0..a.len())
                .map(|i| xxh3_64(a.value(i).as_bytes()))
                .collect()
        }
        D::BinaryView => {
            let a = array.as_binary_view();
            (0..a.len()).map(|i| xxh3_64(a.value(i))).collect()
        }
        D::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary();
            (0..a.len()).map(|i| xxh3_64(a.value(i))).collect()
        }
        D::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            if dict.values().is_empty() {
                // Only possible when every slot is null; `normalized_keys` would panic.
                return Ok(UInt64Array::new(
                    ScalarBuffer::from(vec![0; array.len()]),
                    array.logical_nulls(),
                ));
            }
            let dict_hashes = hash_array(dict.values().as_ref())?;
            let keys = dict.normalized_keys();
            let dv = dict_hashes.values();
            let key_nulls = dict.keys().logical_nulls();
            keys.iter()
                .enumerate()
                .map(|(i, &k)| match &key_nulls {
                    // Null slots may hold any key, even out of range: never index with them.
                    Some(n) if n.is_null(i) => 0,
                    _ => dv.get(k).copied().unwrap_or(0),
                })
                .collect()
        }
        other => {
            return Err(Error::unsupported(format!(
                "hash_column does not hash {other} arrays; hash a primitive, string, binary or dictionary column"
            )));
        }
    };
    let nulls: Option<NullBuffer> = array.logical_nulls();
    Ok(UInt64Array::new(ScalarBuffer::from(values), nulls))
}

fn fixed<T: ArrowPrimitiveType>(array: &dyn Array) -> Vec<u64> {
    let a = array.as_primitive::<T>();
    let width = std::mem::size_of::<T::Native>();
    hash_chunks(a.values().inner().as_slice(), width)
}

/// Temporal types: hash the raw value buffer by its byte width without naming every unit type.
fn raw_fixed(array: &dyn Array) -> Result<Vec<u64>> {
    let width = array
        .data_type()
        .primitive_width()
        .ok_or_else(|| Error::unsupported(format!("{} has no fixed width", array.data_type())))?;
    let data = array.to_data();
    let buf = data
        .buffers()
        .first()
        .ok_or_else(|| Error::invalid("primitive array without a value buffer"))?;
    let start = data.offset() * width;
    let bytes = buf
        .as_slice()
        .get(start..start + data.len() * width)
        .ok_or_else(|| Error::invalid("value buffer shorter than the array"))?;
    Ok(hash_chunks(bytes, width))
}

#[inline]
fn hash_chunks(bytes: &[u8], width: usize) -> Vec<u64> {
    match width {
        // Constant widths let the compiler inline xxh3's short-input paths.
        8 => bytes.chunks_exact(8).map(xxh3_64).collect(),
        4 => bytes.chunks_exact(4).map(xxh3_64).collect(),
        _ => bytes.chunks_exact(width).map(xxh3_64).collect(),
    }
}

/// Offsets come from a foreign producer: a bad pair is an error, never an out-of-bounds slice.
fn bytes_like<O: OffsetSizeTrait>(offsets: &[O], data: &[u8]) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let value = data
            .get(w[0].as_usize()..w[1].as_usize())
            .ok_or_else(|| Error::invalid("string/binary offsets out of bounds"))?;
        out.push(xxh3_64(value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        BooleanArray, DictionaryArray, Int32Array, Int64Array, StringArray,
        TimestampMicrosecondArray,
    };
    use std::sync::Arc;

    #[test]
    fn ints_hash_their_le_bytes_and_keep_nulls() {
        let a = Int64Array::from(vec![Some(1), None, Some(-7)]);
        let h = hash_array(&a).unwrap();
        assert_eq!(h.value(0), xxh3_64(&1i64.to_le_bytes()));
        assert!(h.is_null(1));
        assert_eq!(h.value(2), xxh3_64(&(-7i64).to_le_bytes()));
    }

    #[test]
    fn sliced_arrays_hash_the_slice() {
        let a = Int32Array::from(vec![1, 2, 3, 4]);
        let h = hash_array(&a.slice(2, 2)).unwrap();
        assert_eq!(
            h.values().to_vec(),
            vec![xxh3_64(&3i32.to_le_bytes()), xxh3_64(&4i32.to_le_bytes())]
        );
        let s = StringArray::from(vec!["ab", "c", "def"]);
        let h = hash_array(&s.slice(1, 2)).unwrap();
        assert_eq!(h.values().to_vec(), vec![xxh3_64(b"c"), xxh3_64(b"def")]);
    }

    #[test]
    fn strings_bools_timestamps() {
        let s = StringArray::from(vec![Some("a"), None, Some("")]);
        let h = hash_array(&s).unwrap();
        assert_eq!(h.value(0), xxh3_64(b"a"));
        assert!(h.is_null(1));
        assert_eq!(h.value(2), xxh3_64(b""));
        let b = BooleanArray::from(vec![true, false]);
        assert_eq!(
            hash_array(&b).unwrap().values().to_vec(),
            vec![xxh3_64(&[1]), xxh3_64(&[0])]
        );
        let t = TimestampMicrosecondArray::from(vec![5]);
        assert_eq!(
            hash_array(&t).unwrap().value(0),
            xxh3_64(&5i64.to_le_bytes())
        );
    }

    #[test]
    fn dictionary_hashes_like_plain() {
        let d: DictionaryArray<Int32Type> = vec![Some("x"), None, Some("y"), Some("x")]
            .into_iter()
            .collect();
        let plain = StringArray::from(vec![Some("x"), None, Some("y"), Some("x")]);
        let (hd, hp) = (hash_array(&d).unwrap(), hash_array(&plain).unwrap());
        assert_eq!(hd, hp);
        let _ = Arc::new(d);
    }

    #[test]
    fn bad_offsets_are_an_error_not_a_panic() {
        // Foreign producers can hand us offsets past the data; pyarrow itself refuses to build
        // such arrays, so the check is exercised here.
        assert!(bytes_like::<i32>(&[0, 5, 100], b"hello").is_err());
        assert!(bytes_like::<i32>(&[3, 1], b"hello").is_err());
        assert_eq!(
            bytes_like::<i32>(&[0, 5], b"hello").unwrap(),
            vec![xxh3_64(b"hello")]
        );
    }

    #[test]
    fn empty_and_all_null_dictionaries() {
        let d: DictionaryArray<Int32Type> = vec![None::<&str>, None].into_iter().collect();
        let h = hash_array(&d).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h.null_count(), 2);
    }
}
