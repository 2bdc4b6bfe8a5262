//! Split-block Bloom filters (BloomFilter.md).
//!
//! ```text
//! BloomFilterHeader (thrift: numBytes, algorithm=BLOCK, hash=XXHASH, compression=UNCOMPRESSED)
//! bitset: numBytes / 32 blocks of 8 little-endian u32 words
//! ```
//! A value's hash is xxh64 (seed 0) of its PLAIN encoding (byte arrays without the length). The
//! upper 32 bits pick the block, the lower 32 bits set one bit in each of the block's 8 words
//! (word i gets bit `(key * SALT[i]) >> 27`).

use super::thrift::{Reader, Writer};
use minide_common::{Error, Result};

const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// Largest filter written or read (as other implementations cap it).
pub const MAX_BYTES: usize = 128 << 20;

pub fn hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh64::xxh64(bytes, 0)
}

fn mask(key: u32) -> [u32; 8] {
    let mut m = [0u32; 8];
    for (w, s) in m.iter_mut().zip(SALT) {
        *w = 1u32 << (key.wrapping_mul(s) >> 27);
    }
    m
}

pub struct Sbbf {
    words: Vec<u32>,
}

impl Sbbf {
    /// A filter sized for `ndv` distinct values at false-positive rate `fpp`.
    pub fn with_ndv(ndv: usize, fpp: f64) -> Self {
        let bits = -8.0 * ndv.max(1) as f64 / (1.0 - fpp.powf(1.0 / 8.0)).ln();
        let bytes = ((bits / 8.0).ceil() as usize)
            .next_power_of_two()
            .clamp(32, MAX_BYTES);
        Sbbf {
            words: vec![0; bytes / 4],
        }
    }

    fn block(&self, h: u64) -> usize {
        let blocks = (self.words.len() / 8) as u64;
        (((h >> 32) * blocks) >> 32) as usize
    }

    pub fn insert(&mut self, h: u64) {
        let b = self.block(h) * 8;
        for (w, m) in self.words[b..b + 8].iter_mut().zip(mask(h as u32)) {
            *w |= m;
        }
    }

    pub fn check(&self, h: u64) -> bool {
        let b = self.block(h) * 8;
        self.words[b..b + 8]
            .iter()
            .zip(mask(h as u32))
            .all(|(w, m)| w & m != 0)
    }

    /// Header + bitset, as stored in the file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.begin();
        w.i32(1, (self.words.len() * 4) as i32);
        w.struct_field(2); // algorithm: BLOCK
        w.empty_struct(1);
        w.end();
        w.struct_field(3); // hash: XXHASH
        w.empty_struct(1);
        w.end();
        w.struct_field(4); // compression: UNCOMPRESSED
        w.empty_struct(1);
        w.end();
        w.end();
        let mut out = w.into_bytes();
        for x in &self.words {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    /// Parse a filter from bytes starting at its header; `data` may extend past the bitset.
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data);
        r.begin()?;
        let mut num_bytes = None;
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => num_bytes = Some(r.i32_of(ty)?),
                _ => r.skip(ty)?,
            }
        }
        let n = num_bytes
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| (32..=MAX_BYTES).contains(&n) && n.is_power_of_two())
            .ok_or_else(|| Error::corrupt("bloom filter with an invalid size"))?;
        let start = r.position();
        let bits = data
            .get(start..start + n)
            .ok_or_else(|| Error::corrupt("bloom filter bitset truncated"))?;
        let words = bits
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Sbbf { words })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_values_are_found_and_roundtrip() {
        let mut f = Sbbf::with_ndv(1000, 0.01);
        for i in 0..1000u64 {
            f.insert(hash(&i.to_le_bytes()));
        }
        let g = Sbbf::from_bytes(&f.to_bytes()).unwrap();
        assert!((0..1000u64).all(|i| g.check(hash(&i.to_le_bytes()))));
        let false_pos = (1000..11_000u64)
            .filter(|i| g.check(hash(&i.to_le_bytes())))
            .count();
        assert!(false_pos < 300, "{false_pos}");
    }
}
