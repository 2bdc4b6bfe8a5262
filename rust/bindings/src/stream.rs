//! Bindings for minide's stream engine: conversion and error mapping only.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{Array, BinaryArray, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_data::ArrayData;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use arrow_schema::{DataType, Schema};
use minide_stream::count::KeyedCounts;
use minide_stream::dedup::{DedupConfig, Deduplicator, Mode};
use minide_stream::ingest::msgpack;
use minide_stream::ingest::resp::{GroupRead, RedisConn};
use minide_stream::log::{Log, LogOptions};
use minide_stream::window::{AggFn, AggSpec, WindowConfig, WindowKind, WindowOperator};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{detach, to_py};

mod window;

/// The Rust deduplicator behind `minide.stream.Deduplicator`.
#[pyclass(module = "minide._core")]
struct StreamDeduplicator {
    inner: Deduplicator,
}

fn indices(py: Python<'_>, v: Vec<u32>) -> PyResult<Bound<'_, PyAny>> {
    UInt32Array::from(v).to_data().to_pyarrow(py)
}

#[pymethods]
impl StreamDeduplicator {
    #[new]
    #[pyo3(signature = (key_columns, time_column, window_ns, allowed_lateness_ns, mode, false_positive_rate))]
    fn new(
        key_columns: Vec<String>,
        time_column: String,
        window_ns: i64,
        allowed_lateness_ns: i64,
        mode: &str,
        false_positive_rate: f64,
    ) -> PyResult<Self> {
        let mode = match mode {
            "exact" => Mode::Exact,
            "approx" => Mode::Approx {
                false_positive_rate,
            },
            other => {
                return Err(to_py(minide_common::Error::invalid(format!(
                    "mode must be \"exact\" or \"approx\", got {other:?}"
                ))));
            }
        };
        let inner = Deduplicator::new(DedupConfig {
            key_columns,
            time_column,
            window_ns,
            allowed_lateness_ns,
            mode,
        })
        .map_err(to_py)?;
        Ok(StreamDeduplicator { inner })
    }

    /// Process one batch (zero-copy, GIL released). Returns (kept row indices, late row indices).
    fn process<'py>(
        &mut self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let batch = RecordBatch::from_pyarrow_bound(batch)?;
        let inner = &mut self.inner;
        let out = detach(py, move || inner.process(&batch))?;
        Ok((indices(py, out.keep)?, indices(py, out.late)?))
    }

    #[getter]
    fn watermark(&self) -> Option<i64> {
        self.inner.watermark()
    }

    /// "exact" or "approx".
    #[getter]
    fn mode(&self) -> &'static str {
        match self.inner.config().mode {
            Mode::Exact => "exact",
            Mode::Approx { .. } => "approx",
        }
    }

    #[getter]
    fn time_unit_nanos(&self) -> Option<i64> {
        self.inner.time_unit_nanos()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("rows_in", s.rows_in)?;
        d.set_item("rows_out", s.rows_out)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("late", s.late)?;
        d.set_item("live_keys", s.live_keys)?;
        d.set_item("state_bytes", s.state_bytes)?;
        Ok(d)
    }

    /// The exact store's layout as a dict (None before the first batch or in approx mode).
    fn exact_layout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(l) = self.inner.exact_layout() else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("stamp", l.stamp)?;
        d.set_item("entry_bytes", l.entry_bytes)?;
        d.set_item("bucket_width", l.bucket_width)?;
        let shards = l
            .shards
            .iter()
            .map(|s| {
                let x = PyDict::new(py);
                x.set_item("slots", s.slots)?;
                x.set_item("used", s.used)?;
                x.set_item("live", s.live)?;
                x.set_item("buckets", s.buckets)?;
                x.set_item("entries", s.entries)?;
                x.set_item("heap_bytes", s.heap_bytes)?;
                Ok(x)
            })
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("shards", shards)?;
        Ok(Some(d))
    }

    fn checkpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = detach(py, move || Ok(inner.checkpoint()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn restore(py: Python<'_>, state: &[u8]) -> PyResult<Self> {
        let state = state.to_vec();
        let inner = detach(py, move || Deduplicator::restore(&state))?;
        Ok(StreamDeduplicator { inner })
    }
}

/// The Rust log behind `minide.stream.Log`.
#[pyclass(module = "minide._core")]
struct StreamLog {
    inner: Log,
}

#[pymethods]
impl StreamLog {
    #[new]
    #[pyo3(signature = (path, partitions, retention_bytes, retention_ms, segment_bytes, fsync))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        partitions: u32,
        retention_bytes: Option<u64>,
        retention_ms: Option<i64>,
        segment_bytes: u64,
        fsync: bool,
    ) -> PyResult<Self> {
        let opts = LogOptions {
            partitions,
            retention_bytes,
            retention_ms,
            segment_bytes,
            fsync,
        };
        let inner = detach(py, move || Log::open(&path, opts))?;
        Ok(StreamLog { inner })
    }

    /// Append a batch; returns (partition per row, offset per row).
    fn append<'py>(
        &mut self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
        key: Vec<String>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let batch = RecordBatch::from_pyarrow_bound(batch)?;
        let inner = &mut self.inner;
        let out = detach(py, move || inner.append(&batch, &key))?;
        let parts: Vec<u32> = out.iter().map(|(p, _)| *p).collect();
        let offs: Vec<u64> = out.iter().map(|(_, o)| *o).collect();
        Ok((
            indices(py, parts)?,
            UInt64Array::from(offs).to_data().to_pyarrow(py)?,
        ))
    }

    fn read<'py>(
        &self,
        py: Python<'py>,
        partition: u32,
        offset: u64,
        max_records: usize,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let inner = &self.inner;
        let out = detach(py, move || inner.read(partition, offset, max_records))?;
        out.map(|b| b.to_pyarrow(py)).transpose()
    }

    fn truncate(&mut self, py: Python<'_>, offsets: Vec<u64>) -> PyResult<()> {
        let inner = &mut self.inner;
        detach(py, move || inner.truncate(&offsets))
    }

    fn start_offsets(&self) -> Vec<u64> {
        self.inner.start_offsets()
    }

    fn end_offsets(&self) -> Vec<u64> {
        self.inner.end_offsets()
    }

    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes()
    }

    fn segment_counts(&self) -> Vec<usize> {
        self.inner.segment_counts()
    }

    fn partitions(&self) -> u32 {
        self.inner.partitions()
    }

    fn sync(&mut self, py: Python<'_>) -> PyResult<()> {
        let inner = &mut self.inner;
        detach(py, move || inner.sync())
    }

    fn apply_retention(&mut self, py: Python<'_>) -> PyResult<usize> {
        let inner = &mut self.inner;
        detach(py, move || inner.apply_retention())
    }

    fn commit(&self, py: Python<'_>, group: String, offsets: Vec<u64>) -> PyResult<()> {
        let inner = &self.inner;
        detach(py, move || inner.commit(&group, &offsets))
    }

    fn committed(&self, py: Python<'_>, group: String) -> PyResult<Vec<u64>> {
        let inner = &self.inner;
        detach(py, move || inner.committed(&group))
    }
}

/// Seal a pipeline checkpoint payload (magic, version, kind, length, CRC32C) without writing it.
#[pyfunction]
fn stream_checkpoint_seal<'py>(py: Python<'py>, payload: &[u8]) -> Bound<'py, PyBytes> {
    let sealed =
        minide_stream::checkpoint::seal(minide_stream::checkpoint::Kind::Pipeline, payload);
    PyBytes::new(py, &sealed)
}

/// Read and verify a pipeline checkpoint; None if there is none.
#[pyfunction]
fn stream_checkpoint_read<'py>(
    py: Python<'py>,
    path: PathBuf,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let out = detach(py, move || minide_stream::checkpoint::read_pipeline(&path))?;
    Ok(out.map(|b| PyBytes::new(py, &b)))
}

/// A Redis connection for the stream source's hot path (XREADGROUP into Arrow, batched XACK).
#[pyclass(module = "minide._core")]
struct StreamRedisReader {
    inner: RedisConn,
}

#[pymethods]
impl StreamRedisReader {
    #[new]
    fn new(py: Python<'_>, url: String) -> PyResult<Self> {
        let inner = detach(py, move || RedisConn::connect(&url))?;
        Ok(StreamRedisReader { inner })
    }

    /// XREADGROUP (GIL released); returns (entry IDs, payloads of `field`, null if absent).
    #[pyo3(signature = (group, consumer, stream, id, count, block_ms, field))]
    #[allow(clippy::too_many_arguments)]
    fn xreadgroup<'py>(
        &mut self,
        py: Python<'py>,
        group: String,
        consumer: String,
        stream: String,
        id: String,
        count: usize,
        block_ms: Option<u64>,
        field: Vec<u8>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let inner = &mut self.inner;
        let e = detach(py, move || {
            let read = GroupRead {
                group: &group,
                consumer: &consumer,
                stream: &stream,
                field: &field,
            };
            inner.xreadgroup(&read, &id, count, block_ms)
        })?;
        Ok((
            e.ids.to_data().to_pyarrow(py)?,
            e.payloads.to_data().to_pyarrow(py)?,
        ))
    }

    /// XACK every ID of a pyarrow string array, in a few pipelined commands.
    fn xack(
        &mut self,
        py: Python<'_>,
        stream: String,
        group: String,
        ids: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let data = ArrayData::from_pyarrow_bound(ids)?;
        if data.data_type() != &DataType::Utf8 {
            return Err(to_py(minide_common::Error::invalid(
                "xack needs a string array of IDs",
            )));
        }
        let ids = StringArray::from(data);
        let inner = &mut self.inner;
        detach(py, move || inner.xack(&stream, &group, &ids))
    }
}

/// Exact running counts per key behind `minide.stream.count_by`.
#[pyclass(module = "minide._core")]
struct StreamKeyedCounts {
    inner: KeyedCounts,
}

#[pymethods]
impl StreamKeyedCounts {
    #[new]
    fn new() -> Self {
        StreamKeyedCounts {
            inner: KeyedCounts::new(),
        }
    }

    /// True when `add` takes columns of this pyarrow type.
    #[staticmethod]
    fn supports(t: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(minide_stream::count::kind_of(&DataType::from_pyarrow_bound(t)?).is_some())
    }

    /// Count the rows of a pyarrow array (each `weights[i]` times if given), GIL released.
    #[pyo3(signature = (keys, weights=None))]
    fn add(
        &mut self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        weights: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let keys = arrow_array::make_array(ArrayData::from_pyarrow_bound(keys)?);
        let weights = match weights {
            Some(w) => {
                let d = ArrayData::from_pyarrow_bound(w)?;
                if d.data_type() != &DataType::UInt64 {
                    return Err(to_py(minide_common::Error::invalid(
                        "weights must be uint64",
                    )));
                }
                Some(UInt64Array::from(d))
            }
            None => None,
        };
        let inner = &mut self.inner;
        detach(py, move || inner.add(keys.as_ref(), weights.as_ref()))
    }

    fn add_nulls(&mut self, n: u64) {
        self.inner.add_nulls(n);
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// (keys, counts) as pyarrow arrays.
    fn to_arrays<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (k, c) = self.inner.to_arrays();
        Ok((k.to_data().to_pyarrow(py)?, c.to_data().to_pyarrow(py)?))
    }
}

/// A decoded batch and the (row, reason) of the messages left out.
type Decoded<'py> = (Bound<'py, PyAny>, Vec<(u32, String)>);

/// Decode JSON or msgpack payloads (a pyarrow binary array) by `schema`:
/// (batch, [(row, reason)]).
#[pyfunction]
fn stream_decode_messages<'py>(
    py: Python<'py>,
    payloads: &Bound<'py, PyAny>,
    schema: &Bound<'py, PyAny>,
    format: &str,
) -> PyResult<Decoded<'py>> {
    let data = ArrayData::from_pyarrow_bound(payloads)?;
    if data.data_type() != &DataType::Binary {
        return Err(to_py(minide_common::Error::invalid(
            "stream_decode_messages needs a binary array of payloads",
        )));
    }
    let payloads = BinaryArray::from(data);
    let schema = Arc::new(Schema::from_pyarrow_bound(schema)?);
    let json = match format {
        "json" => true,
        "msgpack" => false,
        other => {
            return Err(to_py(minide_common::Error::invalid(format!(
                "format must be 'json' or 'msgpack', got {other:?}"
            ))));
        }
    };
    let d = detach(py, move || {
        if json {
            minide_stream::ingest::json::decode(&payloads, &schema)
        } else {
            msgpack::decode(&payloads, &schema)
        }
    })?;
    Ok((d.batch.to_pyarrow(py)?, d.bad))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stream_decode_messages, m)?)?;
    m.add_class::<StreamRedisReader>()?;
    m.add_class::<StreamKeyedCounts>()?;
    m.add_function(wrap_pyfunction!(stream_checkpoint_read, m)?)?;
    m.add_function(wrap_pyfunction!(stream_checkpoint_seal, m)?)?;
    m.add_class::<StreamDeduplicator>()?;
    m.add_class::<StreamLog>()?;
    m.add_class::<window::StreamWindow>()?;
    Ok(())
}
