//! Bindings for minide's kv engine: conversion and error mapping only.
//!
//! `KvDb` wraps `minide_kv::Db`; keys and values cross as `bytes` (the facade in
//! `python/minide/kv` turns `str` keys and datetimes into bytes and ints). Calls into the engine
//! run inside `detach` (GIL released, panics contained), except single point reads: a `get` is a
//! microsecond, less than releasing and re-taking the GIL costs, so it runs attached (panics
//! still contained) and builds the result `bytes` straight from the block, uncopied. `get`
//! also accepts the facade's argument types itself (str keys, datetimes, via the facade's own
//! converters), so `DB.get` can be this method with no Python frame in between.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_pyarrow::ToPyArrow;
use minide_common::Error;
use minide_kv::scan::{Rows, Scanner};
use minide_kv::{Compression, Db, Op, Options, Recovery, Retention, Snapshot, SyncMode};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};

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

/// One of the facade's argument converters (`minide.kv._key`, `_as_of`, `_valid`) applied to
/// `arg`: the slow path, for argument types the fast paths below do not take.
fn convert<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    cell.import(py, "minide.kv", name)?.call1(args)
}

static KEY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static AS_OF: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static VALID: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A key as bytes: `bytes` as is, `str` as UTF-8, anything else through `minide.kv._key`.
fn key_bytes<'a, 'py>(
    key: &'a Bound<'py, PyAny>,
    hold: &'a mut Option<Bound<'py, PyAny>>,
) -> PyResult<&'a [u8]> {
    if let Ok(b) = key.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    if let Ok(s) = key.cast::<PyString>()
        && let Ok(s) = s.to_str()
    {
        return Ok(s.as_bytes());
    }
    let b = hold.insert(convert(key.py(), &KEY, "_key", (key,))?);
    Ok(b.cast::<PyBytes>()?.as_bytes())
}

fn as_of_ts(as_of: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    let Some(a) = as_of.filter(|a| !a.is_none()) else {
        return Ok(None);
    };
    if a.is_exact_instance_of::<PyInt>()
        && let Ok(v) = a.extract::<u64>()
    {
        return Ok(Some(v));
    }
    convert(a.py(), &AS_OF, "_as_of", (a,))?.extract()
}

fn valid_time(valid_at: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    valid_named(valid_at, "valid_at")
}

/// A valid time (`valid_at`, `valid_from` or `valid_to`, named in errors): exact ints fast,
/// anything else through `minide.kv._valid`.
fn valid_named(t: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<i64>> {
    let Some(v) = t.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if v.is_exact_instance_of::<PyInt>()
        && let Ok(t) = v.extract::<i64>()
    {
        return Ok(Some(t));
    }
    convert(v.py(), &VALID, "_valid", (v, name))?.extract()
}

static VALUE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The operations of a `WriteBatch`, collected in Rust: `WriteBatch.put` *is* `KvBatch.put`
/// (bound per instance by the facade), so a batched put costs one C call and no Python frame.
#[pyclass(name = "KvBatch", module = "minide._core", frozen)]
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

    /// Add a put: `key` bytes or str, `value` bytes, valid times ints or datetimes.
    #[pyo3(signature = (key, value, *, valid_from=None, valid_to=None))]
    fn put(
        &self,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        valid_from: Option<&Bound<'_, PyAny>>,
        valid_to: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut hold = None;
        let key = key_bytes(key, &mut hold)?;
        let (vf, vt) = (
            valid_named(valid_from, "valid_from")?,
            valid_named(valid_to, "valid_to")?,
        );
        let op = if let Ok(b) = value.cast::<PyBytes>() {
            Op::put(key, b.as_bytes(), vf, vt)
        } else {
            let b = convert(value.py(), &VALUE, "_value", (value,))?;
            Op::put(key, b.cast::<PyBytes>()?.as_bytes(), vf, vt)
        };
        self.push(op)
    }

    /// Add a tombstone (for the whole valid line, or `[valid_from, valid_to)`).
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
            valid_named(valid_from, "valid_from")?,
            valid_named(valid_to, "valid_to")?,
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
            .map(|(k, v, vf, vt)| match v {
                Some(v) => Op::put(k.as_bytes(), v.as_bytes(), *vf, *vt),
                None => Op::delete(k.as_bytes(), *vf, *vt),
            })
            .collect();
        detach(py, move || self.db.write(ops))
    }

    /// Commit a `KvBatch` atomically (its ops move into the engine; it cannot commit twice).
    fn write_batch(&self, py: Python<'_>, batch: &KvBatch) -> PyResult<u64> {
        let ops = batch.take()?;
        detach(py, move || self.db.write(ops))
    }

    /// A point read: `key` bytes or str; `as_of` a commit ts or datetime; `valid_at` an int or
    /// datetime (see the module docs for why this one stays attached to the GIL).
    #[pyo3(signature = (key, as_of=None, valid_at=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        as_of: Option<&Bound<'py, PyAny>>,
        valid_at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let mut hold = None;
        let key = key_bytes(key, &mut hold)?;
        let (as_of, valid_at) = (as_of_ts(as_of)?, valid_time(valid_at)?);
        attached(py, || {
            self.db
                .get_with(key, as_of, valid_at, |v| v.map(|b| PyBytes::new(py, b)))
        })
    }

    /// Point reads of many keys: one GIL release, values packed into one buffer meanwhile.
    /// Takes the facade's argument types itself (any iterable of bytes/str keys, datetimes), so
    /// `DB.get_many` can be this method with no Python frame or per-key Python conversion.
    #[pyo3(signature = (keys, as_of=None, valid_at=None))]
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        keys: &Bound<'py, PyAny>,
        as_of: Option<&Bound<'py, PyAny>>,
        valid_at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (as_of, valid_at) = (as_of_ts(as_of)?, valid_time(valid_at)?);
        // Strong references to every key object (a list can change while the GIL is
        // released), then their bytes borrowed from those.
        let held: Vec<Bound<'py, PyAny>> = match keys.cast::<PyList>() {
            Ok(list) => list.iter().collect(),
            Err(_) => keys.try_iter()?.collect::<PyResult<_>>()?,
        };
        let mut converted: Vec<Option<Bound<'py, PyAny>>> = Vec::new();
        for (i, k) in held.iter().enumerate() {
            if !k.is_exact_instance_of::<PyBytes>() && !k.is_exact_instance_of::<PyString>() {
                converted.resize_with(held.len(), || None);
                converted[i] = Some(convert(py, &KEY, "_key", (k,))?);
            }
        }
        let keys: Vec<&[u8]> = held
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let k = converted.get(i).and_then(Option::as_ref).unwrap_or(k);
                if let Ok(b) = k.cast::<PyBytes>() {
                    Ok(b.as_bytes())
                } else {
                    Ok(k.cast::<PyString>()?.to_str()?.as_bytes())
                }
            })
            .collect::<PyResult<_>>()?;
        let p = detach(py, || self.db.get_many_packed(&keys, as_of, valid_at))?;
        PyList::new(
            py,
            (0..keys.len()).map(|i| p.get(i).map(|b| PyBytes::new(py, b))),
        )
    }

    /// A streaming scan of `lo <= key < hi` at (read_ts, valid_at). With `pin`, read_ts is
    /// pinned against version GC until the scan ends or is dropped.
    #[pyo3(signature = (lo, hi, read_ts, valid_at, reverse, pin))]
    fn scanner(
        &self,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        read_ts: u64,
        valid_at: Option<i64>,
        reverse: bool,
        pin: bool,
    ) -> PyResult<KvScanner> {
        let pin = if pin {
            Some(self.db.pin(read_ts).map_err(to_py)?)
        } else {
            None
        };
        let s = Scanner::new(&self.db, lo, hi, read_ts, valid_at, reverse, pin).map_err(to_py)?;
        Ok(KvScanner {
            scanner: std::sync::Mutex::new(s),
        })
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
    m.add_class::<KvBatch>()?;
    m.add_class::<KvScanner>()?;
    m.add_function(wrap_pyfunction!(kv_inspect, m)?)?;
    Ok(())
}
