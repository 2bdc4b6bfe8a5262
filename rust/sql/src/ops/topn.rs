//! Top-N (ORDER BY ... LIMIT n): partial selection of the first `offset + n` rows, then a sort
//! of just those, instead of sorting everything.

use minide_common::Result;

use super::sort::{compare_rows, gather_morsels};
use crate::expr::eval;
use crate::kernels::concat_chunks;
use crate::plan::SortKey;
use crate::types::{Chunk, DType};

pub fn topn(
    input: Vec<Chunk>,
    keys: &[SortKey],
    limit: u64,
    offset: u64,
    types: &[DType],
) -> Result<Vec<Chunk>> {
    let all = concat_chunks(&input, types)?;
    drop(input);
    let cols = keys
        .iter()
        .map(|k| eval(&k.expr, &all))
        .collect::<Result<Vec<_>>>()?;
    let cmp = compare_rows(&cols, keys)?;
    let mut idx: Vec<u32> = (0..all.len as u32).collect();
    let want = (limit.saturating_add(offset) as usize).min(idx.len());
    // Ties broken by position so the answer equals a stable full sort.
    let full = |a: &u32, b: &u32| cmp(*a as usize, *b as usize).then(a.cmp(b));
    if want < idx.len() && want > 0 {
        idx.select_nth_unstable_by(want - 1, full);
        idx.truncate(want);
    }
    idx.truncate(want);
    idx.sort_by(full);
    let start = (offset as usize).min(idx.len());
    gather_morsels(&all, &idx[start..])
}
