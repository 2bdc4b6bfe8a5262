//! Physical operators, one file each. Every operator takes its input as a list of morsels
//! ([`Chunk`]s) and returns its output the same way; per-morsel work is spread over the query's
//! thread pool with rayon (filter, projection, aggregate partials, join probes).

mod agg_state;
mod filter;
mod hash_aggregate;
mod hash_join;
pub mod join_filter;
mod limit;
mod project;
mod scan;
pub mod shared;
mod sort;
mod topn;
mod union;
mod values;
mod window;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use minide_common::Result;

use minide_columnar::scan::ScanCounters;

use crate::catalog::Catalog;
use crate::plan::{JoinKind, Node, Op};
use crate::types::Chunk;

pub use scan::describe as describe_scan;
pub use sort::compare_rows;

/// Actual rows and inclusive wall time of one operator (EXPLAIN ANALYZE).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpMetrics {
    pub rows: u64,
    pub nanos: u64,
}

/// What every operator can reach while running.
pub struct Ctx<'a> {
    pub catalog: &'a Catalog,
    pub threads: usize,
    pub metrics: Mutex<HashMap<u32, OpMetrics>>,
    /// What each file scan did (pruning counters), by operator id.
    pub scans: Mutex<HashMap<u32, ScanCounters>>,
    /// File scans the plan repeats, decoded once (see [`shared`]).
    pub shared: shared::SharedScans,
    /// Build-side keys of hash joins, waiting for the scans under their probe sides.
    pub join_filters: join_filter::JoinFilters,
}

impl Ctx<'_> {
    pub(crate) fn record_scan(&self, id: u32, counters: Option<ScanCounters>) {
        if let (Some(c), Ok(mut m)) = (counters, self.scans.lock()) {
            m.insert(id, c);
        }
    }
}

/// Run `node` (and, recursively, its inputs) to completion.
pub fn execute(node: &Node, ctx: &Ctx<'_>) -> Result<Vec<Chunk>> {
    let start = Instant::now();
    let out = match &node.op {
        Op::Scan {
            table,
            columns,
            filter,
        } => scan::scan(ctx, node.id, table, columns, filter.as_ref(), true)?,
        Op::Values { rows } => values::values(rows, &node.types)?,
        Op::Filter { input, predicate } => filter::filter(execute(input, ctx)?, predicate)?,
        Op::Project { input, exprs } => project::project(execute(input, ctx)?, exprs)?,
        Op::Aggregate {
            input,
            groups,
            aggs,
        } => match &input.op {
            // Scan -> filter -> aggregate fused: the filter runs inside the aggregate's morsel
            // loop, so mostly-TRUE filters (TPC-H Q1) never copy the scanned columns.
            Op::Scan {
                table,
                columns,
                filter: Some(pred),
            } => {
                let chunks = scan::scan(ctx, input.id, table, columns, Some(pred), false)?;
                let (out, kept) =
                    hash_aggregate::aggregate(ctx, chunks, Some(pred), groups, aggs, &node.types)?;
                // the scan's time is part of the aggregate's (EXPLAIN says "fused")
                record(ctx, input.id, kept, 0);
                out
            }
            _ => {
                let chunks = execute(input, ctx)?;
                hash_aggregate::aggregate(ctx, chunks, None, groups, aggs, &node.types)?.0
            }
        },
        Op::HashJoin {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            residual,
            null_equal,
            build_left,
            single_match,
        } => {
            let left_buildable = matches!(
                kind,
                JoinKind::Semi | JoinKind::Anti | JoinKind::NullAwareAnti
            );
            let build_left = *build_left && left_buildable;
            // the build side first: its keys can filter the scan under the probe side (rows
            // of the probe side without a partner: an inner or semi join drops them; with the
            // left side built, right rows of other keys cannot change a left row's outcome;
            // never when NULL keys match each other: INTERSECT, EXCEPT)
            let (l, r) = if build_left {
                let l = execute(left, ctx)?;
                if matches!(kind, JoinKind::Semi | JoinKind::Anti) && !*null_equal {
                    join_filter::push(ctx, right, right_keys, &l, left_keys)?;
                }
                (l, execute(right, ctx)?)
            } else {
                let r = execute(right, ctx)?;
                if matches!(kind, JoinKind::Inner | JoinKind::Semi) && !*null_equal {
                    join_filter::push(ctx, left, left_keys, &r, right_keys)?;
                }
                (execute(left, ctx)?, r)
            };
            let spec = hash_join::JoinSpec {
                kind: *kind,
                left_keys,
                right_keys,
                residual: residual.as_ref(),
                null_equal: *null_equal,
                single_match: *single_match,
                left_types: &left.types,
                right_types: &right.types,
            };
            if build_left {
                hash_join::hash_join_build_left(l, r, &spec)?
            } else {
                hash_join::hash_join(ctx, l, r, &spec)?
            }
        }
        Op::Sort { input, keys } => sort::sort(execute(input, ctx)?, keys, &node.types)?,
        Op::TopN {
            input,
            keys,
            limit,
            offset,
        } => topn::topn(execute(input, ctx)?, keys, *limit, *offset, &node.types)?,
        Op::Limit {
            input,
            limit,
            offset,
        } => limit::limit(execute(input, ctx)?, *limit, *offset),
        Op::Window { input, calls } => window::window(execute(input, ctx)?, calls, &input.types)?,
        Op::UnionAll { inputs } => {
            let mut parts = Vec::with_capacity(inputs.len());
            for i in inputs {
                parts.push(execute(i, ctx)?);
            }
            union::union_all(parts)
        }
    };
    let rows: usize = out.iter().map(|c| c.len).sum();
    record(ctx, node.id, rows as u64, start.elapsed().as_nanos() as u64);
    Ok(out)
}

fn record(ctx: &Ctx<'_>, id: u32, rows: u64, nanos: u64) {
    if let Ok(mut m) = ctx.metrics.lock() {
        let e = m.entry(id).or_default();
        e.rows += rows;
        e.nanos += nanos;
    }
}
