//! Bindings for minide's columnar/dataset engine (partitioned writes, CSV -> Parquet):
//! conversion and error mapping only.

use std::path::PathBuf;
use std::sync::Mutex;

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use minide_columnar::csv::infer_schema_full;
use minide_columnar::dataset::{
    ConversionSummary, CsvConversion, DatasetOptions, DatasetWriter, ExistingData, WrittenFile,
};
use minide_columnar::parquet::compression::Compression;
use minide_columnar::parquet::writer::WriteOptions;
use minide_common::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{detach, to_py};

fn get<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    match d.get_item(key)? {
        Some(v) => v.extract::<T>().map_err(Into::into),
        None => Err(to_py(Error::invalid(format!(
            "internal: write option {key:?} missing"
        )))),
    }
}

/// WriteOptions from the dict the facade builds (the keywords of `parquet_write`).
fn write_options(d: &Bound<'_, PyDict>) -> PyResult<WriteOptions> {
    let codec: String = get(d, "compression")?;
    let level: Option<i32> = get(d, "compression_level")?;
    let compression = Compression::parse(&codec, level).map_err(to_py)?;
    let threads: usize = get(d, "threads")?;
    Ok(WriteOptions {
        compression,
        row_group_size: get(d, "row_group_size")?,
        data_page_size: get(d, "data_page_size")?,
        dictionary: get(d, "dictionary")?,
        statistics: get(d, "statistics")?,
        page_index: get(d, "page_index")?,
        data_page_v2: get(d, "data_page_v2")?,
        threads: threads.max(1),
        key_value_metadata: get(d, "key_value_metadata")?,
        bloom_filter_columns: get(d, "bloom_filter_columns")?,
        ..WriteOptions::default()
    })
}

#[allow(clippy::too_many_arguments)]
fn dataset_options(
    partition_by: Vec<String>,
    existing_data_behavior: &str,
    basename_template: String,
    max_open_files: usize,
    max_buffered_bytes: usize,
    write: &Bound<'_, PyDict>,
) -> PyResult<DatasetOptions> {
    Ok(DatasetOptions {
        partition_by,
        existing: ExistingData::parse(existing_data_behavior).map_err(to_py)?,
        basename_template,
        max_open_files,
        max_buffered_bytes,
        write: write_options(write)?,
    })
}

fn files_out(files: Vec<WrittenFile>) -> Vec<(String, u64)> {
    files
        .into_iter()
        .map(|f| (f.path.to_string_lossy().into_owned(), f.rows))
        .collect()
}

/// Write an Arrow stream as a Hive-partitioned dataset; returns `[(path, rows)]` of the files.
#[pyfunction]
#[pyo3(signature = (data, root, *, partition_by, existing_data_behavior, basename_template,
    max_open_files, max_buffered_bytes, write))]
#[allow(clippy::too_many_arguments)]
fn dataset_write(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    root: PathBuf,
    partition_by: Vec<String>,
    existing_data_behavior: &str,
    basename_template: String,
    max_open_files: usize,
    max_buffered_bytes: usize,
    write: &Bound<'_, PyDict>,
) -> PyResult<Vec<(String, u64)>> {
    let reader = RecordBatchStreamReader::from_pyarrow_bound(data)?;
    let opts = dataset_options(
        partition_by,
        existing_data_behavior,
        basename_template,
        max_open_files,
        max_buffered_bytes,
        write,
    )?;
    detach(py, move || {
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        let mut w = DatasetWriter::create(&root, schema, opts)?;
        for b in reader {
            w.write(&b.map_err(Error::from)?)?;
        }
        w.finish().map(files_out)
    })
}

/// A CSV -> Parquet conversion driven in steps (so Python can show progress between them).
#[pyclass(name = "CsvConversion", module = "minide._core")]
struct PyCsvConversion {
    inner: Mutex<Option<CsvConversion>>,
}

impl PyCsvConversion {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut CsvConversion) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| to_py(Error::invalid("conversion lock poisoned")))?;
        let Some(conv) = guard.as_mut() else {
            return Err(to_py(Error::Closed("the conversion".into())));
        };
        detach(py, move || f(conv))
    }
}

#[pymethods]
impl PyCsvConversion {
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let schema = self.with(py, |c| Ok(c.schema()))?;
        schema.as_ref().to_pyarrow(py)
    }

    /// Write into one Parquet file (options as `parquet_write`, in a dict).
    fn start_file(&self, py: Python<'_>, dst: PathBuf, write: &Bound<'_, PyDict>) -> PyResult<()> {
        let opts = write_options(write)?;
        self.with(py, move |c| c.start_file(&dst, opts))
    }

    #[pyo3(signature = (root, *, partition_by, existing_data_behavior, basename_template,
        max_open_files, max_buffered_bytes, write))]
    #[allow(clippy::too_many_arguments)]
    fn start_dataset(
        &self,
        py: Python<'_>,
        root: PathBuf,
        partition_by: Vec<String>,
        existing_data_behavior: &str,
        basename_template: String,
        max_open_files: usize,
        max_buffered_bytes: usize,
        write: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let opts = dataset_options(
            partition_by,
            existing_data_behavior,
            basename_template,
            max_open_files,
            max_buffered_bytes,
            write,
        )?;
        self.with(py, move |c| c.start_dataset(&root, opts))
    }

    /// Convert up to `max_batches` batches; False once the whole file is written.
    fn step(&self, py: Python<'_>, max_batches: usize) -> PyResult<bool> {
        self.with(py, move |c| c.step(max_batches))
    }

    /// `(bytes_read, rows, skipped)` so far.
    fn progress(&self, py: Python<'_>) -> PyResult<(u64, u64, u64)> {
        self.with(py, |c| Ok((c.bytes_read(), c.rows(), c.skipped())))
    }

    /// Finish: `(rows, skipped, skipped_lines, [(path, rows)])`.
    #[allow(clippy::type_complexity)]
    fn finish(&self, py: Python<'_>) -> PyResult<(u64, u64, Vec<u64>, Vec<(String, u64)>)> {
        let conv = self
            .inner
            .lock()
            .map_err(|_| to_py(Error::invalid("conversion lock poisoned")))?
            .take()
            .ok_or_else(|| to_py(Error::Closed("the conversion".into())))?;
        let s: ConversionSummary = detach(py, move || conv.finish())?;
        Ok((s.rows, s.skipped, s.skipped_lines, files_out(s.files)))
    }

    /// Abandon the conversion (stops the reader thread; the output stays partial).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let conv = self
            .inner
            .lock()
            .map_err(|_| to_py(Error::invalid("conversion lock poisoned")))?
            .take();
        py.detach(move || drop(conv));
        Ok(())
    }
}

/// Open a CSV file for conversion (header and type inference happen here).
#[pyfunction]
#[pyo3(signature = (path, *, schema=None, delimiter=",", quote="\"", header=true,
    null_values=vec![String::new()], infer_rows=10_000, on_bad_lines="error",
    batch_size=65_536, threads=1, pipelined=false, queue=8))]
#[allow(clippy::too_many_arguments)]
fn csv_convert_open<'py>(
    py: Python<'py>,
    path: PathBuf,
    schema: Option<&Bound<'py, PyAny>>,
    delimiter: &str,
    quote: &str,
    header: bool,
    null_values: Vec<String>,
    infer_rows: usize,
    on_bad_lines: &str,
    batch_size: usize,
    threads: usize,
    pipelined: bool,
    queue: usize,
) -> PyResult<PyCsvConversion> {
    let opts = super::csv::options(
        schema,
        delimiter,
        quote,
        header,
        null_values,
        infer_rows,
        on_bad_lines,
        batch_size,
        threads,
    )?;
    let conv = detach(py, move || {
        CsvConversion::open(&path, &opts, pipelined, queue)
    })?;
    Ok(PyCsvConversion {
        inner: Mutex::new(Some(conv)),
    })
}

/// The CSV's schema with types that fit every record of the file (a full, bounded-memory scan).
#[pyfunction]
#[pyo3(signature = (path, *, delimiter=",", quote="\"", header=true,
    null_values=vec![String::new()], infer_rows=10_000, threads=1))]
#[allow(clippy::too_many_arguments)]
fn csv_infer_schema<'py>(
    py: Python<'py>,
    path: PathBuf,
    delimiter: &str,
    quote: &str,
    header: bool,
    null_values: Vec<String>,
    infer_rows: usize,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = super::csv::options(
        None,
        delimiter,
        quote,
        header,
        null_values,
        infer_rows,
        "error",
        65_536,
        threads,
    )?;
    let schema = detach(py, move || infer_schema_full(&path, &opts))?;
    schema.as_ref().to_pyarrow(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(csv_infer_schema, m)?)?;
    m.add_function(wrap_pyfunction!(dataset_write, m)?)?;
    m.add_function(wrap_pyfunction!(csv_convert_open, m)?)?;
    m.add_class::<PyCsvConversion>()?;
    Ok(())
}
