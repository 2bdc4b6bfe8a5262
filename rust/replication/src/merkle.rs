//! Merkle trees over key ranges, for anti-entropy.
//!
//! The key space is cut into `16^depth` *segments*: contiguous ranges of the 64-bit xxh3 hash of
//! the key (the way Riak's AAE and Cassandra's token ranges partition keys), so both replicas
//! agree on the ranges without agreeing on any key. Each key contributes
//! `xxh3(key, seed = digest of its object)` to its segment; a segment's hash is the XOR of its
//! keys' contributions, so a write updates one leaf in O(1). Inner nodes hash their 16 children.
//!
//! ```text
//!   level 0                      root
//!   level 1            n0    n1   ...  n15            16 nodes
//!   level 2         n0..n15 of each              256 nodes
//!   ...
//!   level depth     segments (leaves): XOR of xxh3(key, digest) over the keys in the range
//! ```
//!
//! Two replicas compare roots; where hashes differ they descend, level by level, into the
//! children that differ, and end with the segments that differ; only the keys of those
//! segments are exchanged ([`MerkleTree::diff`] does the walk locally, the simulator does it
//! with messages using [`MerkleTree::node_hashes`] and [`MerkleTree::differing_children`]).

use minide_common::{Error, Result};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

pub const FANOUT: usize = 16;
pub const MAX_DEPTH: u32 = 6;

#[derive(Debug, Clone)]
pub struct MerkleTree {
    depth: u32,
    /// per segment: (key, digest of its current object), sorted by key. A sorted Vec, not a
    /// BTreeMap: segments hold a handful of keys, and 16^depth empty maps' first node
    /// allocations cost more than all the hashing.
    segments: Vec<Vec<(Vec<u8>, u64)>>,
    /// levels[0] = [root], levels[depth] = segment hashes
    levels: Vec<Vec<u64>>,
    dirty: bool,
}

fn contribution(key: &[u8], digest: u64) -> u64 {
    xxh3_64_with_seed(key, digest)
}

impl MerkleTree {
    /// A tree with `16^depth` segments (depth 1..=6).
    pub fn new(depth: u32) -> Result<Self> {
        if !(1..=MAX_DEPTH).contains(&depth) {
            return Err(Error::invalid(format!(
                "Merkle tree depth must be 1..={MAX_DEPTH} (16^depth segments), got {depth}"
            )));
        }
        let levels = (0..=depth).map(|l| vec![0u64; FANOUT.pow(l)]).collect();
        Ok(MerkleTree {
            depth,
            segments: vec![Vec::new(); FANOUT.pow(depth)],
            levels,
            dirty: false,
        })
    }

    /// Build from `(key, digest)` pairs.
    pub fn build<'a, I: IntoIterator<Item = (&'a [u8], u64)>>(
        depth: u32,
        items: I,
    ) -> Result<Self> {
        let mut t = Self::new(depth)?;
        for (k, d) in items {
            t.insert(k, d);
        }
        Ok(t)
    }

    pub fn depth(&self) -> u32 {
        self.depth
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn len(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(Vec::is_empty)
    }

    /// The segment (hash range) a key belongs to.
    pub fn segment_of(&self, key: &[u8]) -> usize {
        (xxh3_64(key) >> (64 - 4 * self.depth)) as usize
    }

    /// The inclusive range of key hashes segment `seg` covers.
    pub fn segment_range(&self, seg: usize) -> (u64, u64) {
        let shift = 64 - 4 * self.depth;
        let lo = (seg as u64) << shift;
        (lo, lo | ((1u64 << shift) - 1))
    }

    /// Set the digest of `key`'s object (insert or replace).
    pub fn insert(&mut self, key: &[u8], digest: u64) {
        let seg = self.segment_of(key);
        let leaf = &mut self.levels[self.depth as usize][seg];
        let entries = &mut self.segments[seg];
        match entries.binary_search_by(|e| e.0.as_slice().cmp(key)) {
            Ok(i) => {
                *leaf ^= contribution(key, entries[i].1);
                entries[i].1 = digest;
            }
            Err(i) => entries.insert(i, (key.to_vec(), digest)),
        }
        *leaf ^= contribution(key, digest);
        self.dirty = true;
    }

    pub fn remove(&mut self, key: &[u8]) -> bool {
        let seg = self.segment_of(key);
        let entries = &mut self.segments[seg];
        match entries.binary_search_by(|e| e.0.as_slice().cmp(key)) {
            Ok(i) => {
                let (_, old) = entries.remove(i);
                self.levels[self.depth as usize][seg] ^= contribution(key, old);
                self.dirty = true;
                true
            }
            Err(_) => false,
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<u64> {
        let entries = &self.segments[self.segment_of(key)];
        entries
            .binary_search_by(|e| e.0.as_slice().cmp(key))
            .ok()
            .map(|i| entries[i].1)
    }

    fn rehash(&mut self) {
        if !self.dirty {
            return;
        }
        let mut buf = [0u8; FANOUT * 8];
        for l in (0..self.depth as usize).rev() {
            let (upper, lower) = self.levels.split_at_mut(l + 1);
            for (i, node) in upper[l].iter_mut().enumerate() {
                let children = &lower[0][i * FANOUT..(i + 1) * FANOUT];
                *node = if children.iter().all(|&c| c == 0) {
                    0 // empty subtrees hash to 0 so sparse trees stay cheap to compare
                } else {
                    for (j, c) in children.iter().enumerate() {
                        buf[j * 8..j * 8 + 8].copy_from_slice(&c.to_le_bytes());
                    }
                    xxh3_64(&buf)
                };
            }
        }
        self.dirty = false;
    }

    pub fn root(&mut self) -> u64 {
        self.rehash();
        self.levels[0][0]
    }

    fn check_level(&self, level: u32) -> Result<()> {
        if level > self.depth {
            return Err(Error::invalid(format!(
                "Merkle level {level} does not exist (tree depth {})",
                self.depth
            )));
        }
        Ok(())
    }

    /// Hashes of the given nodes of `level`.
    pub fn node_hashes(&mut self, level: u32, nodes: &[usize]) -> Result<Vec<u64>> {
        self.check_level(level)?;
        self.rehash();
        let lv = &self.levels[level as usize];
        nodes
            .iter()
            .map(|&i| {
                lv.get(i).copied().ok_or_else(|| {
                    Error::invalid(format!("Merkle node {i} out of range at level {level}"))
                })
            })
            .collect()
    }

    /// Given the peer's hashes for nodes of `level`, the nodes whose hash differs here.
    pub fn differing_nodes(&mut self, level: u32, theirs: &[(usize, u64)]) -> Result<Vec<usize>> {
        let idx: Vec<usize> = theirs.iter().map(|p| p.0).collect();
        let mine = self.node_hashes(level, &idx)?;
        Ok(theirs
            .iter()
            .zip(mine)
            .filter(|((_, h), m)| h != m)
            .map(|((i, _), _)| *i)
            .collect())
    }

    /// The children (at `level + 1`) of the given nodes of `level`, with their hashes here.
    pub fn differing_children(&mut self, level: u32, nodes: &[usize]) -> Result<Vec<(usize, u64)>> {
        self.check_level(level + 1)?;
        let mut children = Vec::with_capacity(nodes.len() * FANOUT);
        for &n in nodes {
            children.extend(n * FANOUT..(n + 1) * FANOUT);
        }
        let hashes = self.node_hashes(level + 1, &children)?;
        Ok(children.into_iter().zip(hashes).collect())
    }

    /// The `(key, digest)` pairs stored in the given segments.
    pub fn segment_entries(&self, segs: &[usize]) -> Result<Vec<(&[u8], u64)>> {
        let mut out = Vec::new();
        for &s in segs {
            let seg = self
                .segments
                .get(s)
                .ok_or_else(|| Error::invalid(format!("Merkle segment {s} out of range")))?;
            out.extend(seg.iter().map(|(k, d)| (k.as_slice(), *d)));
        }
        Ok(out)
    }

    /// Walk both trees top-down and return the segments whose hashes differ.
    pub fn diff(&mut self, other: &mut MerkleTree) -> Result<Vec<usize>> {
        if self.depth != other.depth {
            return Err(Error::invalid(format!(
                "cannot diff Merkle trees of depths {} and {}",
                self.depth, other.depth
            )));
        }
        self.rehash();
        other.rehash();
        let mut frontier = if self.levels[0][0] != other.levels[0][0] {
            vec![0usize]
        } else {
            return Ok(vec![]);
        };
        for level in 1..=self.depth as usize {
            let (a, b) = (&self.levels[level], &other.levels[level]);
            frontier = frontier
                .iter()
                .flat_map(|&n| n * FANOUT..(n + 1) * FANOUT)
                .filter(|&c| a[c] != b[c])
                .collect();
        }
        Ok(frontier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_finds_exactly_the_changed_segments() {
        let keys: Vec<Vec<u8>> = (0..5000u32).map(|i| format!("k{i}").into_bytes()).collect();
        let mut a = MerkleTree::build(3, keys.iter().map(|k| (k.as_slice(), 1))).unwrap();
        let mut b = a.clone();
        assert_eq!(a.root(), b.root());
        assert!(a.diff(&mut b).unwrap().is_empty());
        b.insert(b"k17", 2);
        b.insert(b"new", 1);
        let mut want = vec![a.segment_of(b"k17"), a.segment_of(b"new")];
        want.sort();
        want.dedup();
        assert_eq!(a.diff(&mut b).unwrap(), want);
        // Undo: the XOR leaves return to the same hashes.
        b.insert(b"k17", 1);
        b.remove(b"new");
        assert_eq!(a.root(), b.root());
    }

    #[test]
    fn level_protocol_matches_diff() {
        let mut a = MerkleTree::new(2).unwrap();
        let mut b = MerkleTree::new(2).unwrap();
        for i in 0..300u32 {
            a.insert(format!("{i}").as_bytes(), 7);
            if i % 50 != 0 {
                b.insert(format!("{i}").as_bytes(), 7);
            }
        }
        let mut nodes = vec![0usize];
        for level in 0..2 {
            let theirs: Vec<(usize, u64)> = nodes
                .iter()
                .zip(a.node_hashes(level, &nodes).unwrap())
                .map(|(n, h)| (*n, h))
                .collect();
            let diff = b.differing_nodes(level, &theirs).unwrap();
            let kids = b.differing_children(level, &diff).unwrap();
            let kid_idx: Vec<usize> = kids.iter().map(|k| k.0).collect();
            let mine = a.node_hashes(level + 1, &kid_idx).unwrap();
            nodes = kids
                .iter()
                .zip(mine)
                .filter(|(k, m)| k.1 != *m)
                .map(|(k, _)| k.0)
                .collect();
        }
        assert_eq!(nodes, a.diff(&mut b).unwrap());
        assert!(MerkleTree::new(0).is_err());
        assert!(a.node_hashes(5, &[0]).is_err());
    }
}
