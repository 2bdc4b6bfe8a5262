//! Maps `minide_common::Error` onto the exception classes defined in `python/minide/errors.py`.
//!
//! The classes are defined in Python (one readable hierarchy, documented in one place) and looked
//! up here once per process. Every engine error crosses the FFI boundary through [`to_py`].

use minide_common::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, "minide.errors", name)
}

macro_rules! error_class {
    ($py:expr, $name:literal) => {{
        static CELL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        class($py, &CELL, $name)
    }};
}

/// Convert an engine error into the matching `minide.errors` exception.
pub fn to_py(err: Error) -> PyErr {
    Python::attach(|py| {
        let msg = err.to_string();
        let cls = match &err {
            Error::Corrupt { .. } => error_class!(py, "CorruptFileError"),
            Error::Schema(_) => error_class!(py, "SchemaError"),
            Error::InvalidArgument(_) => error_class!(py, "InvalidArgumentError"),
            Error::Unsupported(_) => error_class!(py, "UnsupportedError"),
            Error::Closed(_) => error_class!(py, "StoreClosedError"),
            Error::Io { .. } => error_class!(py, "MinideIOError"),
        };
        match cls {
            Ok(cls) => PyErr::from_type(cls.clone(), msg),
            // minide.errors failed to import: still raise, never panic.
            Err(_) => PyRuntimeError::new_err(msg),
        }
    })
}

/// Run engine code without the GIL and with panics contained.
///
/// Engine crates return errors for bad input; a panic would be a bug. PyO3 already stops panics
/// at the boundary, but as `PanicException`, which user code catching `MinideError` would miss.
/// Here a panic becomes `minide.errors.InternalError` with the panic message.
pub fn detach<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T, Error> + Send,
    T: Send,
{
    let outcome = py.detach(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    match outcome {
        Ok(result) => result.map_err(to_py),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            let msg = format!("internal error in minide's Rust core (please report): {what}");
            Err(match error_class!(py, "InternalError") {
                Ok(cls) => PyErr::from_type(cls.clone(), msg),
                Err(_) => PyRuntimeError::new_err(msg),
            })
        }
    }
}
