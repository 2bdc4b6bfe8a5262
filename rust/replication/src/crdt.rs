//! State-based CRDTs: values whose `merge` is commutative, associative and idempotent, so
//! replicas that exchange states in any order, any number of times, converge.
//!
//! - [`GCounter`]: one count per actor; value = sum; merge = entry-wise max.
//! - [`PNCounter`]: two GCounters (increments, decrements); value = P - N.
//! - [`OrSet`]: add-wins observed-remove set with dots. Each add tags the element with a fresh dot;
//!   remove drops the dots it has observed. The causal context (a [`VectorClock`]) remembers every
//!   dot ever seen, so merge can tell "removed over there" (dot covered by the other's context but
//!   absent) from "not seen yet over there" (dot not covered): concurrent add + remove keeps
//!   the add (add wins).
//! - [`LwwRegister`]: last writer wins by `(timestamp, actor, value)`; ties on timestamp are
//!   broken by actor then value bytes, so every replica picks the same winner.

use std::collections::{BTreeMap, BTreeSet};

use minide_common::varint::put_uvarint;
use minide_common::{Error, Result};

use crate::clock::{Dot, VectorClock};
use crate::codec::{Reader, TAG_GCOUNTER, TAG_LWW, TAG_ORSET, TAG_PNCOUNTER, put_bytes};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GCounter {
    counts: VectorClock,
}

impl GCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn increment(&mut self, actor: &str, n: u64) {
        let cur = self.counts.get(actor);
        self.counts.set(actor, cur.saturating_add(n));
    }

    pub fn value(&self) -> u128 {
        self.counts.iter().map(|(_, n)| u128::from(n)).sum()
    }

    pub fn merge(&self, other: &GCounter) -> GCounter {
        GCounter {
            counts: self.counts.merged(&other.counts),
        }
    }

    pub fn counts(&self) -> &VectorClock {
        &self.counts
    }

    fn encode_into(&self, buf: &mut Vec<u8>) {
        self.counts.encode_into(buf);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![TAG_GCOUNTER];
        self.encode_into(&mut buf);
        buf
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b, TAG_GCOUNTER, "GCounter")?;
        let counts = VectorClock::decode_from(&mut r)?;
        r.finish()?;
        Ok(GCounter { counts })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PNCounter {
    p: GCounter,
    n: GCounter,
}

impl PNCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `delta` (negative to decrement) on behalf of `actor`.
    pub fn increment(&mut self, actor: &str, delta: i64) {
        if delta >= 0 {
            self.p.increment(actor, delta.unsigned_abs());
        } else {
            self.n.increment(actor, delta.unsigned_abs());
        }
    }

    pub fn value(&self) -> i128 {
        // Each sum is at most 2^64 * actors; i128 holds the difference for any realistic count.
        self.p.value() as i128 - self.n.value() as i128
    }

    pub fn merge(&self, other: &PNCounter) -> PNCounter {
        PNCounter {
            p: self.p.merge(&other.p),
            n: self.n.merge(&other.n),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![TAG_PNCOUNTER];
        self.p.encode_into(&mut buf);
        self.n.encode_into(&mut buf);
        buf
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b, TAG_PNCOUNTER, "PNCounter")?;
        let p = VectorClock::decode_from(&mut r)?;
        let n = VectorClock::decode_from(&mut r)?;
        r.finish()?;
        Ok(PNCounter {
            p: GCounter { counts: p },
            n: GCounter { counts: n },
        })
    }
}

/// Add-wins observed-remove set of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrSet {
    /// element -> the dots of the adds that are still live
    entries: BTreeMap<String, BTreeSet<Dot>>,
    /// every dot this replica has seen (added, then possibly removed)
    context: VectorClock,
}

impl OrSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `elem` on behalf of `actor`; the new dot replaces the dots of `elem` seen so far.
    pub fn add(&mut self, actor: &str, elem: &str) {
        let dot = self.context.increment(actor);
        self.entries.insert(elem.to_string(), BTreeSet::from([dot]));
    }

    /// Remove `elem` as observed here; concurrent adds elsewhere (unseen dots) survive merges.
    pub fn remove(&mut self, elem: &str) -> bool {
        self.entries.remove(elem).is_some()
    }

    pub fn contains(&self, elem: &str) -> bool {
        self.entries.contains_key(elem)
    }

    pub fn elements(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn context(&self) -> &VectorClock {
        &self.context
    }

    pub fn merge(&self, other: &OrSet) -> OrSet {
        let mut entries: BTreeMap<String, BTreeSet<Dot>> = BTreeMap::new();
        let keys: BTreeSet<&String> = self.entries.keys().chain(other.entries.keys()).collect();
        let empty = BTreeSet::new();
        for k in keys {
            let a = self.entries.get(k).unwrap_or(&empty);
            let b = other.entries.get(k).unwrap_or(&empty);
            // Keep a dot if both sides have it, or if the side lacking it never saw it.
            let dots: BTreeSet<Dot> = a
                .iter()
                .filter(|d| b.contains(*d) || !other.context.covers(d))
                .chain(b.iter().filter(|d| !self.context.covers(d)))
                .cloned()
                .collect();
            if !dots.is_empty() {
                entries.insert(k.clone(), dots);
            }
        }
        OrSet {
            entries,
            context: self.context.merged(&other.context),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![TAG_ORSET];
        self.context.encode_into(&mut buf);
        put_uvarint(&mut buf, self.entries.len() as u64);
        for (e, dots) in &self.entries {
            put_bytes(&mut buf, e.as_bytes());
            put_uvarint(&mut buf, dots.len() as u64);
            for d in dots {
                put_bytes(&mut buf, d.actor.as_bytes());
                put_uvarint(&mut buf, d.counter);
            }
        }
        buf
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b, TAG_ORSET, "ORSet")?;
        let context = VectorClock::decode_from(&mut r)?;
        let n = r.count()?;
        let mut entries = BTreeMap::new();
        for _ in 0..n {
            let e = r.string()?;
            let m = r.count()?;
            let mut dots = BTreeSet::new();
            for _ in 0..m {
                let actor = r.string()?;
                let counter = r.uvarint()?;
                let d = Dot { actor, counter };
                if !context.covers(&d) {
                    return Err(Error::corrupt(format!(
                        "ORSet: dot {d} of element {e:?} is outside the set's context"
                    )));
                }
                dots.insert(d);
            }
            if !dots.is_empty() {
                entries.insert(e, dots);
            }
        }
        r.finish()?;
        Ok(OrSet { entries, context })
    }
}

/// Last-writer-wins register of bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LwwRegister {
    /// (timestamp, actor, value); the max tuple wins
    current: Option<(u64, String, Vec<u8>)>,
}

impl LwwRegister {
    pub fn new() -> Self {
        Self::default()
    }

    /// Write `value` at `ts` by `actor`; kept only if it beats the current write.
    pub fn set(&mut self, ts: u64, actor: &str, value: Vec<u8>) {
        let cand = (ts, actor.to_string(), value);
        if self.current.as_ref().is_none_or(|cur| cand > *cur) {
            self.current = Some(cand);
        }
    }

    pub fn value(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|(_, _, v)| v.as_slice())
    }

    pub fn timestamp(&self) -> Option<u64> {
        self.current.as_ref().map(|(t, _, _)| *t)
    }

    pub fn actor(&self) -> Option<&str> {
        self.current.as_ref().map(|(_, a, _)| a.as_str())
    }

    pub fn merge(&self, other: &LwwRegister) -> LwwRegister {
        LwwRegister {
            current: self.current.clone().max(other.current.clone()),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![TAG_LWW];
        match &self.current {
            None => buf.push(0),
            Some((t, a, v)) => {
                buf.push(1);
                put_uvarint(&mut buf, *t);
                put_bytes(&mut buf, a.as_bytes());
                put_bytes(&mut buf, v);
            }
        }
        buf
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut r = Reader::new(b, TAG_LWW, "LWWRegister")?;
        let current = match r.u8()? {
            0 => None,
            1 => {
                let t = r.uvarint()?;
                let a = r.string()?;
                let v = r.bytes()?.to_vec();
                Some((t, a, v))
            }
            f => {
                return Err(Error::corrupt(format!(
                    "LWWRegister: bad presence flag {f}"
                )));
            }
        };
        r.finish()?;
        Ok(LwwRegister { current })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orset_add_wins_over_concurrent_remove() {
        let mut a = OrSet::new();
        a.add("a", "x");
        let mut b = a.clone();
        b.remove("x");
        a.add("a", "x"); // concurrent re-add with a fresh dot
        assert!(a.merge(&b).contains("x"));
        assert!(b.merge(&a).contains("x"));
        // An observed remove wins over the add it observed.
        let mut c = a.clone();
        c.remove("x");
        assert!(!a.merge(&c).contains("x"));
    }

    #[test]
    fn counters() {
        let mut a = PNCounter::new();
        a.increment("a", 5);
        let mut b = PNCounter::new();
        b.increment("b", -2);
        let m = a.merge(&b);
        assert_eq!(m.value(), 3);
        assert_eq!(m.merge(&a), m);
        assert_eq!(PNCounter::from_bytes(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn lww_tie_breaks_deterministically() {
        let mut a = LwwRegister::new();
        a.set(5, "a", b"x".to_vec());
        let mut b = LwwRegister::new();
        b.set(5, "b", b"y".to_vec());
        assert_eq!(a.merge(&b), b.merge(&a));
        assert_eq!(a.merge(&b).value(), Some(b"y".as_slice()));
    }
}
