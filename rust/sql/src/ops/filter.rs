//! Filter: keep rows whose predicate is TRUE (NULL and FALSE are dropped), morsel-parallel.

use minide_common::Result;
use rayon::prelude::*;

use crate::expr::eval_predicate;
use crate::kernels::filter_chunk;
use crate::plan::Expr;
use crate::types::Chunk;

pub fn filter(input: Vec<Chunk>, predicate: &Expr) -> Result<Vec<Chunk>> {
    let out = input
        .par_iter()
        .map(|c| {
            let mask = eval_predicate(predicate, c)?;
            filter_chunk(c, &mask)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(out.into_iter().filter(|c| c.len > 0).collect())
}
