//! Projection: evaluate one expression per output column, morsel-parallel.

use minide_common::Result;
use rayon::prelude::*;

use crate::expr::eval;
use crate::plan::Expr;
use crate::types::Chunk;

pub fn project(input: Vec<Chunk>, exprs: &[Expr]) -> Result<Vec<Chunk>> {
    input
        .par_iter()
        .map(|c| {
            let cols = exprs
                .iter()
                .map(|e| eval(e, c))
                .collect::<Result<Vec<_>>>()?;
            Ok(Chunk::new(cols, c.len))
        })
        .collect()
}
