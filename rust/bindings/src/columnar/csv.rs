//! Bindings for minide's columnar/csv engine: conversion and error mapping only.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_pyarrow::{FromPyArrow, IntoPyArrow, ToPyArrow};
use arrow_schema::{Schema, SchemaRef};
use minide_columnar::csv::{CsvOptions, CsvReader, OnBadLines, read_csv};
use minide_common::Error;
use pyo3::prelude::*;

use crate::errors::{detach, to_py};

fn one_byte(what: &str, s: &str) -> PyResult<u8> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(to_py(Error::invalid(format!(
            "{what} must be a single ASCII character, got {s:?}"
        )))),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn options(
    schema: Option<&Bound<'_, PyAny>>,
    delimiter: &str,
    quote: &str,
    header: bool,
    null_values: Vec<String>,
    infer_rows: usize,
    on_bad_lines: &str,
    batch_size: usize,
    threads: usize,
) -> PyResult<CsvOptions> {
    let on_bad_lines = match on_bad_lines {
        "error" => OnBadLines::Error,
        "skip" => OnBadLines::Skip,
        other => {
            return Err(to_py(Error::invalid(format!(
                "on_bad_lines must be 'error' or 'skip', got {other:?}"
            ))));
        }
    };
    let schema: Option<SchemaRef> = match schema {
        Some(s) => Some(Arc::new(Schema::from_pyarrow_bound(s)?)),
        None => None,
    };
    Ok(CsvOptions {
        delimiter: one_byte("delimiter", delimiter)?,
        quote: one_byte("quote", quote)?,
        header,
        null_values: null_values.into_iter().map(String::into_bytes).collect(),
        infer_rows,
        on_bad_lines,
        batch_size,
        schema,
        threads,
    })
}

/// Read a whole CSV file: returns `(pyarrow.Table, skipped_records, lines_of_first_skipped)`.
#[pyfunction]
#[pyo3(signature = (path, *, schema=None, delimiter=",", quote="\"", header=true,
    null_values=vec![String::new()], infer_rows=10_000, on_bad_lines="error",
    batch_size=65_536, threads=1))]
#[allow(clippy::too_many_arguments)]
fn csv_read<'py>(
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
) -> PyResult<(Bound<'py, PyAny>, u64, Vec<u64>)> {
    let opts = options(
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
    let table = detach(py, move || read_csv(&path, &opts))?;
    let (skipped, lines) = (table.skipped, table.skipped_lines);
    let out = arrow_pyarrow::Table::try_new(table.batches, table.schema)
        .map_err(|e| to_py(Error::from(e)))?;
    Ok((out.into_pyarrow(py)?, skipped, lines))
}

/// A CSV file as an iterator of `pyarrow.RecordBatch`, read with bounded memory.
#[pyclass(name = "CsvReader", module = "minide._core")]
struct PyCsvReader {
    inner: Option<CsvReader>,
    schema: SchemaRef,
    skipped: u64,
    skipped_lines: Vec<u64>,
    bytes_read: u64,
}

#[pymethods]
impl PyCsvReader {
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.schema.to_pyarrow(py)
    }

    /// Records skipped so far (on_bad_lines="skip").
    #[getter]
    fn skipped(&self) -> u64 {
        self.inner.as_ref().map_or(self.skipped, CsvReader::skipped)
    }

    /// Physical line numbers of the first (up to 1000) skipped records.
    #[getter]
    fn skipped_lines(&self) -> Vec<u64> {
        self.inner.as_ref().map_or_else(
            || self.skipped_lines.clone(),
            |r| r.skipped_lines().to_vec(),
        )
    }

    /// Bytes of the file read so far.
    #[getter]
    fn bytes_read(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(self.bytes_read, CsvReader::bytes_read)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(reader) = self.inner.as_mut() else {
            return Ok(None);
        };
        let next = detach(py, || reader.next_batch());
        match next {
            Ok(Some(batch)) => Ok(Some(batch.to_pyarrow(py)?)),
            Ok(None) => {
                self.close();
                Ok(None)
            }
            Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    /// Release the file and buffers; iteration then ends.
    fn close(&mut self) {
        if let Some(r) = self.inner.take() {
            self.skipped = r.skipped();
            self.skipped_lines = r.skipped_lines().to_vec();
            self.bytes_read = r.bytes_read();
        }
    }
}

/// Open a CSV file for streaming (header and type inference happen here).
#[pyfunction]
#[pyo3(signature = (path, *, schema=None, delimiter=",", quote="\"", header=true,
    null_values=vec![String::new()], infer_rows=10_000, on_bad_lines="error",
    batch_size=65_536, threads=1))]
#[allow(clippy::too_many_arguments)]
fn csv_open<'py>(
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
) -> PyResult<PyCsvReader> {
    let opts = options(
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
    let reader = detach(py, move || CsvReader::open(&path, &opts))?;
    Ok(PyCsvReader {
        schema: reader.schema(),
        inner: Some(reader),
        skipped: 0,
        skipped_lines: Vec::new(),
        bytes_read: 0,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(csv_read, m)?)?;
    m.add_function(wrap_pyfunction!(csv_open, m)?)?;
    m.add_class::<PyCsvReader>()?;
    Ok(())
}
