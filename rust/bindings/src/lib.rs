//! `minide._core`: the Python extension module.
//!
//! This crate is deliberately thin: it converts between Python/Arrow objects and the engine
//! crates' Rust types, releases the GIL around long calls, and maps `minide_common::Error` to the
//! exception classes of `minide.errors` (see [`errors`]). Engine logic lives in the engine crates.
//! One file per engine registers that engine's functions and classes, each named with its
//! engine's prefix (`parquet_*`, `csv_*`, `kv_*`, `stream_*`, `sql_*`) in this flat module.

use pyo3::prelude::*;

mod columnar;
mod common;
mod errors;
mod facade;
mod kv;
mod kv_args;
mod replication;
mod sql;
mod stream;

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
    columnar::register(m)?;
    kv::register(m)?;
    stream::register(m)?;
    sql::register(m)?;
    replication::register(m)?;
    // `_core` is private: its public names are re-exported by the Python facades. Dropping the
    // generated `__all__` keeps the stub free of a list every engine would have to edit.
    m.delattr("__all__")?;
    Ok(())
}
