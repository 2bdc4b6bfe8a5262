//! minide SQL executor: vectorized physical operators over Arrow batches. See `docs/sql.md`.
//!
//! Python parses, binds, plans and optimizes (`python/minide/sql/`); the finished physical plan
//! crosses into Rust once per query as msgpack ([`plan`]) and runs here:
//!
//! - [`types`]: the engine's types, [`types::Chunk`] (a morsel) and input normalization;
//! - [`catalog`]: registered in-memory tables and their statistics;
//! - [`expr`]: the vectorized expression evaluator;
//! - [`ops`]: one file per operator (scan, filter, project, hash aggregate, hash join, sort,
//!   top-N, limit, union, values), parallel over the query's rayon pool;
//! - [`kernels`] and [`keys`]: take/filter/concat and hashable row keys.

pub mod catalog;
pub mod expr;
pub mod files;
pub mod kernels;
pub mod keys;
pub mod ops;
pub mod plan;
pub mod pushdown;
pub mod types;

use std::collections::HashMap;
use std::sync::Mutex;

use minide_common::{Error, Result};

pub use catalog::{Catalog, ColumnStats, Entry, Source, Table};
pub use minide_columnar::scan::ScanCounters;
pub use ops::OpMetrics;
pub use types::{Chunk, DType};

/// A finished query: output morsels with their types, and per-operator metrics by plan node id.
#[derive(Debug)]
pub struct QueryOutput {
    pub chunks: Vec<Chunk>,
    pub types: Vec<DType>,
    pub metrics: HashMap<u32, OpMetrics>,
    /// Pruning counters of each file scan, by operator id.
    pub scans: HashMap<u32, ScanCounters>,
}

/// Decode a msgpack physical plan.
pub fn decode_plan(bytes: &[u8]) -> Result<plan::Node> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| Error::InvalidArgument(format!("malformed physical plan: {e}")))
}

/// Run `f` on a pool of `threads` threads (rayon work inside `f` stays on that pool).
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::InvalidArgument(format!("cannot start {threads} threads: {e}")))?
        .install(f)
}

/// Execute a msgpack-encoded plan against `catalog` on `threads` worker threads.
pub fn execute(catalog: &Catalog, plan_bytes: &[u8], threads: usize) -> Result<QueryOutput> {
    let node = decode_plan(plan_bytes)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::InvalidArgument(format!("cannot start {threads} threads: {e}")))?;
    let ctx = ops::Ctx {
        catalog,
        threads: threads.max(1),
        metrics: Mutex::new(HashMap::new()),
        scans: Mutex::new(HashMap::new()),
        shared: ops::shared::SharedScans::of(&node),
        join_filters: ops::join_filter::JoinFilters::default(),
    };
    let chunks = pool.install(|| ops::execute(&node, &ctx))?;
    // Results leave in their output Arrow types (decimals as decimal128(p, s)).
    let chunks = chunks
        .into_iter()
        .map(|c| {
            let cols = c
                .cols
                .iter()
                .zip(&node.types)
                .map(|(a, t)| types::to_output(a, *t))
                .collect::<Result<Vec<_>>>()?;
            Ok(Chunk::new(cols, c.len))
        })
        .collect::<Result<Vec<_>>>()?;
    let metrics = ctx.metrics.into_inner().unwrap_or_default();
    let scans = ctx.scans.into_inner().unwrap_or_default();
    Ok(QueryOutput {
        chunks,
        types: node.types.clone(),
        metrics,
        scans,
    })
}

/// EXPLAIN's description of every file scan in a msgpack plan, by operator id: the file, the
/// columns read and the predicate pushed into the reader.
pub fn describe_scans(catalog: &Catalog, plan_bytes: &[u8]) -> Result<HashMap<u32, String>> {
    fn visit(
        n: &plan::Node,
        catalog: &Catalog,
        shared: &ops::shared::SharedScans,
        out: &mut HashMap<u32, String>,
    ) -> Result<()> {
        if let plan::Op::Scan {
            table,
            columns,
            filter,
        } = &n.op
            && let Some(Source::File(f)) = catalog.entry(table).map(|e| &e.source)
        {
            let mut text = ops::describe_scan(f, columns, filter.as_ref())?;
            if shared.repeats(table, columns, filter.as_ref()) {
                text.push_str(" (repeated in this plan: decoded once, shared)");
            }
            out.insert(n.id, text);
        }
        for child in n.inputs() {
            visit(child, catalog, shared, out)?;
        }
        Ok(())
    }
    let node = decode_plan(plan_bytes)?;
    let mut out = HashMap::new();
    visit(
        &node,
        catalog,
        &ops::shared::SharedScans::of(&node),
        &mut out,
    )?;
    Ok(out)
}
