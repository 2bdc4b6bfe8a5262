//! Bindings for minide's columnar/parquet engine: conversion and error mapping only.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, Table, ToPyArrow};
use minide_columnar::parquet::compression::Compression;
use minide_columnar::parquet::filter::{CmpOp, Literal, Predicate};
use minide_columnar::parquet::metadata::{codec, encoding, ptype};
use minide_columnar::parquet::reader::{ParquetFile, ScanOptions};
use minide_columnar::parquet::writer::{WriteOptions, write_file};
use minide_common::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyTuple};

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
                    sd.set_item("min", s.min_value.as_deref().map(|b| PyBytes::new(py, b)))?;
                    sd.set_item("max", s.max_value.as_deref().map(|b| PyBytes::new(py, b)))?;
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

    /// Read row groups `row_groups` (all when None), projected to `columns`, keeping the rows
    /// where `filter` (an expression tree of tuples, see minide.columnar.filter) holds.
    ///
    /// `decimals_as_float`: INT32/INT64-backed decimals come out as float64 (value / 10^scale,
    /// decoded in one pass), for the SQL engine's file scans (no filter allowed with it).
    #[pyo3(signature = (row_groups=None, columns=None, threads=2, filter=None,
        decimals_as_float=false))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        row_groups: Option<Vec<usize>>,
        columns: Option<Vec<String>>,
        threads: usize,
        filter: Option<&Bound<'py, PyAny>>,
        decimals_as_float: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pf = self.inner.clone();
        let pred = filter.map(predicate).transpose()?;
        if pred.is_some() && decimals_as_float {
            return Err(crate::errors::to_py(Error::invalid(
                "decimals_as_float cannot be combined with a filter",
            )));
        }
        let (batches, schema) = detach(py, move || {
            let proj = pf.projection(columns.as_deref())?;
            let groups = row_groups.unwrap_or_else(|| (0..pf.metadata.row_groups.len()).collect());
            let batches = if pred.is_none() {
                pf.read_row_groups_as(&groups, &proj, threads, decimals_as_float)?
            } else {
                groups
                    .iter()
                    .map(|&g| pf.read_row_group_filtered(g, &proj, pred.as_ref(), threads))
                    .collect::<Result<Vec<_>, _>>()?
            };
            let fields: Vec<_> = proj
                .iter()
                .map(|&c| pf.output_field(c, decimals_as_float))
                .collect();
            Ok((batches, Arc::new(arrow_schema::Schema::new(fields))))
        })?;
        Table::try_new(batches, schema)
            .map_err(|e| crate::errors::to_py(Error::from(e)))?
            .into_pyarrow(py)
    }

    /// Scan row groups `row_groups` projected to `columns` with late materialization: the
    /// filter's columns are decoded first and the others only for the matching rows. With
    /// `exact=False` a row group where most rows match is returned whole (a superset, for
    /// callers that filter again). Returns (table, rows decoded for the filter).
    #[pyo3(signature = (row_groups, columns=None, threads=2, filter=None,
        decimals_as_float=false, exact=true))]
    #[allow(clippy::too_many_arguments)]
    fn scan<'py>(
        &self,
        py: Python<'py>,
        row_groups: Vec<usize>,
        columns: Option<Vec<String>>,
        threads: usize,
        filter: Option<&Bound<'py, PyAny>>,
        decimals_as_float: bool,
        exact: bool,
    ) -> PyResult<(Bound<'py, PyAny>, usize)> {
        let pf = self.inner.clone();
        let pred = filter.map(predicate).transpose()?;
        let opts = ScanOptions {
            decimals_as_f64: decimals_as_float,
            exact,
            ..ScanOptions::default()
        };
        let (batches, read, schema) = detach(py, move || {
            let proj = pf.projection(columns.as_deref())?;
            let groups = pf.scan_row_groups(&row_groups, &proj, pred.as_ref(), threads, opts)?;
            let read = groups.iter().map(|g| g.rows_read).sum::<usize>();
            let fields: Vec<_> = proj
                .iter()
                .map(|&c| pf.output_field(c, decimals_as_float))
                .collect();
            let batches = groups.into_iter().map(|g| g.batch).collect::<Vec<_>>();
            Ok((batches, read, Arc::new(arrow_schema::Schema::new(fields))))
        })?;
        let table = Table::try_new(batches, schema)
            .map_err(|e| crate::errors::to_py(Error::from(e)))?
            .into_pyarrow(py)?;
        Ok((table, read))
    }

    /// Page index of a flat column in a row group: one dict per page (first_row, null_page,
    /// min, max, null_count), or None when the file has no page index for it.
    fn page_index<'py>(
        &self,
        py: Python<'py>,
        row_group: usize,
        column: &str,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let pf = self.inner.clone();
        let col = pf
            .columns
            .iter()
            .position(|c| c.name == column)
            .ok_or_else(|| crate::errors::to_py(Error::schema(format!("no column {column:?}"))))?;
        let entries = detach(py, move || pf.page_index(row_group, col))?;
        let Some(entries) = entries else {
            return Ok(None);
        };
        let out = PyList::empty(py);
        for e in entries {
            let d = PyDict::new(py);
            d.set_item("first_row", e.first_row)?;
            d.set_item("null_page", e.null_page)?;
            d.set_item("min", PyBytes::new(py, &e.min))?;
            d.set_item("max", PyBytes::new(py, &e.max))?;
            d.set_item("null_count", e.null_count)?;
            out.append(d)?;
        }
        Ok(Some(out))
    }

    /// Read the rows `selection` (sorted, disjoint (start, end) ranges) of one row group,
    /// skipping pages outside them; returns (table, pages skipped).
    #[pyo3(signature = (row_group, selection, columns=None, threads=2, filter=None))]
    fn read_selected<'py>(
        &self,
        py: Python<'py>,
        row_group: usize,
        selection: Vec<(usize, usize)>,
        columns: Option<Vec<String>>,
        threads: usize,
        filter: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, usize)> {
        let pf = self.inner.clone();
        let pred = filter.map(predicate).transpose()?;
        let (batch, skipped, schema) = detach(py, move || {
            let proj = pf.projection(columns.as_deref())?;
            let (b, s) =
                pf.read_row_group_selected(row_group, &proj, &selection, pred.as_ref(), threads)?;
            Ok((b, s, pf.projected_schema(&proj)))
        })?;
        let table = Table::try_new(vec![batch], schema)
            .map_err(|e| crate::errors::to_py(Error::from(e)))?
            .into_pyarrow(py)?;
        Ok((table, skipped))
    }

    /// Probe the Bloom filter of `column` in `row_group` for any of `values` (physical
    /// representation); None when the chunk has no filter.
    fn bloom_probe(
        &self,
        py: Python<'_>,
        row_group: usize,
        column: &str,
        values: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<Option<bool>> {
        let pf = self.inner.clone();
        let col = pf
            .columns
            .iter()
            .position(|c| c.name == column)
            .ok_or_else(|| crate::errors::to_py(Error::schema(format!("no column {column:?}"))))?;
        let lits = values.iter().map(literal).collect::<PyResult<Vec<_>>>()?;
        detach(py, move || pf.bloom_probe(row_group, col, &lits))
    }

    /// Human-readable layout of the file.
    fn inspect(&self, py: Python<'_>) -> PyResult<String> {
        let pf = self.inner.clone();
        detach(py, move || minide_columnar::parquet::inspect::inspect(&pf))
    }
}

fn literal(v: &Bound<'_, PyAny>) -> PyResult<Literal> {
    if v.is_none() {
        return Ok(Literal::Null);
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Literal::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(Literal::Int(v.extract()?));
    }
    if let Ok(s) = v.extract::<String>() {
        return Ok(Literal::Str(s));
    }
    if v.is_instance_of::<PyBytes>() {
        return Ok(Literal::Bytes(v.extract()?));
    }
    Ok(Literal::Float(v.extract()?))
}

/// Convert the facade's expression tuples into the engine's predicate.
fn predicate(e: &Bound<'_, PyAny>) -> PyResult<Predicate> {
    let t = e.cast::<PyTuple>()?;
    let kind: String = t.get_item(0)?.extract()?;
    let bad = |m: String| crate::errors::to_py(Error::invalid(m));
    Ok(match kind.as_str() {
        "and" | "or" => {
            let a = Box::new(predicate(&t.get_item(1)?)?);
            let b = Box::new(predicate(&t.get_item(2)?)?);
            if kind == "and" {
                Predicate::And(a, b)
            } else {
                Predicate::Or(a, b)
            }
        }
        "not" => Predicate::Not(Box::new(predicate(&t.get_item(1)?)?)),
        "cmp" => Predicate::Cmp {
            column: t.get_item(1)?.extract()?,
            op: CmpOp::parse(&t.get_item(2)?.extract::<String>()?).map_err(crate::errors::to_py)?,
            value: literal(&t.get_item(3)?)?,
        },
        "in" => Predicate::In {
            column: t.get_item(1)?.extract()?,
            values: t
                .get_item(2)?
                .try_iter()?
                .map(|v| literal(&v?))
                .collect::<PyResult<Vec<_>>>()?,
            negated: t.get_item(3)?.extract()?,
        },
        "isnull" => Predicate::IsNull {
            column: t.get_item(1)?.extract()?,
            negated: t.get_item(2)?.extract()?,
        },
        other => return Err(bad(format!("unknown filter node {other:?}"))),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parquet_write, m)?)?;
    m.add_class::<ParquetReader>()?;
    Ok(())
}
