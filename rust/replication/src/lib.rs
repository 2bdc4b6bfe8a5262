//! minide replication: the data structures behind multi-region, active-active replication.
//! See `docs/replication.md` for the whole story.
//!
//! - [`actor`]: actor names as clocks hold them (shared, cheap to copy and compare).
//! - [`clock`]: vector clocks (version vectors), dots and the happens-before order.
//! - [`dvv`]: dotted version vectors: a key's sibling set + causal context, with `update` (a
//!   client write) and `sync` (merging replicas, dropping only dominated values).
//! - [`crdt`]: GCounter, PNCounter, add-wins ORSet with dots, LWW register.
//! - [`merkle`]: Merkle trees over key-hash ranges (xxh3) for anti-entropy.
//! - `codec`: the tagged binary encoding of all of the above (`to_bytes` / `from_bytes`).
//!
//! The replica state machine and the deterministic simulator that drive these structures live in
//! `python/minide/replication/` (orchestration); everything per-key and per-hash is here.

mod codec;

pub mod actor;
pub mod clock;
pub mod crdt;
pub mod dvv;
pub mod merkle;

pub use actor::Actor;
pub use clock::{Causality, Dot, VectorClock};
pub use crdt::{GCounter, LwwRegister, OrSet, PNCounter};
pub use dvv::{Object, Sibling};
pub use merkle::MerkleTree;
