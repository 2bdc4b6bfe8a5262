//! File-backed tables: Parquet files, (Hive) datasets and CSV files registered by path, scanned
//! when a query runs through minide-columnar's readers. Parquet files and datasets go through
//! the scan core ([`minide_columnar::scan`]): projection, a pushed predicate
//! ([`crate::pushdown`]) that prunes partitions, row groups and pages, late materialization, and
//! counters for EXPLAIN ANALYZE. Open files and their decoded footers are cached by
//! (path, size, mtime, inode) ([`scan::cache::open_cached`]), so a file rewritten since
//! registration is read as it is now.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use minide_columnar::csv::{CsvOptions, CsvReader, read_csv};
use minide_columnar::scan::{self, Dataset, Predicate, ScanCounters, ScanSpec};
use minide_common::{Error, Result};
use rayon::prelude::*;

use crate::catalog::{ColumnStats, Table};
use crate::types::{Chunk, DType, MORSEL_ROWS, normalize, normalized_type};

/// Rows decoded to estimate the distinct counts of a file's columns (for the optimizer).
pub const SAMPLE_ROWS: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Parquet,
    Dataset,
    Csv,
}

impl FileKind {
    pub fn operator(self) -> &'static str {
        match self {
            FileKind::Parquet => "ParquetScan",
            FileKind::Dataset => "DatasetScan",
            FileKind::Csv => "CsvScan",
        }
    }
}

/// A registered file: its columns as they are in the file, and their engine types.
#[derive(Debug)]
pub struct FileTable {
    pub path: PathBuf,
    pub kind: FileKind,
    /// Column names as written in the file (the SQL names are the catalog's).
    pub file_names: Vec<String>,
    pub types: Vec<DType>,
    /// Rows (estimated from the bytes of the first batch for CSV).
    pub rows: u64,
    /// What pushed predicates bind to (the scan's decoded types).
    bind_schema: SchemaRef,
    /// CSV: the types inferred at registration, imposed on every read.
    csv_schema: Option<SchemaRef>,
}

/// How SQL scans files: the file's own types (exact decimals, strings as stored), a superset of
/// the matching rows (the SQL filter runs again), one batch per row group.
fn sql_spec(
    columns: Option<Vec<String>>,
    predicate: Option<Predicate>,
    threads: usize,
) -> ScanSpec {
    ScanSpec {
        columns,
        predicate,
        threads: threads.max(1),
        batch_size: None,
        exact: false,
        file_types: true,
        ..ScanSpec::default()
    }
}

fn engine_types(schema: &Schema, path: &Path) -> Result<Vec<DType>> {
    schema
        .fields()
        .iter()
        .map(|f| {
            normalized_type(f.data_type()).map_err(|e| {
                Error::Unsupported(format!(
                    "{}: column {:?} ({}): {e}",
                    path.display(),
                    f.name(),
                    f.data_type()
                ))
            })
        })
        .collect()
}

impl FileTable {
    /// Open `path`: a directory is a dataset, `.csv`/`.tbl`/`.txt` a CSV file, anything else
    /// Parquet. Reads footers (or CSV's first batch), not data.
    pub fn open(path: &Path) -> Result<FileTable> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let (kind, schema, bind_schema, rows, csv_schema) = if path.is_dir() {
            let ds = Dataset::open(path)?;
            let schema = ds.scan(sql_spec(None, None, 1))?.schema();
            let rows = ds
                .files
                .iter()
                .map(|f| f.file.metadata.num_rows.max(0) as u64)
                .sum();
            (FileKind::Dataset, schema, ds.schema.clone(), rows, None)
        } else if matches!(ext.as_str(), "csv" | "tbl" | "txt") {
            let opts = CsvOptions {
                batch_size: SAMPLE_ROWS,
                ..CsvOptions::default()
            };
            let mut rd = CsvReader::open(path, &opts)?;
            let schema = rd.schema();
            let sample = rd.next_batch()?.map(|b| b.num_rows()).unwrap_or(0) as u64;
            let used = rd.bytes_read().max(1);
            let size = std::fs::metadata(path)
                .map_err(|e| Error::io(e, path))?
                .len();
            let rows = if used >= size {
                sample
            } else {
                (sample as f64 * size as f64 / used as f64) as u64
            };
            (
                FileKind::Csv,
                schema.clone(),
                schema.clone(),
                rows,
                Some(schema),
            )
        } else {
            let pf = scan::cache::open_cached(path)?;
            let schema = scan::file_output_schema(&pf, &sql_spec(None, None, 1))?;
            let bind = Arc::new(scan::decoded_schema(
                &pf,
                sql_spec(None, None, 1).decimals(),
            ));
            let rows = pf.metadata.num_rows.max(0) as u64;
            (FileKind::Parquet, schema, bind, rows, None)
        };
        Ok(FileTable {
            path: path.to_path_buf(),
            kind,
            file_names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            types: engine_types(&schema, path)?,
            rows,
            bind_schema,
            csv_schema,
        })
    }

    /// The schema pushed predicates are checked against (None for CSV: nothing is pushed).
    pub fn bind_schema(&self) -> Option<&Schema> {
        (self.kind != FileKind::Csv).then_some(self.bind_schema.as_ref())
    }

    /// Decode columns `wanted` (positions, distinct) of the rows `predicate` may keep, on
    /// `threads` threads, as engine morsels; with the scan's counters (None for CSV).
    pub fn read(
        &self,
        wanted: &[usize],
        predicate: Option<Predicate>,
        threads: usize,
        limit: Option<usize>,
    ) -> Result<(Vec<Chunk>, Option<ScanCounters>)> {
        let names = wanted
            .iter()
            .map(|&i| {
                self.file_names.get(i).cloned().ok_or_else(|| {
                    Error::InvalidArgument(format!("{}: no column {i}", self.path.display()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (batches, counters) = match self.kind {
            FileKind::Csv => {
                let csv = self.csv_schema.as_ref().ok_or_else(|| {
                    Error::InvalidArgument(format!("{}: no CSV schema", self.path.display()))
                })?;
                let fields = wanted
                    .iter()
                    .map(|&i| csv.field(i).clone())
                    .collect::<Vec<_>>();
                let opts = CsvOptions {
                    schema: Some(Arc::new(Schema::new(fields))),
                    threads: threads.clamp(1, 64),
                    ..CsvOptions::default()
                };
                let mut batches = read_csv(&self.path, &opts)?.batches;
                if let Some(l) = limit {
                    truncate(&mut batches, l);
                }
                (batches, None)
            }
            FileKind::Parquet | FileKind::Dataset => {
                let mut spec = sql_spec(Some(names), predicate, threads);
                spec.limit = limit;
                let scan = if self.kind == FileKind::Dataset {
                    Dataset::open(&self.path)?.scan(spec)?
                } else {
                    scan::scan_file(scan::cache::open_cached(&self.path)?, spec)?
                };
                let (batches, counters) = scan.collect_all()?;
                (batches, Some(counters))
            }
        };
        Ok((to_chunks(batches, wanted.len())?, counters))
    }

    /// Column statistics for the optimizer: distinct counts from the first rows (scaled up when
    /// the sample looks unique), min/max from the Parquet statistics of every row group.
    pub fn stats(&self, names: &[String]) -> Result<Vec<ColumnStats>> {
        let all: Vec<usize> = (0..self.file_names.len()).collect();
        let (chunks, _) = if self.kind == FileKind::Csv {
            let opts = CsvOptions {
                batch_size: SAMPLE_ROWS,
                schema: self.csv_schema.clone(),
                ..CsvOptions::default()
            };
            let mut rd = CsvReader::open(&self.path, &opts)?;
            let first = rd.next_batch()?.into_iter().collect();
            (to_chunks(first, all.len())?, None)
        } else {
            self.read(&all, None, 1, Some(SAMPLE_ROWS))?
        };
        let sample = Table {
            names: names.to_vec(),
            types: self.types.clone(),
            rows: chunks.iter().map(|c| c.len as u64).sum(),
            chunks,
        };
        let n = sample.rows.max(1) as f64;
        let mut out = crate::catalog::stats(&sample)?;
        let bounds = match self.kind {
            FileKind::Parquet => {
                let pf = scan::cache::open_cached(&self.path)?;
                (0..out.len())
                    .map(|c| scan::prune::column_bounds(&pf, c))
                    .collect()
            }
            _ => vec![None; out.len()],
        };
        for (s, b) in out.iter_mut().zip(bounds) {
            let non_null = n - s.nulls as f64;
            let unique = non_null > 0.0 && s.ndv >= 0.9 * non_null && sample.rows < self.rows;
            if unique {
                s.ndv *= self.rows as f64 / n;
            }
            s.nulls = (s.nulls as f64 * self.rows as f64 / n) as u64;
            (s.min, s.max) = match b {
                Some((lo, hi)) => (Some(lo), Some(hi)),
                None => (None, None),
            };
        }
        Ok(out)
    }
}

fn truncate(batches: &mut Vec<RecordBatch>, limit: usize) {
    let mut left = limit;
    batches.retain_mut(|b| {
        if left == 0 {
            return false;
        }
        if b.num_rows() > left {
            *b = b.slice(0, left);
        }
        left -= b.num_rows();
        true
    });
}

/// Normalize decoded batches into engine morsels (in parallel) of at most [`MORSEL_ROWS`].
fn to_chunks(batches: Vec<RecordBatch>, width: usize) -> Result<Vec<Chunk>> {
    let normalized: Vec<(Vec<ArrayRef>, usize)> = batches
        .par_iter()
        .map(|b| {
            let cols = b
                .columns()
                .par_iter()
                .take(width)
                .map(normalize)
                .collect::<Result<Vec<_>>>()?;
            Ok((cols, b.num_rows()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    for (cols, len) in normalized {
        let mut off = 0;
        while off < len {
            let n = MORSEL_ROWS.min(len - off);
            out.push(Chunk::new(
                cols.iter().map(|c| c.slice(off, n)).collect(),
                n,
            ));
            off += n;
        }
    }
    Ok(out)
}
