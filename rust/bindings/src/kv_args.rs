//! The one conversion of kv arguments from Python (keys, values, valid times, `as_of`).
//!
//! The Python facade (`python/minide/kv`) passes every argument through untouched; these
//! functions take what the API documents and raise `InvalidArgumentError` naming the argument
//! for anything else:
//!
//! - keys: `bytes` (borrowed, no copy), `str` (its UTF-8, borrowed), `bytearray`/`memoryview`
//!   (copied once into a `bytes` the caller holds);
//! - values: `bytes`, `bytearray`, `memoryview` (not `str`: the error says to encode it);
//! - valid times: an `int` in the caller's own unit (64-bit) or a `datetime` (epoch
//!   microseconds, naive = UTC);
//! - `as_of`: a commit timestamp (`0 <= ts < 2**64`) or a `datetime` (the largest commit
//!   timestamp issued at or before it).
//!
//! Exact `bytes`/`str`/`int` take the fast paths (no Python call); datetimes go through Python's
//! own datetime arithmetic (`d - EPOCH`), which is exact where `timestamp()` would round.

use minide_common::Error;
use minide_kv::hlc::ts_at_millis;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyMemoryView, PyString, PyType};

use crate::errors::to_py;

fn invalid(msg: String) -> PyErr {
    to_py(Error::invalid(msg))
}

fn type_name(o: &Bound<'_, PyAny>) -> String {
    o.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_string())
}

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

pub fn is_datetime(v: &Bound<'_, PyAny>) -> PyResult<bool> {
    v.is_instance(DATETIME.import(v.py(), "datetime", "datetime")?)
}

/// Microseconds from 1970-01-01 UTC to the datetime `d` (naive = UTC).
fn datetime_micros(d: &Bound<'_, PyAny>) -> PyResult<i128> {
    let py = d.py();
    let utc = UTC.import(py, "datetime", "UTC")?;
    let epoch = EPOCH.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let kw = PyDict::new(py);
        kw.set_item("tzinfo", utc)?;
        let dt = DATETIME.import(py, "datetime", "datetime")?;
        Ok(dt.call((1970, 1, 1), Some(&kw))?.unbind())
    })?;
    let aware = if d.getattr(pyo3::intern!(py, "tzinfo"))?.is_none() {
        let kw = PyDict::new(py);
        kw.set_item("tzinfo", utc)?;
        d.call_method(pyo3::intern!(py, "replace"), (), Some(&kw))?
    } else {
        d.clone()
    };
    let delta = aware.call_method1(pyo3::intern!(py, "__sub__"), (epoch.bind(py),))?;
    let days: i64 = delta.getattr(pyo3::intern!(py, "days"))?.extract()?;
    let secs: i64 = delta.getattr(pyo3::intern!(py, "seconds"))?.extract()?;
    let micros: i64 = delta
        .getattr(pyo3::intern!(py, "microseconds"))?
        .extract()?;
    Ok((i128::from(days) * 86_400 + i128::from(secs)) * 1_000_000 + i128::from(micros))
}

/// `v` is an int and not a bool.
fn is_int(v: &Bound<'_, PyAny>) -> bool {
    v.is_exact_instance_of::<PyInt>() || (v.cast::<PyInt>().is_ok() && v.cast::<PyBool>().is_err())
}

/// `bytearray`/`memoryview` copied into a new `bytes`; `None` for `bytes` and `str` (borrowed
/// as they are); an error naming `what` for anything else.
fn copy_buffer<'py>(v: &Bound<'py, PyAny>, what: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
    if v.cast::<PyBytes>().is_ok() || (what == "keys" && v.cast::<PyString>().is_ok()) {
        return Ok(None);
    }
    if v.cast::<PyByteArray>().is_ok() || v.cast::<PyMemoryView>().is_ok() {
        let b = v.py().get_type::<PyBytes>().call1((v,))?;
        return Ok(Some(b.cast_into::<PyBytes>()?));
    }
    Err(invalid(if what == "keys" {
        format!("keys are bytes or str, got {}", type_name(v))
    } else {
        format!(
            "values are bytes, got {} (encode str values, e.g. v.encode())",
            type_name(v)
        )
    }))
}

/// The bytes of `v` after [`copy_buffer`]: a `bytes` or (keys only) the UTF-8 of a `str`.
fn borrow<'a>(v: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    Ok(v.cast::<PyString>()?.to_str()?.as_bytes())
}

/// A key as bytes (`hold` keeps a copied `bytearray`/`memoryview` alive for the borrow).
pub fn key_bytes<'a, 'py>(
    key: &'a Bound<'py, PyAny>,
    hold: &'a mut Option<Bound<'py, PyAny>>,
) -> PyResult<&'a [u8]> {
    if let Ok(b) = key.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    match copy_buffer(key, "keys")? {
        Some(b) => borrow(hold.insert(b.into_any())),
        None => borrow(key),
    }
}

/// A value as bytes (`hold` as for [`key_bytes`]).
pub fn value_bytes<'a, 'py>(
    value: &'a Bound<'py, PyAny>,
    hold: &'a mut Option<Bound<'py, PyAny>>,
) -> PyResult<&'a [u8]> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    match copy_buffer(value, "values")? {
        Some(b) => borrow(hold.insert(b.into_any())),
        None => borrow(value),
    }
}

/// Many keys (any iterable): the key objects and the copies of the buffers among them; borrow
/// each with [`borrow_key`].
pub type HeldKeys<'py> = (Vec<Bound<'py, PyAny>>, Vec<Option<Bound<'py, PyAny>>>);

pub fn hold_keys<'py>(keys: &Bound<'py, PyAny>) -> PyResult<HeldKeys<'py>> {
    // Strong references to every key object (a list can change while the GIL is released).
    let held: Vec<Bound<'py, PyAny>> = match keys.cast::<pyo3::types::PyList>() {
        Ok(list) => list.iter().collect(),
        Err(_) => keys.try_iter()?.collect::<PyResult<_>>()?,
    };
    let mut copies: Vec<Option<Bound<'py, PyAny>>> = Vec::new();
    for (i, k) in held.iter().enumerate() {
        if k.is_exact_instance_of::<PyBytes>() || k.is_exact_instance_of::<PyString>() {
            continue;
        }
        if let Some(b) = copy_buffer(k, "keys")? {
            copies.resize_with(held.len(), || None);
            copies[i] = Some(b.into_any());
        }
    }
    Ok((held, copies))
}

pub fn borrow_key<'a>(held: &'a HeldKeys<'_>, i: usize) -> PyResult<&'a [u8]> {
    let k = held.1.get(i).and_then(Option::as_ref).unwrap_or(&held.0[i]);
    borrow(k)
}

/// A valid time named `name` in errors (`valid_at`, `valid_from`, `valid_to`).
pub fn valid_time(t: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<i64>> {
    let Some(v) = t.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if is_int(v) {
        return match v.extract::<i64>() {
            Ok(t) => Ok(Some(t)),
            Err(_) => Err(invalid(format!("{name}={v} does not fit in 64 bits"))),
        };
    }
    if is_datetime(v)? {
        return i64::try_from(datetime_micros(v)?).map(Some).map_err(|_| {
            invalid(format!(
                "{name}={v} does not fit in 64 bits of microseconds"
            ))
        });
    }
    Err(invalid(format!(
        "{name} must be an int or a datetime, got {}",
        type_name(v)
    )))
}

/// The largest commit timestamp issued at or before the datetime `d` (naive = UTC).
pub fn ts_of_datetime(d: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    let millis = datetime_micros(d)?.div_euclid(1000);
    if millis < 0 {
        return Err(invalid(format!("{name} {d} is before 1970")));
    }
    u64::try_from(millis)
        .ok()
        .filter(|&m| m < 1 << 48)
        .map(ts_at_millis)
        .ok_or_else(|| invalid(format!("{name} {d} is too far in the future")))
}

/// `as_of`: a commit timestamp or a datetime.
pub fn as_of_ts(as_of: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    let Some(a) = as_of.filter(|a| !a.is_none()) else {
        return Ok(None);
    };
    if is_int(a) {
        return match a.extract::<u64>() {
            Ok(t) => Ok(Some(t)),
            Err(_) => Err(invalid(format!(
                "as_of={a} is not a commit timestamp (0 <= ts < 2**64)"
            ))),
        };
    }
    if is_datetime(a)? {
        return ts_of_datetime(a, "as_of").map(Some);
    }
    Err(invalid(format!(
        "as_of must be a commit timestamp (int) or a datetime, got {}",
        type_name(a)
    )))
}

/// Scan bounds: `(lo, hi)` for `lo <= key < hi`, `None` = unbounded.
pub type KeyRange = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The scan bounds `start <= key < end`, narrowed to `prefix` when given.
pub fn key_range(
    start: Option<&Bound<'_, PyAny>>,
    end: Option<&Bound<'_, PyAny>>,
    prefix: Option<&Bound<'_, PyAny>>,
) -> PyResult<KeyRange> {
    let owned = |k: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Vec<u8>>> {
        match k.filter(|k| !k.is_none()) {
            None => Ok(None),
            Some(k) => {
                let mut hold = None;
                Ok(Some(key_bytes(k, &mut hold)?.to_vec()))
            }
        }
    };
    let (mut lo, mut hi) = (owned(start)?, owned(end)?);
    if let Some(p) = owned(prefix)? {
        if lo.as_ref().is_none_or(|l| *l < p) {
            lo = Some(p.clone());
        }
        if let Some(pend) = prefix_end(&p)
            && hi.as_ref().is_none_or(|h| pend < *h)
        {
            hi = Some(pend);
        }
    }
    Ok((lo, hi))
}

/// The smallest key above every key starting with `p` (`None`: no such key, all bytes 0xFF).
fn prefix_end(p: &[u8]) -> Option<Vec<u8>> {
    let mut b = p.to_vec();
    while let Some(last) = b.last_mut() {
        if *last < 0xFF {
            *last += 1;
            return Some(b);
        }
        b.pop();
    }
    None
}
