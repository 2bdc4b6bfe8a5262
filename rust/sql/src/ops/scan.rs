//! Scan: the registered table's morsels, narrowed to the needed columns (projection pushdown)
//! and filtered by the pushed-down predicate, morsel-parallel.

use minide_common::{Error, Result};
use rayon::prelude::*;

use super::Ctx;
use crate::expr::select_rows;
use crate::kernels::take_chunk;
use crate::plan::Expr;
use crate::types::Chunk;

pub fn scan(
    ctx: &Ctx<'_>,
    table: &str,
    columns: &[usize],
    filter: Option<&Expr>,
) -> Result<Vec<Chunk>> {
    let t = ctx.catalog.get(table).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "table {table} is not registered in this connection"
        ))
    })?;
    let pick = |c: &Chunk| -> Result<Chunk> {
        let cols = columns
            .iter()
            .map(|i| c.col(*i).cloned())
            .collect::<Result<Vec<_>>>()?;
        Ok(Chunk::new(cols, c.len))
    };
    match filter {
        None => t.chunks.iter().map(pick).collect(),
        Some(pred) => {
            let out: Vec<Chunk> = t
                .chunks
                .par_iter()
                .map(|c| {
                    let c = pick(c)?;
                    match select_rows(pred, &c)? {
                        None => Ok(c),
                        Some(rows) => take_chunk(&c, &rows),
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(out.into_iter().filter(|c| c.len > 0).collect())
        }
    }
}
