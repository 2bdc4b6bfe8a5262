//! Bindings for minide's replication engine: conversion and error mapping only.
//!
//! Clocks and replicated objects are immutable values on the Python side (hashable, every
//! operation returns a new value); CRDTs and Merkle trees are mutable (`increment`, `add`,
//! `insert` change them in place, `merge` returns a new value). Tiny operations run with the GIL
//! held (releasing it would cost more than the work); decoding and whole-tree work is detached.
//!
//! The public classes are Python facades that subclass these (`python/minide/replication/
//! values.py`); every value a method here creates is built with [`facade::new`], so it comes
//! back as the facade class, not as the `_core` class (see `facade.rs`).

use std::collections::BTreeMap;

use minide_common::Error;
use minide_replication::{
    Actor, Causality, GCounter, LwwRegister, MerkleTree, Object, OrSet, PNCounter, VectorClock,
};
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyType};

use crate::errors::{detach, to_py};
use crate::facade::{self, facade_class};

/// A vector clock: actor -> count of that actor's events seen. Immutable.
#[pyclass(
    name = "ReplicationVectorClock",
    module = "minide._core",
    frozen,
    eq,
    hash,
    skip_from_py_object,
    subclass
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyVectorClock(pub VectorClock);
facade_class!(PyVectorClock, Ok(PyVectorClock(VectorClock::new())));

#[pymethods]
impl PyVectorClock {
    #[new]
    #[pyo3(signature = (entries=None))]
    fn new(entries: Option<ClockEntries>) -> Self {
        PyVectorClock(entries.map(|e| e.0).unwrap_or_default())
    }

    /// "before" | "after" | "equal" | "concurrent": how `self` relates to `other`.
    fn compare<'py>(&self, py: Python<'py>, other: &PyVectorClock) -> Bound<'py, PyString> {
        // Interned: the same four str objects every call, no new string per comparison.
        match self.0.compare(&other.0) {
            Causality::Before => intern!(py, "before"),
            Causality::After => intern!(py, "after"),
            Causality::Equal => intern!(py, "equal"),
            Causality::Concurrent => intern!(py, "concurrent"),
        }
        .clone()
    }

    fn merge<'py>(&self, py: Python<'py>, other: &PyVectorClock) -> PyResult<Bound<'py, Self>> {
        facade::new(py, PyVectorClock(self.0.merged(&other.0)))
    }

    fn increment<'py>(&self, py: Python<'py>, actor: &str) -> PyResult<Bound<'py, Self>> {
        facade::new(py, PyVectorClock(self.0.incremented(actor)))
    }

    fn descends(&self, other: &PyVectorClock) -> bool {
        self.0.descends(&other.0)
    }

    /// Does this clock cover the dot `(actor, counter)`?
    fn covers(&self, actor: &str, counter: u64) -> bool {
        self.0.get(actor) >= counter
    }

    fn get(&self, actor: &str) -> u64 {
        self.0.get(actor)
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (a, n) in self.0.iter() {
            d.set_item(a, n)?;
        }
        Ok(d)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    #[classmethod]
    fn from_bytes<'py>(cls: &Bound<'py, PyType>, data: &[u8]) -> PyResult<Bound<'py, Self>> {
        let py = cls.py();
        let data = data.to_vec();
        let vc = detach(py, move || VectorClock::from_bytes(&data))?;
        facade::new(py, PyVectorClock(vc))
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __repr__(&self) -> String {
        let inner: Vec<String> = self.0.iter().map(|(a, n)| format!("{a:?}: {n}")).collect();
        format!("VectorClock({{{}}})", inner.join(", "))
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    /// Holds no Python object: only makes this a GC type, as its Python facade is.
    fn __traverse__(&self, _visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        Ok(())
    }
}

/// A clock's entries from a `dict[str, int]`, straight into a [`VectorClock`] (no intermediate
/// map or `String`s). The errors are those of extracting a `BTreeMap<String, u64>`: TypeError
/// for a non-dict or a non-str key, OverflowError for a count outside 0..2**64.
pub struct ClockEntries(VectorClock);

impl<'py> FromPyObject<'_, 'py> for ClockEntries {
    type Error = PyErr;

    fn extract(ob: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        let dict = ob.cast::<PyDict>()?;
        let mut entries: Vec<(Actor, u64)> = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let actor = k.cast::<PyString>()?.to_str()?;
            entries.push((Actor::from(actor), v.extract()?));
        }
        Ok(ClockEntries(VectorClock::from_entries(entries)))
    }
}

/// One key's replicated state: siblings with dots + causal context. Immutable.
#[pyclass(
    name = "ReplicationObject",
    module = "minide._core",
    frozen,
    eq,
    hash,
    skip_from_py_object,
    subclass
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyReplObject(pub Object);
facade_class!(PyReplObject, Ok(PyReplObject(Object::new())));

type SiblingTuple<'py> = (String, u64, u64, Option<Bound<'py, PyBytes>>);

#[pymethods]
impl PyReplObject {
    #[new]
    fn new() -> Self {
        PyReplObject(Object::new())
    }

    /// A client write at coordinator `actor`; `value=None` deletes. Returns (object, (actor, n)).
    #[pyo3(signature = (actor, context, value, ts=0))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        actor: &str,
        context: &PyVectorClock,
        value: Option<&[u8]>,
        ts: u64,
    ) -> PyResult<(Bound<'py, Self>, (String, u64))> {
        let (o, d) = self
            .0
            .update(actor, &context.0, value.map(<[u8]>::to_vec), ts);
        Ok((facade::new(py, PyReplObject(o))?, (d.actor, d.counter)))
    }

    /// Merge with another replica's object, dropping only dominated siblings.
    fn sync<'py>(&self, py: Python<'py>, other: &PyReplObject) -> PyResult<Bound<'py, Self>> {
        facade::new(py, PyReplObject(self.0.sync(&other.0)))
    }

    fn descends(&self, other: &PyReplObject) -> bool {
        self.0.descends(&other.0)
    }

    #[getter]
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyVectorClock>> {
        facade::new(py, PyVectorClock(self.0.context().clone()))
    }

    /// Live values in dot order (tombstones left out).
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.0
            .values()
            .into_iter()
            .map(|v| PyBytes::new(py, v))
            .collect()
    }

    /// Every sibling as (actor, counter, ts, value or None for a tombstone).
    #[getter]
    fn siblings<'py>(&self, py: Python<'py>) -> Vec<SiblingTuple<'py>> {
        self.0
            .siblings()
            .iter()
            .map(|s| {
                (
                    s.dot.actor.clone(),
                    s.dot.counter,
                    s.ts,
                    s.value.as_deref().map(|v| PyBytes::new(py, v)),
                )
            })
            .collect()
    }

    fn is_absent(&self) -> bool {
        self.0.is_absent()
    }

    fn digest(&self) -> u64 {
        self.0.digest()
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    #[classmethod]
    fn from_bytes<'py>(cls: &Bound<'py, PyType>, data: &[u8]) -> PyResult<Bound<'py, Self>> {
        let py = cls.py();
        let data = data.to_vec();
        let o = detach(py, move || Object::from_bytes(&data))?;
        facade::new(py, PyReplObject(o))
    }

    fn __repr__(&self) -> String {
        format!("Object({})", self.0)
    }

    /// Holds no Python object: only makes this a GC type, as its Python facade is.
    fn __traverse__(&self, _visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        Ok(())
    }
}

/// The methods every CRDT class shares, plus the class's own `{ ... }` methods, in one
/// `#[pymethods]` block.
macro_rules! crdt_methods {
    ($py_ty:ident, $rs_ty:ty, { $($own:tt)* }) => {
        #[pymethods]
        impl $py_ty {
            $($own)*

            /// A new value holding everything either side has seen (does not modify either).
            fn merge<'py>(&self, py: Python<'py>, other: &$py_ty) -> PyResult<Bound<'py, Self>> {
                facade::new(py, $py_ty(self.0.merge(&other.0)))
            }

            fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
                PyBytes::new(py, &self.0.to_bytes())
            }

            #[classmethod]
            fn from_bytes<'py>(
                cls: &Bound<'py, PyType>,
                data: &[u8],
            ) -> PyResult<Bound<'py, Self>> {
                let py = cls.py();
                let data = data.to_vec();
                let value = detach(py, move || <$rs_ty>::from_bytes(&data))?;
                facade::new(py, $py_ty(value))
            }

            fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Self>> {
                facade::new(py, $py_ty(self.0.clone()))
            }

            /// Holds no Python object: only makes this a GC type, as its Python facade is.
            fn __traverse__(&self, _visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
                Ok(())
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other
                    .cast::<$py_ty>()
                    .map(|o| o.borrow().0 == self.0)
                    .unwrap_or(false)
            }
        }
    };
}

/// Grow-only counter. Mutable: `increment` changes it in place.
#[pyclass(name = "ReplicationGCounter", module = "minide._core", subclass)]
pub struct PyGCounter(GCounter);
facade_class!(PyGCounter, Ok(PyGCounter(GCounter::new())));
crdt_methods!(PyGCounter, GCounter, {
    #[new]
    fn new() -> Self {
        PyGCounter(GCounter::new())
    }

    #[pyo3(signature = (actor, n=1))]
    fn increment(&mut self, actor: &str, n: u64) {
        self.0.increment(actor, n);
    }

    #[getter]
    fn value(&self) -> u128 {
        self.0.value()
    }

    fn counts(&self) -> BTreeMap<String, u64> {
        self.0
            .counts()
            .iter()
            .map(|(a, n)| (a.to_string(), n))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "GCounter(value={}, counts={})",
            self.0.value(),
            self.0.counts()
        )
    }
});

/// Counter that goes up and down. Mutable.
#[pyclass(name = "ReplicationPNCounter", module = "minide._core", subclass)]
pub struct PyPNCounter(PNCounter);
facade_class!(PyPNCounter, Ok(PyPNCounter(PNCounter::new())));
crdt_methods!(PyPNCounter, PNCounter, {
    #[new]
    fn new() -> Self {
        PyPNCounter(PNCounter::new())
    }

    #[pyo3(signature = (actor, n=1))]
    fn increment(&mut self, actor: &str, n: i64) {
        self.0.increment(actor, n);
    }

    #[pyo3(signature = (actor, n=1))]
    fn decrement(&mut self, actor: &str, n: i64) -> PyResult<()> {
        let neg = n
            .checked_neg()
            .ok_or_else(|| to_py(Error::invalid(format!("cannot decrement by {n}"))))?;
        self.0.increment(actor, neg);
        Ok(())
    }

    #[getter]
    fn value(&self) -> i128 {
        self.0.value()
    }

    fn __repr__(&self) -> String {
        format!("PNCounter(value={})", self.0.value())
    }
});

/// Add-wins observed-remove set of strings. Mutable.
#[pyclass(name = "ReplicationORSet", module = "minide._core", subclass)]
pub struct PyORSet(OrSet);
facade_class!(PyORSet, Ok(PyORSet(OrSet::new())));
crdt_methods!(PyORSet, OrSet, {
    #[new]
    fn new() -> Self {
        PyORSet(OrSet::new())
    }

    fn add(&mut self, actor: &str, element: &str) {
        self.0.add(actor, element);
    }

    /// Remove an element as observed here; returns whether it was present.
    fn remove(&mut self, element: &str) -> bool {
        self.0.remove(element)
    }

    fn elements(&self) -> Vec<String> {
        self.0.elements().map(str::to_string).collect()
    }

    #[getter]
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyVectorClock>> {
        facade::new(py, PyVectorClock(self.0.context().clone()))
    }

    fn __contains__(&self, element: &str) -> bool {
        self.0.contains(element)
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __repr__(&self) -> String {
        format!("ORSet({:?})", self.0.elements().collect::<Vec<_>>())
    }
});

/// Last-writer-wins register of bytes; ties broken by actor, then value. Mutable.
#[pyclass(name = "ReplicationLWWRegister", module = "minide._core", subclass)]
pub struct PyLWWRegister(LwwRegister);
facade_class!(PyLWWRegister, Ok(PyLWWRegister(LwwRegister::new())));
crdt_methods!(PyLWWRegister, LwwRegister, {
    #[new]
    fn new() -> Self {
        PyLWWRegister(LwwRegister::new())
    }

    /// Write `value` at timestamp `ts` by `actor`; kept only if (ts, actor, value) beats the current.
    fn set(&mut self, value: &[u8], ts: u64, actor: &str) {
        self.0.set(ts, actor, value.to_vec());
    }

    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.0.value().map(|v| PyBytes::new(py, v))
    }

    #[getter]
    fn timestamp(&self) -> Option<u64> {
        self.0.timestamp()
    }

    #[getter]
    fn actor(&self) -> Option<String> {
        self.0.actor().map(str::to_string)
    }

    fn __repr__(&self) -> String {
        format!(
            "LWWRegister(value={}, ts={}, actor={})",
            self.0.value().map_or("None".to_string(), |v| format!(
                "{:?}",
                String::from_utf8_lossy(v)
            )),
            self.0
                .timestamp()
                .map_or("None".to_string(), |t| t.to_string()),
            self.0
                .actor()
                .map_or("None".to_string(), |a| format!("{a:?}")),
        )
    }
});

/// Merkle tree over key-hash ranges (16^depth segments). Mutable.
#[pyclass(name = "ReplicationMerkleTree", module = "minide._core", subclass)]
pub struct PyMerkleTree(MerkleTree);
facade_class!(
    PyMerkleTree,
    MerkleTree::new(1).map(PyMerkleTree).map_err(to_py)
);

#[pymethods]
impl PyMerkleTree {
    #[new]
    #[pyo3(signature = (depth=4))]
    fn new(depth: u32) -> PyResult<Self> {
        MerkleTree::new(depth).map(PyMerkleTree).map_err(to_py)
    }

    #[getter]
    fn depth(&self) -> u32 {
        self.0.depth()
    }

    #[getter]
    fn segment_count(&self) -> usize {
        self.0.segment_count()
    }

    fn insert(&mut self, key: &[u8], digest: u64) {
        self.0.insert(key, digest);
    }

    /// Insert many `(key, digest)` pairs in one call.
    fn insert_many(&mut self, items: Vec<(Bound<'_, PyBytes>, u64)>) {
        for (k, d) in &items {
            self.0.insert(k.as_bytes(), *d);
        }
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        self.0.remove(key)
    }

    fn get(&self, key: &[u8]) -> Option<u64> {
        self.0.get(key)
    }

    fn segment_of(&self, key: &[u8]) -> usize {
        self.0.segment_of(key)
    }

    fn segment_range(&self, segment: usize) -> (u64, u64) {
        self.0.segment_range(segment)
    }

    fn root(&mut self) -> u64 {
        self.0.root()
    }

    fn node_hashes(&mut self, level: u32, nodes: Vec<usize>) -> PyResult<Vec<u64>> {
        self.0.node_hashes(level, &nodes).map_err(to_py)
    }

    /// Of the peer's `(node, hash)` pairs at `level`, the nodes whose hash differs here.
    fn differing_nodes(&mut self, level: u32, theirs: Vec<(usize, u64)>) -> PyResult<Vec<usize>> {
        self.0.differing_nodes(level, &theirs).map_err(to_py)
    }

    /// The children of `nodes` (at `level + 1`) with their hashes here.
    fn children(&mut self, level: u32, nodes: Vec<usize>) -> PyResult<Vec<(usize, u64)>> {
        self.0.differing_children(level, &nodes).map_err(to_py)
    }

    fn segment_entries<'py>(
        &self,
        py: Python<'py>,
        segments: Vec<usize>,
    ) -> PyResult<Vec<(Bound<'py, PyBytes>, u64)>> {
        let entries = self.0.segment_entries(&segments).map_err(to_py)?;
        Ok(entries
            .into_iter()
            .map(|(k, d)| (PyBytes::new(py, k), d))
            .collect())
    }

    /// Segments whose hashes differ between the two trees (top-down walk).
    fn diff(&mut self, py: Python<'_>, other: &mut PyMerkleTree) -> PyResult<Vec<usize>> {
        let (a, b) = (&mut self.0, &mut other.0);
        detach(py, move || a.diff(b))
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "MerkleTree(depth={}, segments={}, keys={})",
            self.0.depth(),
            self.0.segment_count(),
            self.0.len()
        )
    }

    /// Holds no Python object: only makes this a GC type, as its Python facade is.
    fn __traverse__(&self, _visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        Ok(())
    }
}

/// Called once by `minide.replication.values` with its facade classes: from then on every value
/// the methods above create is of the facade class.
#[pyfunction]
#[allow(clippy::too_many_arguments)] // one per class: what the stub and the caller name
fn replication_register_facades(
    py: Python<'_>,
    vector_clock: &Bound<'_, PyType>,
    object: &Bound<'_, PyType>,
    gcounter: &Bound<'_, PyType>,
    pncounter: &Bound<'_, PyType>,
    orset: &Bound<'_, PyType>,
    lww_register: &Bound<'_, PyType>,
    merkle_tree: &Bound<'_, PyType>,
) -> PyResult<()> {
    facade::register::<PyVectorClock>(py, vector_clock)?;
    facade::register::<PyReplObject>(py, object)?;
    facade::register::<PyGCounter>(py, gcounter)?;
    facade::register::<PyPNCounter>(py, pncounter)?;
    facade::register::<PyORSet>(py, orset)?;
    facade::register::<PyLWWRegister>(py, lww_register)?;
    facade::register::<PyMerkleTree>(py, merkle_tree)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(replication_register_facades, m)?)?;
    m.add_class::<PyVectorClock>()?;
    m.add_class::<PyReplObject>()?;
    m.add_class::<PyGCounter>()?;
    m.add_class::<PyPNCounter>()?;
    m.add_class::<PyORSet>()?;
    m.add_class::<PyLWWRegister>()?;
    m.add_class::<PyMerkleTree>()?;
    Ok(())
}
