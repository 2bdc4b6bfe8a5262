//! Hive partition path segments: `key=value`, values formatted and escaped as pyarrow writes
//! them (so pyarrow, DuckDB and Polars read back the same partition values).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use minide_common::{Error, Result};

/// The directory name Hive (and pyarrow, Spark, DuckDB) use for a null partition value.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Percent-encode every byte outside RFC 3986's unreserved set, as Arrow's `UriEscape` does:
/// a value can then never contain `/` or `=` and split the path.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether values of this type can name a partition directory.
pub fn supported(t: &DataType) -> bool {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Boolean
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Date32 => true,
        DataType::Dictionary(k, v) => k.is_integer() && supported(v),
        _ => false,
    }
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (the shared calendar in `minide_common::time`).
pub fn format_date(days: i32) -> String {
    minide_common::time::format_date(i64::from(days))
}

/// The text of `arr[row]` as a partition value (unescaped), `None` for null.
pub fn format_value(arr: &ArrayRef, row: usize) -> Result<Option<String>> {
    if arr.is_null(row) {
        return Ok(None);
    }
    macro_rules! int {
        ($t:ty) => {
            arr.as_primitive::<$t>().value(row).to_string()
        };
    }
    let s = match arr.data_type() {
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Boolean => arr.as_boolean().value(row).to_string(),
        DataType::Utf8 => arr.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => arr.as_string::<i64>().value(row).to_string(),
        DataType::Utf8View => arr.as_string_view().value(row).to_string(),
        DataType::Date32 => format_date(
            arr.as_primitive::<arrow_array::types::Date32Type>()
                .value(row),
        ),
        DataType::Dictionary(_, _) => {
            let dict = arr.as_any_dictionary();
            let Some(key) = dict_key(dict.keys(), row) else {
                return Ok(None);
            };
            if key >= dict.values().len() {
                return Err(Error::invalid("dictionary key out of range"));
            }
            return format_value(dict.values(), key);
        }
        other => {
            return Err(Error::unsupported(format!(
                "partitioning by a column of type {other} (use integers, strings, booleans or dates)"
            )));
        }
    };
    Ok(Some(s))
}

/// The dictionary key at `row` (any integer key type), `None` if negative.
pub fn dict_key(keys: &dyn Array, row: usize) -> Option<usize> {
    macro_rules! key {
        ($t:ty) => {
            usize::try_from(keys.as_primitive::<$t>().value(row)).ok()
        };
    }
    match keys.data_type() {
        DataType::Int8 => key!(Int8Type),
        DataType::Int16 => key!(Int16Type),
        DataType::Int32 => key!(Int32Type),
        DataType::Int64 => key!(Int64Type),
        DataType::UInt8 => key!(UInt8Type),
        DataType::UInt16 => key!(UInt16Type),
        DataType::UInt32 => key!(UInt32Type),
        DataType::UInt64 => key!(UInt64Type),
        _ => None,
    }
}

/// The inverse of [`escape`] (and of any percent-encoding): `%XX` becomes the byte; a `%` not
/// followed by two hex digits stays as it is. Invalid UTF-8 is replaced, never an error.
pub fn unescape(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path segment `key=value` parsed back: (key, value), `None` value for the null partition;
/// `None` when the segment is not `key=value`.
pub fn parse_segment(seg: &str) -> Option<(String, Option<String>)> {
    let (k, v) = seg.split_once('=')?;
    let value = (v != NULL_PARTITION).then(|| unescape(v));
    Some((unescape(k), value))
}

/// The path segment `key=value` for a (formatted) value.
pub fn segment(key: &str, value: Option<&str>) -> String {
    match value {
        None => format!("{}={NULL_PARTITION}", escape(key)),
        Some(v) => format!("{}={}", escape(key), escape(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_iso() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(19_723), "2024-01-01");
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(format_date(11_016), "2000-02-29");
    }

    #[test]
    fn escaping_keeps_paths_whole() {
        assert_eq!(escape("a b/c=d"), "a%20b%2Fc%3Dd");
        assert_eq!(escape("DE"), "DE");
        assert_eq!(escape("é"), "%C3%A9");
        assert_eq!(segment("k", None), "k=__HIVE_DEFAULT_PARTITION__");
        for v in ["a b/c=d", "é", "100%", "%zz", ""] {
            assert_eq!(unescape(&escape(v)), v);
        }
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(
            parse_segment("k%3D=a%2Fb"),
            Some(("k=".to_string(), Some("a/b".to_string())))
        );
        assert_eq!(
            parse_segment("k=__HIVE_DEFAULT_PARTITION__"),
            Some(("k".into(), None))
        );
    }
}
