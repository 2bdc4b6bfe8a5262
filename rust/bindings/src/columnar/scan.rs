//! Bindings for the scan core (`minide_columnar::scan`): predicate conversion from the
//! facade's node tuples, scans as iterators of pyarrow batches (or one Table), counters.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow_pyarrow::{IntoPyArrow, Table, ToPyArrow};
use arrow_schema::TimeUnit;
use minide_columnar::scan::{CmpOp, Dataset, Literal, Predicate, Scan, ScanCounters, ScanSpec};
use minide_common::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyString, PyTuple};

use crate::errors::{detach, to_py};

fn bad(m: String) -> PyErr {
    to_py(Error::invalid(m))
}

/// A literal: None, bool, int, float, str, bytes, or a tagged tuple ("decimal", unscaled,
/// scale) | ("date", days) | ("timestamp", value, "s"|"ms"|"us"|"ns").
fn literal(v: &Bound<'_, PyAny>) -> PyResult<Literal> {
    if v.is_none() {
        return Ok(Literal::Null);
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Literal::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        return v
            .extract::<i128>()
            .map(Literal::Int)
            .map_err(|_| bad(format!("filter: integer {v} is out of range")));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Literal::Str(v.extract()?));
    }
    if v.is_instance_of::<PyBytes>() {
        return Ok(Literal::Bytes(v.extract()?));
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        let tag: String = t.get_item(0)?.extract()?;
        return Ok(match tag.as_str() {
            "decimal" => Literal::Decimal {
                unscaled: t
                    .get_item(1)?
                    .extract()
                    .map_err(|_| bad("filter: decimal out of range".into()))?,
                scale: t.get_item(2)?.extract()?,
            },
            "date" => Literal::Date(t.get_item(1)?.extract()?),
            "timestamp" => Literal::Timestamp {
                value: t.get_item(1)?.extract()?,
                unit: match t.get_item(2)?.extract::<String>()?.as_str() {
                    "s" => TimeUnit::Second,
                    "ms" => TimeUnit::Millisecond,
                    "us" => TimeUnit::Microsecond,
                    "ns" => TimeUnit::Nanosecond,
                    u => return Err(bad(format!("filter: unknown time unit {u:?}"))),
                },
            },
            other => return Err(bad(format!("filter: unknown literal tag {other:?}"))),
        });
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(Literal::Float(f));
    }
    Err(bad(format!(
        "filter: unsupported literal {} of type {}",
        v.repr()?,
        v.get_type().name()?
    )))
}

/// The facade's predicate nodes: ("and", a, b) | ("or", a, b) | ("not", a) |
/// ("cmp", column, op, literal) | ("in", column, [literals], negated) |
/// ("isnull", column, negated) | ("const", True | False | None).
pub fn predicate(e: &Bound<'_, PyAny>) -> PyResult<Predicate> {
    let t = e
        .cast::<PyTuple>()
        .map_err(|_| bad(format!("filter: expected a predicate node, got {e}")))?;
    let kind: String = t.get_item(0)?.extract()?;
    Ok(match kind.as_str() {
        "and" => Predicate::and(predicate(&t.get_item(1)?)?, predicate(&t.get_item(2)?)?),
        "or" => Predicate::or(predicate(&t.get_item(1)?)?, predicate(&t.get_item(2)?)?),
        "not" => Predicate::negate(predicate(&t.get_item(1)?)?),
        "const" => Predicate::Const(t.get_item(1)?.extract()?),
        "cmp" => Predicate::Cmp {
            column: t.get_item(1)?.extract()?,
            op: CmpOp::parse(&t.get_item(2)?.extract::<String>()?).map_err(to_py)?,
            value: literal(&t.get_item(3)?)?,
        },
        "in" => Predicate::In {
            column: t.get_item(1)?.extract()?,
            values: t
                .get_item(2)?
                .try_iter()?
                .map(|v| literal(&v?))
                .collect::<PyResult<Vec<_>>>()?,
            negated: t.get_item(3)?.extract()?,
        },
        "isnull" => Predicate::IsNull {
            column: t.get_item(1)?.extract()?,
            negated: t.get_item(2)?.extract()?,
        },
        other => return Err(bad(format!("filter: unknown predicate node {other:?}"))),
    })
}

/// Build a spec from the facade's keyword arguments.
#[allow(clippy::too_many_arguments)]
pub fn spec(
    columns: Option<Vec<String>>,
    filter: Option<&Bound<'_, PyAny>>,
    row_groups: Option<Vec<usize>>,
    limit: Option<usize>,
    threads: usize,
    batch_size: Option<usize>,
    exact: bool,
    decimals_as_float: bool,
    file_types: Option<bool>,
    page_index: bool,
) -> PyResult<ScanSpec> {
    Ok(ScanSpec {
        columns,
        row_groups,
        predicate: filter.map(predicate).transpose()?,
        limit,
        threads: threads.max(1),
        batch_size,
        exact,
        decimals_as_f64: decimals_as_float,
        file_types: file_types.unwrap_or(decimals_as_float),
        use_page_index: page_index,
    })
}

pub fn counters_dict<'py>(py: Python<'py>, c: &ScanCounters) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("files_total", c.files_total)?;
    d.set_item("files_pruned", c.files_pruned)?;
    d.set_item("row_groups_total", c.row_groups_total)?;
    d.set_item("row_groups_pruned_stats", c.row_groups_pruned_stats)?;
    d.set_item("row_groups_pruned_bloom", c.row_groups_pruned_bloom)?;
    d.set_item("row_groups_pruned_dict", c.row_groups_pruned_dict)?;
    d.set_item("pages_pruned", c.pages_pruned)?;
    d.set_item("rows_decoded", c.rows_decoded)?;
    d.set_item("rows_matched", c.rows_matched)?;
    d.set_item("join_filters", c.join_filters)?;
    Ok(d)
}

/// A running scan: iterate for pyarrow RecordBatches (each computed without the GIL), or
/// `read_all()` for one Table; `counters()` once done.
#[pyclass(name = "ScanStream", module = "minide._core", frozen)]
pub struct ScanStream {
    inner: Mutex<Scan>,
    schema: arrow_schema::SchemaRef,
}

impl ScanStream {
    pub fn new(scan: Scan) -> Self {
        let schema = scan.schema();
        ScanStream {
            inner: Mutex::new(scan),
            schema,
        }
    }

    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Scan) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        detach(py, || {
            let mut g = self
                .inner
                .lock()
                .map_err(|_| Error::invalid("scan used after a failure"))?;
            f(&mut g)
        })
    }
}

#[pymethods]
impl ScanStream {
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.schema.as_ref().to_pyarrow(py)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.with(py, |s| s.next().transpose())? {
            Some(b) => Ok(Some(b.to_pyarrow(py)?)),
            None => Ok(None),
        }
    }

    /// Every remaining batch as one Table (assembled in Rust, crossing once).
    fn read_all<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let batches = self.with(py, |s| s.by_ref().collect::<Result<Vec<_>, Error>>())?;
        Table::try_new(batches, self.schema.clone())
            .map_err(|e| to_py(Error::from(e)))?
            .into_pyarrow(py)
    }

    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.with(py, |s| Ok(s.counters()))?;
        counters_dict(py, &c)
    }
}

/// A Hive-partitioned dataset (or a single file) opened by the scan core.
#[pyclass(name = "DatasetReader", module = "minide._core", frozen)]
struct DatasetReader {
    inner: Arc<Dataset>,
}

#[pymethods]
impl DatasetReader {
    #[new]
    fn new(py: Python<'_>, root: PathBuf) -> PyResult<Self> {
        let ds = detach(py, move || Dataset::open(&root))?;
        Ok(DatasetReader {
            inner: Arc::new(ds),
        })
    }

    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.schema.as_ref().to_pyarrow(py)
    }

    fn partition_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.partition_schema.as_ref().to_pyarrow(py)
    }

    /// (path, partition values as written in the path, unescaped; None = null, rows) per file.
    fn files(&self) -> Vec<(String, Vec<Option<String>>, i64)> {
        self.inner
            .files
            .iter()
            .map(|f| {
                (
                    f.path.to_string_lossy().into_owned(),
                    f.partition.clone(),
                    f.file.metadata.num_rows,
                )
            })
            .collect()
    }

    #[pyo3(signature = (columns=None, filter=None, *, limit=None, threads=1, batch_size=None,
        exact=true, decimals_as_float=false, page_index=true))]
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        py: Python<'_>,
        columns: Option<Vec<String>>,
        filter: Option<&Bound<'_, PyAny>>,
        limit: Option<usize>,
        threads: usize,
        batch_size: Option<usize>,
        exact: bool,
        decimals_as_float: bool,
        page_index: bool,
    ) -> PyResult<ScanStream> {
        let spec = spec(
            columns,
            filter,
            None,
            limit,
            threads,
            batch_size,
            exact,
            decimals_as_float,
            None,
            page_index,
        )?;
        let ds = self.inner.clone();
        let scan = detach(py, move || ds.scan(spec))?;
        Ok(ScanStream::new(scan))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ScanStream>()?;
    m.add_class::<DatasetReader>()?;
    Ok(())
}
