//! Dictionary pruning's evidence: the values of a column chunk whose data pages are all
//! dictionary-encoded (every non-null value of the chunk is one of them).

use arrow_schema::DataType;
use minide_common::{Error, Result};

use super::stats::{Scalar, decode};
use crate::parquet::compression::decompress;
use crate::parquet::metadata::{encoding, page_type, ptype};
use crate::parquet::page_header::PageHeader;
use crate::parquet::reader::ParquetFile;
use crate::parquet::thrift;

/// Chunks larger than this are not walked for their dictionary (the walk reads the chunk).
const MAX_CHUNK: i64 = 64 << 20;

/// The dictionary of column `col` in row group `rg` as typed values, when every data page of
/// the chunk is dictionary-encoded; `None` otherwise (no evidence).
pub fn dictionary_values(
    pf: &ParquetFile,
    rg: usize,
    col: usize,
    out_type: &DataType,
) -> Result<Option<Vec<Scalar>>> {
    let top = &pf.columns[col];
    let Some(el) = &top.element else {
        return Ok(None);
    };
    let Some(meta) = pf
        .metadata
        .row_groups
        .get(rg)
        .and_then(|g| g.columns.get(top.first_leaf))
        .and_then(|c| c.meta_data.as_ref())
    else {
        return Ok(None);
    };
    let phys = meta.type_;
    if meta.dictionary_page_offset.is_none() || phys == ptype::BOOLEAN || phys == ptype::INT96 {
        return Ok(None);
    }
    let (start, len) = pf.chunk_range(meta);
    if len <= 0 || len > MAX_CHUNK {
        return Ok(None);
    }
    let bytes = pf.read_chunk_bytes(start, len)?;
    let bad = |m: &str| Error::corrupt(format!("dictionary pruning: {m}")).at_path(&pf.path);
    let mut pos = 0usize;
    let mut dict: Option<Vec<u8>> = None;
    let mut dict_len = 0usize;
    while pos < bytes.len() {
        let mut r = thrift::Reader::new(&bytes[pos..]);
        let h = PageHeader::read(&mut r)?;
        let body_start = pos + r.position();
        let body_end = body_start
            .checked_add(h.compressed_page_size as usize)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("page runs past its chunk"))?;
        let body = &bytes[body_start..body_end];
        match h.type_ {
            page_type::DICTIONARY_PAGE if dict.is_none() => {
                let d = h
                    .dictionary_page
                    .as_ref()
                    .ok_or_else(|| bad("dictionary page without its header"))?;
                dict_len = usize::try_from(d.num_values).map_err(|_| bad("negative count"))?;
                dict = Some(decompress(
                    meta.codec,
                    body,
                    h.uncompressed_page_size as usize,
                )?);
            }
            page_type::DATA_PAGE => {
                let enc = h.data_page.as_ref().map_or(-1, |d| d.encoding);
                if !is_dict(enc) {
                    return Ok(None);
                }
            }
            page_type::DATA_PAGE_V2 => {
                let enc = h.data_page_v2.as_ref().map_or(-1, |d| d.encoding);
                if !is_dict(enc) {
                    return Ok(None);
                }
            }
            _ => return Ok(None),
        }
        pos = body_end;
    }
    let Some(raw) = dict else { return Ok(None) };
    let ft = top.field.data_type();
    let width = match phys {
        ptype::INT32 | ptype::FLOAT => 4,
        ptype::INT64 | ptype::DOUBLE => 8,
        ptype::FIXED_LEN_BYTE_ARRAY => el.type_length.unwrap_or(0).max(0) as usize,
        _ => 0,
    };
    let mut out = Vec::with_capacity(dict_len);
    if phys == ptype::BYTE_ARRAY {
        let mut p = 0usize;
        for _ in 0..dict_len {
            let n = raw
                .get(p..p + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or_else(|| bad("dictionary truncated"))?;
            let v = raw
                .get(p + 4..p + 4 + n)
                .ok_or_else(|| bad("dictionary truncated"))?;
            match decode(v, phys, ft, out_type) {
                Some(s) => out.push(s),
                None => return Ok(None),
            }
            p += 4 + n;
        }
    } else {
        if width == 0 || raw.len() < width.saturating_mul(dict_len) {
            return Err(bad("dictionary truncated"));
        }
        for v in raw.chunks_exact(width).take(dict_len) {
            match decode(v, phys, ft, out_type) {
                Some(s) => out.push(s),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(out))
}

fn is_dict(enc: i32) -> bool {
    enc == encoding::PLAIN_DICTIONARY || enc == encoding::RLE_DICTIONARY
}
