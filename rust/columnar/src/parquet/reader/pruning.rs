//! Pruning aids read from the file on demand: the page index (ColumnIndex + OffsetIndex) of a
//! column chunk, and Bloom filter probes for equality predicates. Split from `mod.rs`, which opens
//! files and decodes row groups.

use super::*;

impl ParquetFile {
    /// The page index (ColumnIndex + OffsetIndex) of a flat column chunk, when both exist.
    pub fn page_index(
        &self,
        rg: usize,
        col: usize,
    ) -> Result<Option<Vec<crate::parquet::metadata::PageIndexEntry>>> {
        let (Some(group), Some(top)) = (self.metadata.row_groups.get(rg), self.columns.get(col))
        else {
            return Err(Error::invalid("row group or column out of range"));
        };
        if top.element.is_none() {
            return Ok(None);
        }
        let Some(chunk) = group.columns.get(top.first_leaf) else {
            return Ok(None);
        };
        let (Some(oo), Some(ol), Some(co), Some(cl)) = (
            chunk.offset_index_offset,
            chunk.offset_index_length,
            chunk.column_index_offset,
            chunk.column_index_length,
        ) else {
            return Ok(None);
        };
        let read = |off: i64, len: i32| -> Result<Vec<u8>> {
            let end = off.checked_add(i64::from(len)).unwrap_or(i64::MAX);
            if off < 4 || len < 0 || end > self.footer_start as i64 {
                return Err(Error::corrupt("page index outside the file").at_path(&self.path));
            }
            self.read_chunk_bytes(off, i64::from(len))
        };
        let ctx = |e: Error| column::prefix(e, "page index").at_path(&self.path);
        let ob = read(oo, ol)?;
        let mut entries =
            crate::parquet::metadata::read_offset_index(&mut thrift::Reader::new(&ob))
                .map_err(ctx)?;
        let cb = read(co, cl)?;
        crate::parquet::metadata::read_column_index(&mut thrift::Reader::new(&cb), &mut entries)
            .map_err(ctx)?;
        let mut prev = -1i64;
        for e in &entries {
            if e.first_row <= prev || e.first_row >= group.num_rows {
                return Err(ctx(Error::corrupt("page index rows out of order")));
            }
            prev = e.first_row;
        }
        Ok(Some(entries))
    }

    /// Probe the Bloom filter of a flat column chunk: `Some(false)` when none of `values` can
    /// be in it, `None` when there is no filter.
    pub fn bloom_probe(
        &self,
        rg: usize,
        col: usize,
        values: &[crate::parquet::filter::Literal],
    ) -> Result<Option<bool>> {
        use crate::parquet::filter::Literal;
        use crate::parquet::metadata::ptype;
        let (Some(group), Some(top)) = (self.metadata.row_groups.get(rg), self.columns.get(col))
        else {
            return Err(Error::invalid("row group or column out of range"));
        };
        let Some(el) = &top.element else {
            return Ok(None);
        };
        let Some(meta) = group
            .columns
            .get(top.first_leaf)
            .and_then(|c| c.meta_data.as_ref())
        else {
            return Ok(None);
        };
        let Some(off) = meta.bloom_filter_offset else {
            return Ok(None);
        };
        // Without a declared length, read up to the footer (bounded by MAX_BYTES + header).
        let max =
            (self.footer_start as i64 - off).min(crate::parquet::bloom::MAX_BYTES as i64 + 64);
        let len = meta.bloom_filter_length.map_or(max, i64::from);
        if off < 4 || len <= 0 || len > max {
            return Err(Error::corrupt("bloom filter outside the file").at_path(&self.path));
        }
        let bytes = self.read_chunk_bytes(off, len)?;
        let f =
            crate::parquet::bloom::Sbbf::from_bytes(&bytes).map_err(|e| e.at_path(&self.path))?;
        let phys = el.type_.unwrap_or(-1);
        let mut any = false;
        for v in values {
            let enc: Option<Vec<u8>> = match (v, phys) {
                (Literal::Int(i), ptype::INT32) => match i32::try_from(*i) {
                    Ok(x) => Some(x.to_le_bytes().to_vec()),
                    Err(_) => match u32::try_from(*i) {
                        Ok(x) => Some(x.to_le_bytes().to_vec()),
                        Err(_) => continue, // not representable: cannot be stored
                    },
                },
                (Literal::Int(i), ptype::INT64) => match i64::try_from(*i) {
                    Ok(x) => Some(x.to_le_bytes().to_vec()),
                    Err(_) => match u64::try_from(*i) {
                        Ok(x) => Some(x.to_le_bytes().to_vec()),
                        Err(_) => continue,
                    },
                },
                (Literal::Str(s), ptype::BYTE_ARRAY) => Some(s.as_bytes().to_vec()),
                (Literal::Bytes(b), ptype::BYTE_ARRAY) => Some(b.clone()),
                (Literal::Null, _) => continue,
                _ => None,
            };
            match enc {
                Some(e) => any |= f.check(crate::parquet::bloom::hash(&e)),
                None => return Ok(None), // a literal we cannot encode: do not prune
            }
        }
        Ok(Some(any))
    }
}
