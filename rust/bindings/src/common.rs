//! Bindings for `minide_common`: the hash kernel that proves the zero-copy Arrow path, and the
//! one atomic write (`minide_common::durable`) for the Python engines that write files.

use std::path::PathBuf;

use arrow_array::{Array, make_array};
use arrow_data::ArrayData;
use arrow_pyarrow::{FromPyArrowUnchecked, ToPyArrow};
use arrow_schema::DataType;
use pyo3::prelude::*;

use crate::errors::detach;

/// Threads of rayon's global pool (the deduplicator's key hashing runs there), created on first
/// use with `RAYON_NUM_THREADS` or every core: what benches read back to check its size.
#[pyfunction]
fn rayon_global_threads() -> usize {
    rayon::current_num_threads()
}

/// xxh3-64 of every value of an Arrow array (anything with `__arrow_c_array__`).
///
/// The array is imported through the C data interface without copying; the GIL is released while
/// hashing. Returns a `pyarrow.UInt64Array` with the input's nulls.
#[pyfunction]
fn hash_array<'py>(py: Python<'py>, array: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // Structural validation only (buffer sizes, O(1) per buffer): the kernel bounds-checks every
    // offset itself, so the O(n) UTF-8 scan of `validate_full` would buy nothing here.
    // SAFETY: `validate()` below checks the invariants the kernel relies on beyond offsets.
    let data = unsafe { ArrayData::from_pyarrow_bound_unchecked(array)? };
    let checked = match data.data_type() {
        // Views index other buffers from inside the data: only a full check makes them safe.
        DataType::Utf8View | DataType::BinaryView => data.validate_full(),
        _ => data.validate(),
    };
    checked.map_err(|e| crate::errors::to_py(minide_common::Error::invalid(e.to_string())))?;
    let hashed = detach(py, move || {
        let array = make_array(data);
        minide_common::hash::hash_array(array.as_ref())
    })?;
    hashed.to_data().to_pyarrow(py)
}

/// Replace `path` with `data` atomically and durably: `<path>.tmp`, fsync, rename, fsync of the
/// directory (GIL released).
#[pyfunction]
fn write_atomic(py: Python<'_>, path: PathBuf, data: &[u8]) -> PyResult<()> {
    detach(py, move || {
        minide_common::durable::write_atomic(&path, data)
    })
}

/// Rename every `(src, dst)` in order, then fsync each destination directory once.
#[pyfunction]
fn rename_durable(py: Python<'_>, renames: Vec<(PathBuf, PathBuf)>) -> PyResult<()> {
    detach(py, move || minide_common::durable::rename_durable(&renames))
}

/// fsync a file (its contents and metadata).
#[pyfunction]
fn sync_file(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    detach(py, move || minide_common::durable::sync_file(&path))
}

/// fsync a directory (the entries created, renamed or removed in it).
#[pyfunction]
fn sync_dir(py: Python<'_>, path: PathBuf) -> PyResult<()> {
    detach(py, move || minide_common::durable::sync_dir(&path))
}

/// Whether socket `fd` has input, a hang-up or an error pending right now (a zero-timeout
/// `poll`): the connection pool's probe of an idle connection. Keeps the GIL (a sub-microsecond
/// call; releasing the GIL for it costs a thread switch when threads contend for it).
#[pyfunction]
fn fd_ready_now(fd: i32) -> PyResult<bool> {
    minide_common::fd::ready_now(fd).map_err(|e| {
        crate::errors::to_py(minide_common::Error::invalid(format!(
            "poll of descriptor {fd}: {e}"
        )))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fd_ready_now, m)?)?;
    m.add_function(wrap_pyfunction!(hash_array, m)?)?;
    m.add_function(wrap_pyfunction!(rayon_global_threads, m)?)?;
    m.add_function(wrap_pyfunction!(write_atomic, m)?)?;
    m.add_function(wrap_pyfunction!(rename_durable, m)?)?;
    m.add_function(wrap_pyfunction!(sync_file, m)?)?;
    m.add_function(wrap_pyfunction!(sync_dir, m)?)?;
    Ok(())
}
