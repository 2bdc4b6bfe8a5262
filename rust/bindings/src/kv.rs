//! Bindings for minide's kv engine: conversion and error mapping only.
//!
//! `KvDb` wraps `minide_kv::Db` and `KvBatch` collects the ops of a write batch. Both are the
//! base classes of the Python facade (`minide.kv.DB(KvDb)`, `minide.kv.WriteBatch(KvBatch)`):
//! the hot methods (`get`, `get_many`, `put`, `delete`, the batch's `put`/`delete`) are these
//! Rust methods themselves, with no Python frame in between, and every argument is converted
//! once, here, by [`crate::kv_args`] (the facade converts nothing). Methods starting with `_`
//! are the facade's plumbing. Calls into the engine run inside `detach` (GIL released, panics
//! contained), except single point reads: a `get` is a microsecond, less than releasing and
//! re-taking the GIL costs, so it runs attached (panics still contained) and builds the result
//! `bytes` straight from the block, uncopied.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_pyarrow::ToPyArrow;
use minide_common::Error;
use minide_kv::scan::{Rows, Scanner};
use minide_kv::{Compression, Db, Op, Options, Recovery, Retention, Snapshot, SyncMode};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::errors::{detach, to_py};
use crate::kv_args::{
    as_of_ts, borrow_key, hold_keys, is_datetime, key_bytes, key_range, ts_of_datetime, valid_time,
    value_bytes,
};

#[pyclass(name = "KvDb", module = "minide._core", frozen, subclass)]
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

/// Run engine code with the GIL held, panics contained as in `detach` (for sub-microsecond
/// calls where releasing the GIL would cost more than the call).
fn attached<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, Error>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_py),
        // Re-raise inside `detach`, which turns the panic into minide.errors.InternalError.
        Err(payload) => detach(py, move || -> Result<(), Error> {
            std::panic::resume_unwind(payload)
        })
        .and_then(|()| Err(to_py(Error::corrupt("unreachable: a panic resumed")))),
    }
}

/// The operations of a `WriteBatch`, collected in Rust: `WriteBatch` subclasses `KvBatch`, so
/// a batched put is this method, one C call and no Python frame.
#[pyclass(name = "KvBatch", module = "minide._core", frozen, subclass)]
struct KvBatch {
    /// `None` once committed (the ops moved into the engine).
    ops: std::sync::Mutex<Option<Vec<Op>>>,
}

impl KvBatch {
    fn push(&self, op: Op) -> PyResult<()> {
        match self.ops.lock() {
            Ok(mut g) => match g.as_mut() {
                Some(ops) => {
                    ops.push(op);
                    Ok(())
                }
                None => Err(to_py(Error::invalid(
                    "this write batch was already committed",
                ))),
            },
            Err(_) => Err(to_py(Error::corrupt("write batch poisoned by a panic"))),
        }
    }

    fn take(&self) -> PyResult<Vec<Op>> {
        match self.ops.lock() {
            Ok(mut g) => g
                .take()
                .ok_or_else(|| to_py(Error::invalid("this write batch was already committed"))),
            Err(_) => Err(to_py(Error::corrupt("write batch poisoned by a panic"))),
        }
    }
}

#[pymethods]
impl KvBatch {
    #[new]
    fn new() -> Self {
        KvBatch {
            ops: std::sync::Mutex::new(Some(Vec::new())),
        }
    }

    /// Add a new version of `key` (bytes or str) with `value` (bytes) to the batch; valid
    /// times are ints in your own unit or datetimes.
    #[pyo3(signature = (key, value, *, valid_from=None, valid_to=None))]
    fn put(
        &self,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        valid_from: Option<&Bound<'_, PyAny>>,
        valid_to: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (mut hk, mut hv) = (None, None);
        let key = key_bytes(key, &mut hk)?;
        let value = value_bytes(value, &mut hv)?;
        let (vf, vt) = (
            valid_time(valid_from, "valid_from")?,
            valid_time(valid_to, "valid_to")?,
        );
        self.push(Op::put(key, value, vf, vt))
    }

    /// Add a tombstone for `key` (for the whole valid line, or `[valid_from, valid_to)`).
    #[pyo3(signature = (key, *, valid_from=None, valid_to=None))]
    fn delete(
        &self,
        key: &Bound<'_, PyAny>,
        valid_from: Option<&Bound<'_, PyAny>>,
        valid_to: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut hold = None;
        let key = key_bytes(key, &mut hold)?;
        self.push(Op::delete(
            key,
            valid_time(valid_from, "valid_from")?,
            valid_time(valid_to, "valid_to")?,
        ))
    }

    fn __len__(&self) -> usize {
        self.ops
            .lock()
            .map_or(0, |g| g.as_ref().map_or(0, Vec::len))
    }
}

/// A chunk of scan rows as a list of (key, value) tuples.
fn rows_list<'py>(py: Python<'py>, rows: &Rows) -> PyResult<Bound<'py, PyList>> {
    let items = (0..rows.len()).map(|i| {
        let (k, v) = rows.row(i);
        let t = PyTuple::new(py, [PyBytes::new(py, k), PyBytes::new(py, v)])?;
        // SAFETY: `t` is a live tuple we own. A tuple of two `bytes` can never be part of a
        // reference cycle, so the cyclic GC need not track it (CPython itself untracks such
        // tuples, lazily); untracking now keeps a chunk's thousands of live tuples out of
        // every young-generation collection while the caller walks the chunk.
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(t.as_ptr().cast()) };
        Ok(t)
    });
    let items: Vec<Bound<'py, PyTuple>> = items.collect::<PyResult<_>>()?;
    PyList::new(py, items)
}

/// A streaming scan: the facade chains its chunks into one iterator.
#[pyclass(name = "KvScanner", module = "minide._core", frozen)]
struct KvScanner {
    scanner: std::sync::Mutex<Scanner>,
}

#[pymethods]
impl KvScanner {
    /// The next rows, at most `limit` (early chunks are smaller); `[]` once the scan is over.
    fn next_chunk<'py>(&self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyList>> {
        // Lock without the GIL: a second thread on the same scanner waits here, not for the GIL.
        let rows = detach(py, || match self.scanner.lock() {
            Ok(mut s) => s.next_chunk(limit),
            Err(_) => Err(Error::corrupt("scan aborted by an earlier failure")),
        })?;
        rows_list(py, &rows)
    }
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

    /// Write a new version of `key` (bytes or str) with `value` (bytes); returns its commit
    /// timestamp. Valid times are ints in your own unit or datetimes (epoch microseconds, naive
    /// = UTC); `None` leaves that end of the valid interval open.
    #[pyo3(signature = (key, value, *, valid_from=None, valid_to=None))]
    fn put(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        valid_from: Option<&Bound<'_, PyAny>>,
        valid_to: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let (mut hk, mut hv) = (None, None);
        let key = key_bytes(key, &mut hk)?;
        let value = value_bytes(value, &mut hv)?;
        let (vf, vt) = (
            valid_time(valid_from, "valid_from")?,
            valid_time(valid_to, "valid_to")?,
        );
        detach(py, || self.db.put(key, value, vf, vt))
    }

    /// Write a tombstone for `key` (for the whole valid line, or `[valid_from, valid_to)`);
    /// returns its commit timestamp.
    #[pyo3(signature = (key, *, valid_from=None, valid_to=None))]
    fn delete(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        valid_from: Option<&Bound<'_, PyAny>>,
        valid_to: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        let mut hk = None;
        let key = key_bytes(key, &mut hk)?;
        let (vf, vt) = (
            valid_time(valid_from, "valid_from")?,
            valid_time(valid_to, "valid_to")?,
        );
        detach(py, || self.db.delete(key, vf, vt))
    }

    /// Commit a `KvBatch` atomically (its ops move into the engine; it cannot commit twice).
    fn _commit(&self, py: Python<'_>, batch: &KvBatch) -> PyResult<u64> {
        let ops = batch.take()?;
        detach(py, move || self.db.write(ops))
    }

    /// The value a read at system time `as_of` (a commit timestamp or a datetime; `None`: the
    /// newest commit) and valid time `valid_at` (an int or a datetime; `None`: no valid-time
    /// filter) sees; `None` when the key is absent or the visible version is a tombstone.
    #[pyo3(signature = (key, *, as_of=None, valid_at=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        as_of: Option<&Bound<'py, PyAny>>,
        valid_at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let mut hold = None;
        let key = key_bytes(key, &mut hold)?;
        let (as_of, valid_at) = (as_of_ts(as_of)?, valid_time(valid_at, "valid_at")?);
        attached(py, || {
            self.db
                .get_with(key, as_of, valid_at, |v| v.map(|b| PyBytes::new(py, b)))
        })
    }

    /// `get` for many keys (any iterable) in one call: probed in key order with the GIL
    /// released, values packed into one buffer meanwhile.
    #[pyo3(signature = (keys, *, as_of=None, valid_at=None))]
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        keys: &Bound<'py, PyAny>,
        as_of: Option<&Bound<'py, PyAny>>,
        valid_at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (as_of, valid_at) = (as_of_ts(as_of)?, valid_time(valid_at, "valid_at")?);
        let held = hold_keys(keys)?;
        let keys: Vec<&[u8]> = (0..held.0.len())
            .map(|i| borrow_key(&held, i))
            .collect::<PyResult<_>>()?;
        let p = detach(py, || self.db.get_many_packed(&keys, as_of, valid_at))?;
        PyList::new(
            py,
            (0..keys.len()).map(|i| p.get(i).map(|b| PyBytes::new(py, b))),
        )
    }

    /// A streaming scan of `start <= key < end` (narrowed to `prefix`) at (read_ts, valid_at).
    /// With `pin`, read_ts is pinned against version GC until the scan ends or is dropped.
    #[pyo3(signature = (start, end, prefix, read_ts, valid_at, reverse, pin))]
    #[allow(clippy::too_many_arguments)]
    fn _scanner(
        &self,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
        prefix: Option<&Bound<'_, PyAny>>,
        read_ts: u64,
        valid_at: Option<&Bound<'_, PyAny>>,
        reverse: bool,
        pin: bool,
    ) -> PyResult<KvScanner> {
        let (lo, hi) = key_range(start, end, prefix)?;
        let valid_at = valid_time(valid_at, "valid_at")?;
        let pin = if pin {
            Some(self.db.pin(read_ts).map_err(to_py)?)
        } else {
            None
        };
        let s = Scanner::new(
            &self.db,
            lo.as_deref(),
            hi.as_deref(),
            read_ts,
            valid_at,
            reverse,
            pin,
        )
        .map_err(to_py)?;
        Ok(KvScanner {
            scanner: std::sync::Mutex::new(s),
        })
    }

    /// Every version of `key`, oldest first: (value, system_from, system_to, valid_from, valid_to).
    #[allow(clippy::type_complexity)]
    fn _history<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<
        Vec<(
            Option<Bound<'py, PyBytes>>,
            u64,
            Option<u64>,
            Option<i64>,
            Option<i64>,
        )>,
    > {
        let mut hold = None;
        let key = key_bytes(key, &mut hold)?;
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

    /// The timestamp a read with `as_of` (a commit ts or a datetime) runs at (never above the
    /// newest commit).
    #[pyo3(signature = (as_of=None))]
    fn _read_ts(&self, as_of: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let as_of = as_of_ts(as_of)?;
        self.db.check_open().map_err(to_py)?;
        Ok(self.db.read_ts(as_of))
    }

    fn _snapshot(&self) -> PyResult<KvSnapshot> {
        Ok(KvSnapshot {
            snap: self.db.snapshot().map_err(to_py)?,
        })
    }

    /// The visible rows at (as_of, valid_at), narrowed to `prefix`, as one record batch.
    #[pyo3(signature = (as_of=None, valid_at=None, prefix=None))]
    fn _to_arrow<'py>(
        &self,
        py: Python<'py>,
        as_of: Option<&Bound<'py, PyAny>>,
        valid_at: Option<&Bound<'py, PyAny>>,
        prefix: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (as_of, valid_at) = (as_of_ts(as_of)?, valid_time(valid_at, "valid_at")?);
        let mut hold = None;
        let prefix = match prefix.filter(|p| !p.is_none()) {
            Some(p) => Some(key_bytes(p, &mut hold)?),
            None => None,
        };
        let batch = detach(py, || self.db.to_arrow(as_of, valid_at, prefix))?;
        batch.to_pyarrow(py)
    }

    /// Write the memtable to a level-0 table (and wait for it).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        detach(py, || self.db.flush())
    }

    /// Flush, then merge every table into one run, dropping what `retention` allows.
    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        detach(py, || self.db.compact())
    }

    /// Counters and sizes: commits, WAL bytes/syncs, flushes, compactions, per-level files.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = detach(py, || self.db.stats())?;
        let d = PyDict::new(py);
        for (k, v) in s {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Stop background work and fsync the WAL; later calls raise StoreClosedError.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        detach(py, || self.db.close())
    }

    #[getter]
    fn closed(&self) -> bool {
        self.db.is_closed()
    }

    #[getter]
    fn _path(&self) -> String {
        self.db.path().display().to_string()
    }
}

/// The largest commit timestamp issued at or before the datetime `when` (naive = UTC).
#[pyfunction]
fn kv_ts_from_datetime(when: &Bound<'_, PyAny>) -> PyResult<u64> {
    if !is_datetime(when)? {
        return Err(to_py(Error::invalid(
            "ts_from_datetime expects a datetime.datetime",
        )));
    }
    ts_of_datetime(when, "when")
}

/// Describe the store at `path` (levels, tables, key ranges, sizes, WAL files) without opening it.
#[pyfunction]
fn kv_inspect(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    detach(py, move || minide_kv::inspect::inspect(&path))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KvDb>()?;
    m.add_class::<KvSnapshot>()?;
    m.add_class::<KvBatch>()?;
    m.add_class::<KvScanner>()?;
    m.add_function(wrap_pyfunction!(kv_inspect, m)?)?;
    m.add_function(wrap_pyfunction!(kv_ts_from_datetime, m)?)?;
    Ok(())
}
