//! Page compression codecs. Writes UNCOMPRESSED, SNAPPY, GZIP, ZSTD and LZ4_RAW; reads those
//! plus BROTLI and the legacy Hadoop-framed LZ4 (codec LZ4).
//!
//! Decompression never trusts the declared size for allocation alone: the output grows with the
//! data actually produced, is bounded by the declared size, and must match it exactly.

use std::io::Read;

use super::metadata::codec;
use minide_common::{Error, Result};

thread_local! {
    /// One zstd context per encoding thread, reused across pages (creating one costs more than
    /// compressing a small page).
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// A codec with its level, parsed from pyarrow's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression {
    pub codec: i32,
    pub level: Option<i32>,
}

impl Compression {
    /// `name` is one of pyarrow's: none/uncompressed, snappy, gzip, zstd, lz4 (= LZ4_RAW), lz4_raw.
    pub fn parse(name: &str, level: Option<i32>) -> Result<Self> {
        let codec = match name.to_ascii_lowercase().as_str() {
            "none" | "uncompressed" => codec::UNCOMPRESSED,
            "snappy" => codec::SNAPPY,
            "gzip" => codec::GZIP,
            "zstd" => codec::ZSTD,
            "lz4" | "lz4_raw" => codec::LZ4_RAW,
            other => {
                return Err(Error::invalid(format!(
                    "unknown compression {other:?}: use none, snappy, gzip, zstd or lz4"
                )));
            }
        };
        if let Some(l) = level {
            let ok = match codec {
                codec::ZSTD => (-7..=22).contains(&l),
                codec::GZIP => (0..=9).contains(&l),
                _ => false,
            };
            if !ok {
                return Err(Error::invalid(format!(
                    "compression_level {l} is not valid for {name}"
                )));
            }
        }
        Ok(Compression { codec, level })
    }

    /// Compress `input`, appending to `out`.
    pub fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self.codec {
            codec::UNCOMPRESSED => out.extend_from_slice(input),
            codec::SNAPPY => {
                let start = out.len();
                out.resize(start + snap::raw::max_compress_len(input.len()), 0);
                let n = snap::raw::Encoder::new()
                    .compress(input, &mut out[start..])
                    .map_err(|e| Error::invalid(format!("snappy: {e}")))?;
                out.truncate(start + n);
            }
            codec::ZSTD => {
                let start = out.len();
                out.resize(start + zstd::zstd_safe::compress_bound(input.len()), 0);
                let level = self.level.unwrap_or(1);
                let n = ZSTD.with(|cell| -> Result<usize> {
                    let mut slot = cell.borrow_mut();
                    if slot.as_ref().is_none_or(|(l, _)| *l != level) {
                        *slot = Some((level, zstd::bulk::Compressor::new(level)?));
                    }
                    match slot.as_mut() {
                        Some((_, c)) => Ok(c.compress_to_buffer(input, &mut out[start..])?),
                        None => Err(Error::invalid("zstd compressor unavailable")),
                    }
                })?;
                out.truncate(start + n);
            }
            codec::GZIP => {
                let level = flate2::Compression::new(self.level.unwrap_or(6) as u32);
                let mut enc = flate2::write::GzEncoder::new(std::mem::take(out), level);
                std::io::Write::write_all(&mut enc, input)?;
                *out = enc.finish()?;
            }
            codec::LZ4_RAW => {
                let start = out.len();
                out.resize(
                    start + lz4_flex::block::get_maximum_output_size(input.len()),
                    0,
                );
                let n = lz4_flex::block::compress_into(input, &mut out[start..])
                    .map_err(|e| Error::invalid(format!("lz4: {e}")))?;
                out.truncate(start + n);
            }
            other => {
                return Err(Error::unsupported(format!(
                    "writing codec {}",
                    codec::name(other)
                )));
            }
        }
        Ok(())
    }
}

/// [`decompress`] into `out`, reusing its allocation across pages (a fresh page-sized buffer
/// per page costs page faults comparable to the decompression itself). Afterwards
/// `out[..size]` holds the page; `out` may be longer.
pub fn decompress_into(codec_id: i32, input: &[u8], size: usize, out: &mut Vec<u8>) -> Result<()> {
    let fit = |out: &mut Vec<u8>| {
        if out.len() < size {
            out.resize(size, 0);
        }
    };
    match codec_id {
        codec::SNAPPY => {
            let n = snap::raw::decompress_len(input)
                .map_err(|e| Error::corrupt(format!("snappy: {e}")))?;
            if n != size {
                return Err(Error::corrupt(format!(
                    "SNAPPY page decompressed to {n} bytes, header says {size}"
                )));
            }
            if n > input.len().saturating_mul(64) + 64 {
                return Err(Error::corrupt("snappy page claims an impossible size"));
            }
            fit(out);
            let got = snap::raw::Decoder::new()
                .decompress(input, &mut out[..n])
                .map_err(|e| Error::corrupt(format!("snappy: {e}")))?;
            if got != size {
                return Err(Error::corrupt(format!(
                    "SNAPPY page decompressed to {got} bytes, header says {size}"
                )));
            }
        }
        codec::UNCOMPRESSED => {
            if input.len() != size {
                return Err(Error::corrupt(format!(
                    "UNCOMPRESSED page decompressed to {} bytes, header says {size}",
                    input.len()
                )));
            }
            fit(out);
            out[..size].copy_from_slice(input);
        }
        _ => *out = decompress(codec_id, input, size)?,
    }
    Ok(())
}

/// Decompress a page body of `codec` that must expand to exactly `size` bytes.
pub fn decompress(codec_id: i32, input: &[u8], size: usize) -> Result<Vec<u8>> {
    let wrong = |got: usize| {
        Error::corrupt(format!(
            "{} page decompressed to {got} bytes, header says {size}",
            codec::name(codec_id)
        ))
    };
    let out = match codec_id {
        codec::UNCOMPRESSED => {
            if input.len() != size {
                return Err(wrong(input.len()));
            }
            input.to_vec()
        }
        codec::SNAPPY => {
            let n = snap::raw::decompress_len(input)
                .map_err(|e| Error::corrupt(format!("snappy: {e}")))?;
            if n != size {
                return Err(wrong(n));
            }
            // Snappy cannot expand more than ~32x (a 2-byte copy op yields at most 64 bytes).
            if n > input.len().saturating_mul(64) + 64 {
                return Err(Error::corrupt("snappy page claims an impossible size"));
            }
            let mut out = vec![0u8; n];
            snap::raw::Decoder::new()
                .decompress(input, &mut out)
                .map_err(|e| Error::corrupt(format!("snappy: {e}")))?;
            out
        }
        // Pages of a plausible size decode in one call into an exact buffer with a reused
        // context; an implausible claim (a corrupt header) takes the path that grows the
        // output only with the bytes actually produced.
        codec::ZSTD if size <= ZSTD_EXACT_MAX.max(input.len().saturating_mul(32)) => {
            zstd_exact(input, size)?
        }
        codec::ZSTD => {
            let dec = zstd::stream::read::Decoder::new(input)
                .map_err(|e| Error::corrupt(format!("zstd: {e}")))?;
            read_bounded(dec, input.len(), size, "zstd")?
        }
        codec::GZIP => read_bounded(
            flate2::read::MultiGzDecoder::new(input),
            input.len(),
            size,
            "gzip",
        )?,
        codec::LZ4_RAW => lz4_raw(input, size)?,
        codec::BROTLI => read_bounded(
            brotli::Decompressor::new(input, 4096),
            input.len(),
            size,
            "brotli",
        )?,
        codec::LZ4 => {
            // Hadoop framing: [u32 BE decompressed len][u32 BE compressed len][lz4 block]*;
            // some writers used plain LZ4_RAW under this codec id, so fall back to that.
            hadoop_lz4(input, size).or_else(|_| lz4_raw(input, size))?
        }
        other => {
            return Err(Error::unsupported(format!(
                "reading codec {}",
                codec::name(other)
            )));
        }
    };
    if out.len() != size {
        return Err(wrong(out.len()));
    }
    Ok(out)
}

fn lz4_raw(input: &[u8], size: usize) -> Result<Vec<u8>> {
    // LZ4 expands at most ~255x.
    if size > input.len().saturating_mul(256) + 64 {
        return Err(Error::corrupt("lz4 page claims an impossible size"));
    }
    let mut out = vec![0u8; size];
    let n = lz4_flex::block::decompress_into(input, &mut out)
        .map_err(|e| Error::corrupt(format!("lz4: {e}")))?;
    out.truncate(n);
    Ok(out)
}

fn hadoop_lz4(mut input: &[u8], size: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let h = input
            .get(..8)
            .ok_or_else(|| Error::corrupt("hadoop lz4 frame header truncated"))?;
        let dlen = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let clen = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let block = input
            .get(8..8 + clen)
            .ok_or_else(|| Error::corrupt("hadoop lz4 frame truncated"))?;
        if out.len() + dlen > size {
            return Err(Error::corrupt("hadoop lz4 frame larger than the page"));
        }
        out.extend_from_slice(&lz4_raw(block, dlen)?);
        input = &input[8 + clen..];
    }
    Ok(out)
}

/// Read a streaming decoder up to `size` bytes (+1 to detect overlong output) without trusting
/// `size` for the initial allocation.
/// Largest declared page size decompressed into a buffer allocated up front.
const ZSTD_EXACT_MAX: usize = 16 << 20;

fn zstd_exact(input: &[u8], size: usize) -> Result<Vec<u8>> {
    thread_local! {
        static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let mut out = Vec::with_capacity(size);
    DCTX.with(|cell| -> Result<()> {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| Error::corrupt(format!("zstd: {e}")))?,
            );
        }
        if let Some(d) = slot.as_mut() {
            // Fails (instead of growing) when the data expands past the declared size.
            d.decompress_to_buffer(input, &mut out)
                .map_err(|e| Error::corrupt(format!("zstd: {e}")))?;
        }
        Ok(())
    })?;
    Ok(out)
}

fn read_bounded(r: impl Read, in_len: usize, size: usize, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size.min(in_len.saturating_mul(8) + 4096));
    r.take(size as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::corrupt(format!("{what}: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hadoop_framed_lz4_is_read() {
        let data: Vec<u8> = (0..5000u32).flat_map(|i| (i % 13).to_le_bytes()).collect();
        let mut framed = Vec::new();
        for part in data.chunks(7000) {
            let block = lz4_flex::block::compress(part);
            framed.extend_from_slice(&(part.len() as u32).to_be_bytes());
            framed.extend_from_slice(&(block.len() as u32).to_be_bytes());
            framed.extend_from_slice(&block);
        }
        assert_eq!(decompress(codec::LZ4, &framed, data.len()).unwrap(), data);
        assert!(decompress(codec::LZ4, &framed[..framed.len() - 3], data.len()).is_err());
    }

    #[test]
    fn every_codec_roundtrips() {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        for name in ["none", "snappy", "gzip", "zstd", "lz4"] {
            let c = Compression::parse(name, None).unwrap();
            let mut out = Vec::new();
            c.compress(&data, &mut out).unwrap();
            assert_eq!(
                decompress(c.codec, &out, data.len()).unwrap(),
                data,
                "{name}"
            );
            assert!(decompress(c.codec, &out, data.len() + 1).is_err(), "{name}");
        }
    }
}
