//! Shared scans: a query that reads the same file table with the same columns and filter more
//! than once (TPC-H Q21 reads `lineitem` filtered by `l_receiptdate > l_commitdate` twice, for a
//! join and for its NOT EXISTS) decodes it once. Before execution the plan is walked for
//! identical `Scan` nodes; the first one to run keeps its morsels here, the others take them,
//! and the last use drops them, so nothing outlives the query or is held for a scan that runs
//! once.

use std::sync::Mutex;

use crate::plan::{Expr, Node, Op};
use crate::types::Chunk;

struct Entry {
    table: String,
    columns: Vec<usize>,
    filter: Option<Expr>,
    uses_left: usize,
    chunks: Option<Vec<Chunk>>,
}

impl Entry {
    fn is(&self, table: &str, columns: &[usize], filter: Option<&Expr>) -> bool {
        self.table == table && self.columns == columns && self.filter.as_ref() == filter
    }
}

/// The scans a plan repeats, and their morsels once the first has run.
#[derive(Default)]
pub struct SharedScans(Mutex<Vec<Entry>>);

impl SharedScans {
    /// The scans of `plan` that appear more than once.
    pub fn of(plan: &Node) -> SharedScans {
        let mut all: Vec<Entry> = Vec::new();
        let mut stack = vec![plan];
        while let Some(n) = stack.pop() {
            if let Op::Scan {
                table,
                columns,
                filter,
            } = &n.op
            {
                match all
                    .iter_mut()
                    .find(|e| e.is(table, columns, filter.as_ref()))
                {
                    Some(e) => e.uses_left += 1,
                    None => all.push(Entry {
                        table: table.clone(),
                        columns: columns.clone(),
                        filter: filter.clone(),
                        uses_left: 1,
                        chunks: None,
                    }),
                }
            }
            // A filtered scan under an aggregate runs fused into it (`ops::execute`), never
            // through `scan` with its filter applied: it neither shares nor is shared.
            let fused = matches!(&n.op, Op::Aggregate { input, .. }
                if matches!(input.op, Op::Scan { filter: Some(_), .. }));
            if !fused {
                stack.extend(n.inputs());
            }
        }
        all.retain(|e| e.uses_left > 1);
        SharedScans(Mutex::new(all))
    }

    /// Whether the plan repeats this scan (before execution: for EXPLAIN).
    pub fn repeats(&self, table: &str, columns: &[usize], filter: Option<&Expr>) -> bool {
        self.0
            .lock()
            .is_ok_and(|all| all.iter().any(|e| e.is(table, columns, filter)))
    }

    /// The morsels of an earlier identical scan, if one ran and is shared.
    pub fn take(
        &self,
        table: &str,
        columns: &[usize],
        filter: Option<&Expr>,
    ) -> Option<Vec<Chunk>> {
        let mut all = self.0.lock().ok()?;
        let i = all
            .iter()
            .position(|e| e.chunks.is_some() && e.is(table, columns, filter))?;
        all[i].uses_left = all[i].uses_left.saturating_sub(1);
        let out = all[i].chunks.clone();
        if all[i].uses_left == 0 {
            all.swap_remove(i);
        }
        out
    }

    /// Keep `chunks` for the other uses of a shared scan (no-op for a scan that runs once).
    pub fn put(&self, table: &str, columns: &[usize], filter: Option<&Expr>, chunks: &[Chunk]) {
        let Ok(mut all) = self.0.lock() else {
            return;
        };
        if let Some(e) = all.iter_mut().find(|e| e.is(table, columns, filter)) {
            e.uses_left = e.uses_left.saturating_sub(1);
            if e.chunks.is_none() {
                e.chunks = Some(chunks.to_vec());
            }
        }
        all.retain(|e| e.uses_left > 0);
    }
}
