//! Bindings for the columnar engine, one file per part (Parquet, CSV, datasets).

use pyo3::prelude::*;

mod csv;
mod dataset;
mod parquet;
pub(crate) mod scan;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    parquet::register(m)?;
    csv::register(m)?;
    dataset::register(m)?;
    scan::register(m)?;
    Ok(())
}
