//! Event-time windows: tumbling, hopping and session windows per key, closed by the watermark.
//!
//! A batch's path through [`WindowOperator::process`]:
//!
//! ```text
//!  RecordBatch
//!    │ 1. read   time column (watermark.rs: read_times, zero-copy), key columns (keyhash.rs:
//!    │           int value or xxh3-128 per row), value columns (aggs.rs: read_values)
//!    ▼
//!    │ 2. watermark  one sequential pass in input order (watermark.rs: Watermark::observe):
//!    │           null time or t < max_seen - allowed_lateness → late (counted, ignored);
//!    │           other rows are dealt to key shards (top bits of the key's hash)
//!    ▼
//!    │ 3. assign + state   each shard in parallel (rayon, `threads`): key → key id, row →
//!    │           window slot(s) (assign.rs: tumbling/hopping number, session merge;
//!    │           shard.rs: the keyed store of open windows), then one update loop per
//!    │           accumulator over the (row, slot) pairs (aggs.rs)
//!    ▼
//!    │ 4. emit   every window with end <= watermark, from each shard's index by end
//!    │           (shard.rs: take_due), as one Arrow RecordBatch (emit.rs): key columns,
//!    │           window_start, window_end, one column per aggregate; then freed
//!    ▼
//!  RecordBatch of closed windows (possibly empty)
//! ```
//!
//! Rules (the same as the Python reference model in tests/stream/test_window.py):
//! - watermark = max event time seen - allowed_lateness, advanced row by row in input order
//!   ([`crate::watermark`]); a row with `t < watermark` or a null time is late: counted in
//!   `late_rows`, never aggregated.
//! - a window `[start, end)` is emitted once, in the first batch after which `end <= watermark`;
//!   [`WindowOperator::flush`] emits the rest. Because a row later than a window's end is late
//!   by then, no row can arrive for a window after it was emitted, and the emitted windows and
//!   their aggregates do not depend on how the stream is split into batches (float sums aside,
//!   which are added in input order per key).
//! - output rows are ordered by `window_start`, `window_end`, then key (integer keys by value,
//!   null first; other keys in hash order).
//!
//! State is checkpointed as bytes (state_io.rs): the envelope of [`crate::checkpoint`] (magic,
//! version, kind, length, CRC32C) around a versioned payload.

pub mod aggs;
pub mod assign;
mod emit;
pub mod keys;
pub mod shard;
mod state_io;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cases;
#[cfg(test)]
mod tests_ckpt;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::DataType;
use minide_common::{Error, Result};

use aggs::{Acc, AggPlan, NumClass, Values};
pub use aggs::{AggFn, AggSpec};
use assign::Assigner;
use keys::{KeyRepr, KeyStore};
use shard::{BatchView, Shard, ShardKey, ShardStats};

use crate::dedup::exact::fmix64;
use crate::keyhash::{self, KeyClass, Keys};
use crate::watermark::{self, Times, Unit, Watermark};

/// Window kind and its durations (nanoseconds; converted to the time column's ticks, rounding
/// up, when the first batch fixes the unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Tumbling { size_ns: i64 },
    Hopping { size_ns: i64, slide_ns: i64 },
    Session { gap_ns: i64 },
}

impl WindowKind {
    pub fn name(&self) -> &'static str {
        match self {
            WindowKind::Tumbling { .. } => "tumbling",
            WindowKind::Hopping { .. } => "hopping",
            WindowKind::Session { .. } => "session",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowConfig {
    pub kind: WindowKind,
    /// Key columns (may be empty: one window sequence for the whole stream).
    pub key_columns: Vec<String>,
    pub time_column: String,
    pub allowed_lateness_ns: i64,
    pub aggs: Vec<AggSpec>,
}

impl WindowConfig {
    fn validate(&self) -> Result<AggPlan> {
        match self.kind {
            WindowKind::Tumbling { size_ns } if size_ns <= 0 => {
                return Err(Error::invalid(format!(
                    "window size must be positive, got {size_ns} ns"
                )));
            }
            WindowKind::Hopping { size_ns, slide_ns } => {
                if size_ns <= 0 || slide_ns <= 0 {
                    return Err(Error::invalid(format!(
                        "hopping windows need a positive size and slide, got {size_ns} ns and {slide_ns} ns"
                    )));
                }
                if size_ns % slide_ns != 0 {
                    return Err(Error::invalid(format!(
                        "hopping windows need a slide that divides the size ({slide_ns} ns does not divide {size_ns} ns)"
                    )));
                }
            }
            WindowKind::Session { gap_ns } if gap_ns <= 0 => {
                return Err(Error::invalid(format!(
                    "session gap must be positive, got {gap_ns} ns"
                )));
            }
            _ => {}
        }
        if self.allowed_lateness_ns < 0 {
            return Err(Error::invalid(format!(
                "allowed_lateness must be >= 0, got {} ns",
                self.allowed_lateness_ns
            )));
        }
        let mut names: Vec<&str> = self.key_columns.iter().map(String::as_str).collect();
        names.extend(["window_start", "window_end"]);
        for a in &self.aggs {
            if names.contains(&a.output.as_str()) {
                return Err(Error::invalid(format!(
                    "aggregate output {:?} clashes with another output column (key columns, \
                     window_start, window_end and aggregates must have distinct names)",
                    a.output
                )));
            }
            names.push(&a.output);
        }
        AggPlan::new(&self.aggs)
    }
}

/// Counters and sizes reported by `stats()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStats {
    pub rows_in: u64,
    pub late_rows: u64,
    pub windows_emitted: u64,
    pub open_windows: u64,
    pub keys: u64,
    pub state_bytes: u64,
}

#[derive(Debug)]
enum Store {
    /// Integer keys, or no key columns (key 0).
    Int(Vec<Shard<u64>>),
    Hashed(Vec<Shard<[u64; 2]>>),
}

/// What the first batch fixed: units, types, classes and the state itself.
#[derive(Debug)]
struct Bound {
    unit: Unit,
    time_type: DataType,
    repr: KeyRepr,
    key_classes: Vec<KeyClass>,
    key_types: Vec<DataType>,
    value_classes: Vec<NumClass>,
    assigner: Assigner,
    watermark: Watermark,
    store: Store,
}

#[derive(Debug)]
pub struct WindowOperator {
    config: WindowConfig,
    plan: AggPlan,
    threads: usize,
    pool: rayon::ThreadPool,
    bound: Option<Bound>,
    rows_in: u64,
    late_rows: u64,
    windows_emitted: u64,
}

/// Below this many rows a batch is processed on one thread.
const PARALLEL_ROWS: usize = 8_192;

impl WindowOperator {
    /// A window operator running on `threads` threads (>= 1).
    pub fn new(config: WindowConfig, threads: usize) -> Result<Self> {
        let plan = config.validate()?;
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("minide-window-{i}"))
            .build()
            .map_err(|e| Error::invalid(format!("cannot start {threads} threads: {e}")))?;
        Ok(WindowOperator {
            config,
            plan,
            threads,
            pool,
            bound: None,
            rows_in: 0,
            late_rows: 0,
            windows_emitted: 0,
        })
    }

    pub fn config(&self) -> &WindowConfig {
        &self.config
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Key shards: one per thread (a power of two, so a shard is the top bits of a key hash).
    fn shard_count(&self) -> usize {
        self.threads.next_power_of_two().min(64)
    }

    fn new_store(&self, repr: KeyRepr, classes: &[NumClass], session: bool, ways: usize) -> Store {
        let accs = || -> Vec<Acc> {
            self.plan
                .accs
                .iter()
                .map(|&(kind, c)| Acc::new(kind, classes[c]))
                .collect()
        };
        let n = if repr == KeyRepr::None {
            1
        } else {
            self.shard_count()
        };
        let ncols = self.config.key_columns.len();
        match repr {
            KeyRepr::Hashed => Store::Hashed(
                (0..n)
                    .map(|_| Shard::new(accs(), session, ways, Some(KeyStore::new(ncols))))
                    .collect(),
            ),
            _ => Store::Int(
                (0..n)
                    .map(|_| Shard::new(accs(), session, ways, None))
                    .collect(),
            ),
        }
    }

    fn bind(
        &self,
        unit: Unit,
        time_type: DataType,
        key_classes: Vec<KeyClass>,
        key_types: Vec<DataType>,
        value_classes: Vec<NumClass>,
    ) -> Bound {
        let ticks = |ns: i64| unit.ticks(ns).max(1);
        let assigner = match self.config.kind {
            WindowKind::Tumbling { size_ns } => Assigner::Fixed {
                size: ticks(size_ns),
                slide: ticks(size_ns),
            },
            WindowKind::Hopping { size_ns, slide_ns } => Assigner::Fixed {
                size: ticks(size_ns),
                slide: ticks(slide_ns),
            },
            WindowKind::Session { gap_ns } => Assigner::Session { gap: ticks(gap_ns) },
        };
        let repr = if key_classes.is_empty() {
            KeyRepr::None
        } else if keyhash::is_int_key(&key_classes) {
            KeyRepr::Int
        } else {
            KeyRepr::Hashed
        };
        let (session, ways) = match assigner {
            // 2 ways for tumbling windows (rows straddling a boundary), up to 8 for hopping.
            Assigner::Fixed { size, slide } => (false, ((size / slide) as usize + 1).clamp(2, 8)),
            Assigner::Session { .. } => (true, 1),
        };
        Bound {
            unit,
            time_type,
            repr,
            key_types,
            key_classes,
            store: self.new_store(repr, &value_classes, session, ways),
            value_classes,
            assigner,
            watermark: Watermark::new(unit.ticks(self.config.allowed_lateness_ns)),
        }
    }

    /// Process one batch: returns the windows it closed (see the module docs).
    pub fn process(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        if n > u32::MAX as usize {
            return Err(Error::invalid(format!(
                "batch of {n} rows; split batches above {} rows",
                u32::MAX
            )));
        }
        let times = watermark::read_times(batch, &self.config.time_column)?;
        let time_type = batch
            .column_by_name(&self.config.time_column)
            .map(|c| c.data_type().clone())
            .unwrap_or(DataType::Int64);
        let (key_expected, value_expected) = match &self.bound {
            Some(b) => (&b.key_classes[..], &b.value_classes[..]),
            None => (&[][..], &[][..]),
        };
        let (key_cols, key_classes) = if self.config.key_columns.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            keyhash::key_columns(batch, &self.config.key_columns, key_expected)?
        };
        if let Some(i) = key_classes.iter().position(|c| *c == KeyClass::Decimal) {
            return Err(Error::Unsupported(format!(
                "window key column {:?} is a decimal; windows key on integer, float, boolean, \
                 string or binary columns (cast the key first)",
                self.config.key_columns[i]
            )));
        }
        let values = aggs::read_values(batch, &self.plan, value_expected)?;
        if self.bound.is_none() {
            let key_types = key_cols
                .iter()
                .map(|c| keys::output_type(c.data_type()))
                .collect();
            let value_classes = values.iter().map(Values::class).collect();
            let b = self.bind(times.unit, time_type, key_classes, key_types, value_classes);
            self.bound = Some(b);
        }
        let Some(bound) = self.bound.as_mut() else {
            unreachable!("bound just above")
        };
        if times.unit != bound.unit {
            return Err(Error::schema(format!(
                "time column {:?} changed unit ({} ns per tick, was {}) since the first batch",
                self.config.time_column, times.unit.nanos_per_tick, bound.unit.nanos_per_tick
            )));
        }
        let acc_columns: Vec<usize> = self.plan.accs.iter().map(|&(_, c)| c).collect();
        let late = self
            .pool
            .install(|| ingest(bound, &times, &key_cols, &values, &acc_columns))?;
        self.rows_in += n as u64;
        self.late_rows += late;
        match bound.watermark.current() {
            Some(wm) => self.emit(Some(wm)),
            None => self.empty_output(),
        }
    }

    /// Emit every open window (end of a bounded stream); None before the first batch.
    pub fn flush(&mut self) -> Result<Option<RecordBatch>> {
        if self.bound.is_none() {
            return Ok(None);
        }
        self.emit(None).map(Some)
    }

    fn empty_output(&mut self) -> Result<RecordBatch> {
        match &self.bound {
            Some(b) => emit::build(&self.config, &self.plan, b, &[]),
            None => Err(Error::invalid("no batch processed yet")),
        }
    }

    /// Emit the windows with `end <= wm` (all if None).
    fn emit(&mut self, wm: Option<i64>) -> Result<RecordBatch> {
        let Some(bound) = self.bound.as_mut() else {
            return Err(Error::invalid("no batch processed yet"));
        };
        let due: Vec<Vec<u32>> = match &mut bound.store {
            Store::Int(s) => s.iter_mut().map(|x| x.take_due(wm)).collect(),
            Store::Hashed(s) => s.iter_mut().map(|x| x.take_due(wm)).collect(),
        };
        let out = emit::build(&self.config, &self.plan, bound, &due);
        let bound = self.bound.as_mut().unwrap_or_else(|| unreachable!());
        match &mut bound.store {
            Store::Int(s) => release(s, &due, out.is_ok()),
            Store::Hashed(s) => release(s, &due, out.is_ok()),
        }
        let out = out?;
        self.windows_emitted += out.num_rows() as u64;
        Ok(out)
    }

    /// Current watermark in the time column's unit; None before the first row.
    pub fn watermark(&self) -> Option<i64> {
        self.bound.as_ref().and_then(|b| b.watermark.current())
    }

    /// Nanoseconds per tick of the time column, once known.
    pub fn time_unit_nanos(&self) -> Option<i64> {
        self.bound.as_ref().map(|b| b.unit.nanos_per_tick)
    }

    pub fn shard_stats(&self) -> Vec<ShardStats> {
        match self.bound.as_ref().map(|b| &b.store) {
            None => Vec::new(),
            Some(Store::Int(s)) => s.iter().map(Shard::stats).collect(),
            Some(Store::Hashed(s)) => s.iter().map(Shard::stats).collect(),
        }
    }

    pub fn stats(&self) -> WindowStats {
        let shards = self.shard_stats();
        WindowStats {
            rows_in: self.rows_in,
            late_rows: self.late_rows,
            windows_emitted: self.windows_emitted,
            open_windows: shards.iter().map(|s| s.open_windows as u64).sum(),
            keys: shards.iter().map(|s| s.keys as u64).sum(),
            state_bytes: shards.iter().map(|s| s.heap_bytes as u64).sum(),
        }
    }
}

/// Free emitted slots, or (if building the output failed) put them back in the due index so
/// the windows are not lost.
fn release<K: ShardKey>(shards: &mut [Shard<K>], due: &[Vec<u32>], emitted: bool) {
    for (s, d) in shards.iter_mut().zip(due) {
        if emitted {
            s.release(d);
        } else {
            s.requeue(d);
        }
    }
}

/// Steps 2 and 3 of the module docs; returns the number of late rows.
fn ingest(
    bound: &mut Bound,
    times: &Times,
    key_cols: &[ArrayRef],
    values: &[Values],
    acc_columns: &[usize],
) -> Result<u64> {
    let keys = match bound.repr {
        KeyRepr::None => None,
        KeyRepr::Int => Some(keyhash::compute_keys(key_cols, true)?),
        KeyRepr::Hashed => Some(keyhash::compute_keys(key_cols, false)?),
    };
    let n = times.values.len();
    let nshards = match &bound.store {
        Store::Int(s) => s.len(),
        Store::Hashed(s) => s.len(),
    };
    let shift = 64 - nshards.trailing_zeros();
    let route = |i: usize| -> usize {
        if nshards == 1 {
            return 0;
        }
        match &keys {
            Some(Keys::Int { values, nulls }) => {
                if nulls.as_ref().is_some_and(|nb| nb.is_null(i)) {
                    0
                } else {
                    (fmix64(values[i]) >> shift) as usize
                }
            }
            Some(Keys::Hashed(h)) => (h[i][0] >> shift) as usize,
            None => 0,
        }
    };
    let mut per: Vec<Vec<u32>> = (0..nshards)
        .map(|_| Vec::with_capacity(n / nshards + 16))
        .collect();
    let mut late = 0u64;
    let tv: &[i64] = &times.values;
    let wm = &mut bound.watermark;
    match &times.nulls {
        Some(nb) if nb.null_count() > 0 => {
            for (i, &t) in tv.iter().enumerate() {
                if nb.is_null(i) || wm.observe(t) {
                    late += 1;
                } else {
                    per[route(i)].push(i as u32);
                }
            }
        }
        _ => {
            if nshards == 1 {
                let rows = &mut per[0];
                for (i, &t) in tv.iter().enumerate() {
                    if wm.observe(t) {
                        late += 1;
                    } else {
                        rows.push(i as u32);
                    }
                }
            } else {
                for (i, &t) in tv.iter().enumerate() {
                    if wm.observe(t) {
                        late += 1;
                    } else {
                        per[route(i)].push(i as u32);
                    }
                }
            }
        }
    }
    let parallel = n >= PARALLEL_ROWS && nshards > 1;
    let assigner = bound.assigner;
    match (&mut bound.store, &keys) {
        (Store::Int(shards), Some(Keys::Int { values: kv, nulls })) => {
            let key_at = |i: usize| -> Option<u64> {
                if nulls.as_ref().is_some_and(|nb| nb.is_null(i)) {
                    None
                } else {
                    Some(kv[i])
                }
            };
            run(
                shards,
                &per,
                parallel,
                &BatchView {
                    assigner,
                    times: tv,
                    key_at,
                    key_columns: key_cols,
                    values,
                    acc_columns,
                },
            );
        }
        (Store::Int(shards), None) => {
            let key_at = |_: usize| -> Option<u64> { Some(0) };
            run(
                shards,
                &per,
                parallel,
                &BatchView {
                    assigner,
                    times: tv,
                    key_at,
                    key_columns: key_cols,
                    values,
                    acc_columns,
                },
            );
        }
        (Store::Hashed(shards), Some(Keys::Hashed(h))) => {
            let key_at = |i: usize| -> Option<[u64; 2]> { Some(h[i]) };
            run(
                shards,
                &per,
                parallel,
                &BatchView {
                    assigner,
                    times: tv,
                    key_at,
                    key_columns: key_cols,
                    values,
                    acc_columns,
                },
            );
        }
        _ => return Err(Error::schema("key representation changed between batches")),
    }
    Ok(late)
}

fn run<K: ShardKey, F: Fn(usize) -> Option<K> + Sync>(
    shards: &mut [Shard<K>],
    per: &[Vec<u32>],
    parallel: bool,
    view: &BatchView<'_, F>,
) {
    if parallel {
        use rayon::prelude::*;
        shards
            .par_iter_mut()
            .zip(per.par_iter())
            .for_each(|(s, rows)| s.ingest(view, rows));
    } else {
        for (s, rows) in shards.iter_mut().zip(per) {
            s.ingest(view, rows);
        }
    }
}
