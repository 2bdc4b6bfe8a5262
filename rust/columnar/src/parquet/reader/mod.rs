//! The Parquet file reader.
//!
//! 1. `open`: check the magic at both ends, read the footer length, check it fits the file, parse
//!    `FileMetaData` with the bounded Thrift reader, and check every column chunk's byte range
//!    lies between the header magic and the footer.
//! 2. `read_row_group`: for each projected column (in parallel), read the chunk bytes and decode
//!    them page by page (`column.rs`) into an Arrow array; assemble a `RecordBatch`.
//!
//! Every error is a `Corrupt` naming the file (and row group / column / offset where known).

mod arrays;
pub mod column;
pub mod nested;
pub mod schema;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema, SchemaRef};
use rayon::prelude::*;

use super::metadata::FileMetaData;
use super::thrift;
use minide_common::{Error, Result};
pub use schema::TopColumn;

/// Largest footer accepted (a footer is metadata; hundreds of MB means corruption).
const MAX_FOOTER: u64 = 512 << 20;

pub struct ParquetFile {
    pub path: PathBuf,
    file: File,
    pub file_len: u64,
    pub metadata: FileMetaData,
    pub columns: Vec<TopColumn>,
    pub num_leaves: usize,
    /// First byte of the footer: column data must end before it.
    footer_start: u64,
}

fn at(path: &Path, e: Error) -> Error {
    e.at_path(path)
}

impl ParquetFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(e, path))?;
        let file_len = file.metadata().map_err(|e| Error::io(e, path))?.len();
        Self::from_file(path, file, file_len).map_err(|e| at(path, e))
    }

    fn from_file(path: &Path, file: File, file_len: u64) -> Result<Self> {
        if file_len < 12 {
            return Err(Error::corrupt(format!(
                "file of {file_len} bytes is too small to be Parquet"
            )));
        }
        let mut tail = [0u8; 8];
        read_at(&file, &mut tail, file_len - 8)?;
        let mut head = [0u8; 4];
        read_at(&file, &mut head, 0)?;
        if &tail[4..] != b"PAR1" || &head != b"PAR1" {
            return Err(Error::corrupt("not a Parquet file (magic PAR1 missing)"));
        }
        let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        if footer_len + 12 > file_len || footer_len > MAX_FOOTER {
            return Err(Error::corrupt(format!(
                "footer length {footer_len} does not fit the file of {file_len} bytes"
            ))
            .at_offset(file_len - 8));
        }
        let footer_start = file_len - 8 - footer_len;
        let mut footer = vec![0u8; footer_len as usize];
        read_at(&file, &mut footer, footer_start)?;
        let mut r = thrift::Reader::new(&footer);
        verify_footer_crc(&footer).map_err(|e| e.at_offset(footer_start))?;
        let metadata = FileMetaData::read(&mut r)
            .map_err(|e| column::prefix(e, "footer").at_offset(footer_start))?;
        let (columns, num_leaves) =
            schema::parse(&metadata.schema).map_err(|e| column::prefix(e, "footer schema"))?;
        let pf = ParquetFile {
            path: path.to_path_buf(),
            file,
            file_len,
            metadata,
            columns,
            num_leaves,
            footer_start,
        };
        pf.validate()?;
        Ok(pf)
    }

    fn validate(&self) -> Result<()> {
        if self.metadata.num_rows < 0 {
            return Err(Error::corrupt("negative row count"));
        }
        let mut total = 0i64;
        for (i, rg) in self.metadata.row_groups.iter().enumerate() {
            if rg.columns.len() != self.num_leaves {
                return Err(Error::corrupt(format!(
                    "row group {i} has {} column chunks, the schema {} leaves",
                    rg.columns.len(),
                    self.num_leaves
                )));
            }
            if rg.num_rows < 0 {
                return Err(Error::corrupt(format!(
                    "row group {i} has a negative row count"
                )));
            }
            total = total.saturating_add(rg.num_rows);
            if rg.num_rows == 0 {
                // Empty row groups are never read (pyarrow writes them with zero offsets).
                continue;
            }
            for (j, c) in rg.columns.iter().enumerate() {
                let Some(m) = &c.meta_data else { continue };
                let (start, len) = self.chunk_range(m);
                if start < 4 || len < 0 || start.saturating_add(len) > self.footer_start as i64 {
                    return Err(Error::corrupt(format!(
                        "row group {i} column {j}: bytes {start}..+{len} lie outside the data region"
                    )));
                }
            }
        }
        if total != self.metadata.num_rows {
            return Err(Error::corrupt(format!(
                "row groups hold {total} rows, the footer says {}",
                self.metadata.num_rows
            )));
        }
        Ok(())
    }

    /// Byte range of a column chunk: from its dictionary page (when the offset is plausible; some
    /// writers store 0) or first data page, `total_compressed_size` long.
    fn chunk_range(&self, m: &super::metadata::ColumnMetaData) -> (i64, i64) {
        let start = match m.dictionary_page_offset {
            Some(d) if d > 0 && d < m.data_page_offset => d,
            _ => m.data_page_offset,
        };
        (start, m.total_compressed_size)
    }

    /// The Arrow schema of the readable (flat) columns, in file order.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self.columns.iter().map(|c| c.field.clone()).collect();
        Arc::new(Schema::new(fields))
    }

    /// Indexes of the columns named in `names` (all when `None`), in the order given.
    pub fn projection(&self, names: Option<&[String]>) -> Result<Vec<usize>> {
        match names {
            None => Ok((0..self.columns.len()).collect()),
            Some(ns) => ns
                .iter()
                .map(|n| {
                    self.columns
                        .iter()
                        .position(|c| &c.name == n)
                        .ok_or_else(|| {
                            Error::schema(format!(
                                "column {n:?} is not in {} (columns: {})",
                                self.path.display(),
                                self.columns
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })
                })
                .collect(),
        }
    }

    /// The open file handle (for tools that walk pages, like `inspect`).
    pub fn file_ref(&self) -> &File {
        &self.file
    }

    fn read_chunk_bytes(&self, start: i64, len: i64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        read_at(&self.file, &mut buf, start as u64)?;
        Ok(buf)
    }

    /// Decode one column of one row group.
    pub fn read_column(&self, rg: usize, col: usize) -> Result<ArrayRef> {
        self.read_column_selected(rg, col, None).map(|(a, _)| a)
    }

    /// Decode one column of one row group; with `decimals_as_f64`, INT32/INT64 decimals come
    /// out as Float64 (see [`ParquetFile::output_field`]).
    pub fn read_column_as(&self, rg: usize, col: usize, decimals_as_f64: bool) -> Result<ArrayRef> {
        self.read_column_inner(rg, col, None, decimals_as_f64)
            .map(|(a, _, _)| a)
    }

    /// The Arrow field column `col` is decoded as: its own, except INT32/INT64-backed decimals
    /// under `decimals_as_f64`, which become Float64.
    pub fn output_field(&self, col: usize, decimals_as_f64: bool) -> Field {
        let top = &self.columns[col];
        let int_backed = top.element.as_ref().is_some_and(|el| {
            use super::metadata::ptype;
            matches!(el.type_, Some(ptype::INT32 | ptype::INT64))
        });
        match top.field.data_type() {
            arrow_schema::DataType::Decimal128(..) if decimals_as_f64 && int_backed => top
                .field
                .clone()
                .with_data_type(arrow_schema::DataType::Float64),
            _ => top.field.clone(),
        }
    }

    /// Decode the rows of `selection` (sorted, disjoint row ranges) of one column; pages outside
    /// it are skipped unread. Returns the array and the number of pages skipped.
    pub fn read_column_selected(
        &self,
        rg: usize,
        col: usize,
        selection: Option<&[(usize, usize)]>,
    ) -> Result<(ArrayRef, usize)> {
        let Some(sel) = selection else {
            return self
                .read_column_inner(rg, col, None, false)
                .map(|(a, _, s)| (a, s));
        };
        let (array, decoded, skipped) =
            self.read_column_inner(rg, col, Some(sel.to_vec()), false)?;
        Ok((cut(&array, &decoded, sel)?, skipped))
    }

    fn read_column_inner(
        &self,
        rg: usize,
        col: usize,
        selection: Option<Vec<(usize, usize)>>,
        decimals_as_f64: bool,
    ) -> Result<column::DecodedRows> {
        let top = &self.columns[col];
        let group = &self.metadata.row_groups[rg];
        if group.num_rows == 0 {
            return Ok((
                arrow_array::new_empty_array(top.field.data_type()),
                Vec::new(),
                0,
            ));
        }
        let ctx = |e: Error| {
            column::prefix(e, &format!("row group {rg}, column {:?}", top.name)).at_path(&self.path)
        };
        let Some(el) = &top.element else {
            let node = top
                .node
                .as_ref()
                .ok_or_else(|| ctx(Error::corrupt("column without schema")))?;
            let rows = group.num_rows as usize;
            return self
                .read_nested(rg, node)
                .map(|a| (a, vec![(0, rows)], 0))
                .map_err(ctx);
        };
        let chunk = &group.columns[top.first_leaf];
        if chunk.file_path.is_some() {
            return Err(Error::unsupported("column chunks in external files"));
        }
        let meta = chunk
            .meta_data
            .as_ref()
            .ok_or_else(|| ctx(Error::corrupt("column chunk without metadata")))?;
        if Some(meta.type_) != el.type_ {
            return Err(ctx(Error::corrupt("chunk type differs from the schema")));
        }
        let (start, len) = self.chunk_range(meta);
        let bytes = self.read_chunk_bytes(start, len).map_err(ctx)?;
        let rows = group.num_rows as usize;
        let mut dec = column::ChunkDecoder::new(el, top.max_def, meta.codec, &bytes, rows)
            .map_err(ctx)?
            .decimals_as_f64(decimals_as_f64);
        if let Some(sel) = selection {
            dec = dec.select(sel);
        }
        let (array, decoded, skipped) = dec
            .decode_with_pages(top.field.data_type())
            .map_err(|e| ctx(e).at_offset(start as u64))?;
        Ok((array, decoded, skipped))
    }

    fn read_nested(&self, rg: usize, node: &nested::RNode) -> Result<ArrayRef> {
        let group = &self.metadata.row_groups[rg];
        let mut specs = Vec::new();
        nested::leaf_levels(node, &mut specs);
        let mut leaves: Vec<Option<nested::LeafData>> =
            (0..self.num_leaves).map(|_| None).collect();
        for (leaf, el, max_def, max_rep, dt) in specs {
            let chunk = group
                .columns
                .get(leaf)
                .ok_or_else(|| Error::corrupt("missing column chunk"))?;
            let meta = chunk
                .meta_data
                .as_ref()
                .ok_or_else(|| Error::corrupt("column chunk without metadata"))?;
            if Some(meta.type_) != el.type_ {
                return Err(Error::corrupt("chunk type differs from the schema"));
            }
            let levels = usize::try_from(meta.num_values)
                .map_err(|_| Error::corrupt("negative value count"))?;
            let (start, len) = self.chunk_range(meta);
            let bytes = self.read_chunk_bytes(start, len)?;
            let dec = column::ChunkDecoder::new(&el, max_def, meta.codec, &bytes, levels)?
                .nested(max_rep);
            let (values, def, rep) = dec
                .decode_levels_and_values(&dt)
                .map_err(|e| e.at_offset(start as u64))?;
            let rep = if max_rep == 0 {
                vec![0; def.len()]
            } else {
                rep
            };
            if let Some(slot) = leaves.get_mut(leaf) {
                *slot = Some(nested::LeafData { values, def, rep });
            }
        }
        let slots = nested::top_slots(node, &leaves, group.num_rows as usize)?;
        nested::build(node, &slots, &leaves)
    }

    /// Decode the rows `selection` of the projected columns of one row group; returns the batch
    /// and the number of data pages skipped thanks to the selection.
    pub fn read_row_group_selected(
        &self,
        rg: usize,
        projection: &[usize],
        selection: &[(usize, usize)],
        filter: Option<&super::filter::Predicate>,
        threads: usize,
    ) -> Result<(RecordBatch, usize)> {
        if rg >= self.metadata.row_groups.len() {
            return Err(Error::invalid(format!("row group {rg} does not exist")));
        }
        let rows = self.metadata.row_groups[rg].num_rows as usize;
        if selection.iter().any(|&(s, e)| s >= e || e > rows)
            || selection.windows(2).any(|w| w[0].1 > w[1].0)
        {
            return Err(Error::invalid(
                "row selection must be sorted, disjoint ranges inside the row group",
            ));
        }
        let mut wide: Vec<usize> = projection.to_vec();
        if let Some(p) = filter {
            let mut names = Vec::new();
            p.columns(&mut names);
            for n in &names {
                let i = self
                    .columns
                    .iter()
                    .position(|c| &c.name == n)
                    .ok_or_else(|| {
                        Error::schema(format!("filter column {n:?} is not in the file"))
                    })?;
                if !wide.contains(&i) {
                    wide.push(i);
                }
            }
        }
        let run = || -> Result<Vec<(ArrayRef, usize)>> {
            if threads > 1 && wide.len() > 1 {
                wide.par_iter()
                    .map(|&c| self.read_column_selected(rg, c, Some(selection)))
                    .collect()
            } else {
                wide.iter()
                    .map(|&c| self.read_column_selected(rg, c, Some(selection)))
                    .collect()
            }
        };
        let parts = super::writer::with_pool(threads, run)??;
        let skipped = parts.iter().map(|(_, s)| s).sum();
        let arrays: Vec<ArrayRef> = parts.into_iter().map(|(a, _)| a).collect();
        let n: usize = selection.iter().map(|&(s, e)| e - s).sum();
        let batch = RecordBatch::try_new_with_options(
            self.projected_schema(&wide),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .map_err(|e| Error::corrupt(format!("row group {rg}: {e}")).at_path(&self.path))?;
        let batch = match filter {
            Some(p) => {
                let mask = super::filter::evaluate(&batch, p)?;
                super::filter::filter_batch(&batch, &mask)?
            }
            None => batch,
        };
        let idx: Vec<usize> = (0..projection.len()).collect();
        Ok((batch.project(&idx).map_err(Error::from)?, skipped))
    }

    /// Decode the projected columns of one row group into a batch.
    pub fn read_row_group(
        &self,
        rg: usize,
        projection: &[usize],
        threads: usize,
    ) -> Result<RecordBatch> {
        self.read_row_group_as(rg, projection, threads, false)
    }

    /// Decode several row groups (all columns of `projection`), spreading whole row groups over
    /// `threads` (better balanced than the columns of one group); batches in `groups` order.
    pub fn read_row_groups_as(
        &self,
        groups: &[usize],
        projection: &[usize],
        threads: usize,
        decimals_as_f64: bool,
    ) -> Result<Vec<RecordBatch>> {
        if threads <= 1 || groups.len() <= 1 {
            return groups
                .iter()
                .map(|&g| self.read_row_group_as(g, projection, threads, decimals_as_f64))
                .collect();
        }
        super::writer::with_pool(threads, || {
            groups
                .par_iter()
                .map(|&g| self.read_row_group_as(g, projection, 1, decimals_as_f64))
                .collect()
        })?
    }

    /// [`ParquetFile::read_row_group`], optionally with INT32/INT64 decimals as Float64.
    pub fn read_row_group_as(
        &self,
        rg: usize,
        projection: &[usize],
        threads: usize,
        decimals_as_f64: bool,
    ) -> Result<RecordBatch> {
        if rg >= self.metadata.row_groups.len() {
            return Err(Error::invalid(format!("row group {rg} does not exist")));
        }
        let run = || -> Result<Vec<ArrayRef>> {
            if threads > 1 && projection.len() > 1 {
                projection
                    .par_iter()
                    .map(|&c| self.read_column_as(rg, c, decimals_as_f64))
                    .collect()
            } else {
                projection
                    .iter()
                    .map(|&c| self.read_column_as(rg, c, decimals_as_f64))
                    .collect()
            }
        };
        let arrays = super::writer::with_pool(threads, run)??;
        let fields: Vec<Field> = projection
            .iter()
            .map(|&c| self.output_field(c, decimals_as_f64))
            .collect();
        let rows = self.metadata.row_groups[rg].num_rows as usize;
        RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| Error::corrupt(format!("row group {rg}: {e}")).at_path(&self.path))
    }

    /// Read one row group projected to `projection`, keeping only rows where `filter` holds.
    /// Filter columns outside the projection are read, used and dropped.
    pub fn read_row_group_filtered(
        &self,
        rg: usize,
        projection: &[usize],
        filter: Option<&super::filter::Predicate>,
        threads: usize,
    ) -> Result<RecordBatch> {
        let Some(pred) = filter else {
            return self.read_row_group(rg, projection, threads);
        };
        let mut names = Vec::new();
        pred.columns(&mut names);
        let mut wide: Vec<usize> = projection.to_vec();
        for n in &names {
            let i = self
                .columns
                .iter()
                .position(|c| &c.name == n)
                .ok_or_else(|| Error::schema(format!("filter column {n:?} is not in the file")))?;
            if !wide.contains(&i) {
                wide.push(i);
            }
        }
        let batch = self.read_row_group(rg, &wide, threads)?;
        let mask = super::filter::evaluate(&batch, pred)?;
        let kept = super::filter::filter_batch(&batch, &mask)?;
        let idx: Vec<usize> = (0..projection.len()).collect();
        kept.project(&idx).map_err(Error::from)
    }

    /// The page index (ColumnIndex + OffsetIndex) of a flat column chunk, when both exist.
    pub fn page_index(
        &self,
        rg: usize,
        col: usize,
    ) -> Result<Option<Vec<super::metadata::PageIndexEntry>>> {
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
            super::metadata::read_offset_index(&mut thrift::Reader::new(&ob)).map_err(ctx)?;
        let cb = read(co, cl)?;
        super::metadata::read_column_index(&mut thrift::Reader::new(&cb), &mut entries)
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
        values: &[super::filter::Literal],
    ) -> Result<Option<bool>> {
        use super::filter::Literal;
        use super::metadata::ptype;
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
        let max = (self.footer_start as i64 - off).min(super::bloom::MAX_BYTES as i64 + 64);
        let len = meta.bloom_filter_length.map_or(max, i64::from);
        if off < 4 || len <= 0 || len > max {
            return Err(Error::corrupt("bloom filter outside the file").at_path(&self.path));
        }
        let bytes = self.read_chunk_bytes(off, len)?;
        let f = super::bloom::Sbbf::from_bytes(&bytes).map_err(|e| e.at_path(&self.path))?;
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
                Some(e) => any |= f.check(super::bloom::hash(&e)),
                None => return Ok(None), // a literal we cannot encode: do not prune
            }
        }
        Ok(Some(any))
    }

    /// Schema of a projection.
    pub fn projected_schema(&self, projection: &[usize]) -> SchemaRef {
        Arc::new(Schema::new(
            projection
                .iter()
                .map(|&c| self.columns[c].field.clone())
                .collect::<Vec<_>>(),
        ))
    }
}

/// Check minide's footer checksum when the file carries one (files of other writers do not).
///
/// Found in the raw bytes, before parsing: a damaged footer may parse into something else that
/// never reaches the key-value list. Only footers that also name minide as their writer are
/// checked, so a file rewritten by another tool that copied the key is not misjudged.
fn verify_footer_crc(footer: &[u8]) -> Result<()> {
    use super::metadata::{FOOTER_CRC_KEY, footer_crc, footer_crc_range};
    let contains = |needle: &[u8]| footer.windows(needle.len()).any(|w| w == needle);
    if !contains(FOOTER_CRC_KEY.as_bytes()) || !contains(super::writer::CREATED_BY.as_bytes()) {
        return Ok(());
    }
    let range =
        footer_crc_range(footer).ok_or_else(|| Error::corrupt("footer checksum misplaced"))?;
    let want = std::str::from_utf8(&footer[range.clone()])
        .ok()
        .and_then(|v| u32::from_str_radix(v, 16).ok())
        .ok_or_else(|| Error::corrupt("footer checksum is not hexadecimal"))?;
    if footer_crc(footer, range) != want {
        return Err(Error::corrupt(
            "footer checksum mismatch (the footer was altered)",
        ));
    }
    Ok(())
}

/// Keep the rows of `sel` from an array holding the rows of `decoded` (both sorted ranges).
fn cut(array: &ArrayRef, decoded: &[(usize, usize)], sel: &[(usize, usize)]) -> Result<ArrayRef> {
    if decoded == sel {
        return Ok(array.clone());
    }
    let data = array.to_data();
    let mut m = arrow_data::transform::MutableArrayData::new(vec![&data], true, 0);
    let mut base = 0usize;
    for &(a, b) in decoded {
        for &(s, e) in sel {
            let (lo, hi) = (s.max(a), e.min(b));
            if lo < hi {
                m.try_extend(0, base + lo - a, base + hi - a)
                    .map_err(|e| Error::corrupt(format!("row selection: {e}")))?;
            }
        }
        base += b - a;
    }
    Ok(arrow_array::make_array(m.freeze()))
}

fn read_at(file: &File, buf: &mut [u8], off: u64) -> Result<()> {
    file.read_exact_at(buf, off)
        .map_err(|e| Error::corrupt(format!("read of {} bytes at {off} failed: {e}", buf.len())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet::writer::{WriteOptions, write_file};
    use arrow_array::{Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field};

    fn sample(path: &Path) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("i", DataType::Int64, false),
        ]));
        let s = StringArray::from(vec![Some("a"), None, Some("b"), Some("a")]);
        let i = Int64Array::from(vec![5, 3, 9, 1]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(s), Arc::new(i)]).unwrap();
        write_file(
            path,
            schema,
            std::iter::once(Ok(batch.clone())),
            WriteOptions::default(),
        )
        .unwrap();
        batch
    }

    /// Rewrite a file's footer after `edit` changed its metadata.
    fn rewrite_footer(path: &Path, edit: impl FnOnce(&mut FileMetaData)) {
        let pf = ParquetFile::open(path).unwrap();
        let mut meta = pf.metadata.clone();
        // Act as another writer would: no minide footer checksum.
        meta.key_value_metadata
            .retain(|(k, _)| k != super::super::metadata::FOOTER_CRC_KEY);
        edit(&mut meta);
        let data = std::fs::read(path).unwrap();
        let mut out = data[..pf.footer_start as usize].to_vec();
        let mut w = thrift::Writer::new();
        meta.write(&mut w);
        let footer = w.into_bytes();
        out.extend_from_slice(&footer);
        out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
        out.extend_from_slice(b"PAR1");
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn dictionary_page_offset_zero_reads_from_data_page_offset() {
        let dir = std::env::temp_dir().join(format!("minide-dict0-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.parquet");
        let want = sample(&path);
        rewrite_footer(&path, |m| {
            for c in &mut m.row_groups[0].columns {
                let md = c.meta_data.as_mut().unwrap();
                if let Some(d) = md.dictionary_page_offset {
                    // As some writers do: the dictionary page sits at data_page_offset and the
                    // dictionary offset field is 0.
                    md.data_page_offset = d;
                    md.dictionary_page_offset = Some(0);
                }
            }
        });
        let pf = ParquetFile::open(&path).unwrap();
        let got = pf.read_row_group(0, &[0, 1], 1).unwrap();
        assert_eq!(got.column(0).to_data(), want.column(0).to_data());
        assert_eq!(got.column(1).to_data(), want.column(1).to_data());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn footer_checksum_detects_any_footer_change() {
        let dir = std::env::temp_dir().join(format!("minide-fcrc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.parquet");
        sample(&path);
        let data = std::fs::read(&path).unwrap();
        let pf = ParquetFile::open(&path).unwrap();
        let start = pf.footer_start as usize;
        let end = data.len() - 8;
        let mut detected = 0;
        for off in start..end {
            let mut d = data.clone();
            d[off] ^= 0x04;
            std::fs::write(&path, &d).unwrap();
            match ParquetFile::open(&path) {
                Err(Error::Corrupt { .. }) => detected += 1,
                Err(e) => panic!("{e}"),
                Ok(_) => {}
            }
        }
        // Only flips inside the checksum key or the created_by text (+ their length bytes) skip it.
        let key = super::super::metadata::FOOTER_CRC_KEY.len()
            + crate::parquet::writer::CREATED_BY.len()
            + 2;
        assert!(
            detected >= end - start - key,
            "{detected} of {}",
            end - start
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn row_counts_must_agree() {
        let dir = std::env::temp_dir().join(format!("minide-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.parquet");
        sample(&path);
        rewrite_footer(&path, |m| m.row_groups[0].num_rows = 5);
        let e = ParquetFile::open(&path).err().unwrap();
        assert!(e.to_string().contains("rows"), "{e}");
        sample(&path);
        rewrite_footer(&path, |m| {
            m.row_groups[0].num_rows = 5;
            m.num_rows = 5;
        });
        let pf = ParquetFile::open(&path).unwrap();
        let e = pf.read_row_group(0, &[0], 1).err().unwrap();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert!(pf.read_column(0, 1).is_err());
        let _ = pf.read_column(0, 0).map(|a| a.len());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
