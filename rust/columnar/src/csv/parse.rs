//! Allocation-free parsers for CSV field text: integers, floats, booleans, ISO 8601 dates and
//! timestamps. Each takes the field bytes and returns `None` when the text is not of that type.

/// Decimal integer with optional `-`, no spaces; `None` on overflow. (`+3` is not an integer,
/// as in pyarrow; it is a float.)
#[inline]
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    // Up to 18 digits cannot overflow: fast path without checks.
    if digits.len() <= 18 {
        let mut v: i64 = 0;
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + d as i64;
        }
        return Some(if neg { -v } else { v });
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d as i64)?
        } else {
            v.checked_add(d as i64)?
        };
    }
    Some(v)
}

/// Unsigned decimal integer, `None` on overflow.
#[inline]
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    let digits = b;
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// Decimal or scientific float, also `inf`, `-inf`, `nan` (any case), via fast-float.
#[inline]
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    fast_float2::parse::<f64, _>(b).ok()
}

#[inline]
pub fn parse_f32(b: &[u8]) -> Option<f32> {
    fast_float2::parse::<f32, _>(b).ok()
}

/// Boolean words: true/false in lower, title or upper case.
#[inline]
pub fn parse_bool_word(b: &[u8]) -> Option<bool> {
    match b {
        b"true" | b"True" | b"TRUE" => Some(true),
        b"false" | b"False" | b"FALSE" => Some(false),
        _ => None,
    }
}

/// Booleans: the words above plus `1` and `0` (as pyarrow).
#[inline]
pub fn parse_bool(b: &[u8]) -> Option<bool> {
    match b {
        b"1" => Some(true),
        b"0" => Some(false),
        _ => parse_bool_word(b),
    }
}

// Calendar and ISO 8601 parsing live in `minide_common::time` (shared with the message
// decoder and the scan core's literal binding).
pub use minide_common::time::{Ts, TsKind, days_from_civil, parse_date, parse_timestamp};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"+7"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"1.0", b" 1", b"1e3", b"0x1"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"-1"), None);
    }

    #[test]
    fn floats_and_bools() {
        assert_eq!(parse_f64(b"1.25"), Some(1.25));
        assert_eq!(parse_f64(b"-1e3"), Some(-1000.0));
        assert!(parse_f64(b"nan").is_some_and(f64::is_nan));
        assert_eq!(parse_f64(b"1.2.3"), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_bool(b"TRUE"), Some(true));
        assert_eq!(parse_bool(b"0"), Some(false));
        assert_eq!(parse_bool_word(b"1"), None);
    }
    // Dates and timestamps are tested with their parser in `minide_common::time`.
}
