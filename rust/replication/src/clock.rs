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

use std::cmp::Ordering;
use std::fmt;

use minide_common::Result;
use minide_common::varint::put_uvarint;

use crate::actor::Actor;
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
///
/// Stored as one vector of `(actor, count)` sorted by actor with no duplicates and no zero counts
/// (the canonical form: equal clocks have equal vectors, so derived `Eq`, `Ord` and `Hash` are
/// the map's). Clocks are small (one entry per region epoch), so a sorted vector beats a map:
/// `merged` is one allocation plus reference-count bumps (an [`Actor`] shares its name), and
/// `descends` / `compare` / `merged` are one linear walk over two sorted runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VectorClock {
    entries: Vec<(Actor, u64)>,
}

impl VectorClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock from `(actor, count)` pairs in any order; as if [`set`](Self::set) one by one
    /// (a later pair for the same actor wins, a zero count removes the actor).
    pub fn from_entries<A, I>(it: I) -> Self
    where
        A: Into<Actor>,
        I: IntoIterator<Item = (A, u64)>,
    {
        let mut entries: Vec<(Actor, u64)> = it.into_iter().map(|(a, n)| (a.into(), n)).collect();
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            // Stable: pairs of one actor keep their order, so the last one is the one kept.
            entries.sort_by(|x, y| x.0.cmp(&y.0));
            let mut kept: Vec<(Actor, u64)> = Vec::with_capacity(entries.len());
            for e in entries {
                match kept.last_mut() {
                    Some(last) if last.0 == e.0 => *last = e,
                    _ => kept.push(e),
                }
            }
            entries = kept;
        }
        entries.retain(|e| e.1 != 0);
        VectorClock { entries }
    }

    fn find(&self, actor: &str) -> std::result::Result<usize, usize> {
        self.entries.binary_search_by(|e| (*e.0).cmp(actor))
    }

    pub fn get(&self, actor: &str) -> u64 {
        self.find(actor).map_or(0, |i| self.entries[i].1)
    }

    /// Set one entry (0 removes it, so equal clocks have equal entries). `actor` is converted
    /// (allocated, for a `&str`) only when it is new to this clock.
    pub fn set<A: AsRef<str> + Into<Actor>>(&mut self, actor: A, n: u64) {
        match (self.find(actor.as_ref()), n) {
            (Ok(i), 0) => {
                self.entries.remove(i);
            }
            (Ok(i), n) => self.entries[i].1 = n,
            (Err(_), 0) => {}
            (Err(i), n) => self.entries.insert(i, (actor.into(), n)),
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, u64)> {
        self.entries.iter().map(|(a, n)| (&**a, *n))
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
        self.set(actor, n);
        Dot {
            actor: actor.to_string(),
            counter: n,
        }
    }

    /// A copy with one more event of `actor` (what [`increment`](Self::increment) does to a
    /// clone, with one allocation).
    pub fn incremented(&self, actor: &str) -> VectorClock {
        let mut entries = Vec::with_capacity(self.entries.len() + 1);
        entries.extend(self.entries.iter().cloned());
        let mut vc = VectorClock { entries };
        vc.increment(actor);
        vc
    }

    /// Entry-wise max, in place (the least upper bound of the two clocks).
    pub fn merge_from(&mut self, other: &VectorClock) {
        if !other.entries.is_empty() {
            *self = self.merged(other);
        }
    }

    /// Entry-wise max: the least upper bound of the two clocks.
    pub fn merged(&self, other: &VectorClock) -> VectorClock {
        let (a, b) = (&self.entries, &other.entries);
        if a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0) {
            // The same actors (the steady state): a copy of one with the max of both counts.
            let mut out = a.clone();
            for (x, y) in out.iter_mut().zip(b) {
                x.1 = x.1.max(y.1);
            }
            return VectorClock { entries: out };
        }
        // Room for the union (so no growing), at most twice what it needs.
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            match x.0.cmp(&y.0) {
                Ordering::Less => {
                    out.push(x.clone());
                    i += 1;
                }
                Ordering::Greater => {
                    out.push(y.clone());
                    j += 1;
                }
                Ordering::Equal => {
                    out.push(if x.1 >= y.1 { x.clone() } else { y.clone() });
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend(a[i..].iter().cloned());
        out.extend(b[j..].iter().cloned());
        VectorClock { entries: out }
    }

    /// Record a single dot (used when the dot's predecessors are known to be covered).
    pub fn add_dot(&mut self, dot: &Dot) {
        if dot.counter > self.get(&dot.actor) {
            self.set(dot.actor.as_str(), dot.counter);
        }
    }

    /// `self >= other` entry-wise: `self` has seen every event `other` has seen.
    pub fn descends(&self, other: &VectorClock) -> bool {
        let (a, b) = (&self.entries, &other.entries);
        // No zero entries: every actor of `other` must be one of `self`'s.
        if b.len() > a.len() {
            return false;
        }
        let mut i = 0;
        for y in b {
            loop {
                let Some(x) = a.get(i) else { return false };
                i += 1;
                match x.0.cmp(&y.0) {
                    Ordering::Less => {}
                    Ordering::Equal if x.1 >= y.1 => break,
                    _ => return false,
                }
            }
        }
        true
    }

    pub fn covers(&self, dot: &Dot) -> bool {
        self.get(&dot.actor) >= dot.counter
    }

    pub fn compare(&self, other: &VectorClock) -> Causality {
        let (a, b) = (&self.entries, &other.entries);
        // ge: self >= other so far; le: self <= other so far.
        let (mut ge, mut le) = (true, true);
        let (mut i, mut j) = (0, 0);
        while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            match x.0.cmp(&y.0) {
                Ordering::Less => {
                    le = false;
                    i += 1;
                }
                Ordering::Greater => {
                    ge = false;
                    j += 1;
                }
                Ordering::Equal => {
                    match x.1.cmp(&y.1) {
                        Ordering::Less => ge = false,
                        Ordering::Greater => le = false,
                        Ordering::Equal => {}
                    }
                    i += 1;
                    j += 1;
                }
            }
            if !ge && !le {
                return Causality::Concurrent;
            }
        }
        le &= i == a.len();
        ge &= j == b.len();
        match (ge, le) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (false, false) => Causality::Concurrent,
        }
    }

    pub(crate) fn encode_into(&self, buf: &mut Vec<u8>) {
        put_uvarint(buf, self.entries.len() as u64);
        for (a, n) in &self.entries {
            put_bytes(buf, a.as_bytes());
            put_uvarint(buf, *n);
        }
    }

    pub(crate) fn decode_from(r: &mut Reader<'_>) -> Result<VectorClock> {
        // Canonical form only (actors strictly increasing, no zero counts): equal clocks must
        // have equal bytes, or Merkle digests of equal objects would differ.
        let n = r.count()?;
        let mut entries: Vec<(Actor, u64)> = Vec::with_capacity(n);
        for _ in 0..n {
            let a = r.str()?;
            let c = r.uvarint()?;
            let ordered = entries.last().is_none_or(|(last, _)| **last < *a);
            if c == 0 || !ordered {
                return Err(minide_common::Error::corrupt(format!(
                    "vector clock entry {a:?}:{c} is zero, duplicated or out of order"
                )));
            }
            entries.push((Actor::from(a), c));
        }
        Ok(VectorClock { entries })
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
    use std::collections::BTreeMap;

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

    type Model = BTreeMap<String, u64>;

    fn arb_pairs() -> impl Strategy<Value = Vec<(String, u64)>> {
        proptest::collection::vec((arb_actor(), 0u64..5), 0..8)
    }

    fn arb_actor() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[a-e]{1,2}",
            1 => proptest::sample::select(vec![
                String::new(),
                "a".repeat(32),
                "a".repeat(33),
                "a".repeat(33) + "b",
            ]),
        ]
    }

    fn model_set(m: &mut Model, actor: &str, n: u64) {
        if n == 0 {
            m.remove(actor);
        } else {
            m.insert(actor.to_string(), n);
        }
    }

    fn model_of(pairs: &[(String, u64)]) -> Model {
        let mut m = Model::new();
        for (a, n) in pairs {
            model_set(&mut m, a, *n);
        }
        m
    }

    fn model_get(m: &Model, actor: &str) -> u64 {
        m.get(actor).copied().unwrap_or(0)
    }

    fn model_merge(x: &Model, y: &Model) -> Model {
        let mut out = x.clone();
        for (a, &n) in y {
            let e = out.entry(a.clone()).or_insert(0);
            *e = (*e).max(n);
        }
        out
    }

    fn model_descends(x: &Model, y: &Model) -> bool {
        y.iter().all(|(a, &n)| model_get(x, a) >= n)
    }

    fn model_compare(x: &Model, y: &Model) -> Causality {
        match (model_descends(x, y), model_descends(y, x)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (false, false) => Causality::Concurrent,
        }
    }

    /// The byte format, spelled out: tag, entry count, then (actor, count) in actor order.
    fn model_bytes(m: &Model) -> Vec<u8> {
        let mut buf = vec![TAG_CLOCK];
        put_uvarint(&mut buf, m.len() as u64);
        for (a, &n) in m {
            put_bytes(&mut buf, a.as_bytes());
            put_uvarint(&mut buf, n);
        }
        buf
    }

    fn as_model(vc: &VectorClock) -> Model {
        vc.iter().map(|(a, n)| (a.to_string(), n)).collect()
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

        /// Every operation against a `BTreeMap` model (what `VectorClock` was before it became a
        /// sorted vector), from unsorted input with duplicate actors and zero counts. Actor names
        /// are short and long (compared inline or not), some prefixes of others.
        #[test]
        fn matches_btreemap_model(
            p in arb_pairs(),
            q in arb_pairs(),
            actor in arb_actor(),
            n in 0u64..5,
        ) {
            let (a, b) = (VectorClock::from_entries(p.clone()), VectorClock::from_entries(q.clone()));
            let (ma, mb) = (model_of(&p), model_of(&q));
            prop_assert_eq!(as_model(&a), ma.clone());
            let m = a.merged(&b);
            let mm = model_merge(&ma, &mb);
            prop_assert_eq!(as_model(&m), mm.clone());
            let mut mf = a.clone();
            mf.merge_from(&b);
            prop_assert_eq!(&mf, &m);
            let i = m.incremented(&actor);
            let mut mi = mm.clone();
            model_set(&mut mi, &actor, model_get(&mm, &actor) + 1);
            prop_assert_eq!(as_model(&i), mi.clone());
            // The actors of `a` (names not shared with it), other counts.
            let mc: Model = ma.keys().map(|k| (k.clone(), n + 1)).collect();
            let c = VectorClock::from_entries(mc.clone());
            let all = [(&a, &ma), (&b, &mb), (&m, &mm), (&i, &mi), (&c, &mc)];
            for (x, mx) in all {
                for (y, my) in all {
                    prop_assert_eq!(as_model(&x.merged(y)), model_merge(mx, my));
                    prop_assert_eq!(x.compare(y), model_compare(mx, my));
                    prop_assert_eq!(x.descends(y), model_descends(mx, my));
                    prop_assert_eq!(x.cmp(y), mx.cmp(my));
                    prop_assert_eq!(x == y, mx == my);
                }
                prop_assert_eq!(x.to_bytes(), model_bytes(mx));
                prop_assert_eq!(x.get(&actor), model_get(mx, &actor));
                prop_assert_eq!(x.len(), mx.len());
            }
            let mut s = a.clone();
            s.set(actor.as_str(), n);
            let mut ms = ma.clone();
            model_set(&mut ms, &actor, n);
            prop_assert_eq!(as_model(&s), ms);
            let mut d = a.clone();
            let dot = d.increment(&actor);
            prop_assert_eq!(dot.counter, model_get(&ma, &actor) + 1);
            prop_assert!(d.covers(&dot) && !a.covers(&dot));
            prop_assert_eq!(&d, &a.incremented(&actor));
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = VectorClock::from_bytes(&b);
        }
    }
}
