//! Dotted version vectors: one key's sibling set and its causal context.
//!
//! A plain vector clock per *value* cannot tell "two writes the coordinator saw concurrently"
//! from "one write that replaced another" once values from many clients go through the same
//! region: every write the region coordinates bumps the same entry, so clocks of unrelated
//! writes look ordered, and siblings either explode (one per write, never collapsing) or are lost.
//! A dotted version vector gives every value its own [`Dot`], the single event that wrote it,
//! and keeps one causal context (a [`VectorClock`]) for the whole key:
//!
//! ```text
//!   Object { context: {us#1:3 eu#1:2},
//!            siblings: [ (us#1,3) "blue" ,  (eu#1,2) "red" ] }
//! ```
//!
//! The rules (Preguiça et al., "Dotted Version Vectors", and Riak's `dvvset`):
//! - **update** (a client write at a coordinator `actor` with the context it read): the new value
//!   gets the dot `(actor, n)` with `n` one past anything this key's context has for `actor`;
//!   every sibling whose dot the client's context covers is dropped (the client saw it and
//!   replaced it); siblings the client did not see stay. The context becomes
//!   local ∪ client ∪ new dot.
//! - **sync** (merging two replicas' objects): a sibling survives if the other side also has it
//!   or the other side's context does not cover its dot (the other side never saw it). A
//!   sibling is dropped only if the other side saw it and replaced it: sync drops exactly the
//!   dominated values. The contexts merge entry-wise.
//!
//! Invariant: every sibling's dot is covered by the object's own context.
//! Deletes write a tombstone sibling (value `None`) so the delete replicates and dominates like any
//! write; a key whose siblings are all tombstones reads as absent.

use std::fmt;

use minide_common::varint::put_uvarint;
use minide_common::{Error, Result};

use crate::clock::{Dot, VectorClock};
use crate::codec::{Reader, TAG_OBJECT, put_bytes};

/// One concurrent value of a key. `value == None` is a tombstone (a delete).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sibling {
    pub dot: Dot,
    /// Coordinator timestamp of the write (wall clock or simulated time), used by the LWW resolver.
    pub ts: u64,
    pub value: Option<Vec<u8>>,
}

/// A key's replicated state: its siblings (sorted by dot) and their common causal context.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Object {
    context: VectorClock,
    siblings: Vec<Sibling>,
}

impl Object {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn context(&self) -> &VectorClock {
        &self.context
    }

    pub fn siblings(&self) -> &[Sibling] {
        &self.siblings
    }

    /// The live values (tombstones left out), in dot order.
    pub fn values(&self) -> Vec<&[u8]> {
        self.siblings
            .iter()
            .filter_map(|s| s.value.as_deref())
            .collect()
    }

    /// True when the key reads as absent: no siblings, or only tombstones.
    pub fn is_absent(&self) -> bool {
        self.siblings.iter().all(|s| s.value.is_none())
    }

    /// A client write (or delete, with `value = None`) coordinated by `actor`.
    ///
    /// `client_ctx` is the context the client got from its last read of this key (empty for a
    /// blind write). Returns the new object and the dot that names this write.
    pub fn update(
        &self,
        actor: &str,
        client_ctx: &VectorClock,
        value: Option<Vec<u8>>,
        ts: u64,
    ) -> (Object, Dot) {
        let counter = self
            .context
            .get(actor)
            .max(client_ctx.get(actor))
            .saturating_add(1);
        let dot = Dot {
            actor: actor.to_string(),
            counter,
        };
        let mut siblings: Vec<Sibling> = self
            .siblings
            .iter()
            .filter(|s| !client_ctx.covers(&s.dot))
            .cloned()
            .collect();
        siblings.push(Sibling {
            dot: dot.clone(),
            ts,
            value,
        });
        siblings.sort_by(|a, b| a.dot.cmp(&b.dot));
        let mut context = self.context.merged(client_ctx);
        context.add_dot(&dot);
        (Object { context, siblings }, dot)
    }

    /// Merge two replicas of the same key; drops exactly the siblings one side has replaced.
    pub fn sync(&self, other: &Object) -> Object {
        let mut siblings: Vec<Sibling> = Vec::with_capacity(self.siblings.len());
        // Both lists are sorted by dot: a merge walk keeps the output sorted and deduplicated.
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.siblings, &other.siblings);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.dot == y.dot => {
                    siblings.push(x.clone());
                    i += 1;
                    j += 1;
                }
                (Some(x), y) if y.is_none_or(|y| x.dot < y.dot) => {
                    if !other.context.covers(&x.dot) {
                        siblings.push(x.clone());
                    }
                    i += 1;
                }
                (_, Some(y)) => {
                    if !self.context.covers(&y.dot) {
                        siblings.push(y.clone());
                    }
                    j += 1;
                }
                (_, None) => break,
            }
        }
        Object {
            context: self.context.merged(&other.context),
            siblings,
        }
    }

    /// `self` has seen everything `other` has, so syncing `other` into `self` changes nothing.
    /// (Every sibling of `other` is covered by `other`'s context, hence by `self`'s: `self`
    /// either holds it or replaced it.)
    pub fn descends(&self, other: &Object) -> bool {
        self.context.descends(&other.context)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![TAG_OBJECT];
        self.context.encode_into(&mut buf);
        put_uvarint(&mut buf, self.siblings.len() as u64);
        for s in &self.siblings {
            put_bytes(&mut buf, s.dot.actor.as_bytes());
            put_uvarint(&mut buf, s.dot.counter);
            put_uvarint(&mut buf, s.ts);
            match &s.value {
                None => buf.push(0),
                Some(v) => {
                    buf.push(1);
                    put_bytes(&mut buf, v);
                }
            }
        }
        buf
    }

    pub fn from_bytes(b: &[u8]) -> Result<Object> {
        let mut r = Reader::new(b, TAG_OBJECT, "replicated object")?;
        let context = VectorClock::decode_from(&mut r)?;
        let n = r.count()?;
        let mut siblings = Vec::with_capacity(n);
        for _ in 0..n {
            let actor = r.string()?;
            let counter = r.uvarint()?;
            let ts = r.uvarint()?;
            let value = match r.u8()? {
                0 => None,
                1 => Some(r.bytes()?.to_vec()),
                t => {
                    return Err(Error::corrupt(format!(
                        "replicated object: sibling flag {t} is neither 0 (tombstone) nor 1"
                    )));
                }
            };
            siblings.push(Sibling {
                dot: Dot { actor, counter },
                ts,
                value,
            });
        }
        r.finish()?;
        let sorted = siblings.windows(2).all(|w| w[0].dot < w[1].dot);
        if !sorted || !siblings.iter().all(|s| context.covers(&s.dot)) {
            return Err(Error::corrupt(
                "replicated object: siblings unsorted, duplicated or outside their context",
            ));
        }
        Ok(Object { context, siblings })
    }

    /// xxh3-64 of the canonical encoding: equal objects have equal digests (Merkle leaves).
    pub fn digest(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.to_bytes())
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [", self.context)?;
        for (i, s) in self.siblings.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match &s.value {
                Some(v) => write!(f, "{}={}", s.dot, String::from_utf8_lossy(v))?,
                None => write!(f, "{}=<deleted>", s.dot)?,
            }
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(o: &Object, actor: &str, ctx: &VectorClock, v: &str) -> Object {
        o.update(actor, ctx, Some(v.as_bytes().to_vec()), 0).0
    }

    #[test]
    fn concurrent_writes_become_siblings_and_collapse() {
        let empty = VectorClock::new();
        let a = put(&Object::new(), "a", &empty, "x");
        let b = put(&Object::new(), "b", &empty, "y");
        let m = a.sync(&b);
        assert_eq!(m.values(), vec![b"x".as_slice(), b"y".as_slice()]);
        // A client that read both siblings replaces them with one value.
        let c = put(&m, "a", &m.context().clone(), "z");
        assert_eq!(c.values(), vec![b"z".as_slice()]);
        // The old sibling on replica b is dominated: sync drops it.
        assert_eq!(b.sync(&c).values(), vec![b"z".as_slice()]);
        assert_eq!(c.sync(&b), b.sync(&c));
    }

    #[test]
    fn same_coordinator_concurrent_clients_keep_both() {
        // Two clients read the empty key, both write through the same region: siblings, not loss.
        let empty = VectorClock::new();
        let o1 = put(&Object::new(), "a", &empty, "x");
        let o2 = put(&o1, "a", &empty, "y");
        assert_eq!(o2.values().len(), 2);
    }

    /// Three replicas after a random history of client writes (with contexts read anywhere),
    /// blind writes and syncs.
    fn history(ops: &[(u8, usize, usize)]) -> Vec<Object> {
        let mut objs = vec![Object::new(), Object::new(), Object::new()];
        for (n, &(kind, i, j)) in ops.iter().enumerate() {
            let actor = format!("r{i}");
            objs[i] = match kind % 3 {
                0 => {
                    let ctx = objs[j].context().clone();
                    put(&objs[i], &actor, &ctx, &format!("v{n}"))
                }
                1 => put(&objs[i], &actor, &VectorClock::new(), &format!("b{n}")),
                _ => objs[i].sync(&objs[j]),
            };
        }
        objs
    }

    proptest::proptest! {
        #[test]
        fn sync_laws(ops in proptest::collection::vec((0u8..3, 0usize..3, 0usize..3), 0..20)) {
            let o = history(&ops);
            let (a, b, c) = (&o[0], &o[1], &o[2]);
            proptest::prop_assert_eq!(a.sync(b), b.sync(a));
            proptest::prop_assert_eq!(a.sync(b).sync(c), a.sync(&b.sync(c)));
            proptest::prop_assert_eq!(&a.sync(a), a);
            let m = a.sync(b);
            for (x, y) in [(a, b), (b, a)] {
                for s in x.siblings() {
                    let kept = m.siblings().contains(s);
                    let replaced = y.context().covers(&s.dot) && !y.siblings().contains(s);
                    proptest::prop_assert!(kept || replaced, "sync dropped a live sibling");
                }
            }
            proptest::prop_assert_eq!(Object::from_bytes(&m.to_bytes()).unwrap(), m);
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        let o = put(&Object::new(), "a", &VectorClock::new(), "x");
        let b = o.to_bytes();
        assert_eq!(Object::from_bytes(&b).unwrap(), o);
        for cut in 0..b.len() {
            assert!(Object::from_bytes(&b[..cut]).is_err());
        }
    }
}
