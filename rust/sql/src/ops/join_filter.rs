//! Runtime join filters: a hash join hands its build side's keys to the file scan under its
//! probe side, before that scan runs.
//!
//! ```text
//!  HashJoin inner  l_orderkey = o_orderkey
//!   ├─ probe: ... ─ TableScan lineitem      ◄── keys: l_orderkey IN <228K order keys>
//!   └─ build: orders ⋈ customer (run first) ──┘
//! ```
//! The probe side's rows whose key is not among the build side's keys can never join, so the
//! scan may drop them as early as it can: row groups and pages whose key range holds no key
//! are skipped, the key column is decoded and tested first, and the other columns are decoded
//! only for rows that pass (the scan core's late materialization, [`KeySet`]). The join still
//! matches every row it gets: the filter only removes rows that would find no partner.
//!
//! A key column is followed down the probe side through filters, column-passing projections
//! and the row-keeping side of joins (inner, semi, anti, the preserved side of a left join);
//! any other operator (an aggregate, a computed key) ends the search. The pushing joins: inner
//! and semi joins built on the right, and semi and anti joins built on the left (TPC-H Q4:
//! EXISTS over 3.8M late lineitems, built on its 57K orders; then the lineitems are the probe
//! side, and those of other orders cannot change whether an order has a late one). Never a
//! NOT IN (a NULL key on the probe side changes its answer) or an outer join. Scans the plan repeats
//! (decoded once, shared) get no filter. Only integer and date keys whose build values span
//! a bitmap of at most [`minide_columnar::scan::keyset::MAX_SPAN`] bits, and only sets that are
//! sparse in their range (at most half of its values), since a dense set filters little.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int64Type};
use arrow_array::{Array, ArrayRef};
use minide_columnar::scan::KeySet;
use minide_common::Result;

use super::Ctx;
use crate::catalog::Source;
use crate::expr::eval;
use crate::plan::{Expr, JoinKind, Node, Op};
use crate::types::{Chunk, DType};

/// A set denser than this share of its key range is not pushed.
const MAX_DENSITY: f64 = 0.5;

/// A key set for one scan: (the scan's output column, the keys).
pub type ScanKeys = (usize, Arc<KeySet>);

/// Key sets waiting for their scans, by scan operator id.
#[derive(Default)]
pub struct JoinFilters(Mutex<HashMap<u32, Vec<ScanKeys>>>);

impl JoinFilters {
    fn add(&self, scan: u32, column: usize, set: Arc<KeySet>) {
        if let Ok(mut m) = self.0.lock() {
            m.entry(scan).or_default().push((column, set));
        }
    }

    /// The key sets for scan `id` (each scan runs once).
    pub fn take(&self, id: u32) -> Vec<ScanKeys> {
        self.0
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&id))
            .unwrap_or_default()
    }
}

/// Before a join's probe side runs: push the build side's keys (`build`, already computed)
/// into the scans that produce the probe keys.
/// The caller decides whether the join allows it: probe rows without a partner must not
/// matter (inner and semi joins built on the right; semi and anti joins built on the left,
/// where the probe side is the right one and only says which left rows have a partner).
pub fn push(
    ctx: &Ctx<'_>,
    probe: &Node,
    probe_keys: &[Expr],
    build: &[Chunk],
    build_keys: &[Expr],
) -> Result<()> {
    for (pk, bk) in probe_keys.iter().zip(build_keys) {
        let Expr::Col(c) = pk else { continue };
        if !matches!(
            probe.types.get(*c),
            Some(DType::Int64 | DType::Int32 | DType::Date32)
        ) {
            continue;
        }
        let Some((scan, column)) = trace(probe, *c) else {
            continue;
        };
        if !is_file_scan(ctx, scan) {
            continue;
        }
        let mut keys: Vec<i64> = Vec::new();
        for chunk in build {
            append_keys(&eval(bk, chunk)?, &mut keys);
        }
        if let Some(set) = KeySet::new(&keys)
            && set.density() <= MAX_DENSITY
        {
            ctx.join_filters.add(scan.id, column, Arc::new(set));
        }
    }
    Ok(())
}

/// Non-null integer (or date) keys of a build-side key column.
fn append_keys(a: &ArrayRef, out: &mut Vec<i64>) {
    let nulls = a.nulls();
    let mut push = |vals: &mut dyn Iterator<Item = i64>| {
        for (i, v) in vals.enumerate() {
            if nulls.is_none_or(|n| n.is_valid(i)) {
                out.push(v);
            }
        }
    };
    if let Some(p) = a.as_primitive_opt::<Int64Type>() {
        push(&mut p.values().iter().copied());
    } else if let Some(p) = a.as_primitive_opt::<Date32Type>() {
        push(&mut p.values().iter().map(|d| i64::from(*d)));
    }
}

/// A file-table scan that runs on its own (not shared with a repeat of it in the plan).
fn is_file_scan(ctx: &Ctx<'_>, scan: &Node) -> bool {
    let Op::Scan {
        table,
        columns,
        filter,
    } = &scan.op
    else {
        return false;
    };
    let file = ctx
        .catalog
        .entry(table)
        .is_some_and(|e| matches!(e.source, Source::File(_)));
    file && !ctx.shared.repeats(table, columns, filter.as_ref())
}

/// The scan (and its output column) that column `col` of `node` comes from, through
/// operators that only keep or drop whole rows of that scan.
fn trace(node: &Node, col: usize) -> Option<(&Node, usize)> {
    match &node.op {
        Op::Scan { .. } => Some((node, col)),
        Op::Filter { input, .. } => trace(input, col),
        Op::Project { input, exprs } => match exprs.get(col)? {
            Expr::Col(j) => trace(input, *j),
            _ => None,
        },
        Op::HashJoin {
            left, right, kind, ..
        } => {
            let nl = left.types.len();
            match kind {
                JoinKind::Inner if col >= nl => trace(right, col - nl),
                JoinKind::Inner
                | JoinKind::Left
                | JoinKind::Semi
                | JoinKind::Anti
                | JoinKind::NullAwareAnti
                | JoinKind::Mark
                    if col < nl =>
                {
                    trace(left, col)
                }
                _ => None,
            }
        }
        _ => None,
    }
}
