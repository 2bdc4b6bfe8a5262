//! DELTA_BINARY_PACKED (written for sorted integers, read always) and the two byte-array delta
//! encodings built on it, DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (read only).
//!
//! ```text
//! header: varint(block_size=128) varint(miniblocks=4) varint(total_count) zigzag(first_value)
//! block:  zigzag(min_delta) [bit_width; miniblocks] miniblock*   (32 deltas - min_delta each)
//! ```
//! Deltas wrap at the type's width (i32 for INT32, i64 for INT64), as the spec requires.

use super::rle::{bit_width, get_packed, pack};
use minide_common::varint::{get_uvarint, put_uvarint, put_varint, zigzag_decode};
use minide_common::{Error, Result};

const BLOCK: usize = 128;
const MINIBLOCKS: usize = 4;
const MINI: usize = BLOCK / MINIBLOCKS;

/// Encode `values` (already widened to i64; `is32` wraps deltas at 32 bits).
pub fn encode(values: &[i64], is32: bool, out: &mut Vec<u8>) {
    put_uvarint(out, BLOCK as u64);
    put_uvarint(out, MINIBLOCKS as u64);
    put_uvarint(out, values.len() as u64);
    put_varint(out, values.first().copied().unwrap_or(0));
    if values.len() <= 1 {
        return;
    }
    let wrap = |d: i64| if is32 { i64::from(d as i32) } else { d };
    let mut deltas = [0i64; BLOCK];
    let mut packed = [0u64; MINI];
    let mut prev = values[0];
    for block in values[1..].chunks(BLOCK) {
        let n = block.len();
        for (d, &v) in deltas.iter_mut().zip(block) {
            *d = wrap(v.wrapping_sub(prev));
            prev = v;
        }
        let min = deltas[..n].iter().copied().min().unwrap_or(0);
        put_varint(out, min);
        let widths_at = out.len();
        out.extend_from_slice(&[0u8; MINIBLOCKS]);
        let used = n.div_ceil(MINI);
        for m in 0..used {
            let lo = m * MINI;
            let hi = (lo + MINI).min(n);
            let mut max = 0u64;
            for (p, d) in packed.iter_mut().zip(&deltas[lo..hi]) {
                let u = if is32 {
                    u64::from((*d as i32).wrapping_sub(min as i32) as u32)
                } else {
                    d.wrapping_sub(min) as u64
                };
                *p = u;
                max |= u;
            }
            for p in packed.iter_mut().skip(hi - lo) {
                *p = 0;
            }
            let bw = bit_width(max);
            out[widths_at + m] = bw;
            pack(&packed, bw, out);
        }
    }
}

/// Decoder state shared by the three delta encodings.
pub struct DeltaDecoder<'a> {
    data: &'a [u8],
    pos: usize,
}

fn uvar(data: &[u8], pos: &mut usize) -> Result<u64> {
    let rest = data.get(*pos..).unwrap_or(&[]);
    let (v, n) = get_uvarint(rest).map_err(|_| Error::corrupt("delta header truncated"))?;
    *pos += n;
    Ok(v)
}

impl<'a> DeltaDecoder<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        DeltaDecoder { data, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Decode one DELTA_BINARY_PACKED stream, appending its values to `out`. `max_values` bounds
    /// the declared count (a page cannot hold more values than its header says).
    pub fn decode(&mut self, is32: bool, max_values: usize, out: &mut Vec<i64>) -> Result<()> {
        let data = self.data;
        let pos = &mut self.pos;
        let block = usize::try_from(uvar(data, pos)?).unwrap_or(0);
        let minis = usize::try_from(uvar(data, pos)?).unwrap_or(0);
        let total = usize::try_from(uvar(data, pos)?).unwrap_or(usize::MAX);
        let first = zigzag_decode(uvar(data, pos)?);
        if block == 0 || minis == 0 || block % 128 != 0 || block % minis != 0 || block > 1 << 20 {
            return Err(Error::corrupt("bad DELTA_BINARY_PACKED block layout"));
        }
        let mini = block / minis;
        if mini % 32 != 0 {
            return Err(Error::corrupt(
                "DELTA_BINARY_PACKED miniblock not a multiple of 32",
            ));
        }
        if total > max_values {
            return Err(Error::corrupt(format!(
                "DELTA_BINARY_PACKED declares {total} values, page holds at most {max_values}"
            )));
        }
        if total == 0 {
            return Ok(());
        }
        out.reserve(total);
        out.push(first);
        let mut prev = first;
        let mut left = total - 1;
        let mut widths = vec![0u8; minis];
        let mut packed: Vec<u32> = Vec::with_capacity(mini);
        while left > 0 {
            let min = zigzag_decode(uvar(data, pos)?);
            let w = data
                .get(*pos..*pos + minis)
                .ok_or_else(|| Error::corrupt("delta bit widths truncated"))?;
            widths.copy_from_slice(w);
            *pos += minis;
            for &bw in &widths {
                if left == 0 {
                    break;
                }
                if bw > 64 {
                    return Err(Error::corrupt("delta bit width over 64"));
                }
                let bytes = mini * usize::from(bw) / 8;
                let n = left.min(mini);
                let needed = (n * usize::from(bw)).div_ceil(8);
                let body = data
                    .get(*pos..)
                    .filter(|b| b.len() >= needed)
                    .ok_or_else(|| Error::corrupt("delta miniblock truncated"))?;
                if bw <= 32 {
                    packed.clear();
                    super::rle::unpack_into(body, bw, n, &mut packed);
                    for &d in packed.iter() {
                        let v = if is32 {
                            i64::from(
                                (prev as i32)
                                    .wrapping_add(min as i32)
                                    .wrapping_add(d as i32),
                            )
                        } else {
                            prev.wrapping_add(min).wrapping_add(i64::from(d))
                        };
                        out.push(v);
                        prev = v;
                    }
                    *pos += bytes.min(body.len());
                    left -= n;
                    continue;
                }
                for i in 0..n {
                    let d = get_packed(body, i, bw);
                    let v = if is32 {
                        i64::from(
                            (prev as i32)
                                .wrapping_add(min as i32)
                                .wrapping_add(d as i32),
                        )
                    } else {
                        prev.wrapping_add(min).wrapping_add(d as i64)
                    };
                    out.push(v);
                    prev = v;
                }
                *pos += bytes.min(body.len());
                left -= n;
            }
        }
        Ok(())
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }
}

fn lengths(values: &[i64]) -> Result<Vec<usize>> {
    values
        .iter()
        .map(|&l| usize::try_from(l).map_err(|_| Error::corrupt("negative byte array length")))
        .collect()
}

/// DELTA_LENGTH_BYTE_ARRAY: delta-packed lengths, then all bytes concatenated. Calls `push` with
/// every value.
pub fn decode_length_byte_array(data: &[u8], n: usize, mut push: impl FnMut(&[u8])) -> Result<()> {
    let mut dec = DeltaDecoder::new(data);
    let mut lens = Vec::new();
    dec.decode(false, n, &mut lens)?;
    if lens.len() != n {
        return Err(Error::corrupt(
            "DELTA_LENGTH_BYTE_ARRAY value count mismatch",
        ));
    }
    let bytes = dec.rest();
    let mut pos = 0usize;
    for l in lengths(&lens)? {
        let v = bytes
            .get(pos..pos.saturating_add(l))
            .ok_or_else(|| Error::corrupt("DELTA_LENGTH_BYTE_ARRAY value past the page end"))?;
        push(v);
        pos += l;
    }
    Ok(())
}

/// DELTA_BYTE_ARRAY: delta-packed prefix lengths, then a DELTA_LENGTH_BYTE_ARRAY of suffixes;
/// each value = previous value[..prefix] + suffix.
pub fn decode_byte_array(data: &[u8], n: usize, mut push: impl FnMut(&[u8])) -> Result<()> {
    let mut dec = DeltaDecoder::new(data);
    let mut prefixes = Vec::new();
    dec.decode(false, n, &mut prefixes)?;
    if prefixes.len() != n {
        return Err(Error::corrupt("DELTA_BYTE_ARRAY value count mismatch"));
    }
    let prefixes = lengths(&prefixes)?;
    let mut prev: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut err = None;
    decode_length_byte_array(dec.rest(), n, |suffix| {
        let p = prefixes.get(i).copied().unwrap_or(0);
        i += 1;
        if p > prev.len() {
            err = Some(Error::corrupt(
                "DELTA_BYTE_ARRAY prefix longer than previous value",
            ));
            return;
        }
        prev.truncate(p);
        prev.extend_from_slice(suffix);
        push(&prev);
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(values: &[i64], is32: bool) {
        let mut buf = Vec::new();
        encode(values, is32, &mut buf);
        let mut out = Vec::new();
        DeltaDecoder::new(&buf)
            .decode(is32, values.len(), &mut out)
            .unwrap();
        assert_eq!(out, values);
    }

    #[test]
    fn delta_roundtrips() {
        rt(&[], false);
        rt(&[5], false);
        rt(&(0..1000).collect::<Vec<_>>(), false);
        rt(&[i64::MIN, i64::MAX, 0, -1, 7], false);
        let v: Vec<i64> = vec![i64::from(i32::MIN), i64::from(i32::MAX), 0, -5];
        rt(&v, true);
        let v: Vec<i64> = (0..333).map(|i| (i * i * 31) % 1_000_003).collect();
        rt(&v, false);
    }

    #[test]
    fn truncated_is_error() {
        let v: Vec<i64> = (0..300).map(|i| i * 1_000_003 % 7777).collect();
        let mut buf = Vec::new();
        encode(&v, false, &mut buf);
        for cut in 0..buf.len() - 1 {
            let mut out = Vec::new();
            let r = DeltaDecoder::new(&buf[..cut]).decode(false, v.len(), &mut out);
            if r.is_ok() {
                assert_eq!(out, v, "cut {cut}");
            }
        }
    }
}
