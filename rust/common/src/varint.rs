//! Unsigned LEB128 varints and zigzag encoding.
//!
//! Used by the Thrift compact protocol (Parquet footers and page headers), WAL records and SST
//! blocks. Decoding is defensive: a varint longer than 10 bytes or running past the buffer is an
//! error, never a panic or a silently wrapped value.

use crate::{Error, Result};

/// Longest LEB128 encoding of a u64.
pub const MAX_VARINT_LEN: usize = 10;

/// Append `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Decode an unsigned varint from the front of `buf`; returns the value and the bytes consumed.
#[inline]
pub fn get_uvarint(buf: &[u8]) -> Result<(u64, usize)> {
    let mut result: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        let low = u64::from(b & 0x7f);
        // The 10th byte may only carry the single top bit of a u64.
        if i == MAX_VARINT_LEN - 1 && b > 1 {
            return Err(Error::corrupt("varint overflows 64 bits"));
        }
        result |= low << (7 * i);
        if b & 0x80 == 0 {
            return Ok((result, i + 1));
        }
    }
    if buf.len() < MAX_VARINT_LEN {
        Err(Error::corrupt("truncated varint"))
    } else {
        Err(Error::corrupt("varint longer than 10 bytes"))
    }
}

/// Map signed to unsigned so small magnitudes of either sign get short varints.
#[inline]
pub fn zigzag_encode(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub fn zigzag_decode(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Append a zigzag-encoded signed varint.
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, zigzag_encode(v));
}

/// Decode a zigzag-encoded signed varint.
#[inline]
pub fn get_varint(buf: &[u8]) -> Result<(i64, usize)> {
    get_uvarint(buf).map(|(v, n)| (zigzag_decode(v), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut b = Vec::new();
        put_uvarint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        assert_eq!(zigzag_encode(-1), 1);
        assert_eq!(zigzag_encode(1), 2);
        assert_eq!(zigzag_encode(i64::MIN), u64::MAX);
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert!(get_uvarint(&[0x80, 0x80]).is_err());
        assert!(get_uvarint(&[]).is_err());
        assert!(get_uvarint(&[0xff; 11]).is_err());
        // 10th byte with more than the top bit set overflows.
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert!(get_uvarint(&over).is_err());
    }

    proptest! {
        #[test]
        fn uvarint_roundtrip(v: u64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            let n = b.len();
            b.extend_from_slice(&tail);
            prop_assert_eq!(get_uvarint(&b).unwrap(), (v, n));
        }

        #[test]
        fn varint_roundtrip(v: i64) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            prop_assert_eq!(get_varint(&b).unwrap(), (v, b.len()));
        }

        #[test]
        fn never_panics_on_garbage(b in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = get_uvarint(&b);
        }
    }
}
