//! Vector clocks (version vectors) and dots.
//!
//! A [`VectorClock`] maps each actor (a region's id plus epoch, e.g. `"eu#2"`) to the number of
//! events that actor produced and that this clock has seen. Clocks form a join-semilattice:
//! [`VectorClock::merge`] is the entry-wise max, and [`VectorClock::descends`] (`self >= other`
//! entry-wise) is the partial order under it. Two clocks where neither descends from the other
//! are *concurrent*: neither write saw the other, so neither may silently replace the other.
//!
//! ```text
//!   a:2 b:1   vs  a:1 b:1   -> after       (a:2 >= a:1, b:1 >= b:1, and not equal)
//!   a:2 b:1   vs  a:1 b:3   -> concurrent  (a says after, b says before)
//! ```
//!
//! A [`Dot`] `(actor, n)` names exactly one event: the n-th write coordinated by `actor`. A clock
//! *covers* a dot when `clock[actor] >= n`.

use std::collections::BTreeMap;
use std::fmt;

use minide_common::Result;
use minide_common::varint::put_uvarint;

use crate::codec::{Reader, TAG_CLOCK, put_bytes};

/// How two clocks relate in the happens-before partial order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Causality {
    /// `self` happened before `other` (`other` strictly descends from `self`).
    Before,
    /// `self` happened after `other`.
    After,
    Equal,
    /// Neither saw the other.
    Concurrent,
}

impl Causality {
    pub fn as_str(self) -> &'static str {
        match self {
            Causality::Before => "before",
            Causality::After => "after",
            Causality::Equal => "equal",
            Causality::Concurrent => "concurrent",
        }
    }
}

/// One event: the `counter`-th write coordinated by `actor`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    pub actor: String,
    pub counter: u64,
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{})", self.actor, self.counter)
    }
}

/// A version vector; absent actors count as 0 (zero entries are never stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VectorClock {
    entries: BTreeMap<String, u64>,
}

impl VectorClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_entries<I: IntoIterator<Item = (String, u64)>>(it: I) -> Self {
        let mut vc = Self::new();
        for (a, n) in it {
            vc.set(a, n);
        }
        vc
    }

    pub fn get(&self, actor: &str) -> u64 {
        self.entries.get(actor).copied().unwrap_or(0)
    }

    /// Set one entry (0 removes it, so equal clocks have equal maps).
    pub fn set(&mut self, actor: String, n: u64) {
        if n == 0 {
            self.entries.remove(&actor);
        } else {
            self.entries.insert(actor, n);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.entries.iter().map(|(a, n)| (a.as_str(), *n))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Count one more event of `actor`; returns the dot of that event.
    pub fn increment(&mut self, actor: &str) -> Dot {
        let n = self.get(actor).saturating_add(1);
        self.entries.insert(actor.to_string(), n);
        Dot {
            actor: actor.to_string(),
            counter: n,
        }
    }

    /// Entry-wise max, in place (the least upper bound of the two clocks).
    pub fn merge_from(&mut self, other: &VectorClock) {
        for (a, &n) in &other.entries {
            let e = self.entries.entry(a.clone()).or_insert(0);
            if n > *e {
                *e = n;
            }
        }
    }

    pub fn merged(&self, other: &VectorClock) -> VectorClock {
        let mut out = self.clone();
        out.merge_from(other);
        out
    }

    /// Record a single dot (used when the dot's predecessors are known to be covered).
    pub fn add_dot(&mut self, dot: &Dot) {
        if dot.counter > self.get(&dot.actor) {
            self.entries.insert(dot.actor.clone(), dot.counter);
        }
    }

    /// `self >= other` entry-wise: `self` has seen every event `other` has seen.
    pub fn descends(&self, other: &VectorClock) -> bool {
        other.entries.iter().all(|(a, &n)| self.get(a) >= n)
    }

    pub fn covers(&self, dot: &Dot) -> bool {
        self.get(&dot.actor) >= dot.counter
    }

    pub fn compare(&self, other: &VectorClock) -> Causality {
        match (self.descends(other), other.descends(self)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (false, false) => Causality::Concurrent,
        }
    }

    pub(crate) fn encode_into(&self, buf: &mut Vec<u8>) {
        put_uvarint(buf, self.entries.len() as u64);
        for (a, &n) in &self.entries {
            put_bytes(buf, a.as_bytes());
            put_uvarint(buf, n);
        }
    }

    pub(crate) fn decode_from(r: &mut Reader<'_>) -> Result<VectorClock> {
        // Canonical form only (actors strictly increasing, no zero counts): equal clocks must
        // have equal bytes, or Merkle digests of equal objects would differ.
        let n = r.count()?;
        let mut vc = VectorClock::new();
        for _ in 0..n {
            let a = r.string()?;
            let c = r.uvarint()?;
            let ordered = vc
                .entries
                .last_key_value()
                .is_none_or(|(last, _)| *last < a);
            if c == 0 || !ordered {
                return Err(minide_common::Error::corrupt(format!(
                    "vector clock entry {a:?}:{c} is zero, duplicated or out of order"
                )));
            }
            vc.entries.insert(a, c);
        }
        Ok(vc)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![TAG_CLOCK];
        self.encode_into(&mut buf);
        buf
    }

    pub fn from_bytes(b: &[u8]) -> Result<VectorClock> {
        let mut r = Reader::new(b, TAG_CLOCK, "vector clock")?;
        let vc = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(vc)
    }
}

impl fmt::Display for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (a, n)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}:{n}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vc(pairs: &[(&str, u64)]) -> VectorClock {
        VectorClock::from_entries(pairs.iter().map(|(a, n)| (a.to_string(), *n)))
    }

    #[test]
    fn compare_cases() {
        assert_eq!(
            vc(&[("a", 2), ("b", 1)]).compare(&vc(&[("a", 1), ("b", 1)])),
            Causality::After
        );
        assert_eq!(
            vc(&[("a", 1)]).compare(&vc(&[("a", 1), ("b", 1)])),
            Causality::Before
        );
        assert_eq!(
            vc(&[("a", 2), ("b", 1)]).compare(&vc(&[("a", 1), ("b", 3)])),
            Causality::Concurrent
        );
        assert_eq!(vc(&[("a", 0)]).compare(&vc(&[])), Causality::Equal);
    }

    fn arb_clock() -> impl Strategy<Value = VectorClock> {
        proptest::collection::btree_map("[abc]", 0u64..4, 0..3).prop_map(VectorClock::from_entries)
    }

    proptest! {
        #[test]
        fn merge_laws(a in arb_clock(), b in arb_clock(), c in arb_clock()) {
            prop_assert_eq!(a.merged(&b), b.merged(&a));
            prop_assert_eq!(a.merged(&b).merged(&c), a.merged(&b.merged(&c)));
            prop_assert_eq!(a.merged(&a), a.clone());
            prop_assert!(a.merged(&b).descends(&a));
        }

        #[test]
        fn roundtrip(a in arb_clock()) {
            prop_assert_eq!(VectorClock::from_bytes(&a.to_bytes()).unwrap(), a);
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = VectorClock::from_bytes(&b);
        }
    }
}
