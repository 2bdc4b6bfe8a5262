//! Bindings for the stream engine's event-time window operator (`minide.stream.window`):
//! conversion and error mapping only. Split from `stream.rs`.

use super::*;

/// The Rust window operator behind `minide.stream.window` (`WindowStep`).
#[pyclass(module = "minide._core")]
pub(super) struct StreamWindow {
    inner: WindowOperator,
}

fn window_kind(
    kind: &str,
    size_ns: Option<i64>,
    slide_ns: Option<i64>,
    gap_ns: Option<i64>,
) -> Result<WindowKind, minide_common::Error> {
    let need = |v: Option<i64>, what: &str| {
        v.ok_or_else(|| minide_common::Error::invalid(format!("{kind} windows need {what}=")))
    };
    Ok(match kind {
        "tumbling" => WindowKind::Tumbling {
            size_ns: need(size_ns, "size")?,
        },
        "hopping" | "sliding" => WindowKind::Hopping {
            size_ns: need(size_ns, "size")?,
            slide_ns: need(slide_ns, "slide")?,
        },
        "session" => WindowKind::Session {
            gap_ns: need(gap_ns, "gap")?,
        },
        other => {
            return Err(minide_common::Error::invalid(format!(
                "window kind must be tumbling, hopping (sliding) or session, not {other:?}"
            )));
        }
    })
}

#[pymethods]
impl StreamWindow {
    /// `aggs`: (output name, column or None, "count"|"sum"|"min"|"max"|"mean").
    #[new]
    #[pyo3(signature = (kind, size_ns, slide_ns, gap_ns, key_columns, time_column, allowed_lateness_ns, aggs, threads))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: &str,
        size_ns: Option<i64>,
        slide_ns: Option<i64>,
        gap_ns: Option<i64>,
        key_columns: Vec<String>,
        time_column: String,
        allowed_lateness_ns: i64,
        aggs: Vec<(String, Option<String>, String)>,
        threads: usize,
    ) -> PyResult<Self> {
        let kind = window_kind(kind, size_ns, slide_ns, gap_ns).map_err(to_py)?;
        let aggs = aggs
            .into_iter()
            .map(|(output, column, func)| {
                Ok(AggSpec {
                    output,
                    column,
                    func: AggFn::parse(&func)?,
                })
            })
            .collect::<Result<Vec<_>, minide_common::Error>>()
            .map_err(to_py)?;
        let config = WindowConfig {
            kind,
            key_columns,
            time_column,
            allowed_lateness_ns,
            aggs,
        };
        let inner = WindowOperator::new(config, threads).map_err(to_py)?;
        Ok(StreamWindow { inner })
    }

    /// Process one batch (zero-copy, GIL released); returns the windows it closed.
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let batch = RecordBatch::from_pyarrow_bound(batch)?;
        let inner = &mut self.inner;
        let out = detach(py, move || inner.process(&batch))?;
        out.to_pyarrow(py)
    }

    /// Emit every open window; None before the first batch.
    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let inner = &mut self.inner;
        let out = detach(py, move || inner.flush())?;
        out.map(|b| b.to_pyarrow(py)).transpose()
    }

    #[getter]
    fn watermark(&self) -> Option<i64> {
        self.inner.watermark()
    }

    #[getter]
    fn time_unit_nanos(&self) -> Option<i64> {
        self.inner.time_unit_nanos()
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.config().kind.name()
    }

    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("rows_in", s.rows_in)?;
        d.set_item("late_rows", s.late_rows)?;
        d.set_item("windows_emitted", s.windows_emitted)?;
        d.set_item("open_windows", s.open_windows)?;
        d.set_item("keys", s.keys)?;
        d.set_item("state_bytes", s.state_bytes)?;
        Ok(d)
    }

    /// Per key shard: keys, open_windows, heap_bytes (empty before the first batch).
    fn shard_stats<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .shard_stats()
            .iter()
            .map(|s| {
                let d = PyDict::new(py);
                d.set_item("keys", s.keys)?;
                d.set_item("open_windows", s.open_windows)?;
                d.set_item("heap_bytes", s.heap_bytes)?;
                Ok(d)
            })
            .collect()
    }

    /// True when `other` was built with the same configuration (kind, durations, keys, aggs).
    fn same_config(&self, other: &StreamWindow) -> bool {
        self.inner.config() == other.inner.config()
    }

    fn checkpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = detach(py, move || Ok(inner.checkpoint()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn restore(py: Python<'_>, state: &[u8], threads: usize) -> PyResult<Self> {
        let state = state.to_vec();
        let inner = detach(py, move || WindowOperator::restore(&state, threads))?;
        Ok(StreamWindow { inner })
    }
}
