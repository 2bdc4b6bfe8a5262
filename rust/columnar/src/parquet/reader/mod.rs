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
mod decimals;
mod mask;
pub mod nested;
mod pruning;
mod scan;
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
pub use decimals::Decimals;
use minide_common::{Error, Result};
pub use scan::ScanOptions;
pub use schema::TopColumn;

/// Which rows of a flat column chunk to decode, and as what.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// Every row, as values.
    All,
    /// Only these rows (sorted, distinct), see `ChunkDecoder::keep`.
    Keep(&'a [u32]),
    /// Every row, as dictionary keys where possible, see `ChunkDecoder::dictionary_keys`.
    Keys,
}

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
    pub(crate) fn chunk_range(&self, m: &super::metadata::ColumnMetaData) -> (i64, i64) {
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

    pub(crate) fn read_chunk_bytes(&self, start: i64, len: i64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        read_at(&self.file, &mut buf, start as u64)?;
        Ok(buf)
    }

    /// Decode one column of one row group.
    pub fn read_column(&self, rg: usize, col: usize) -> Result<ArrayRef> {
        self.read_column_selected(rg, col, None).map(|(a, _)| a)
    }

    /// Decode one column of one row group, INT32/INT64-backed decimals as `decimals` says
    /// (see [`ParquetFile::output_field`]).
    pub fn read_column_as(&self, rg: usize, col: usize, decimals: Decimals) -> Result<ArrayRef> {
        self.read_column_inner(rg, col, None, decimals, Rows::All)
            .map(|(a, _, _)| a)
    }

    /// The Arrow field column `col` is decoded as: its own, except INT32/INT64-backed decimals
    /// under [`Decimals::Float64`] (Float64) or [`Decimals::Decimal64`] (`decimal64(p, s)`).
    pub fn output_field(&self, col: usize, decimals: Decimals) -> Field {
        use arrow_schema::DataType;
        let top = &self.columns[col];
        let int_backed = top.element.as_ref().is_some_and(|el| {
            use super::metadata::ptype;
            matches!(el.type_, Some(ptype::INT32 | ptype::INT64))
        });
        match (top.field.data_type(), decimals) {
            (DataType::Decimal128(..), Decimals::Float64) if int_backed => {
                top.field.clone().with_data_type(DataType::Float64)
            }
            (DataType::Decimal128(p, s), Decimals::Decimal64) if int_backed && *p <= 18 => top
                .field
                .clone()
                .with_data_type(DataType::Decimal64(*p, *s)),
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
        self.read_column_selected_as(rg, col, selection, Decimals::Decimal128)
    }

    /// [`ParquetFile::read_column_selected`], INT32/INT64 decimals as `dec` says.
    pub fn read_column_selected_as(
        &self,
        rg: usize,
        col: usize,
        selection: Option<&[(usize, usize)]>,
        dec: Decimals,
    ) -> Result<(ArrayRef, usize)> {
        let Some(sel) = selection else {
            return self
                .read_column_inner(rg, col, None, dec, Rows::All)
                .map(|(a, _, s)| (a, s));
        };
        let (array, decoded, skipped) =
            self.read_column_inner(rg, col, Some(sel.to_vec()), dec, Rows::All)?;
        Ok((cut(&array, &decoded, sel)?, skipped))
    }

    fn read_column_inner(
        &self,
        rg: usize,
        col: usize,
        selection: Option<Vec<(usize, usize)>>,
        decimals: Decimals,
        rows: Rows<'_>,
    ) -> Result<column::DecodedRows> {
        let top = &self.columns[col];
        let group = &self.metadata.row_groups[rg];
        if group.num_rows == 0 {
            return Ok((
                arrow_array::new_empty_array(self.output_field(col, decimals).data_type()),
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
        let mut buf = column::reuse::take_chunk(len as usize);
        read_at(&self.file, &mut buf[..len as usize], start as u64).map_err(ctx)?;
        let out = self
            .decode_flat(
                &buf[..len as usize],
                top,
                el,
                meta.codec,
                rows_of(group),
                selection,
                decimals,
                rows,
                self.output_field(col, decimals).data_type(),
            )
            .map_err(|e| ctx(e).at_offset(start as u64));
        column::reuse::put_chunk(buf);
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_flat(
        &self,
        bytes: &[u8],
        top: &TopColumn,
        el: &super::metadata::SchemaElement,
        codec: i32,
        rows: usize,
        selection: Option<Vec<(usize, usize)>>,
        decimals: Decimals,
        want: Rows<'_>,
        out_type: &arrow_schema::DataType,
    ) -> Result<column::DecodedRows> {
        let mut dec = column::ChunkDecoder::new(el, top.max_def, codec, bytes, rows)?
            .decimals_as_f64(decimals == Decimals::Float64)
            .decimal_type(top.field.data_type());
        if let Some(sel) = selection {
            dec = dec.select(sel);
        }
        match want {
            Rows::All => {}
            Rows::Keep(rows) => dec = dec.keep(rows)?,
            Rows::Keys => dec = dec.dictionary_keys(),
        }
        // Decimal64 output is built from the decoded integers directly; every other output
        // (Float64 decimals included) decodes as the file's type.
        match out_type {
            arrow_schema::DataType::Decimal64(..) => dec.decode_with_pages(out_type),
            _ => dec.decode_with_pages(top.field.data_type()),
        }
    }

    /// Decode the rows `selection` of the projected columns of one row group; returns the batch
    /// and the number of data pages skipped thanks to the selection.
    /// (INT32/INT64 decimals as `dec` says.)
    pub fn read_row_group_selected_as(
        &self,
        rg: usize,
        projection: &[usize],
        selection: &[(usize, usize)],
        filter: Option<&super::filter::Predicate>,
        threads: usize,
        dec: Decimals,
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
                    .map(|&c| self.read_column_selected_as(rg, c, Some(selection), dec))
                    .collect()
            } else {
                wide.iter()
                    .map(|&c| self.read_column_selected_as(rg, c, Some(selection), dec))
                    .collect()
            }
        };
        let parts = super::writer::with_pool(threads, run)??;
        let skipped = parts.iter().map(|(_, s)| s).sum();
        let arrays: Vec<ArrayRef> = parts.into_iter().map(|(a, _)| a).collect();
        let n: usize = selection.iter().map(|&(s, e)| e - s).sum();
        let fields: Vec<Field> = wide.iter().map(|&c| self.output_field(c, dec)).collect();
        let batch = RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
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
        self.read_row_group_as(rg, projection, threads, Decimals::Decimal128)
    }

    /// Decode several row groups (all columns of `projection`), spreading whole row groups over
    /// `threads` (better balanced than the columns of one group); batches in `groups` order.
    pub fn read_row_groups_as(
        &self,
        groups: &[usize],
        projection: &[usize],
        threads: usize,
        decimals_as_f64: Decimals,
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

    /// [`ParquetFile::read_row_group`], INT32/INT64 decimals as `decimals_as_f64` says.
    pub fn read_row_group_as(
        &self,
        rg: usize,
        projection: &[usize],
        threads: usize,
        decimals_as_f64: Decimals,
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

fn rows_of(group: &super::metadata::RowGroup) -> usize {
    group.num_rows as usize
}

fn read_at(file: &File, buf: &mut [u8], off: u64) -> Result<()> {
    file.read_exact_at(buf, off)
        .map_err(|e| Error::corrupt(format!("read of {} bytes at {off} failed: {e}", buf.len())))
}

#[cfg(test)]
mod tests;
