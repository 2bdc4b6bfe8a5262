//! Bindings for minide's SQL executor: conversion and error mapping only.
//!
//! `SqlCatalog` owns a connection's in-memory tables; `execute` receives one msgpack physical
//! plan per query, runs it without the GIL and returns a `pyarrow.Table` plus per-operator
//! metrics for EXPLAIN ANALYZE.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, Table as PyTable};
use arrow_schema::{Field, Schema};
use minide_common::Error;
use minide_sql::{Catalog, DType, Entry, Source};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::detach;

fn dtype(name: &str) -> Result<DType, Error> {
    DType::parse(name)
}

fn poisoned() -> Error {
    Error::InvalidArgument("the catalog lock was poisoned by an earlier failure".into())
}

/// The tables of one SQL connection, held in Rust as normalized Arrow morsels.
#[pyclass(name = "SqlCatalog", module = "minide._core")]
pub struct SqlCatalog {
    inner: Arc<RwLock<Catalog>>,
}

fn described(e: &Entry) -> (Vec<String>, Vec<String>, u64) {
    (
        e.names.clone(),
        e.types.iter().map(|t| t.name()).collect(),
        e.rows(),
    )
}

type Batches = (Vec<String>, Vec<DType>, Vec<Vec<ArrayRef>>);

fn batches_of(data: &Bound<'_, PyAny>) -> PyResult<Batches> {
    let table = PyTable::from_pyarrow_bound(data)?;
    let (batches, schema) = table.into_inner();
    let names = schema.fields().iter().map(|f| f.name().clone()).collect();
    let types = schema
        .fields()
        .iter()
        .map(|f| minide_sql::types::normalized_type(f.data_type()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::errors::to_py)?;
    Ok((
        names,
        types,
        batches.into_iter().map(|b| b.columns().to_vec()).collect(),
    ))
}

#[pymethods]
impl SqlCatalog {
    #[new]
    fn new() -> Self {
        SqlCatalog {
            inner: Arc::new(RwLock::new(Catalog::default())),
        }
    }

    /// Register (or replace) table `name` from an Arrow stream. Returns (names, types, rows).
    /// `threads` bounds the threads normalizing the columns (default: all cores).
    #[allow(clippy::type_complexity)]
    #[pyo3(signature = (name, data, threads=None))]
    fn register(
        &self,
        py: Python<'_>,
        name: &str,
        data: &Bound<'_, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<(Vec<String>, Vec<String>, u64)> {
        let (names, types, batches) = batches_of(data)?;
        let inner = self.inner.clone();
        let name = name.to_string();
        detach(py, move || {
            let run = || {
                let mut cat = inner.write().map_err(|_| poisoned())?;
                cat.register(&name, names, batches, Some(types))
            };
            let e = match threads {
                None => run()?,
                Some(n) => minide_sql::with_threads(n, run)?,
            };
            Ok(described(&e))
        })
    }

    /// Register (or replace) table `name` as the Parquet/CSV file or dataset directory at
    /// `path` (footers only: data is read per query). Returns (names, types, rows).
    #[allow(clippy::type_complexity)]
    fn register_file(
        &self,
        py: Python<'_>,
        name: &str,
        path: std::path::PathBuf,
    ) -> PyResult<(Vec<String>, Vec<String>, u64)> {
        let inner = self.inner.clone();
        let name = name.to_string();
        detach(py, move || {
            let e = inner
                .write()
                .map_err(|_| poisoned())?
                .register_file(&name, &path)?;
            Ok(described(&e))
        })
    }

    /// Table `name`: (column names, type names, rows, file path or None); None if unknown.
    #[allow(clippy::type_complexity)]
    fn table(
        &self,
        name: &str,
    ) -> PyResult<Option<(Vec<String>, Vec<String>, u64, Option<String>)>> {
        let cat = self
            .inner
            .read()
            .map_err(|_| crate::errors::to_py(poisoned()))?;
        Ok(cat.entry(name).map(|e| {
            let (names, types, rows) = described(e);
            let path = match &e.source {
                Source::File(f) => Some(f.path.display().to_string()),
                Source::Memory(_) => None,
            };
            (names, types, rows, path)
        }))
    }

    /// The names of every table, sorted.
    fn names(&self) -> PyResult<Vec<String>> {
        let cat = self
            .inner
            .read()
            .map_err(|_| crate::errors::to_py(poisoned()))?;
        Ok(cat.names())
    }

    /// EXPLAIN text of each file scan in a msgpack plan, by operator id.
    fn describe_scans(
        &self,
        py: Python<'_>,
        plan: &Bound<'_, PyBytes>,
    ) -> PyResult<HashMap<u32, String>> {
        let bytes = plan.as_bytes().to_vec();
        let inner = self.inner.clone();
        detach(py, move || {
            let cat = inner.read().map_err(|_| poisoned())?;
            minide_sql::describe_scans(&cat, &bytes)
        })
    }

    /// Create an empty table with the given column names and type names.
    fn create(
        &self,
        py: Python<'_>,
        name: &str,
        names: Vec<String>,
        types: Vec<String>,
    ) -> PyResult<()> {
        let inner = self.inner.clone();
        let name = name.to_string();
        detach(py, move || {
            let types = types
                .iter()
                .map(|t| dtype(t))
                .collect::<Result<Vec<_>, _>>()?;
            let mut cat = inner.write().map_err(|_| poisoned())?;
            cat.register(&name, names, Vec::new(), Some(types))?;
            Ok(())
        })
    }

    /// Append the rows of an Arrow stream to table `name`. Returns the new row count.
    fn append(&self, py: Python<'_>, name: &str, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let (_, _, batches) = batches_of(data)?;
        let inner = self.inner.clone();
        let name = name.to_string();
        detach(py, move || {
            let mut cat = inner.write().map_err(|_| poisoned())?;
            Ok(cat.append(&name, batches)?.rows())
        })
    }

    /// Drop table `name`; False if there was none.
    fn drop(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let inner = self.inner.clone();
        let name = name.to_string();
        detach(py, move || {
            Ok(inner.write().map_err(|_| poisoned())?.drop_table(&name))
        })
    }

    /// Per-column statistics of `name`: (distinct estimate, min, max, nulls).
    #[allow(clippy::type_complexity)]
    fn stats(
        &self,
        py: Python<'_>,
        name: &str,
    ) -> PyResult<Vec<(f64, Option<f64>, Option<f64>, u64)>> {
        let inner = self.inner.clone();
        let name = name.to_string();
        detach(py, move || {
            let cat = inner.read().map_err(|_| poisoned())?;
            let e = cat
                .entry(&name)
                .cloned()
                .ok_or_else(|| Error::InvalidArgument(format!("no table {name}")))?;
            drop(cat);
            Ok(e.stats()?
                .iter()
                .map(|s| (s.ndv, s.min, s.max, s.nulls))
                .collect())
        })
    }

    /// Run a msgpack physical plan on `threads` threads; returns (pyarrow.Table, metrics, scans)
    /// where metrics maps operator id -> (rows, nanoseconds) and scans maps the id of each file
    /// scan -> its pruning counters (a dict).
    #[allow(clippy::type_complexity)]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        plan: &Bound<'py, PyBytes>,
        names: Vec<String>,
        threads: usize,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        HashMap<u32, (u64, u64)>,
        HashMap<u32, Bound<'py, pyo3::types::PyDict>>,
    )> {
        let bytes = plan.as_bytes().to_vec();
        let inner = self.inner.clone();
        let (batches, schema, metrics, scans) = detach(py, move || {
            let cat = inner.read().map_err(|_| poisoned())?;
            let out = minide_sql::execute(&cat, &bytes, threads)?;
            if names.len() != out.types.len() {
                return Err(Error::InvalidArgument(format!(
                    "{} names for {} output columns",
                    names.len(),
                    out.types.len()
                )));
            }
            let fields: Vec<Field> = names
                .iter()
                .zip(&out.types)
                .map(|(n, t)| Field::new(n, t.arrow(), true))
                .collect();
            let schema = Arc::new(Schema::new(fields));
            let batches = out
                .chunks
                .into_iter()
                .map(|c| {
                    RecordBatch::try_new(schema.clone(), c.cols)
                        .map_err(|e| Error::Schema(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let metrics = out
                .metrics
                .into_iter()
                .map(|(k, m)| (k, (m.rows, m.nanos)))
                .collect::<HashMap<_, _>>();
            Ok((batches, schema, metrics, out.scans))
        })?;
        let table = PyTable::try_new(batches, schema)
            .map_err(|e| crate::errors::to_py(Error::Schema(e.to_string())))?;
        let scans = scans
            .iter()
            .map(|(k, c)| Ok((*k, crate::columnar::scan::counters_dict(py, c)?)))
            .collect::<PyResult<HashMap<_, _>>>()?;
        Ok((table.into_pyarrow(py)?, metrics, scans))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SqlCatalog>()?;
    Ok(())
}
