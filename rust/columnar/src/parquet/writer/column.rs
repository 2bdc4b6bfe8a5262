//! Encode one column chunk: choose the encoding, cut pages, write levels + values, compress,
//! checksum, and compute exact statistics (per chunk, and per page for the ColumnIndex).
//!
//! ```text
//! column chunk := [dictionary page] data page+
//! page         := thrift PageHeader | body
//! v1 body      := compress( u32 len | RLE def levels | values )
//! v2 body      := RLE def levels (uncompressed) | compress( values )
//! ```
//! Encoding choice: sorted integer columns -> DELTA_BINARY_PACKED; otherwise RLE_DICTIONARY while
//! the dictionary stays under the limit, PLAIN after; PLAIN when a dictionary covering the chunk
//! would not be smaller than the values (nearly unique columns); booleans PLAIN.

use super::WriteOptions;
use super::dictionary::{self, Dict};
use super::schema::LeafSpec;
use super::values::{ColumnData, Values};
use crate::parquet::compression::Compression;
use crate::parquet::encodings::{delta, plain, rle};
use crate::parquet::metadata::{
    ColumnMetaData, DataPageHeader, DataPageHeaderV2, DictionaryPageHeader, PageHeader, Statistics,
    encoding, page_type,
};
use crate::parquet::stats;
use minide_common::Result;

/// Largest page row count (pyarrow's `data_page_row_count_limit` default): keeps the page index
/// selective.
const MAX_ROWS_PER_PAGE: usize = 20_000;
/// Statistics larger than this are left out (huge text values would bloat the footer).
const MAX_STAT_BYTES: usize = 4096;

/// Where a data page landed inside the chunk, for the OffsetIndex and ColumnIndex.
pub struct PageLoc {
    pub offset: usize,
    pub size: usize,
    pub first_row: usize,
    pub null_count: usize,
    pub rows: usize,
    pub min_max: Option<(Vec<u8>, Vec<u8>)>,
}

pub struct EncodedChunk {
    pub bytes: Vec<u8>,
    /// Offsets in `meta` are relative to the chunk start; the file writer shifts them.
    pub meta: ColumnMetaData,
    pub pages: Vec<PageLoc>,
    /// False when some page has values but no orderable min/max (all NaN, oversized): then no
    /// ColumnIndex is written for this chunk.
    pub indexable: bool,
    /// Serialized Bloom filter (header + bitset) when requested for this column.
    pub bloom: Option<Vec<u8>>,
}

/// xxh64 of every value's PLAIN encoding (byte arrays without their length prefix).
fn value_hashes(values: &Values<'_>) -> Vec<u64> {
    use crate::parquet::bloom::hash;
    match values {
        Values::Bool(v) => v.iter().map(|&b| hash(&[u8::from(b)])).collect(),
        Values::I32(v) => v.iter().map(|x| hash(&x.to_le_bytes())).collect(),
        Values::I64(v) => v.iter().map(|x| hash(&x.to_le_bytes())).collect(),
        Values::F32(v) => v.iter().map(|x| hash(&x.to_le_bytes())).collect(),
        Values::F64(v) => v.iter().map(|x| hash(&x.to_le_bytes())).collect(),
        Values::Bytes(v) => v.iter().map(|x| hash(x)).collect(),
        Values::Decimal { values, width } => values
            .iter()
            .map(|x| hash(&x.to_be_bytes()[16 - width..]))
            .collect(),
    }
}

fn bloom_for(values: &Values<'_>, fpp: f64) -> Vec<u8> {
    let hashes = value_hashes(values);
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut f = crate::parquet::bloom::Sbbf::with_ndv(distinct.len(), fpp);
    for h in distinct {
        f.insert(h);
    }
    f.to_bytes()
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    Dict,
    Delta,
}

fn is_sorted(values: &Values<'_>, unsigned: bool) -> bool {
    match values {
        Values::I32(v) if unsigned => v.windows(2).all(|w| w[0] as u32 <= w[1] as u32),
        Values::I32(v) => v.windows(2).all(|w| w[0] <= w[1]),
        Values::I64(v) if unsigned => v.windows(2).all(|w| w[0] as u64 <= w[1] as u64),
        Values::I64(v) => v.windows(2).all(|w| w[0] <= w[1]),
        _ => false,
    }
}

fn encode_plain(values: &Values<'_>, lo: usize, hi: usize, out: &mut Vec<u8>) {
    match values {
        Values::Bool(v) => plain::encode_bools(&v[lo..hi], out),
        Values::I32(v) => plain::encode_native(&v[lo..hi], out),
        Values::I64(v) => plain::encode_native(&v[lo..hi], out),
        Values::F32(v) => plain::encode_native(&v[lo..hi], out),
        Values::F64(v) => plain::encode_native(&v[lo..hi], out),
        Values::Bytes(v) => {
            let n: usize = v[lo..hi].iter().map(|s| s.len() + 4).sum();
            out.reserve(n);
            plain::encode_byte_arrays(v[lo..hi].iter().copied(), out)
        }
        Values::Decimal { values, width } => {
            out.reserve((hi - lo) * width);
            for &x in &values[lo..hi] {
                out.extend_from_slice(&x.to_be_bytes()[16 - width..]);
            }
        }
    }
}

fn encode_delta(values: &Values<'_>, lo: usize, hi: usize, out: &mut Vec<u8>) {
    match values {
        Values::I32(v) => {
            let wide: Vec<i64> = v[lo..hi].iter().map(|&x| i64::from(x)).collect();
            delta::encode(&wide, true, out)
        }
        Values::I64(v) => delta::encode(&v[lo..hi], false, out),
        _ => encode_plain(values, lo, hi, out),
    }
}

/// Estimated encoded bytes per value, to size pages near `data_page_size`.
fn bytes_per_value(values: &Values<'_>, mode: Mode, dict: Option<&Dict<'_>>) -> f64 {
    match (mode, values) {
        (Mode::Dict, _) => f64::from(dict.map_or(8, |d| d.bit_width())) / 8.0,
        (Mode::Delta, _) => 1.0,
        (_, Values::Bool(_)) => 0.125,
        (_, Values::I32(_) | Values::F32(_)) => 4.0,
        (_, Values::I64(_) | Values::F64(_)) => 8.0,
        (_, Values::Decimal { width, .. }) => *width as f64,
        (_, Values::Bytes(v)) => {
            let sample = &v[..v.len().min(1000)];
            let total: usize = sample.iter().map(|s| s.len() + 4).sum();
            total as f64 / sample.len().max(1) as f64
        }
    }
}

/// Reused buffers of one chunk's page loop.
#[derive(Default)]
struct Scratch {
    levels: Vec<u8>,
    rep_levels: Vec<u8>,
    values: Vec<u8>,
    body: Vec<u8>,
    compressed: Vec<u8>,
}

struct PageSink<'o> {
    out: &'o mut Vec<u8>,
    compression: Compression,
    crc: bool,
    uncompressed_total: usize,
}

impl PageSink<'_> {
    /// Append header + body; returns the page's total size.
    fn emit(&mut self, mut header: PageHeader, body: &[u8], uncompressed: usize) -> usize {
        header.uncompressed_page_size = uncompressed as i32;
        header.compressed_page_size = body.len() as i32;
        if self.crc {
            header.crc = Some(crc32fast::hash(body) as i32);
        }
        let start = self.out.len();
        let mut w = crate::parquet::thrift::Writer::new();
        header.write(&mut w);
        let h = w.into_bytes();
        self.out.extend_from_slice(&h);
        self.out.extend_from_slice(body);
        self.uncompressed_total += h.len() + uncompressed;
        self.out.len() - start
    }
}

/// Bytes of `v` PLAIN-encoded.
fn plain_size(v: &Values<'_>) -> usize {
    match v {
        Values::Bool(b) => b.len().div_ceil(8),
        Values::I32(x) => 4 * x.len(),
        Values::F32(x) => 4 * x.len(),
        Values::I64(x) => 8 * x.len(),
        Values::F64(x) => 8 * x.len(),
        Values::Bytes(x) => x.iter().map(|s| 4 + s.len()).sum(),
        Values::Decimal { values, width } => values.len() * width,
    }
}

/// Whether the dictionary page plus bit-packed indices are smaller than the PLAIN values.
fn dictionary_pays(values: &Values<'_>, dict: &Values<'_>) -> bool {
    let bits = usize::from(rle::bit_width(dict.len().saturating_sub(1) as u64));
    let indices = (values.len() * bits).div_ceil(8);
    plain_size(dict) + indices < plain_size(values)
}

/// Encode a whole column chunk.
pub fn encode_chunk(
    leaf: &LeafSpec,
    data: &ColumnData<'_>,
    opts: &WriteOptions,
) -> Result<EncodedChunk> {
    let values = &data.values;
    let n_values = values.len();
    let mut mode = Mode::Plain;
    let mut dict = None;
    let ints = matches!(values, Values::I32(_) | Values::I64(_));
    if ints && n_values > 1 && is_sorted(values, leaf.unsigned) {
        mode = Mode::Delta;
    } else if opts.dictionary {
        dict = dictionary::build(values, opts.dictionary_page_size_limit);
        if dict.is_some() {
            mode = Mode::Dict;
        }
    }
    // A dictionary of (nearly) unique values is larger than the values themselves: PLAIN then
    // (before compression too, so the codec sees the raw values, as DuckDB and Polars decide).
    if dict
        .as_ref()
        .is_some_and(|d| d.indices.len() == n_values && !dictionary_pays(values, &d.values))
    {
        dict = None;
        mode = Mode::Plain;
    }
    // Nested columns cut pages at row starts only, so their dictionary must cover the chunk.
    if data.rep.is_some() && dict.as_ref().is_some_and(|d| d.indices.len() < n_values) {
        dict = None;
        mode = Mode::Plain;
    }
    // Values [0, cutoff) are dictionary-encoded; the rest (after a fallback) PLAIN.
    let cutoff = dict.as_ref().map_or(n_values, |d| d.indices.len());

    let mut bytes = Vec::new();
    let mut sink = PageSink {
        out: &mut bytes,
        compression: opts.compression,
        crc: opts.page_checksum,
        uncompressed_total: 0,
    };
    let mut scratch = Scratch::default();
    let mut encodings = vec![];
    let mut dictionary_page_offset = None;

    if let Some(d) = &dict {
        scratch.values.clear();
        encode_plain(&d.values, 0, d.values.len(), &mut scratch.values);
        scratch.compressed.clear();
        sink.compression
            .compress(&scratch.values, &mut scratch.compressed)?;
        let header = PageHeader {
            type_: page_type::DICTIONARY_PAGE,
            dictionary_page: Some(DictionaryPageHeader {
                num_values: d.values.len() as i32,
                encoding: encoding::PLAIN,
            }),
            ..Default::default()
        };
        dictionary_page_offset = Some(0i64);
        sink.emit(header, &scratch.compressed, scratch.values.len());
        encodings.push(encoding::PLAIN);
        encodings.push(encoding::RLE);
        encodings.push(encoding::RLE_DICTIONARY);
    }

    // Rows per page for each segment.
    let per_value = bytes_per_value(values, mode, dict.as_ref()).max(0.01);
    let rows_for = |m: Mode| -> usize {
        let pv = if m == mode {
            per_value
        } else {
            bytes_per_value(values, m, None).max(0.01)
        };
        ((opts.data_page_size as f64 / pv) as usize).clamp(1, MAX_ROWS_PER_PAGE)
    };

    let mut pages = Vec::new();
    let mut indexable = true;
    // `row` walks level indexes (one per row for flat columns); `first_row` counts rows.
    let mut row = 0usize;
    let mut val = 0usize;
    let mut first_row = 0usize;
    let def = data.def.as_deref();
    let rep = data.rep.as_deref();
    let max_def = data.max_def;
    let num_rows = def.map_or(data.num_rows, |d| d.len());
    let mut data_page_offset: Option<usize> = None;
    let mut used_plain = false;
    // Per-page distinct dictionary entries (stamped with the page number).
    let mut stamps: Vec<u32> = Vec::new();
    let mut distinct: Vec<u32> = Vec::new();
    let mut page_no = 0u32;
    while row < num_rows {
        let page_mode = if mode == Mode::Dict && val >= cutoff {
            Mode::Plain
        } else {
            mode
        };
        let max_rows = rows_for(page_mode);
        // Advance rows until the page is full or (in dict mode) the cutoff value is reached.
        let r0 = row;
        let v0 = val;
        let limit_val = if page_mode == Mode::Dict {
            cutoff
        } else {
            usize::MAX
        };
        let mut rows_here = 0usize;
        match (def, rep) {
            (None, _) => {
                let take = max_rows.min(num_rows - row).min(limit_val - val);
                row += take;
                val += take;
            }
            (Some(d), Some(r)) => {
                while row < num_rows {
                    if r[row] == 0 {
                        if rows_here == max_rows {
                            break;
                        }
                        rows_here += 1;
                    }
                    if d[row] == max_def {
                        val += 1;
                    }
                    row += 1;
                }
            }
            (Some(d), None) => {
                while row < num_rows && row - r0 < max_rows {
                    if d[row] == max_def {
                        if val == limit_val {
                            break;
                        }
                        val += 1;
                    }
                    row += 1;
                }
            }
        }
        if row == r0 {
            // Cannot happen (cutoff > 0 in dict mode), but never loop forever.
            break;
        }
        let (r1, v1) = (row, val);
        let page_rows = r1 - r0;
        let null_count = page_rows - (v1 - v0);
        let rows_in_page = if rep.is_some() { rows_here } else { page_rows };
        let page_first_row = first_row;
        first_row += rows_in_page;

        // Levels: repetition then definition, each an RLE hybrid run.
        scratch.levels.clear();
        scratch.rep_levels.clear();
        if let Some(r) = rep {
            rle::encode(
                &r[r0..r1],
                rle::bit_width(u64::from(data.max_rep)),
                &mut scratch.rep_levels,
            );
        }
        if let Some(d) = def {
            rle::encode(
                &d[r0..r1],
                rle::bit_width(u64::from(max_def)),
                &mut scratch.levels,
            );
        }
        // Values.
        scratch.values.clear();
        let enc = match page_mode {
            Mode::Dict => {
                let d = dict.as_ref().map(|d| (d.bit_width(), &d.indices[v0..v1]));
                if let Some((bw, idx)) = d {
                    scratch.values.push(bw);
                    rle::encode(idx, bw, &mut scratch.values);
                }
                encoding::RLE_DICTIONARY
            }
            Mode::Delta => {
                encode_delta(values, v0, v1, &mut scratch.values);
                encoding::DELTA_BINARY_PACKED
            }
            Mode::Plain => {
                used_plain = true;
                encode_plain(values, v0, v1, &mut scratch.values);
                encoding::PLAIN
            }
        };
        if !encodings.contains(&enc) {
            encodings.push(enc);
        }
        let min_max = if !(opts.statistics || opts.page_index) {
            None
        } else if let (Mode::Dict, Some(d)) = (page_mode, dict.as_ref()) {
            // Compare each distinct dictionary entry of the page once, not every value.
            page_no += 1;
            stamps.resize(d.values.len(), 0);
            distinct.clear();
            for &i in &d.indices[v0..v1] {
                if stamps[i as usize] != page_no {
                    stamps[i as usize] = page_no;
                    distinct.push(i);
                }
            }
            let subset = d.values.select(&distinct);
            stats::min_max(&subset, 0, subset.len(), leaf.unsigned)
        } else {
            stats::min_max(values, v0, v1, leaf.unsigned)
        };
        if v1 > v0
            && min_max
                .as_ref()
                .is_none_or(|(a, b)| a.len() > MAX_STAT_BYTES || b.len() > MAX_STAT_BYTES)
        {
            indexable = false;
        }

        let offset = sink.out.len();
        data_page_offset.get_or_insert(offset);
        let size = if opts.data_page_v2 {
            scratch.compressed.clear();
            scratch.compressed.extend_from_slice(&scratch.rep_levels);
            scratch.compressed.extend_from_slice(&scratch.levels);
            let compressed = opts.compression.codec != 0;
            sink.compression
                .compress(&scratch.values, &mut scratch.compressed)?;
            let header = PageHeader {
                type_: page_type::DATA_PAGE_V2,
                data_page_v2: Some(DataPageHeaderV2 {
                    num_values: page_rows as i32,
                    num_nulls: null_count as i32,
                    num_rows: rows_in_page as i32,
                    encoding: enc,
                    definition_levels_byte_length: scratch.levels.len() as i32,
                    repetition_levels_byte_length: scratch.rep_levels.len() as i32,
                    is_compressed: compressed,
                }),
                ..Default::default()
            };
            let uncompressed =
                scratch.rep_levels.len() + scratch.levels.len() + scratch.values.len();
            sink.emit(header, &scratch.compressed, uncompressed)
        } else {
            scratch.body.clear();
            if rep.is_some() {
                scratch
                    .body
                    .extend_from_slice(&(scratch.rep_levels.len() as u32).to_le_bytes());
                scratch.body.extend_from_slice(&scratch.rep_levels);
            }
            if def.is_some() {
                scratch
                    .body
                    .extend_from_slice(&(scratch.levels.len() as u32).to_le_bytes());
                scratch.body.extend_from_slice(&scratch.levels);
            }
            scratch.body.extend_from_slice(&scratch.values);
            scratch.compressed.clear();
            sink.compression
                .compress(&scratch.body, &mut scratch.compressed)?;
            let header = PageHeader {
                type_: page_type::DATA_PAGE,
                data_page: Some(DataPageHeader {
                    num_values: page_rows as i32,
                    encoding: enc,
                    definition_level_encoding: encoding::RLE,
                    repetition_level_encoding: encoding::RLE,
                }),
                ..Default::default()
            };
            sink.emit(header, &scratch.compressed, scratch.body.len())
        };
        pages.push(PageLoc {
            offset,
            size,
            first_row: page_first_row,
            null_count,
            rows: page_rows,
            min_max,
        });
    }
    if used_plain && !encodings.contains(&encoding::PLAIN) {
        encodings.insert(0, encoding::PLAIN);
    }
    if !encodings.contains(&encoding::RLE) {
        encodings.push(encoding::RLE);
    }
    let uncompressed_total = sink.uncompressed_total;

    let statistics = opts.statistics.then(|| {
        let null_count = (num_rows - n_values) as i64;
        // The chunk's bounds are the extremes of the pages' bounds (one pass over the values).
        let mut mm: Option<(Vec<u8>, Vec<u8>)> = None;
        for (lo, hi) in pages.iter().filter_map(|p| p.min_max.as_ref()) {
            mm = Some(match mm {
                None => (lo.clone(), hi.clone()),
                Some((a, b)) => (
                    if stats::less(values, leaf.unsigned, lo, &a) {
                        lo.clone()
                    } else {
                        a
                    },
                    if stats::less(values, leaf.unsigned, &b, hi) {
                        hi.clone()
                    } else {
                        b
                    },
                ),
            });
        }
        let mm = mm.filter(|(a, b)| a.len() <= MAX_STAT_BYTES && b.len() <= MAX_STAT_BYTES);
        Statistics {
            null_count: Some(null_count),
            min_value: mm.as_ref().map(|m| m.0.clone()),
            max_value: mm.map(|m| m.1),
            ..Default::default()
        }
    });
    let meta = ColumnMetaData {
        type_: leaf.physical,
        encodings,
        path_in_schema: leaf.path.clone(),
        codec: opts.compression.codec,
        num_values: num_rows as i64,
        total_uncompressed_size: uncompressed_total as i64,
        total_compressed_size: bytes.len() as i64,
        data_page_offset: data_page_offset.unwrap_or(0) as i64,
        dictionary_page_offset,
        statistics,
        ..Default::default()
    };
    let bloom = (leaf.path.len() == 1 && opts.bloom_filter_columns.contains(&leaf.name))
        .then(|| bloom_for(values, opts.bloom_filter_fpp));
    Ok(EncodedChunk {
        bytes,
        meta,
        pages,
        indexable,
        bloom,
    })
}
