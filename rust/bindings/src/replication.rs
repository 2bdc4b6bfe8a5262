//! Bindings for minide's replication engine: conversion and error mapping only.

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
