//! Bindings for `minide_common`: the hash kernel that proves the zero-copy Arrow path.

use arrow_array::{Array, make_array};
use arrow_data::ArrayData;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use pyo3::prelude::*;

use crate::errors::detach;

/// xxh3-64 of every value of an Arrow array (anything with `__arrow_c_array__`).
///
/// The array is imported through the C data interface without copying; the GIL is released while
/// hashing. Returns a `pyarrow.UInt64Array` with the input's nulls.
#[pyfunction]
fn hash_array<'py>(py: Python<'py>, array: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let data = ArrayData::from_pyarrow_bound(array)?;
    let hashed = detach(py, move || {
        let array = make_array(data);
        minide_common::hash::hash_array(array.as_ref())
    })?;
    hashed.to_data().to_pyarrow(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hash_array, m)?)?;
    Ok(())
}
