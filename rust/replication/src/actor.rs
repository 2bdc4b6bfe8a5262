//! Actor names as vector clocks hold them.
//!
//! A clock entry is copied on every `merge` and `increment` and its name compared on every
//! `compare` and `descends`, so both must be cheap:
//! - an [`Actor`] is an `Arc<str>`: a copy shares the name (a reference-count bump), never copies
//!   the string;
//! - names are short in practice (a region id plus epoch, `"us-east#2"`), and two clocks built
//!   separately (decoded from bytes, made from a dict) hold separate copies of the same names,
//!   so equal names are tested by pointer first, then byte by byte inline: a `memcmp` call per
//!   name costs as much as the rest of a 5-actor `merge`.
//!
//! An `Actor` behaves exactly like the `str` it holds: `Eq`, `Ord`, `Hash`, `Debug` are `str`'s.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Names up to this many bytes are compared by an inline byte loop, longer ones by `memcmp`.
const SHORT: usize = 32;

/// An actor's name (see the module docs).
#[derive(Clone)]
pub struct Actor(Arc<str>);

impl Actor {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Actor {
    fn from(s: &str) -> Self {
        Actor(Arc::from(s))
    }
}

impl From<String> for Actor {
    fn from(s: String) -> Self {
        Actor(Arc::from(s))
    }
}

impl From<&String> for Actor {
    fn from(s: &String) -> Self {
        Actor(Arc::from(s.as_str()))
    }
}

impl Deref for Actor {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Actor {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Actor {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        Arc::ptr_eq(&self.0, &other.0)
            || (a.len() == b.len()
                && if a.len() <= SHORT {
                    a.iter().zip(b).all(|(x, y)| x == y)
                } else {
                    a == b
                })
    }
}

impl Eq for Actor {}

impl Ord for Actor {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if Arc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else if a.len().max(b.len()) <= SHORT {
            a.iter().cmp(b.iter())
        } else {
            a.cmp(b)
        }
    }
}

impl PartialOrd for Actor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Actor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use super::*;
    use proptest::prelude::*;

    fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    /// Names on both sides of `SHORT`, prefixes of each other, non-ASCII, with NUL bytes.
    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ab\u{0}é]{0,3}",
            "[ab]a{29,33}[ab\u{0}]{0,2}",
            proptest::sample::select(vec![
                String::new(),
                "a\u{0}".to_string(),
                "a".repeat(SHORT),
                "a".repeat(SHORT + 1),
            ]),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_str(a in arb_name(), b in arb_name()) {
            let (x, y) = (Actor::from(a.as_str()), Actor::from(b.clone()));
            prop_assert_eq!(x.as_str(), a.as_str());
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x == y, a == b);
            let shared = x.clone();
            prop_assert!(shared == x && shared.cmp(&x) == Ordering::Equal);
            prop_assert_eq!(hash_of(&x), hash_of(a.as_str()));
            prop_assert_eq!(format!("{x:?}"), format!("{a:?}"));
        }

        /// Equal-length names differing in one byte, anywhere, short and long.
        #[test]
        fn one_byte_apart(
            a in prop_oneof!["[ab]{1,8}", "[ab]{30,40}"],
            at in prop_oneof![Just(0), Just(usize::MAX), 0usize..40],
        ) {
            let mut bytes = a.clone().into_bytes();
            let k = at.min(bytes.len() - 1);
            bytes[k] = if bytes[k] == b'a' { b'b' } else { b'a' };
            let b = String::from_utf8(bytes).unwrap();
            let (x, y) = (Actor::from(a.as_str()), Actor::from(b.as_str()));
            prop_assert!(x != y);
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        }
    }
}
