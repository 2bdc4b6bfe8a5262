//! `minide._core`: the Python extension module.
//!
//! This crate is deliberately thin: it converts between Python/Arrow objects and the engine
//! crates' Rust types, releases the GIL around long calls, and maps `minide_common::Error` to the
//! exception classes of `minide.errors` (see [`errors`]). Engine logic lives in the engine crates.
//! One file per engine registers that engine's functions and classes.

use pyo3::prelude::*;

mod common;
mod errors;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "BUILD_PROFILE",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )?;
    common::register(m)?;
    Ok(())
}
