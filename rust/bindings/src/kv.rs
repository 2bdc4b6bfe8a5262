//! Bindings for minide's kv engine: conversion and error mapping only.
//!
//! `KvDb` wraps `minide_kv::Db`; keys and values cross as `bytes` (the facade in
//! `python/minide/kv` turns `str` keys and datetimes into bytes and ints). Every call into the
//! engine runs inside `detach` (GIL released, panics contained).

use std::path::PathBuf;
use std::sync::Arc;

use arrow_pyarrow::ToPyArrow;
use minide_common::Error;
use minide_kv::{Compression, Db, Op, Options, Recovery, Retention, Snapshot, SyncMode};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{detach, to_py};

type PyOp<'py> = (
    Bound<'py, PyBytes>,
    Option<Bound<'py, PyBytes>>,
    Option<i64>,
    Option<i64>,
);

#[pyclass(name = "KvDb", module = "minide._core", frozen)]
struct KvDb {
    db: Arc<Db>,
}

#[pyclass(name = "KvSnapshot", module = "minide._core", frozen)]
struct KvSnapshot {
    snap: Snapshot,
}

#[pymethods]
impl KvSnapshot {
    #[getter]
    fn ts(&self) -> u64 {
        self.snap.ts
    }

    #[getter]
    fn released(&self) -> bool {
        self.snap.is_released()
    }

    fn release(&self) {
        self.snap.release();
    }
}

fn parse_retention(kind: &str, value: u64) -> PyResult<Retention> {
    match kind {
        "all" => Ok(Retention::All),
        "max_age_ms" => Ok(Retention::MaxAgeMillis(value)),
        "versions" => u32::try_from(value)
            .ok()
            .filter(|&n| n >= 1)
            .map(Retention::Versions)
            .ok_or_else(|| {
                to_py(Error::invalid(
                    "retention {\"versions\": N} needs 1 <= N < 2**32",
                ))
            }),
        other => Err(to_py(Error::invalid(format!(
            "unknown retention kind {other:?}"
        )))),
    }
}

fn bytes_list<'py>(py: Python<'py>, v: Vec<Option<Vec<u8>>>) -> Vec<Option<Bound<'py, PyBytes>>> {
    v.into_iter()
        .map(|o| o.map(|b| PyBytes::new(py, &b)))
        .collect()
}

#[pymethods]
impl KvDb {
    #[new]
    #[pyo3(signature = (path, sync, memtable_size, block_size, compression, bloom_bits_per_key,
                        retention_kind, retention_value, recovery))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        sync: &str,
        memtable_size: usize,
        block_size: usize,
        compression: &str,
        bloom_bits_per_key: usize,
        retention_kind: &str,
        retention_value: u64,
        recovery: &str,
    ) -> PyResult<Self> {
        let opts = Options {
            sync: SyncMode::parse(sync).map_err(to_py)?,
            memtable_size,
            block_size,
            compression: Compression::parse(compression).map_err(to_py)?,
            bloom_bits_per_key,
            retention: parse_retention(retention_kind, retention_value)?,
            recovery: match recovery {
                "strict" => Recovery::Strict,
                "stop_at_corruption" => Recovery::StopAtCorruption,
                other => {
                    return Err(to_py(Error::invalid(format!(
                        "recovery must be \"strict\" or \"stop_at_corruption\", got {other:?}"
                    ))));
                }
            },
            ..Options::default()
        };
        let db = detach(py, move || Db::open(path, opts))?;
        Ok(KvDb { db: Arc::new(db) })
    }

    #[pyo3(signature = (key, value, valid_from=None, valid_to=None))]
    fn put(
        &self,
        py: Python<'_>,
        key: &[u8],
        value: &[u8],
        valid_from: Option<i64>,
        valid_to: Option<i64>,
    ) -> PyResult<u64> {
        detach(py, || self.db.put(key, value, valid_from, valid_to))
    }

    #[pyo3(signature = (key, valid_from=None, valid_to=None))]
    fn delete(
        &self,
        py: Python<'_>,
        key: &[u8],
        valid_from: Option<i64>,
        valid_to: Option<i64>,
    ) -> PyResult<u64> {
        detach(py, || self.db.delete(key, valid_from, valid_to))
    }

    /// Commit a batch of (key, value or None for delete, valid_from, valid_to) atomically.
    fn write(&self, py: Python<'_>, ops: Vec<PyOp<'_>>) -> PyResult<u64> {
        let ops: Vec<Op> = ops
            .iter()
            .map(|(k, v, vf, vt)| Op {
                key: k.as_bytes().to_vec(),
                value: v.as_ref().map(|v| v.as_bytes().to_vec()),
                valid_from: *vf,
                valid_to: *vt,
            })
            .collect();
        detach(py, move || self.db.write(ops))
    }

    #[pyo3(signature = (key, as_of=None, valid_at=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &[u8],
        as_of: Option<u64>,
        valid_at: Option<i64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let v = detach(py, || self.db.get(key, as_of, valid_at))?;
        Ok(v.map(|b| PyBytes::new(py, &b)))
    }

    #[pyo3(signature = (keys, as_of=None, valid_at=None))]
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        keys: Vec<Bound<'py, PyBytes>>,
        as_of: Option<u64>,
        valid_at: Option<i64>,
    ) -> PyResult<Vec<Option<Bound<'py, PyBytes>>>> {
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        let v = detach(py, || self.db.get_many(&keys, as_of, valid_at))?;
        Ok(bytes_list(py, v))
    }

    /// Every version of `key`, oldest first: (value, system_from, system_to, valid_from, valid_to).
    #[allow(clippy::type_complexity)]
    fn history<'py>(
        &self,
        py: Python<'py>,
        key: &[u8],
    ) -> PyResult<
        Vec<(
            Option<Bound<'py, PyBytes>>,
            u64,
            Option<u64>,
            Option<i64>,
            Option<i64>,
        )>,
    > {
        let h = detach(py, || self.db.history(key))?;
        Ok(h.into_iter()
            .map(|e| {
                (
                    e.value.map(|b| PyBytes::new(py, &b)),
                    e.system_from,
                    e.system_to,
                    e.valid_from,
                    e.valid_to,
                )
            })
            .collect())
    }

    /// Up to `limit` (key, value) rows after `start` (exclusive or not) and before `end`.
    #[pyo3(signature = (start, start_exclusive, end, read_ts, valid_at, limit))]
    #[allow(clippy::too_many_arguments)]
    fn scan_chunk<'py>(
        &self,
        py: Python<'py>,
        start: Option<&[u8]>,
        start_exclusive: bool,
        end: Option<&[u8]>,
        read_ts: u64,
        valid_at: Option<i64>,
        limit: usize,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
        let rows = detach(py, || {
            self.db
                .scan_chunk(start, start_exclusive, end, read_ts, valid_at, limit)
        })?;
        Ok(rows
            .into_iter()
            .map(|r| (PyBytes::new(py, &r.key), PyBytes::new(py, &r.value)))
            .collect())
    }

    /// The timestamp a read with `as_of` runs at (never above the newest commit).
    #[pyo3(signature = (as_of=None))]
    fn read_ts(&self, as_of: Option<u64>) -> PyResult<u64> {
        self.db.check_open().map_err(to_py)?;
        Ok(self.db.read_ts(as_of))
    }

    fn snapshot(&self) -> PyResult<KvSnapshot> {
        Ok(KvSnapshot {
            snap: self.db.snapshot().map_err(to_py)?,
        })
    }

    /// Pin `ts` (capped at the newest commit) against version GC until released.
    fn pin(&self, ts: u64) -> PyResult<KvSnapshot> {
        Ok(KvSnapshot {
            snap: self.db.pin(ts).map_err(to_py)?,
        })
    }

    #[pyo3(signature = (as_of=None, valid_at=None, prefix=None))]
    fn to_arrow<'py>(
        &self,
        py: Python<'py>,
        as_of: Option<u64>,
        valid_at: Option<i64>,
        prefix: Option<&[u8]>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let batch = detach(py, || self.db.to_arrow(as_of, valid_at, prefix))?;
        batch.to_pyarrow(py)
    }

    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        detach(py, || self.db.flush())
    }

    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        detach(py, || self.db.compact())
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = detach(py, || self.db.stats())?;
        let d = PyDict::new(py);
        for (k, v) in s {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        detach(py, || self.db.close())
    }

    #[getter]
    fn closed(&self) -> bool {
        self.db.is_closed()
    }

    #[getter]
    fn path(&self) -> String {
        self.db.path().display().to_string()
    }
}

/// Describe the store at `path` (levels, tables, key ranges, sizes, WAL files) without opening it.
#[pyfunction]
fn kv_inspect(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    detach(py, move || minide_kv::inspect::inspect(&path))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KvDb>()?;
    m.add_class::<KvSnapshot>()?;
    m.add_function(wrap_pyfunction!(kv_inspect, m)?)?;
    Ok(())
}
