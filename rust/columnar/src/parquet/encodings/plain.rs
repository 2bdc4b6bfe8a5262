//! PLAIN encoding: fixed-width values little endian back to back, booleans bit-packed LSB first,
//! BYTE_ARRAY as `u32 length + bytes`, FIXED_LEN_BYTE_ARRAY as raw bytes. Also the reader side of
//! BYTE_STREAM_SPLIT (byte k of every value stored in stream k).

use minide_common::{Error, Result};

/// Fixed-width little-endian values (i32, i64, f32, f64).
pub trait Native: Copy + Default + Send + Sync + 'static {
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! native {
    ($t:ty, $n:expr) => {
        impl Native for $t {
            const SIZE: usize = $n;
            #[inline]
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                <$t>::from_le_bytes(a)
            }
            #[inline]
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
native!(i32, 4);
native!(i64, 8);
native!(f32, 4);
native!(f64, 8);

/// Append `values` PLAIN-encoded.
pub fn encode_native<T: Native>(values: &[T], out: &mut Vec<u8>) {
    out.reserve(values.len() * T::SIZE);
    for v in values {
        v.put_le(out);
    }
}

/// Decode `n` PLAIN fixed-width values from the front of `data`; returns bytes consumed.
pub fn decode_native<T: Native>(data: &[u8], n: usize, out: &mut Vec<T>) -> Result<usize> {
    let need = n
        .checked_mul(T::SIZE)
        .filter(|&b| b <= data.len())
        .ok_or_else(|| Error::corrupt(format!("PLAIN page holds fewer than {n} values")))?;
    out.reserve(n);
    out.extend(data[..need].chunks_exact(T::SIZE).map(T::from_le));
    Ok(need)
}

/// Append booleans bit-packed LSB first.
pub fn encode_bools(values: &[bool], out: &mut Vec<u8>) {
    for chunk in values.chunks(8) {
        let mut b = 0u8;
        for (i, &v) in chunk.iter().enumerate() {
            b |= u8::from(v) << i;
        }
        out.push(b);
    }
}

pub fn decode_bools(data: &[u8], n: usize, out: &mut Vec<bool>) -> Result<usize> {
    let need = n.div_ceil(8);
    if data.len() < need {
        return Err(Error::corrupt("PLAIN boolean page truncated"));
    }
    out.extend((0..n).map(|i| data[i / 8] >> (i % 8) & 1 == 1));
    Ok(need)
}

/// Append BYTE_ARRAY values (`u32` length prefix each).
pub fn encode_byte_arrays<'a>(values: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for v in values {
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
}

/// Walk `n` PLAIN BYTE_ARRAY values, calling `push` with each; returns bytes consumed.
pub fn decode_byte_arrays(data: &[u8], n: usize, mut push: impl FnMut(&[u8])) -> Result<usize> {
    let mut pos = 0usize;
    for _ in 0..n {
        let len = data
            .get(pos..pos + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| Error::corrupt("BYTE_ARRAY length past the page end"))?;
        pos += 4;
        let v = data
            .get(pos..pos.saturating_add(len))
            .ok_or_else(|| Error::corrupt("BYTE_ARRAY value past the page end"))?;
        push(v);
        pos += len;
    }
    Ok(pos)
}

/// BYTE_STREAM_SPLIT: `n` values of `width` bytes; returns them re-assembled, back to back.
pub fn decode_byte_stream_split(data: &[u8], n: usize, width: usize) -> Result<Vec<u8>> {
    let total = n
        .checked_mul(width)
        .filter(|&t| t <= data.len())
        .ok_or_else(|| Error::corrupt("BYTE_STREAM_SPLIT page truncated"))?;
    let mut out = vec![0u8; total];
    for k in 0..width {
        let stream = &data[k * n..(k + 1) * n];
        for (i, &b) in stream.iter().enumerate() {
            out[i * width + k] = b;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_roundtrip() {
        let v = vec![1i64, -2, i64::MAX];
        let mut b = Vec::new();
        encode_native(&v, &mut b);
        let mut out = Vec::new();
        assert_eq!(decode_native::<i64>(&b, 3, &mut out).unwrap(), 24);
        assert_eq!(out, v);
        assert!(decode_native::<i64>(&b, 4, &mut out).is_err());
        let mut b = Vec::new();
        encode_byte_arrays([&b"ab"[..], b"", b"xyz"].into_iter(), &mut b);
        let mut got = Vec::new();
        decode_byte_arrays(&b, 3, |v| got.push(v.to_vec())).unwrap();
        assert_eq!(got, vec![b"ab".to_vec(), vec![], b"xyz".to_vec()]);
        let bools = vec![true, false, true, true, false, false, false, true, true];
        let mut b = Vec::new();
        encode_bools(&bools, &mut b);
        let mut out = Vec::new();
        decode_bools(&b, bools.len(), &mut out).unwrap();
        assert_eq!(out, bools);
    }

    #[test]
    fn byte_stream_split() {
        // two f32 values 1.0 and 2.0 split into 4 streams
        let a = 1.0f32.to_le_bytes();
        let b = 2.0f32.to_le_bytes();
        let mut data = Vec::new();
        for k in 0..4 {
            data.push(a[k]);
            data.push(b[k]);
        }
        let out = decode_byte_stream_split(&data, 2, 4).unwrap();
        assert_eq!(&out[..4], &a);
        assert_eq!(&out[4..], &b);
    }
}
