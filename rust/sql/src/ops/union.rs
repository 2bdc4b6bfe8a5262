//! UNION ALL: the inputs' morsels one after the other (the binder made their types agree).

use crate::types::Chunk;

pub fn union_all(parts: Vec<Vec<Chunk>>) -> Vec<Chunk> {
    parts.into_iter().flatten().collect()
}
