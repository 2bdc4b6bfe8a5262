//! `inspect`: a human-readable dump of a file's layout (row groups, column chunks, pages,
//! encodings, statistics), walking the page headers of every chunk.

use std::fmt::Write as _;

use super::metadata::{PageHeader, Statistics, codec, encoding, page_type, ptype};
use super::reader::ParquetFile;
use super::thrift;
use minide_common::Result;

/// Render a statistics value for display, from its PLAIN bytes and physical type.
pub fn show_value(physical: i32, b: &[u8], unsigned: bool) -> String {
    let arr = |n: usize| -> Option<[u8; 8]> {
        let mut a = [0u8; 8];
        a.get_mut(..n)?.copy_from_slice(b.get(..n)?);
        Some(a)
    };
    match physical {
        ptype::BOOLEAN => (b.first() == Some(&1)).to_string(),
        ptype::INT32 if b.len() == 4 => match arr(4) {
            Some(a) if unsigned => u32::from_le_bytes([a[0], a[1], a[2], a[3]]).to_string(),
            Some(a) => i32::from_le_bytes([a[0], a[1], a[2], a[3]]).to_string(),
            None => "?".into(),
        },
        ptype::INT64 if b.len() == 8 => match arr(8) {
            Some(a) if unsigned => u64::from_le_bytes(a).to_string(),
            Some(a) => i64::from_le_bytes(a).to_string(),
            None => "?".into(),
        },
        ptype::FLOAT if b.len() == 4 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string(),
        ptype::DOUBLE => arr(8).map_or("?".into(), |a| f64::from_le_bytes(a).to_string()),
        _ => {
            let s = String::from_utf8_lossy(&b[..b.len().min(40)]).into_owned();
            let more = if b.len() > 40 { "..." } else { "" };
            format!("{s:?}{more}")
        }
    }
}

fn show_stats(s: &Statistics, physical: i32, unsigned: bool) -> String {
    let mut out = String::new();
    if let Some(n) = s.null_count {
        let _ = write!(out, "nulls={n}");
    }
    if let (Some(mn), Some(mx)) = (&s.min_value, &s.max_value) {
        let _ = write!(
            out,
            " min={} max={}",
            show_value(physical, mn, unsigned),
            show_value(physical, mx, unsigned)
        );
    }
    out
}

pub fn inspect(pf: &ParquetFile) -> Result<String> {
    let m = &pf.metadata;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "file: {} ({} bytes)\ncreated_by: {}\nrows: {}  row groups: {}  columns: {}",
        pf.path.display(),
        pf.file_len,
        m.created_by.as_deref().unwrap_or("?"),
        m.num_rows,
        m.row_groups.len(),
        pf.columns.len()
    );
    let _ = writeln!(o, "schema:");
    for c in &pf.columns {
        let phys = c
            .element
            .as_ref()
            .and_then(|e| e.type_)
            .map_or("group", ptype::name);
        let _ = writeln!(
            o,
            "  {:<24} {:<22} arrow={}",
            c.name,
            phys,
            c.field.data_type()
        );
    }
    for (i, rg) in m.row_groups.iter().enumerate() {
        let _ = writeln!(
            o,
            "row group {i}: {} rows, {} bytes uncompressed, {} compressed",
            rg.num_rows,
            rg.total_byte_size,
            rg.total_compressed_size.unwrap_or(0)
        );
        for (top, chunk) in pf.columns.iter().map(|t| (t, &rg.columns[t.first_leaf])) {
            let Some(cm) = &chunk.meta_data else { continue };
            let encs: Vec<&str> = cm.encodings.iter().map(|&e| encoding::name(e)).collect();
            let unsigned = matches!(
                top.field.data_type(),
                arrow_schema::DataType::UInt8
                    | arrow_schema::DataType::UInt16
                    | arrow_schema::DataType::UInt32
                    | arrow_schema::DataType::UInt64
            );
            let extras = [
                (chunk.column_index_offset.is_some(), " column-index"),
                (chunk.offset_index_offset.is_some(), " offset-index"),
                (cm.bloom_filter_offset.is_some(), " bloom"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, s)| *s)
            .collect::<String>();
            let _ = writeln!(
                o,
                "  column {:?}: {} {} {}→{} bytes enc=[{}] {}{}",
                top.name,
                ptype::name(cm.type_),
                codec::name(cm.codec),
                cm.total_uncompressed_size,
                cm.total_compressed_size,
                encs.join(","),
                cm.statistics
                    .as_ref()
                    .map(|s| show_stats(s, cm.type_, unsigned))
                    .unwrap_or_default(),
                extras
            );
            // Walk the page headers.
            let start = match cm.dictionary_page_offset {
                Some(d) if d > 0 && d < cm.data_page_offset => d,
                _ => cm.data_page_offset,
            };
            let mut off = start;
            let end = start + cm.total_compressed_size;
            let mut shown = 0;
            let mut buf = vec![0u8; 4096];
            while off < end {
                let n = ((end - off) as usize).min(buf.len());
                buf.truncate(n);
                buf.resize(n, 0);
                if std::os::unix::fs::FileExt::read_exact_at(pf.file_ref(), &mut buf, off as u64)
                    .is_err()
                {
                    break;
                }
                let mut r = thrift::Reader::new(&buf);
                let Ok(h) = PageHeader::read(&mut r) else {
                    let _ = writeln!(o, "    page at {off}: unreadable header");
                    break;
                };
                if shown < 8 {
                    let (values, enc) = match (&h.data_page, &h.data_page_v2, &h.dictionary_page) {
                        (Some(d), _, _) => (d.num_values, d.encoding),
                        (_, Some(d), _) => (d.num_values, d.encoding),
                        (_, _, Some(d)) => (d.num_values, d.encoding),
                        _ => (0, 0),
                    };
                    let _ = writeln!(
                        o,
                        "    page at {off}: {} {} values {} {}→{} bytes{}",
                        page_type::name(h.type_),
                        values,
                        encoding::name(enc),
                        h.uncompressed_page_size,
                        h.compressed_page_size,
                        if h.crc.is_some() { " crc" } else { "" }
                    );
                } else if shown == 8 {
                    let _ = writeln!(o, "    ...");
                }
                shown += 1;
                off += r.position() as i64 + i64::from(h.compressed_page_size);
            }
            let _ = writeln!(o, "    pages: {shown}");
        }
    }
    if !m.key_value_metadata.is_empty() {
        let keys: Vec<&str> = m
            .key_value_metadata
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        let _ = writeln!(o, "key-value metadata: {}", keys.join(", "));
    }
    Ok(o)
}
