//! [`DatasetWriter`]: Arrow batches -> a Hive-partitioned directory of Parquet files.
//!
//! ```text
//! root/country=DE/year=2024/part-0.parquet
//! root/country=FR/year=2024/part-0.parquet
//! ```
//! Each batch is split by the partition columns ([`super::split`]); each part goes to the open
//! [`FileWriter`] of its directory, which flushes a row group whenever `row_group_size` rows are
//! buffered. Memory stays bounded with many partitions: when the buffered rows of all open files
//! exceed `max_buffered_bytes`, the largest buffer is flushed as a (smaller) row group; when more
//! than `max_open_files` are open, the least recently used file is finished and a later part of
//! that partition starts the directory's next file (`part-1.parquet`, ...).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use minide_common::{Error, Result};

use super::{hive, split};
use crate::parquet::writer::{FileWriter, WriteOptions};

/// What to do with data already under the dataset root (pyarrow's `existing_data_behavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExistingData {
    /// Refuse to write into a non-empty root.
    Error,
    /// Keep other files; files of the same name are replaced.
    OverwriteOrIgnore,
    /// Empty each partition directory the first time this write puts a file into it.
    DeleteMatching,
}

impl ExistingData {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(ExistingData::Error),
            "overwrite_or_ignore" => Ok(ExistingData::OverwriteOrIgnore),
            "delete_matching" => Ok(ExistingData::DeleteMatching),
            other => Err(Error::invalid(format!(
                "existing_data_behavior must be 'error', 'overwrite_or_ignore' or \
                 'delete_matching', got {other:?}"
            ))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct DatasetOptions {
    pub partition_by: Vec<String>,
    pub existing: ExistingData,
    /// File names; `{i}` becomes the file's number within its directory.
    pub basename_template: String,
    pub max_open_files: usize,
    pub max_buffered_bytes: usize,
    /// Options of every file; `key_value_metadata` should describe the *file* schema (the data
    /// columns, without the partition columns).
    pub write: WriteOptions,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            partition_by: Vec::new(),
            existing: ExistingData::Error,
            basename_template: "part-{i}.parquet".into(),
            max_open_files: 256,
            max_buffered_bytes: 256 << 20,
            write: WriteOptions::default(),
        }
    }
}

/// A finished file of the dataset.
#[derive(Clone, Debug)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub rows: u64,
}

struct OpenFile {
    writer: FileWriter,
    path: PathBuf,
    rows: u64,
    last_used: u64,
    /// Arrow bytes per buffered row (of the last part written), to estimate buffered memory.
    row_bytes: usize,
}

impl OpenFile {
    fn buffered(&self) -> usize {
        self.writer.pending_rows() * self.row_bytes
    }
}

pub struct DatasetWriter {
    root: PathBuf,
    names: Vec<String>,
    part_idx: Vec<usize>,
    data_idx: Vec<usize>,
    data_schema: SchemaRef,
    opts: DatasetOptions,
    open: HashMap<String, OpenFile>,
    /// Next file number per directory (directories seen by this write).
    next_file: HashMap<String, usize>,
    written: Vec<WrittenFile>,
    clock: u64,
}

impl DatasetWriter {
    /// Check the options against `schema` and the root (`existing_data_behavior="error"`).
    pub fn create(root: &Path, schema: SchemaRef, opts: DatasetOptions) -> Result<Self> {
        if !opts.basename_template.contains("{i}") {
            return Err(Error::invalid(format!(
                "basename_template must contain {{i}}, got {:?}",
                opts.basename_template
            )));
        }
        if opts.basename_template.contains('/') {
            return Err(Error::invalid(
                "basename_template must be a file name, not a path",
            ));
        }
        let mut part_idx = Vec::new();
        for (k, name) in opts.partition_by.iter().enumerate() {
            let Ok(i) = schema.index_of(name) else {
                return Err(Error::schema(format!(
                    "partition column {name:?} is not in the data (columns: {})",
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            if opts.partition_by[..k].contains(name) {
                return Err(Error::invalid(format!(
                    "partition column {name:?} given twice"
                )));
            }
            let t = schema.field(i).data_type();
            if !hive::supported(t) {
                return Err(Error::unsupported(format!(
                    "partitioning by column {name:?} of type {t} (use integers, strings, \
                     booleans or dates)"
                )));
            }
            part_idx.push(i);
        }
        let data_idx: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !part_idx.contains(i))
            .collect();
        if data_idx.is_empty() {
            return Err(Error::invalid(
                "every column is a partition column: the files would have no columns",
            ));
        }
        let data_schema = Arc::new(Schema::new_with_metadata(
            data_idx
                .iter()
                .map(|&i| schema.field(i).clone())
                .collect::<Vec<_>>(),
            schema.metadata().clone(),
        ));
        if opts.existing == ExistingData::Error && !is_empty_dir(root)? {
            return Err(Error::invalid(format!(
                "{}: the dataset root is not empty and existing_data_behavior is 'error' \
                 (use 'overwrite_or_ignore' or 'delete_matching')",
                root.display()
            )));
        }
        std::fs::create_dir_all(root).map_err(|e| Error::io(e, root))?;
        Ok(DatasetWriter {
            root: root.to_path_buf(),
            names: opts.partition_by.clone(),
            part_idx,
            data_idx,
            data_schema,
            opts,
            open: HashMap::new(),
            next_file: HashMap::new(),
            written: Vec::new(),
            clock: 0,
        })
    }

    /// The schema of the files (the data columns).
    pub fn file_schema(&self) -> SchemaRef {
        self.data_schema.clone()
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let parts = split::split(
            batch,
            &self.names,
            &self.part_idx,
            &self.data_idx,
            &self.data_schema,
        )?;
        for part in parts {
            self.clock += 1;
            if !self.open.contains_key(&part.dir) {
                self.open_file(&part.dir)?;
            }
            let clock = self.clock;
            let Some(f) = self.open.get_mut(&part.dir) else {
                return Err(Error::invalid("internal: partition file not open"));
            };
            let rows = part.batch.num_rows();
            if let Some(per_row) = part.batch.get_array_memory_size().checked_div(rows) {
                f.row_bytes = per_row.max(1);
            }
            f.writer.write(&part.batch)?;
            f.rows += rows as u64;
            f.last_used = clock;
        }
        self.limit_memory()
    }

    fn limit_memory(&mut self) -> Result<()> {
        if self.open.len() <= 1 {
            return Ok(()); // one file: bounded by its row group size
        }
        let mut total: usize = self.open.values().map(OpenFile::buffered).sum();
        while total > self.opts.max_buffered_bytes {
            let Some(f) = self.open.values_mut().max_by_key(|f| f.buffered()) else {
                break;
            };
            let b = f.buffered();
            if b == 0 {
                break;
            }
            f.writer.flush()?;
            total -= b;
        }
        Ok(())
    }

    fn open_file(&mut self, dir: &str) -> Result<()> {
        if self.open.len() >= self.opts.max_open_files.max(1) {
            let lru = self
                .open
                .iter()
                .min_by_key(|(_, f)| f.last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = lru {
                self.close(&k)?;
            }
        }
        let dir_path = if dir.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir)
        };
        let n = match self.next_file.get(dir) {
            Some(n) => *n,
            None => {
                if self.opts.existing == ExistingData::DeleteMatching && dir_path.exists() {
                    clear_dir(&dir_path)?;
                }
                std::fs::create_dir_all(&dir_path).map_err(|e| Error::io(e, &dir_path))?;
                0
            }
        };
        self.next_file.insert(dir.to_string(), n + 1);
        let path = dir_path.join(self.opts.basename_template.replace("{i}", &n.to_string()));
        let writer = FileWriter::create(&path, self.data_schema.clone(), self.opts.write.clone())?;
        self.open.insert(
            dir.to_string(),
            OpenFile {
                writer,
                path,
                rows: 0,
                last_used: self.clock,
                row_bytes: 1,
            },
        );
        Ok(())
    }

    fn close(&mut self, dir: &str) -> Result<()> {
        if let Some(f) = self.open.remove(dir) {
            f.writer.finish()?;
            self.written.push(WrittenFile {
                path: f.path,
                rows: f.rows,
            });
        }
        Ok(())
    }

    /// Finish every open file; returns all files written, sorted by path.
    pub fn finish(mut self) -> Result<Vec<WrittenFile>> {
        let mut dirs: Vec<String> = self.open.keys().cloned().collect();
        dirs.sort();
        for d in dirs {
            self.close(&d)?;
        }
        let mut out = std::mem::take(&mut self.written);
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

fn is_empty_dir(root: &Path) -> Result<bool> {
    match std::fs::read_dir(root) {
        Ok(mut it) => Ok(it.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(Error::invalid(format!(
            "{}: the dataset root is a file, not a directory",
            root.display()
        ))),
        Err(e) => Err(Error::io(e, root)),
    }
}

/// Remove what a partition directory holds (files and subdirectories), keeping the directory.
fn clear_dir(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(e, dir))? {
        let entry = entry.map_err(|e| Error::io(e, dir))?;
        let p = entry.path();
        let is_dir = entry.file_type().map_err(|e| Error::io(e, &p))?.is_dir();
        if is_dir {
            std::fs::remove_dir_all(&p).map_err(|e| Error::io(e, &p))?;
        } else {
            std::fs::remove_file(&p).map_err(|e| Error::io(e, &p))?;
        }
    }
    Ok(())
}
