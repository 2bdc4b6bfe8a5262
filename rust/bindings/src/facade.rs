//! Python facades over Rust value classes, with no Python code per call.
//!
//! A public class is defined in Python (docstring, `__module__`, pickling) as a subclass of the
//! Rust class with `__slots__ = ()`: its methods *are* the Rust methods. What a subclass alone
//! does not fix is the values Rust creates (`merge`, `from_bytes`, ...): PyO3 allocates them as
//! the base class, and PyO3 has no public API to allocate a Python subclass. So the Python module
//! registers its facade class once ([`register`]), and methods build their results with [`new`],
//! which retypes the fresh object to the facade (what `obj.__class__ = Facade` does, without its
//! per-call checks: those cost ~10% of a vector clock `merge`). Registration also gives the
//! facade its own method descriptors (see [`own_methods`]).
//!
//! What remains per value is what any instance of a Python-defined class costs: a GC header and
//! tracking, and CPython's `subtype_dealloc` (about +40 ns per value created, e.g. on a vector
//! clock `merge`).
//!
//! Requirements on a class with a facade, all checked by CPython at registration:
//! - `#[pyclass(subclass)]`, not `immutable_type`;
//! - a GC type (`__traverse__`, even one that visits nothing): every class defined in Python is,
//!   so its instances carry a GC header a non-GC base object lacks ("deallocator differs");
//! - a facade that adds nothing to the layout (`__slots__ = ()`: no `__dict__`, no slots).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use pyo3::{PyClass, ffi};

use crate::errors::to_py;
use minide_common::Error;

/// A Rust class whose values Python sees as the facade class registered for it.
pub trait Facade: PyClass + Into<PyClassInitializer<Self>> {
    /// Where the registered facade class is kept (one cell per class: see [`facade_class!`]).
    fn cell() -> &'static PyOnceLock<Py<PyType>>;
    /// A throwaway value: CPython checks the facade on it at registration.
    fn sample() -> PyResult<Self>;
}

/// `impl Facade for $ty` with its own cell; `$sample` builds the registration sample.
macro_rules! facade_class {
    ($ty:ty, $sample:expr) => {
        impl $crate::facade::Facade for $ty {
            fn cell() -> &'static ::pyo3::sync::PyOnceLock<::pyo3::Py<::pyo3::types::PyType>> {
                static CELL: ::pyo3::sync::PyOnceLock<::pyo3::Py<::pyo3::types::PyType>> =
                    ::pyo3::sync::PyOnceLock::new();
                &CELL
            }
            fn sample() -> ::pyo3::PyResult<Self> {
                $sample
            }
        }
    };
}
pub(crate) use facade_class;

/// Register `facade` as the class of every `T` created by [`new`] from now on.
///
/// `facade` must be a proper subclass of `T` that CPython lets an existing `T` object become:
/// checked once here by a real `__class__` assignment, which runs CPython's own layout check
/// (`compatible_for_assignment`). Registering the same class again is a no-op; another one is an
/// error (values already handed out would otherwise have two different public classes).
pub fn register<T: Facade>(py: Python<'_>, facade: &Bound<'_, PyType>) -> PyResult<()> {
    let base = T::type_object(py);
    let name = base.name()?.to_string();
    if facade.is(&base) || !facade.is_subclass(&base)? {
        return Err(to_py(Error::invalid(format!(
            "facade for {name} must be a subclass of it, got {}",
            facade.name()?
        ))));
    }
    if let Some(stored) = T::cell().get(py) {
        return same_facade(&name, stored.bind(py), facade);
    }
    let sample = Bound::new(py, T::sample()?)?;
    sample
        .as_any()
        .setattr(intern!(py, "__class__"), facade)
        .map_err(|e| {
            to_py(Error::invalid(format!(
                "{} cannot stand for {name} (define it with `__slots__ = ()`): {e}",
                facade.name().map(|n| n.to_string()).unwrap_or_default()
            )))
        })?;
    own_methods(py, &base, facade)?;
    let stored = T::cell().get_or_init(py, || facade.clone().unbind());
    same_facade(&name, stored.bind(py), facade)
}

fn same_facade(name: &str, stored: &Bound<'_, PyType>, facade: &Bound<'_, PyType>) -> PyResult<()> {
    if stored.is(facade) {
        return Ok(());
    }
    Err(to_py(Error::invalid(format!(
        "{name} already has the facade {}",
        stored.name()?
    ))))
}

/// Give `facade` its own descriptor of each method of `base` (same C function, same docs).
///
/// CPython specializes a method call (`vc.merge(other)`) only when the receiver's type is
/// exactly the descriptor's class; on a subclass instance every call to a method inherited from
/// the Rust class takes the generic path (~10 ns more). With the descriptors in the facade's own
/// dict, calls on facade instances are specialized like calls on `_core` instances. A method the
/// facade defines itself (`__reduce__`) is kept.
fn own_methods(
    py: Python<'_>,
    base: &Bound<'_, PyType>,
    facade: &Bound<'_, PyType>,
) -> PyResult<()> {
    let own = facade.getattr(intern!(py, "__dict__"))?;
    // SAFETY: `Py_tp_methods` of a heap type is its `PyMethodDef` array, ended by an entry with
    // a null name; PyO3 leaks that array (never freed), so every `def` outlives the descriptors
    // made from it. `facade` is a subclass of `base`, so the descriptors' type check holds for
    // every object they are called on, and the C functions (PyO3's wrappers) check `self`'s type
    // themselves anyway.
    unsafe {
        let mut def =
            ffi::PyType_GetSlot(base.as_type_ptr(), ffi::Py_tp_methods).cast::<ffi::PyMethodDef>();
        while !def.is_null() && !(*def).ml_name.is_null() {
            let name = std::ffi::CStr::from_ptr((*def).ml_name)
                .to_str()
                .map_err(|e| {
                    to_py(Error::invalid(format!(
                        "method name of {}: {e}",
                        base.name().map(|n| n.to_string()).unwrap_or_default()
                    )))
                })?;
            let flags = (*def).ml_flags;
            if flags & ffi::METH_STATIC == 0 && !own.contains(name)? {
                let descr = if flags & ffi::METH_CLASS != 0 {
                    ffi::PyDescr_NewClassMethod(facade.as_type_ptr(), def)
                } else {
                    ffi::PyDescr_NewMethod(facade.as_type_ptr(), def)
                };
                facade.setattr(name, Bound::from_owned_ptr_or_err(py, descr)?)?;
            }
            def = def.add(1);
        }
    }
    Ok(())
}

/// A new Python object holding `value`, of the registered facade class (of `T` before any is
/// registered, e.g. while the Python module that defines the facades is being imported).
pub fn new<T: Facade>(py: Python<'_>, value: T) -> PyResult<Bound<'_, T>> {
    let obj = Bound::new(py, value)?;
    if let Some(facade) = T::cell().get(py) {
        let ptr = obj.as_ptr();
        let facade = facade.as_ptr().cast::<ffi::PyTypeObject>();
        // SAFETY: what `obj.__class__ = facade` does (CPython's `object_set_class`), minus its
        // checks, which `register` ran once with a real `__class__` assignment on a `T` object
        // created like this one: `T`'s type object (the type of every fresh `T`) and `facade`
        // have compatible layouts (same size, deallocator, GC-ness; `facade` adds no slots), and
        // `facade` is a heap subclass of `T`, so `Bound<T>` stays true. An object owns a
        // reference to its heap type: the facade gains one, `T`'s type loses one (still alive:
        // the module holds it). We hold the GIL and nobody else has seen `obj` yet.
        unsafe {
            let old = ffi::Py_TYPE(ptr);
            ffi::Py_INCREF(facade.cast());
            (*ptr).ob_type = facade;
            ffi::Py_DECREF(old.cast());
        }
    }
    Ok(obj)
}
