//! Order-preserving ("memcomparable") key encoding.
//!
//! Sorted stores (the LSM in `rust/kv`, sort keys in `rust/sql`) compare keys as raw bytes. These
//! encoders guarantee `a < b  <=>  enc(a) < enc(b)` byte-wise, so composite keys such as
//! `(user_key, descending commit timestamp)` sort correctly with a plain `memcmp`.
//!
//! - byte strings: every `0x00` becomes `0x00 0xFF`, and the string ends with `0x00 0x00`, so a
//!   prefix sorts before its extensions and the encoding is self-delimiting;
//! - unsigned ints: big-endian; descending variants are bitwise-inverted;
//! - signed ints: big-endian with the sign bit flipped;
//! - floats: sign bit flipped for positives, all bits inverted for negatives.

use crate::{Error, Result};

/// Append an escaped, terminated byte string.
pub fn put_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    buf.reserve(s.len() + 2);
    for &b in s {
        buf.push(b);
        if b == 0 {
            buf.push(0xff);
        }
    }
    buf.extend_from_slice(&[0, 0]);
}

/// Decode a byte string written by [`put_bytes`]; returns it and the bytes consumed.
pub fn get_bytes(buf: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b != 0 {
            out.push(b);
            i += 1;
            continue;
        }
        match buf.get(i + 1) {
            Some(0x00) => return Ok((out, i + 2)),
            Some(0xff) => {
                out.push(0);
                i += 2;
            }
            Some(other) => {
                return Err(Error::corrupt(format!(
                    "invalid escape 0x00 0x{other:02x} in encoded key"
                )));
            }
            None => break,
        }
    }
    Err(Error::corrupt("encoded key string is not terminated"))
}

#[inline]
pub fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Larger values sort first (MVCC: newest version first).
#[inline]
pub fn put_u64_desc(buf: &mut Vec<u8>, v: u64) {
    put_u64(buf, !v);
}

#[inline]
pub fn put_i64(buf: &mut Vec<u8>, v: i64) {
    put_u64(buf, (v as u64) ^ (1 << 63));
}

#[inline]
pub fn put_f64(buf: &mut Vec<u8>, v: f64) {
    let bits = v.to_bits();
    let key = if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    };
    put_u64(buf, key);
}

fn take8(buf: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = buf
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::corrupt("encoded key too short for an 8-byte integer"))?;
    Ok(u64::from_be_bytes(arr))
}

pub fn get_u64(buf: &[u8]) -> Result<u64> {
    take8(buf)
}

pub fn get_u64_desc(buf: &[u8]) -> Result<u64> {
    take8(buf).map(|v| !v)
}

pub fn get_i64(buf: &[u8]) -> Result<i64> {
    take8(buf).map(|v| (v ^ (1 << 63)) as i64)
}

pub fn get_f64(buf: &[u8]) -> Result<f64> {
    take8(buf).map(|k| {
        let bits = if k >> 63 == 1 { k ^ (1 << 63) } else { !k };
        f64::from_bits(bits)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc_bytes(s: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put_bytes(&mut b, s);
        b
    }

    #[test]
    fn prefix_sorts_first_even_with_zero_bytes() {
        assert!(enc_bytes(b"a") < enc_bytes(b"a\0"));
        assert!(enc_bytes(b"a\0") < enc_bytes(b"a\0\0"));
        assert!(enc_bytes(b"") < enc_bytes(b"\0"));
    }

    #[test]
    fn rejects_bad_escapes() {
        assert!(get_bytes(&[1, 0, 7]).is_err());
        assert!(get_bytes(&[1, 2]).is_err());
        assert!(get_u64(&[1, 2, 3]).is_err());
    }

    proptest! {
        #[test]
        fn bytes_order_and_roundtrip(a: Vec<u8>, b: Vec<u8>) {
            let (ea, eb) = (enc_bytes(&a), enc_bytes(&b));
            prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
            prop_assert_eq!(get_bytes(&ea).unwrap(), (a, ea.len()));
        }

        #[test]
        fn composite_key_order(ka: Vec<u8>, ta: u64, kb: Vec<u8>, tb: u64) {
            // (key asc, ts desc): the MVCC ordering used by the kv engine.
            let enc = |k: &[u8], t: u64| { let mut b = enc_bytes(k); put_u64_desc(&mut b, t); b };
            let expected = ka.cmp(&kb).then(tb.cmp(&ta));
            prop_assert_eq!(enc(&ka, ta).cmp(&enc(&kb, tb)), expected);
        }

        #[test]
        fn i64_order(a: i64, b: i64) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            put_i64(&mut ea, a);
            put_i64(&mut eb, b);
            prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
            prop_assert_eq!(get_i64(&ea).unwrap(), a);
        }

        #[test]
        fn f64_order(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::INFINITE | proptest::num::f64::SUBNORMAL,
                     b in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::INFINITE) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            put_f64(&mut ea, a);
            put_f64(&mut eb, b);
            prop_assert_eq!(a.total_cmp(&b), ea.cmp(&eb));
            prop_assert_eq!(get_f64(&ea).unwrap().to_bits(), a.to_bits());
        }
    }
}
