//! Exact min/max statistics in the order the logical type defines (ColumnOrder =
//! TypeDefinedOrder): signed or unsigned integers, IEEE floats without NaN (-0.0 as min, +0.0 as
//! max, as the spec asks), unsigned bytewise for byte arrays, signed for decimals.
//!
//! Values are given in the writer's physical form ([`Values`]); the result is PLAIN-encoded
//! (byte arrays without their length prefix), ready for `Statistics.min_value/max_value` and the
//! ColumnIndex.

use super::writer::values::Values;

/// Min and max of a slice, PLAIN-encoded; `None` when there is no orderable value (all null or
/// all NaN).
pub fn min_max(
    values: &Values<'_>,
    lo: usize,
    hi: usize,
    unsigned: bool,
) -> Option<(Vec<u8>, Vec<u8>)> {
    match values {
        Values::Bool(v) => {
            let s = v.get(lo..hi)?;
            if s.is_empty() {
                return None;
            }
            let any_true = s.iter().any(|&b| b);
            let all_true = s.iter().all(|&b| b);
            Some((vec![u8::from(all_true)], vec![u8::from(any_true)]))
        }
        Values::I32(v) => {
            let s = v.get(lo..hi)?;
            if unsigned {
                let mn = s.iter().map(|&x| x as u32).min()?;
                let mx = s.iter().map(|&x| x as u32).max()?;
                Some((mn.to_le_bytes().to_vec(), mx.to_le_bytes().to_vec()))
            } else {
                let (mn, mx) = fold_minmax(s)?;
                Some((mn.to_le_bytes().to_vec(), mx.to_le_bytes().to_vec()))
            }
        }
        Values::I64(v) => {
            let s = v.get(lo..hi)?;
            if unsigned {
                let mn = s.iter().map(|&x| x as u64).min()?;
                let mx = s.iter().map(|&x| x as u64).max()?;
                Some((mn.to_le_bytes().to_vec(), mx.to_le_bytes().to_vec()))
            } else {
                let (mn, mx) = fold_minmax(s)?;
                Some((mn.to_le_bytes().to_vec(), mx.to_le_bytes().to_vec()))
            }
        }
        Values::F32(v) => {
            let (mn, mx) = float_minmax(v.get(lo..hi)?.iter().map(|&x| f64::from(x)))?;
            Some((
                (mn as f32).to_le_bytes().to_vec(),
                (mx as f32).to_le_bytes().to_vec(),
            ))
        }
        Values::F64(v) => {
            let (mn, mx) = float_minmax(v.get(lo..hi)?.iter().copied())?;
            Some((mn.to_le_bytes().to_vec(), mx.to_le_bytes().to_vec()))
        }
        Values::Bytes(v) => {
            let s = v.get(lo..hi)?;
            let mut it = s.iter();
            let first = *it.next()?;
            let (mut mn, mut mx) = (first, first);
            for &x in it {
                if x < mn {
                    mn = x;
                } else if x > mx {
                    mx = x;
                }
            }
            Some((mn.to_vec(), mx.to_vec()))
        }
        Values::Decimal { values, width } => {
            let (mn, mx) = fold_minmax(values.get(lo..hi)?)?;
            Some((decimal_be(mn, *width), decimal_be(mx, *width)))
        }
    }
}

/// `a < b` for two PLAIN-encoded bounds produced by [`min_max`] for the same values.
pub fn less(values: &Values<'_>, unsigned: bool, a: &[u8], b: &[u8]) -> bool {
    fn arr<const N: usize>(x: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        let n = x.len().min(N);
        out[..n].copy_from_slice(&x[..n]);
        out
    }
    match values {
        Values::I32(_) if unsigned => u32::from_le_bytes(arr(a)) < u32::from_le_bytes(arr(b)),
        Values::I32(_) => i32::from_le_bytes(arr(a)) < i32::from_le_bytes(arr(b)),
        Values::I64(_) if unsigned => u64::from_le_bytes(arr(a)) < u64::from_le_bytes(arr(b)),
        Values::I64(_) => i64::from_le_bytes(arr(a)) < i64::from_le_bytes(arr(b)),
        Values::F32(_) => f32::from_le_bytes(arr(a)) < f32::from_le_bytes(arr(b)),
        Values::F64(_) => f64::from_le_bytes(arr(a)) < f64::from_le_bytes(arr(b)),
        Values::Decimal { .. } => be_i128(a) < be_i128(b),
        Values::Bool(_) | Values::Bytes(_) => a < b,
    }
}

fn be_i128(b: &[u8]) -> i128 {
    let neg = b.first().is_some_and(|x| x & 0x80 != 0);
    let mut a = if neg { [0xFFu8; 16] } else { [0u8; 16] };
    let n = b.len().min(16);
    a[16 - n..].copy_from_slice(&b[b.len() - n..]);
    i128::from_be_bytes(a)
}

fn fold_minmax<T: Ord + Copy>(s: &[T]) -> Option<(T, T)> {
    let first = *s.first()?;
    Some(s.iter().fold((first, first), |(mn, mx), &x| {
        (if x < mn { x } else { mn }, if x > mx { x } else { mx })
    }))
}

fn float_minmax(it: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let mut acc: Option<(f64, f64)> = None;
    for x in it {
        if x.is_nan() {
            continue;
        }
        acc = Some(match acc {
            None => (x, x),
            Some((mn, mx)) => (if x < mn { x } else { mn }, if x > mx { x } else { mx }),
        });
    }
    acc.map(|(mn, mx)| {
        // A zero bound is written with the sign that keeps it a bound for both zeros.
        let mn = if mn == 0.0 { -0.0 } else { mn };
        let mx = if mx == 0.0 { 0.0 } else { mx };
        (mn, mx)
    })
}

/// Big-endian two's complement in `width` bytes (FIXED_LEN_BYTE_ARRAY decimals).
pub fn decimal_be(v: i128, width: usize) -> Vec<u8> {
    let b = v.to_be_bytes();
    b[16 - width.min(16)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders() {
        let v = Values::I32(vec![-1, 5, 3]);
        let (mn, mx) = min_max(&v, 0, 3, false).unwrap();
        assert_eq!(
            (mn, mx),
            ((-1i32).to_le_bytes().to_vec(), 5i32.to_le_bytes().to_vec())
        );
        let (mn, mx) = min_max(&v, 0, 3, true).unwrap();
        assert_eq!(
            (mn, mx),
            (3i32.to_le_bytes().to_vec(), (-1i32).to_le_bytes().to_vec())
        );
        let v = Values::F64(vec![f64::NAN, 0.0, -2.5]);
        let (mn, mx) = min_max(&v, 0, 3, false).unwrap();
        assert_eq!(f64::from_le_bytes(mn.try_into().unwrap()), -2.5);
        assert!(f64::from_le_bytes(mx.try_into().unwrap()).is_sign_positive());
        assert!(min_max(&Values::F64(vec![f64::NAN]), 0, 1, false).is_none());
        let v = Values::Bytes(vec![b"b", b"\xff", b"a"]);
        let (mn, mx) = min_max(&v, 0, 3, false).unwrap();
        assert_eq!((mn, mx), (b"a".to_vec(), b"\xff".to_vec()));
    }
}
