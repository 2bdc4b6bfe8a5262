//! Bindings for minide's columnar/parquet engine: conversion and error mapping only.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use minide_columnar::parquet::compression::Compression;
use minide_columnar::parquet::metadata::{codec, encoding, ptype};
use minide_columnar::parquet::reader::ParquetFile;
use minide_columnar::parquet::writer::{WriteOptions, write_file};
use minide_columnar::scan::stats::{Scalar, decode};
use minide_columnar::scan::{ScanSpec, file_output_schema, pages_prunable, scan_file};
use minide_common::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList};

use crate::errors::detach;

/// Write every batch of an Arrow stream (anything with `__arrow_c_stream__`) to `path`.
#[pyfunction]
#[pyo3(signature = (data, path, *, compression, compression_level, row_group_size,
    data_page_size, dictionary, statistics, page_index, data_page_v2, threads,
    key_value_metadata, bloom_filter_columns=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn parquet_write(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    path: PathBuf,
    compression: &str,
    compression_level: Option<i32>,
    row_group_size: usize,
    data_page_size: usize,
    dictionary: bool,
    statistics: bool,
    page_index: bool,
    data_page_v2: bool,
    threads: usize,
    key_value_metadata: Vec<(String, String)>,
    bloom_filter_columns: Vec<String>,
) -> PyResult<()> {
    let reader = RecordBatchStreamReader::from_pyarrow_bound(data)?;
    let compression =
        Compression::parse(compression, compression_level).map_err(crate::errors::to_py)?;
    let opts = WriteOptions {
        compression,
        row_group_size,
        data_page_size,
        dictionary,
        statistics,
        page_index,
        data_page_v2,
        threads: threads.max(1),
        key_value_metadata,
        bloom_filter_columns,
        ..WriteOptions::default()
    };
    detach(py, move || {
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        let batches = reader.map(|b| b.map_err(Error::from));
        write_file(&path, schema, batches, opts).map(|_| ())
    })
}

/// An open Parquet file: footer parsed and validated, columns decoded on demand.
#[pyclass(name = "ParquetReader", module = "minide._core", frozen)]
struct ParquetReader {
    inner: Arc<ParquetFile>,
}

#[pymethods]
impl ParquetReader {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let pf = detach(py, move || ParquetFile::open(&path))?;
        Ok(ParquetReader {
            inner: Arc::new(pf),
        })
    }

    #[getter]
    fn num_rows(&self) -> i64 {
        self.inner.metadata.num_rows
    }

    #[getter]
    fn num_row_groups(&self) -> usize {
        self.inner.metadata.row_groups.len()
    }

    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.inner.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The file's Arrow schema as minide reads it (before the `ARROW:schema` hint).
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.arrow_schema().as_ref().to_pyarrow(py)
    }

    fn key_value_metadata(&self) -> Vec<(String, Option<String>)> {
        self.inner.metadata.key_value_metadata.clone()
    }

    /// Row groups and column chunks as plain Python dicts (the facade wraps them).
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.inner.metadata;
        let d = PyDict::new(py);
        d.set_item("num_rows", m.num_rows)?;
        d.set_item("created_by", m.created_by.clone())?;
        d.set_item("version", m.version)?;
        let rgs = PyList::empty(py);
        for rg in &m.row_groups {
            let g = PyDict::new(py);
            g.set_item("num_rows", rg.num_rows)?;
            g.set_item("total_byte_size", rg.total_byte_size)?;
            g.set_item("total_compressed_size", rg.total_compressed_size)?;
            let cols = PyList::empty(py);
            for top in &self.inner.columns {
                let Some(cc) = rg.columns.get(top.first_leaf) else {
                    continue;
                };
                let Some(cm) = &cc.meta_data else { continue };
                let c = PyDict::new(py);
                c.set_item("path", cm.path_in_schema.join("."))?;
                c.set_item("physical_type", ptype::name(cm.type_))?;
                c.set_item("codec", codec::name(cm.codec))?;
                let encs: Vec<&str> = cm.encodings.iter().map(|&e| encoding::name(e)).collect();
                c.set_item("encodings", encs)?;
                c.set_item("num_values", cm.num_values)?;
                c.set_item("total_compressed_size", cm.total_compressed_size)?;
                c.set_item("total_uncompressed_size", cm.total_uncompressed_size)?;
                c.set_item("data_page_offset", cm.data_page_offset)?;
                c.set_item("dictionary_page_offset", cm.dictionary_page_offset)?;
                c.set_item("has_column_index", cc.column_index_offset.is_some())?;
                c.set_item("has_offset_index", cc.offset_index_offset.is_some())?;
                if let Some(s) = &cm.statistics {
                    let sd = PyDict::new(py);
                    sd.set_item("null_count", s.null_count)?;
                    sd.set_item("distinct_count", s.distinct_count)?;
                    let ft = top.field.data_type();
                    sd.set_item("min", stat(py, s.min_value.as_deref(), cm.type_, ft)?)?;
                    sd.set_item("max", stat(py, s.max_value.as_deref(), cm.type_, ft)?)?;
                    c.set_item("statistics", sd)?;
                } else {
                    c.set_item("statistics", py.None())?;
                }
                cols.append(c)?;
            }
            g.set_item("columns", cols)?;
            rgs.append(g)?;
        }
        d.set_item("row_groups", rgs)?;
        Ok(d)
    }

    /// Scan the file through the scan core: projection, predicate (node tuples, see
    /// `scan::predicate`), row groups, limit; batches with the `ARROW:schema` hint applied
    /// (unless `decimals_as_float` or `file_types`; `file_types=None`: as `decimals_as_float`).
    #[pyo3(signature = (columns=None, filter=None, *, row_groups=None, limit=None, threads=1,
        batch_size=None, exact=true, decimals_as_float=false, file_types=None, page_index=true))]
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        py: Python<'_>,
        columns: Option<Vec<String>>,
        filter: Option<&Bound<'_, PyAny>>,
        row_groups: Option<Vec<usize>>,
        limit: Option<usize>,
        threads: usize,
        batch_size: Option<usize>,
        exact: bool,
        decimals_as_float: bool,
        file_types: Option<bool>,
        page_index: bool,
    ) -> PyResult<super::scan::ScanStream> {
        let spec = super::scan::spec(
            columns,
            filter,
            row_groups,
            limit,
            threads,
            batch_size,
            exact,
            decimals_as_float,
            file_types,
            page_index,
        )?;
        let pf = self.inner.clone();
        let scan = detach(py, move || scan_file(pf, spec))?;
        Ok(super::scan::ScanStream::new(scan))
    }

    /// Whether the page index rules out pages of a row group the other pruning keeps.
    #[pyo3(signature = (filter=None))]
    fn skips_pages(&self, py: Python<'_>, filter: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let Some(f) = filter else { return Ok(false) };
        let pred = super::scan::predicate(f)?;
        let pf = self.inner.clone();
        detach(py, move || pages_prunable(&pf, &pred))
    }

    /// The schema `scan` yields for `columns`.
    #[pyo3(signature = (columns=None, decimals_as_float=false, file_types=None))]
    fn output_schema<'py>(
        &self,
        py: Python<'py>,
        columns: Option<Vec<String>>,
        decimals_as_float: bool,
        file_types: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = ScanSpec {
            columns,
            decimals_as_f64: decimals_as_float,
            file_types: file_types.unwrap_or(decimals_as_float),
            ..ScanSpec::default()
        };
        let schema = file_output_schema(&self.inner, &spec).map_err(crate::errors::to_py)?;
        schema.as_ref().to_pyarrow(py)
    }

    /// Human-readable layout of the file.
    fn inspect(&self, py: Python<'_>) -> PyResult<String> {
        let pf = self.inner.clone();
        detach(py, move || minide_columnar::parquet::inspect::inspect(&pf))
    }
}

/// A statistics value decoded by the scan core's decoder (`scan::stats`): int, float,
/// `Decimal`, str (string columns), bytes, bool; the raw bytes when it does not decode.
fn stat<'py>(
    py: Python<'py>,
    raw: Option<&[u8]>,
    physical: i32,
    t: &arrow_schema::DataType,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    use arrow_schema::DataType;
    let Some(raw) = raw else { return Ok(None) };
    Ok(Some(match decode(raw, physical, t, t) {
        None => PyBytes::new(py, raw).into_any(),
        Some(Scalar::Int(i)) => i.into_pyobject(py)?.into_any(),
        Some(Scalar::Float(f)) => f.into_pyobject(py)?.into_any(),
        Some(Scalar::Bool(b)) => PyBool::new(py, b).to_owned().into_any(),
        Some(Scalar::Dec(u, s)) => py
            .import("decimal")?
            .getattr("Decimal")?
            .call1((u.to_string(),))?
            .call_method1("scaleb", (-i32::from(s),))?,
        Some(Scalar::Bytes(b)) => match t {
            DataType::Utf8 | DataType::LargeUtf8 => {
                String::from_utf8_lossy(&b).into_pyobject(py)?.into_any()
            }
            _ => PyBytes::new(py, &b).into_any(),
        },
    }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parquet_write, m)?)?;
    m.add_class::<ParquetReader>()?;
    Ok(())
}
