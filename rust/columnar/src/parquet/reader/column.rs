//! Decode one flat column chunk into an Arrow array.
//!
//! Page by page: parse the Thrift header, check the body lies inside the chunk, verify the CRC,
//! decompress, decode definition levels, decode the non-null values with the page's encoding
//! into a page-local buffer, then scatter them into the dense output with nulls. Nothing is
//! trusted: counts are checked against the row group, dictionary indices against the dictionary.

use arrow_array::ArrayRef;
use arrow_buffer::{BooleanBufferBuilder, NullBuffer};
use arrow_schema::DataType;

use crate::parquet::compression;
use crate::parquet::encodings::{delta, plain, plain::Native, rle};
use crate::parquet::metadata::{PageHeader, SchemaElement, encoding, page_type, ptype};
use crate::parquet::thrift;
use minide_common::{Error, Result};

mod keys;
mod levels;
mod values;

/// Per-thread buffers reused across column chunks: the raw chunk bytes and the decompressed
/// page. Fresh buffers of that size per chunk cost page faults (the kernel zeroes every new
/// page) comparable to the decoding itself.
pub(super) mod reuse {
    use std::cell::RefCell;

    /// Larger buffers are dropped rather than kept for the next chunk.
    const KEEP_MAX: usize = 64 << 20;

    thread_local! {
        static CHUNK: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        static PAGE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    pub fn take_chunk(len: usize) -> Vec<u8> {
        let mut b = CHUNK.with(|c| std::mem::take(&mut *c.borrow_mut()));
        if b.len() < len {
            b.resize(len, 0);
        }
        b
    }

    pub fn put_chunk(b: Vec<u8>) {
        if b.len() <= KEEP_MAX {
            CHUNK.with(|c| *c.borrow_mut() = b);
        }
    }

    pub fn take_page() -> Vec<u8> {
        PAGE.with(|c| std::mem::take(&mut *c.borrow_mut()))
    }

    pub fn put_page(b: Vec<u8>) {
        if b.len() <= KEEP_MAX {
            PAGE.with(|c| *c.borrow_mut() = b);
        }
    }
}

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt(what.into())
}

/// Dense (one slot per row) decoded values of a chunk.
pub(super) enum Dense {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// BYTE_ARRAY: `offsets` has rows + 1 entries.
    Bytes {
        offsets: Vec<i64>,
        data: Vec<u8>,
    },
    /// FIXED_LEN_BYTE_ARRAY and INT96 (width 12).
    Fixed {
        width: usize,
        data: Vec<u8>,
    },
}

/// A decoded dictionary page.
enum Dict {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// `data` is followed by [`PAD`] zero bytes; `longest`: the longest entry's length.
    Bytes {
        ends: Vec<usize>,
        data: Vec<u8>,
        longest: usize,
        /// The shortest entry (= `longest`: every entry has that length, TPC-H's flags).
        shortest: usize,
    },
    Fixed {
        width: usize,
        data: Vec<u8>,
    },
}

/// Zero bytes after a byte-array dictionary's data: a gather of short entries copies a fixed
/// `PAD`-byte window per value (a register move, not a `memcpy` call) and advances by the
/// value's length.
pub(super) const PAD: usize = 16;

impl Dict {
    fn len(&self) -> usize {
        match self {
            Dict::Bool(v) => v.len(),
            Dict::I32(v) => v.len(),
            Dict::I64(v) => v.len(),
            Dict::F32(v) => v.len(),
            Dict::F64(v) => v.len(),
            Dict::Bytes { ends, .. } => ends.len(),
            Dict::Fixed { width, data } => data.len() / width,
        }
    }
}

/// A decoded array, the row ranges it holds, and the number of pages skipped.
pub type DecodedRows = (ArrayRef, Vec<(usize, usize)>, usize);

/// Everything a chunk decode produces.
struct Decoded {
    array: ArrayRef,
    def: Vec<u32>,
    rep: Vec<u32>,
    decoded: Vec<(usize, usize)>,
    skipped: usize,
}

/// Page-local scratch buffers, reused across pages.
#[derive(Default)]
struct Scratch {
    levels: Vec<u32>,
    idx: Vec<u32>,
    /// Every index of a page when only some rows are kept (`idx` then holds the kept ones).
    wide_idx: Vec<u32>,
    wide: Vec<i64>,
    bytes_ends: Vec<usize>,
    bytes_data: Vec<u8>,
    /// Decompressed page, reused across the data pages of the chunk.
    page: Vec<u8>,
}

pub struct ChunkDecoder<'a> {
    physical: i32,
    width: usize,
    max_def: u32,
    max_rep: u32,
    /// Nested columns keep every level for the reassembly in `nested.rs`.
    keep_levels: bool,
    pub def_levels: Vec<u32>,
    pub rep_levels: Vec<u32>,
    /// Row ranges to decode (flat columns): pages entirely outside are skipped unread.
    selection: Option<Vec<(usize, usize)>>,
    /// Row ranges of the pages actually decoded, in order.
    pub decoded: Vec<(usize, usize)>,
    pub pages_skipped: usize,
    codec: i32,
    chunk: &'a [u8],
    rows: usize,
    dense: Dense,
    validity: Option<BooleanBufferBuilder>,
    null_count: usize,
    dict: Option<Dict>,
    scratch: Scratch,
    /// INT32/INT64 decimals come out as Float64 (value / 10^scale), see `decimals_as_f64`.
    decimals_as_f64: bool,
    /// INT64 decimals under `decimals_as_f64`: 10^scale. The dense I64 values then hold the
    /// float64 bits (dictionary entries converted once, other pages right after decoding).
    f64_div: Option<f64>,
    /// Late materialization: only these rows (sorted, row-group relative) are kept, see `keep`.
    keep: Option<&'a [u32]>,
    /// How many entries of `keep` earlier pages consumed.
    keep_pos: usize,
    /// First row of the data page being decoded.
    page_start: usize,
    /// Dictionary keys instead of values, see `dictionary_keys`.
    keys: Option<Vec<u32>>,
}

impl<'a> ChunkDecoder<'a> {
    pub fn new(
        el: &SchemaElement,
        max_def: u32,
        codec: i32,
        chunk: &'a [u8],
        rows: usize,
    ) -> Result<Self> {
        let physical = el.type_.ok_or_else(|| corrupt("leaf without type"))?;
        // Reserve from the row count, which the footer declares; cap by what the chunk can hold.
        let cap = rows.min(chunk.len().saturating_mul(8) + 1024);
        let width = match physical {
            ptype::INT96 => 12,
            ptype::FIXED_LEN_BYTE_ARRAY => usize::try_from(el.type_length.unwrap_or(0))
                .ok()
                .filter(|&w| w > 0 && w <= 1 << 20)
                .ok_or_else(|| corrupt("bad FIXED_LEN_BYTE_ARRAY length"))?,
            _ => 0,
        };
        let dense = match physical {
            ptype::BOOLEAN => Dense::Bool(Vec::with_capacity(cap)),
            ptype::INT32 => Dense::I32(Vec::with_capacity(cap)),
            ptype::INT64 => Dense::I64(Vec::with_capacity(cap)),
            ptype::FLOAT => Dense::F32(Vec::with_capacity(cap)),
            ptype::DOUBLE => Dense::F64(Vec::with_capacity(cap)),
            ptype::BYTE_ARRAY => {
                let mut offsets = Vec::with_capacity(cap + 1);
                offsets.push(0);
                Dense::Bytes {
                    offsets,
                    data: Vec::with_capacity(chunk.len().min(1 << 26)),
                }
            }
            ptype::INT96 | ptype::FIXED_LEN_BYTE_ARRAY => Dense::Fixed {
                width,
                data: Vec::with_capacity(cap.saturating_mul(width).min(1 << 28)),
            },
            other => return Err(corrupt(format!("unknown physical type {other}"))),
        };
        Ok(ChunkDecoder {
            physical,
            width,
            max_def,
            max_rep: 0,
            keep_levels: false,
            def_levels: Vec::new(),
            rep_levels: Vec::new(),
            selection: None,
            decoded: Vec::new(),
            pages_skipped: 0,
            codec,
            chunk,
            rows,
            dense,
            validity: (max_def > 0).then(|| BooleanBufferBuilder::new(cap)),
            null_count: 0,
            dict: None,
            scratch: Scratch::default(),
            decimals_as_f64: false,
            f64_div: None,
            keep: None,
            keep_pos: 0,
            page_start: 0,
            keys: None,
        })
    }

    /// Decode a nested leaf: `rows` counts levels, repetition levels up to `max_rep` are read
    /// and every level is kept.
    pub fn nested(mut self, max_rep: u32) -> Self {
        self.max_rep = max_rep;
        self.keep_levels = true;
        self
    }

    /// Build INT32/INT64-backed decimals as Float64 (value / 10^scale) straight from the
    /// decoded integers, without a Decimal128 array in between (SQL scans compute in float64).
    pub fn decimals_as_f64(mut self, on: bool) -> Self {
        self.decimals_as_f64 = on;
        self
    }

    /// With `decimals_as_f64` on an INT64 column of `dt` = Decimal128(_, scale): convert while
    /// decoding (see `f64_div`) instead of in a pass over the finished column.
    pub fn decimal_type(mut self, dt: &DataType) -> Self {
        if let (true, ptype::INT64, DataType::Decimal128(_, s)) =
            (self.decimals_as_f64, self.physical, dt)
        {
            self.f64_div = Some(10f64.powi(i32::from(*s)));
        }
        self
    }

    /// Keep only the rows `rows` (sorted, distinct, inside the row group) of a flat required
    /// fixed-width or byte-array column: dictionary pages gather just those rows (the filter
    /// already ran on other columns, so most of this column's values are never materialized).
    pub fn keep(mut self, rows: &'a [u32]) -> Result<Self> {
        let keepable = matches!(
            self.physical,
            ptype::INT32 | ptype::INT64 | ptype::FLOAT | ptype::DOUBLE | ptype::BYTE_ARRAY
        );
        if !keepable || self.max_def > 0 || self.keep_levels {
            return Err(Error::invalid(
                "row keeping needs a flat, required, fixed-width or byte-array column",
            ));
        }
        if rows.windows(2).any(|w| w[0] >= w[1])
            || rows.last().is_some_and(|&r| r as usize >= self.rows)
        {
            return Err(Error::invalid(
                "kept rows must be sorted, distinct and inside the row group",
            ));
        }
        self.keep = Some(rows);
        Ok(self)
    }

    /// Only decode pages that overlap these row ranges (sorted, disjoint).
    pub fn select(mut self, ranges: Vec<(usize, usize)>) -> Self {
        self.selection = Some(ranges);
        self
    }

    fn skip_page(&self, first: usize, n: usize) -> bool {
        match &self.selection {
            Some(sel) if self.max_rep == 0 => !sel.iter().any(|&(s, e)| s < first + n && first < e),
            _ => false,
        }
    }

    /// Decode every page; returns the chunk's dense values and validity.
    pub fn decode(self, data_type: &DataType) -> Result<ArrayRef> {
        self.decode_levels_and_values(data_type).map(|(a, _, _)| a)
    }

    /// Decode (skipping unselected pages); returns the array of the decoded rows, their row
    /// ranges and the number of pages skipped.
    pub fn decode_with_pages(self, data_type: &DataType) -> Result<DecodedRows> {
        let d = self.run(data_type)?;
        Ok((d.array, d.decoded, d.skipped))
    }

    /// Decode every page; returns the values (one slot per level, null where the level is below
    /// the maximum) with the definition and repetition levels.
    pub fn decode_levels_and_values(
        self,
        data_type: &DataType,
    ) -> Result<(ArrayRef, Vec<u32>, Vec<u32>)> {
        let d = self.run(data_type)?;
        Ok((d.array, d.def, d.rep))
    }

    fn run(mut self, data_type: &DataType) -> Result<Decoded> {
        self.scratch.page = reuse::take_page();
        let mut pos = 0usize;
        let mut done = 0usize;
        while done < self.rows {
            if pos >= self.chunk.len() {
                return Err(corrupt(format!(
                    "column chunk ends after {done} of {} rows",
                    self.rows
                )));
            }
            let mut r = thrift::Reader::new(&self.chunk[pos..]);
            let header = PageHeader::read(&mut r)
                .map_err(|e| prefix(e, &format!("page header at chunk offset {pos}")))?;
            pos += r.position();
            let size = header.compressed_page_size as usize;
            let body = self
                .chunk
                .get(pos..pos.saturating_add(size))
                .ok_or_else(|| {
                    corrupt(format!("page at chunk offset {pos} runs past the chunk"))
                })?;
            pos += size;
            let page_values = match (&header.data_page, &header.data_page_v2) {
                (Some(h), _) if header.type_ == page_type::DATA_PAGE => Some(h.num_values),
                (_, Some(h)) if header.type_ == page_type::DATA_PAGE_V2 => Some(h.num_values),
                _ => None,
            };
            if let Some(nv) = page_values {
                let n = page_rows(nv, self.rows - done)?;
                if self.skip_page(done, n) {
                    done += n;
                    self.pages_skipped += 1;
                    continue;
                }
                self.decoded.push((done, done + n));
            }
            if let Some(crc) = header.crc
                && crc32fast::hash(body) as i32 != crc
            {
                return Err(corrupt(format!(
                    "page CRC mismatch at chunk offset {}",
                    pos - size
                )));
            }
            match header.type_ {
                page_type::DICTIONARY_PAGE => {
                    let d = header
                        .dictionary_page
                        .as_ref()
                        .ok_or_else(|| corrupt("dictionary page without its header"))?;
                    if self.dict.is_some() || done > 0 {
                        return Err(corrupt("second or late dictionary page"));
                    }
                    let n = usize::try_from(d.num_values)
                        .map_err(|_| corrupt("negative dictionary size"))?;
                    let raw = compression::decompress(
                        self.codec,
                        body,
                        header.uncompressed_page_size as usize,
                    )?;
                    if d.encoding != encoding::PLAIN && d.encoding != encoding::PLAIN_DICTIONARY {
                        return Err(corrupt("dictionary page not PLAIN-encoded"));
                    }
                    let mut dict = self.decode_dict(&raw, n)?;
                    if let (Some(div), Dict::I64(d)) = (self.f64_div, &mut dict) {
                        // Decimals to float64 once per dictionary entry, not once per row:
                        // the pages then gather finished floats (as bits).
                        for x in d.iter_mut() {
                            *x = decimal_bits(*x, div);
                        }
                    }
                    self.dict = Some(dict);
                }
                page_type::DATA_PAGE => {
                    let h = header
                        .data_page
                        .as_ref()
                        .ok_or_else(|| corrupt("data page without its header"))?;
                    let n = page_rows(h.num_values, self.rows - done)?;
                    let size = header.uncompressed_page_size as usize;
                    let mut page = std::mem::take(&mut self.scratch.page);
                    compression::decompress_into(self.codec, body, size, &mut page)?;
                    let raw = &page[..size];
                    let mut values = raw;
                    if self.max_rep > 0 {
                        if h.repetition_level_encoding != encoding::RLE {
                            return Err(invalid_encoding(
                                h.repetition_level_encoding,
                                "repetition levels",
                            ));
                        }
                        let len = raw
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .ok_or_else(|| corrupt("repetition levels truncated"))?;
                        let lv = raw
                            .get(4..4 + len)
                            .ok_or_else(|| corrupt("repetition levels past the page end"))?;
                        self.decode_rep(lv, n)?;
                        values = &raw[4 + len..];
                    }
                    if self.max_def > 0 {
                        if h.definition_level_encoding == encoding::BIT_PACKED {
                            return Err(Error::unsupported(
                                "deprecated BIT_PACKED definition levels",
                            ));
                        }
                        if h.definition_level_encoding != encoding::RLE {
                            return Err(invalid_encoding(
                                h.definition_level_encoding,
                                "definition levels",
                            ));
                        }
                        let len = values
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .ok_or_else(|| corrupt("definition levels truncated"))?;
                        let lv = values
                            .get(4..4 + len)
                            .ok_or_else(|| corrupt("definition levels past the page end"))?;
                        self.decode_levels(lv, n)?;
                        values = &values[4 + len..];
                    }
                    self.page_start = done;
                    let decoded = self.decode_page_values(h.encoding, values, n);
                    self.scratch.page = page;
                    decoded?;
                    done += n;
                }
                page_type::DATA_PAGE_V2 => {
                    let h = header
                        .data_page_v2
                        .as_ref()
                        .ok_or_else(|| corrupt("data page v2 without its header"))?;
                    let n = page_rows(h.num_values, self.rows - done)?;
                    let rep = usize::try_from(h.repetition_levels_byte_length)
                        .map_err(|_| corrupt("negative level length"))?;
                    let def = usize::try_from(h.definition_levels_byte_length)
                        .map_err(|_| corrupt("negative level length"))?;
                    if rep != 0 && self.max_rep == 0 {
                        return Err(corrupt("repetition levels in a flat column"));
                    }
                    let rv = body
                        .get(..rep)
                        .ok_or_else(|| corrupt("levels longer than the page"))?;
                    let lv = body
                        .get(rep..rep.saturating_add(def))
                        .ok_or_else(|| corrupt("levels longer than the page"))?;
                    let rest = &body[rep + def..];
                    let usize_ = (header.uncompressed_page_size as usize)
                        .checked_sub(rep + def)
                        .ok_or_else(|| corrupt("page smaller than its levels"))?;
                    if self.max_rep > 0 {
                        self.decode_rep(rv, n)?;
                    }
                    let raw = if h.is_compressed {
                        compression::decompress(self.codec, rest, usize_)?
                    } else {
                        compression::decompress(0, rest, usize_)?
                    };
                    if self.max_def > 0 {
                        self.decode_levels(lv, n)?;
                    } else if def != 0 {
                        return Err(corrupt("definition levels in a required column"));
                    }
                    self.page_start = done;
                    self.decode_page_values(h.encoding, &raw, n)?;
                    done += n;
                }
                page_type::INDEX_PAGE => {}
                other => return Err(corrupt(format!("unknown page type {other}"))),
            }
        }
        reuse::put_page(std::mem::take(&mut self.scratch.page));
        let mut def = std::mem::take(&mut self.def_levels);
        let rep = std::mem::take(&mut self.rep_levels);
        let decoded = std::mem::take(&mut self.decoded);
        let skipped = self.pages_skipped;
        if self.keep_levels && self.max_def == 0 {
            def = vec![0; rep.len()];
        }
        let array = self.finish(data_type, &decoded)?;
        Ok(Decoded {
            array,
            def,
            rep,
            decoded,
            skipped,
        })
    }
}

/// The float64 bits of an unscaled decimal divided by `div` (= 10^scale): the same division
/// as `arrays::decimal_to_f64`, so both paths give the same floats.
#[inline]
pub(super) fn decimal_bits(x: i64, div: f64) -> i64 {
    ((x as f64) / div).to_bits() as i64
}

fn native<T: Native>(raw: &[u8], n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    plain::decode_native::<T>(raw, n, &mut v)?;
    Ok(v)
}

fn page_rows(num_values: i32, left: usize) -> Result<usize> {
    let n = usize::try_from(num_values).map_err(|_| corrupt("negative page value count"))?;
    if n > left {
        return Err(corrupt(format!(
            "page holds {n} values but only {left} rows are left in the row group"
        )));
    }
    Ok(n)
}

fn scatter<T: Copy + Default>(
    levels: Option<&[u32]>,
    max: u32,
    vals: &[T],
    out: &mut Vec<T>,
) -> Result<()> {
    match levels {
        None => out.extend_from_slice(vals),
        Some(ls) => {
            let mut it = vals.iter();
            for &l in ls {
                if l == max {
                    out.push(
                        *it.next()
                            .ok_or_else(|| corrupt("too few values for the levels"))?,
                    );
                } else {
                    out.push(T::default());
                }
            }
        }
    }
    Ok(())
}

/// Every encoding the spec defines for a physical type is implemented, so any other id in a
/// page header is corruption.
fn invalid_encoding(enc: i32, what: &str) -> Error {
    corrupt(format!(
        "encoding {} ({enc}) is not valid for {what}",
        encoding::name(enc)
    ))
}

/// Prefix a corruption message with context.
pub fn prefix(e: Error, ctx: &str) -> Error {
    match e {
        Error::Corrupt { what, path, offset } => Error::Corrupt {
            what: format!("{ctx}: {what}"),
            path,
            offset,
        },
        other => other,
    }
}
