//! Dictionary building for RLE_DICTIONARY: unique values in first-seen order plus one index per
//! value. When the PLAIN size of the dictionary would pass the limit, building stops and the rest
//! of the chunk is written PLAIN (the "fallback" pyarrow also does).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::values::Values;

/// Fast non-cryptographic hasher: a folded multiply for integers, xxh3 for byte strings.
#[derive(Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        // Folded 64x64->128 multiply: every input bit reaches the low bits the table indexes
        // with (floats holding integers have all-zero low mantissa bits).
        let m = u128::from(self.0 ^ v) * 0x9E37_79B9_7F4A_7C15_u128;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Map<K> = HashMap<K, u32, BuildHasherDefault<FastHasher>>;

/// A dictionary for the first `indices.len()` values of a chunk.
pub struct Dict<'a> {
    pub values: Values<'a>,
    pub indices: Vec<u32>,
}

impl Dict<'_> {
    /// Bit width of the indices (at least 1, as other writers do).
    pub fn bit_width(&self) -> u8 {
        super::super::encodings::rle::bit_width(self.values.len().saturating_sub(1) as u64).max(1)
    }
}

fn build_keyed<K: std::hash::Hash + Eq + Copy, V: Copy>(
    src: &[V],
    key: impl Fn(V) -> K,
    size: usize,
    limit: usize,
) -> (Vec<V>, Vec<u32>) {
    let mut map: Map<K> = Map::default();
    let mut uniq = Vec::new();
    let mut idx = Vec::with_capacity(src.len());
    let mut bytes = 0usize;
    for &v in src {
        let k = key(v);
        let next = uniq.len() as u32;
        let i = *map.entry(k).or_insert_with(|| {
            uniq.push(v);
            bytes += size;
            next
        });
        if bytes > limit {
            uniq.pop();
            break;
        }
        idx.push(i);
    }
    (uniq, idx)
}

/// Build a dictionary of at most `limit` PLAIN bytes; `None` for booleans or when not even the
/// first value fits.
pub fn build<'a>(values: &Values<'a>, limit: usize) -> Option<Dict<'a>> {
    let (dict_values, indices) = match values {
        Values::Bool(_) => return None,
        Values::I32(v) => {
            let (u, i) = build_keyed(v, |x| x, 4, limit);
            (Values::I32(u), i)
        }
        Values::I64(v) => {
            let (u, i) = build_keyed(v, |x| x, 8, limit);
            (Values::I64(u), i)
        }
        Values::F32(v) => {
            let (u, i) = build_keyed(v, f32::to_bits, 4, limit);
            (Values::F32(u), i)
        }
        Values::F64(v) => {
            let (u, i) = build_keyed(v, f64::to_bits, 8, limit);
            (Values::F64(u), i)
        }
        Values::Decimal { values, width } => {
            let (u, i) = build_keyed(values, |x| x, *width, limit);
            (
                Values::Decimal {
                    values: u,
                    width: *width,
                },
                i,
            )
        }
        Values::Bytes(v) => {
            let mut map: Map<&'a [u8]> = Map::default();
            let mut uniq: Vec<&'a [u8]> = Vec::new();
            let mut idx = Vec::with_capacity(v.len());
            let mut bytes = 0usize;
            for &s in v {
                let i = match map.get(s) {
                    Some(&i) => i,
                    None => {
                        bytes += 4 + s.len();
                        if bytes > limit {
                            break;
                        }
                        let i = uniq.len() as u32;
                        uniq.push(s);
                        map.insert(s, i);
                        i
                    }
                };
                idx.push(i);
            }
            (Values::Bytes(uniq), idx)
        }
    };
    if indices.is_empty() {
        return None;
    }
    Some(Dict {
        values: dict_values,
        indices,
    })
}
