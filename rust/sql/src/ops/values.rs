//! VALUES: literal rows, built column by column.

use minide_common::Result;

use crate::types::{Chunk, DType, Scalar, array_from_scalars};

pub fn values(rows: &[Vec<Scalar>], types: &[DType]) -> Result<Vec<Chunk>> {
    let mut cols = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        let col: Vec<Scalar> = rows
            .iter()
            .map(|r| r.get(i).cloned().unwrap_or(Scalar::Null))
            .collect();
        cols.push(array_from_scalars(*ty, &col)?);
    }
    Ok(vec![Chunk::new(cols, rows.len())])
}
