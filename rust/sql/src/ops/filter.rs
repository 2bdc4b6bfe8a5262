//! Filter: keep rows whose predicate is TRUE (NULL and FALSE are dropped), morsel-parallel.

use minide_common::Result;
use rayon::prelude::*;

use crate::expr::select_rows;
use crate::kernels::take_chunk;
use crate::plan::Expr;
use crate::types::Chunk;

pub fn filter(input: Vec<Chunk>, predicate: &Expr) -> Result<Vec<Chunk>> {
    let out = input
        .par_iter()
        .map(|c| match select_rows(predicate, c)? {
            None => Ok(c.clone()),
            Some(rows) => take_chunk(c, &rows),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(out.into_iter().filter(|c| c.len > 0).collect())
}
