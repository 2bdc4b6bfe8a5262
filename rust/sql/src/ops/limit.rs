//! LIMIT / OFFSET over the morsels in order (zero-copy slices).

use crate::types::Chunk;

pub fn limit(input: Vec<Chunk>, limit: Option<u64>, offset: u64) -> Vec<Chunk> {
    let mut skip = offset as usize;
    let mut left = limit.map(|l| l as usize).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for c in input {
        if left == 0 {
            break;
        }
        if skip >= c.len {
            skip -= c.len;
            continue;
        }
        let take = (c.len - skip).min(left);
        let cols = c.cols.iter().map(|a| a.slice(skip, take)).collect();
        out.push(Chunk::new(cols, take));
        left -= take;
        skip = 0;
    }
    out
}
