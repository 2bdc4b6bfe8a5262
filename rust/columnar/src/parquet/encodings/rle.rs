//! The RLE / bit-packed hybrid encoding (definition/repetition levels, dictionary indices,
//! RLE booleans) and the little-endian bit packing it is built on.
//!
//! ```text
//! rle-bit-packed-hybrid: <run>*
//! run        := rle-run | bit-packed-run
//! rle-run    := varint(count << 1)        value in ceil(bit_width / 8) bytes, little endian
//! bit-packed := varint(groups << 1 | 1)   groups * 8 values, bit_width bits each, LSB first
//! ```
//! Runs of >= 8 equal values become RLE runs; everything else is bit-packed in groups of 8
//! (only the last group may be padded with zeros).

use minide_common::varint::{get_uvarint, put_uvarint};
use minide_common::{Error, Result};

/// Bits needed to represent `max` (0 for 0).
pub fn bit_width(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

/// Append `values` bit-packed with `bw` bits each (LSB first). `values.len()` need not be a
/// multiple of 8; the last byte is zero-padded.
pub fn pack(values: &[u64], bw: u8, out: &mut Vec<u8>) {
    if bw == 0 {
        return;
    }
    let bw = u32::from(bw);
    let mut acc: u128 = 0;
    let mut bits: u32 = 0;
    out.reserve((values.len() * bw as usize).div_ceil(8));
    for &v in values {
        acc |= u128::from(v) << bits;
        bits += bw;
        if bits >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            bits -= 64;
        }
    }
    let tail = bits.div_ceil(8) as usize;
    out.extend_from_slice(&(acc as u64).to_le_bytes()[..tail]);
}

/// Same as [`pack`] for u32 values (dictionary indices, levels).
pub fn pack32(values: &[u32], bw: u8, out: &mut Vec<u8>) {
    if bw == 0 {
        return;
    }
    let bw = u32::from(bw);
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    out.reserve((values.len() * bw as usize).div_ceil(8) + 8);
    for &v in values {
        acc |= u64::from(v) << bits;
        bits += bw;
        if bits >= 32 {
            out.extend_from_slice(&(acc as u32).to_le_bytes());
            acc >>= 32;
            bits -= 32;
        }
    }
    let tail = bits.div_ceil(8) as usize;
    out.extend_from_slice(&(acc as u32).to_le_bytes()[..tail]);
}

/// Read value `i` of a bit-packed buffer (`bw <= 64`); missing trailing bytes read as zero.
#[inline]
pub fn get_packed(src: &[u8], i: usize, bw: u8) -> u64 {
    if bw == 0 {
        return 0;
    }
    let bit = i * usize::from(bw);
    let byte = bit / 8;
    let shift = (bit % 8) as u32;
    let mask = if bw == 64 { u64::MAX } else { (1u64 << bw) - 1 };
    if let Some(chunk) = src.get(byte..byte + 8)
        && shift + u32::from(bw) <= 64
    {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        return (u64::from_le_bytes(a) >> shift) & mask;
    }
    let mut a = [0u8; 16];
    let avail = src.get(byte..).unwrap_or(&[]);
    let n = avail.len().min(16);
    a[..n].copy_from_slice(&avail[..n]);
    ((u128::from_le_bytes(a) >> shift) as u64) & mask
}

/// Encodes u32 values (levels or dictionary indices) with a fixed bit width.
pub struct RleEncoder {
    bw: u8,
    pending: Vec<u32>,
}

impl RleEncoder {
    pub fn new(bw: u8) -> Self {
        RleEncoder {
            bw,
            pending: Vec::with_capacity(64),
        }
    }

    fn flush_packed(&mut self, out: &mut Vec<u8>) {
        if self.pending.is_empty() {
            return;
        }
        let groups = self.pending.len().div_ceil(8);
        self.pending.resize(groups * 8, 0);
        put_uvarint(out, ((groups as u64) << 1) | 1);
        pack32(&self.pending, self.bw, out);
        self.pending.clear();
    }

    fn rle_run(&self, value: u32, count: usize, out: &mut Vec<u8>) {
        put_uvarint(out, (count as u64) << 1);
        let nbytes = usize::from(self.bw).div_ceil(8);
        out.extend_from_slice(&value.to_le_bytes()[..nbytes]);
    }

    /// Encode all of `values` into `out` (a complete hybrid stream).
    pub fn encode(mut self, values: &[u32], out: &mut Vec<u8>) {
        let n = values.len();
        let mut i = 0;
        // values[lit..i] are literals not yet copied to `pending` (copied in bulk).
        let mut lit = 0;
        while i < n {
            let v = values[i];
            let mut r = 1;
            while i + r < n && values[i + r] == v {
                r += 1;
            }
            if r < 8 {
                i += r;
                if i - lit >= 4096 && (self.pending.len() + i - lit).is_multiple_of(8) {
                    self.pending.extend_from_slice(&values[lit..i]);
                    self.flush_packed(out);
                    lit = i;
                }
                continue;
            }
            self.pending.extend_from_slice(&values[lit..i]);
            // Fill the pending literals up to a group boundary with the run's head.
            let need = (8 - self.pending.len() % 8) % 8;
            if need > 0 {
                self.pending.extend(std::iter::repeat_n(v, need));
                r -= need;
                i += need;
            }
            self.flush_packed(out);
            if r >= 8 {
                self.rle_run(v, r, out);
            } else {
                self.pending.extend(std::iter::repeat_n(v, r));
            }
            i += r;
            lit = i;
        }
        self.pending.extend_from_slice(&values[lit..n]);
        self.flush_packed(out);
    }
}

/// Encode `values` with bit width `bw` as a hybrid stream appended to `out`.
pub fn encode(values: &[u32], bw: u8, out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    let first = values[0];
    if values.iter().all(|&v| v == first) {
        RleEncoder::new(bw).rle_run(first, values.len(), out);
        return;
    }
    RleEncoder::new(bw).encode(values, out);
}

/// Decode exactly `n` values of bit width `bw` from `data`, appending them to `out`.
/// Returns the number of bytes consumed.
pub fn decode(data: &[u8], bw: u8, n: usize, out: &mut Vec<u32>) -> Result<usize> {
    if bw > 32 {
        return Err(Error::corrupt(format!("RLE bit width {bw} is over 32")));
    }
    let target = out.len() + n;
    out.reserve(n);
    let mut pos = 0;
    let vbytes = usize::from(bw).div_ceil(8);
    while out.len() < target {
        let rest = data.get(pos..).unwrap_or(&[]);
        let (header, used) =
            get_uvarint(rest).map_err(|_| Error::corrupt("RLE run header truncated"))?;
        pos += used;
        let want = target - out.len();
        if header & 1 == 1 {
            let groups = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            let values = groups.saturating_mul(8).min(want);
            let body = data.get(pos..).unwrap_or(&[]);
            let needed = (values * usize::from(bw)).div_ceil(8);
            if body.len() < needed {
                return Err(Error::corrupt("bit-packed run truncated"));
            }
            unpack_into(body, bw, values, out);
            let full = groups.saturating_mul(usize::from(bw));
            pos += full.min(body.len());
        } else {
            let count = usize::try_from(header >> 1).unwrap_or(usize::MAX).min(want);
            let vb = data
                .get(pos..pos + vbytes)
                .ok_or_else(|| Error::corrupt("RLE run value truncated"))?;
            pos += vbytes;
            let mut a = [0u8; 4];
            a[..vbytes].copy_from_slice(vb);
            let v = u32::from_le_bytes(a);
            if bw < 32 && v >> bw != 0 {
                return Err(Error::corrupt("RLE run value wider than its bit width"));
            }
            out.extend(std::iter::repeat_n(v, count));
        }
    }
    Ok(pos.min(data.len()))
}

/// Unpack `groups` whole groups of 8 values of `BW` bits (`src` holds at least `groups * BW`
/// bytes).
fn unpack_groups<const BW: usize>(src: &[u8], groups: usize, out: &mut Vec<u32>) {
    let mask: u64 = if BW >= 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << BW) - 1
    };
    for chunk in src.chunks_exact(BW).take(groups) {
        // 8 spare bytes so every value is one unaligned u64 load at a constant offset.
        let mut buf = [0u8; 40];
        buf[..BW].copy_from_slice(chunk);
        let mut vals = [0u32; 8];
        for (k, v) in vals.iter_mut().enumerate() {
            let bit = k * BW;
            let mut a = [0u8; 8];
            a.copy_from_slice(&buf[bit / 8..bit / 8 + 8]);
            *v = ((u64::from_le_bytes(a) >> (bit % 8)) & mask) as u32;
        }
        out.extend_from_slice(&vals);
    }
}

fn unpack_groups_dispatch(src: &[u8], bw: u8, groups: usize, out: &mut Vec<u32>) {
    macro_rules! widths {
        ($($w:literal)*) => {
            match bw {
                $($w => unpack_groups::<$w>(src, groups, out),)*
                _ => {}
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
}

/// Values at the positions `picks` (sorted, each `base + i` for value index `i < n`) of an
/// RLE/bit-packed hybrid stream of `n` values, appended to `out`: for sparse picks this reads
/// only the runs' headers and the picked values, not every value. Truncation is reported as
/// by [`decode`].
pub fn decode_picked(
    data: &[u8],
    bw: u8,
    n: usize,
    picks: &[u32],
    base: usize,
    out: &mut Vec<u32>,
) -> Result<()> {
    if bw > 32 {
        return Err(Error::corrupt(format!("RLE bit width {bw} is over 32")));
    }
    out.reserve(picks.len());
    let vbytes = usize::from(bw).div_ceil(8);
    let (mut pos, mut first, mut p) = (0usize, 0usize, 0usize);
    while first < n && p < picks.len() {
        let rest = data.get(pos..).unwrap_or(&[]);
        let (header, used) =
            get_uvarint(rest).map_err(|_| Error::corrupt("RLE run header truncated"))?;
        pos += used;
        let want = n - first;
        let (count, next_pos) = if header & 1 == 1 {
            let groups = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            let count = groups.saturating_mul(8).min(want);
            let body = data.get(pos..).unwrap_or(&[]);
            if body.len() < (count * usize::from(bw)).div_ceil(8) {
                return Err(Error::corrupt("bit-packed run truncated"));
            }
            while p < picks.len() && (picks[p] as usize) - base < first + count {
                let i = picks[p] as usize - base - first;
                out.push(get_packed(body, i, bw) as u32);
                p += 1;
            }
            (
                count,
                pos + groups.saturating_mul(usize::from(bw)).min(body.len()),
            )
        } else {
            let count = usize::try_from(header >> 1).unwrap_or(usize::MAX).min(want);
            let vb = data
                .get(pos..pos + vbytes)
                .ok_or_else(|| Error::corrupt("RLE run value truncated"))?;
            let mut a = [0u8; 4];
            a[..vbytes].copy_from_slice(vb);
            let v = u32::from_le_bytes(a);
            if bw < 32 && v >> bw != 0 {
                return Err(Error::corrupt("RLE run value wider than its bit width"));
            }
            while p < picks.len() && (picks[p] as usize) - base < first + count {
                out.push(v);
                p += 1;
            }
            (count, pos + vbytes)
        };
        first += count;
        pos = next_pos;
    }
    if p != picks.len() {
        return Err(Error::corrupt("RLE data ends before the picked values"));
    }
    Ok(())
}

/// Unpack `n` values of `bw` bits (<= 32) from `src` (which holds at least ceil(n*bw/8) bytes).
pub fn unpack_into(src: &[u8], bw: u8, n: usize, out: &mut Vec<u32>) {
    if bw == 0 {
        out.extend(std::iter::repeat_n(0, n));
        return;
    }
    let bwu = usize::from(bw);
    let mask = if bw == 32 { u64::MAX } else { (1u64 << bw) - 1 };
    let mut i = 0;
    // Fast path: whole groups of 8 values (exactly bw bytes each), unpacked by a loop
    // specialized for the bit width (constant shifts and offsets, unrolled).
    let groups = (n / 8).min(src.len() / bwu);
    if groups > 0 {
        out.reserve(n);
        unpack_groups_dispatch(src, bw, groups, out);
        i = groups * 8;
    }
    if bw <= 8 {
        let m = mask;
        out.reserve(n);
        while i + 8 <= n {
            let byte = i / 8 * bwu;
            let Some(chunk) = src.get(byte..byte + 8) else {
                break;
            };
            let mut a = [0u8; 8];
            a.copy_from_slice(chunk);
            let w = u64::from_le_bytes(a);
            let mut group = [0u32; 8];
            for (k, g) in group.iter_mut().enumerate() {
                *g = ((w >> (k * bwu)) & m) as u32;
            }
            out.extend_from_slice(&group);
            i += 8;
        }
    } else if bw <= 16 {
        out.reserve(n);
        while i + 8 <= n {
            let byte = i / 8 * bwu;
            let Some(chunk) = src.get(byte..byte + 16) else {
                break;
            };
            let mut a = [0u8; 16];
            a.copy_from_slice(chunk);
            let w = u128::from_le_bytes(a);
            let mut group = [0u32; 8];
            for (k, g) in group.iter_mut().enumerate() {
                *g = ((w >> (k * bwu)) as u64 & mask) as u32;
            }
            out.extend_from_slice(&group);
            i += 8;
        }
    }
    // Fast path: an 8-byte load covers any value of <= 32 bits at any bit offset (shift <= 7).
    while i < n {
        let bit = i * bwu;
        let byte = bit / 8;
        match src.get(byte..byte + 8) {
            Some(chunk) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(chunk);
                out.push(((u64::from_le_bytes(a) >> (bit % 8)) & mask) as u32);
            }
            None => out.push(get_packed(src, i, bw) as u32),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(values: &[u32], bw: u8) {
        let mut buf = Vec::new();
        encode(values, bw, &mut buf);
        let mut out = Vec::new();
        decode(&buf, bw, values.len(), &mut out).unwrap();
        assert_eq!(out, values);
    }

    #[test]
    fn hybrid_roundtrips() {
        roundtrip(&[1; 100], 1);
        roundtrip(&[0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], 1);
        let v: Vec<u32> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        roundtrip(&v, 10);
        let v: Vec<u32> = (0..1000)
            .map(|i| if i % 50 < 20 { 3 } else { i % 5 })
            .collect();
        roundtrip(&v, 3);
        roundtrip(&[u32::MAX, 0, 5], 32);
        roundtrip(&[0, 0, 0], 0);
    }

    proptest::proptest! {
        #[test]
        fn runs_and_literals_roundtrip(
            parts in proptest::collection::vec((0u32..6, 1usize..40), 0..60),
            bw in 3u8..12,
        ) {
            // Mixed stretches: runs of every length around the RLE threshold and literals.
            let mut v = Vec::new();
            for (k, (x, len)) in parts.iter().enumerate() {
                if k % 2 == 0 {
                    v.extend(std::iter::repeat_n(*x, *len));
                } else {
                    v.extend((0..*len).map(|j| (j as u32 * 7 + x) % 6));
                }
            }
            roundtrip(&v, bw);
        }
    }

    proptest::proptest! {
        #[test]
        fn picked_values_match_the_full_decode(
            values in proptest::collection::vec(0u32..5000, 1..600),
            bw_extra in 0u8..4,
            every in 1usize..9,
            base in 0usize..1000,
        ) {
            let bw = (bit_width(5000) + bw_extra).min(32);
            let mut buf = Vec::new();
            encode(&values, bw, &mut buf);
            let mut all = Vec::new();
            decode(&buf, bw, values.len(), &mut all).unwrap();
            let picks: Vec<u32> = (0..values.len()).step_by(every).map(|i| (i + base) as u32).collect();
            let mut got = Vec::new();
            decode_picked(&buf, bw, values.len(), &picks, base, &mut got).unwrap();
            let want: Vec<u32> = picks.iter().map(|&p| all[p as usize - base]).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn decode_truncated_is_error() {
        let v: Vec<u32> = (0..100).map(|i| i % 7).collect();
        let mut buf = Vec::new();
        encode(&v, 3, &mut buf);
        for cut in 0..buf.len() {
            // Either an error, or (when only padding was cut) exactly the right values.
            let mut out = Vec::new();
            if decode(&buf[..cut], 3, v.len(), &mut out).is_ok() {
                assert_eq!(out, v, "cut {cut}");
            }
        }
    }

    #[test]
    fn pack_matches_get_packed() {
        let v: Vec<u64> = (0..77)
            .map(|i| (i * 123_456_789_u64) & ((1 << 45) - 1))
            .collect();
        let mut buf = Vec::new();
        pack(&v, 45, &mut buf);
        for (i, x) in v.iter().enumerate() {
            assert_eq!(get_packed(&buf, i, 45), *x);
        }
    }
}
