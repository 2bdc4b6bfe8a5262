//! minide kv: an LSM-tree, bitemporal time-travel key-value store. See `docs/kv.md`.
//!
//! Every write becomes a new *version* of its key, stamped with a commit timestamp from a hybrid
//! logical clock ([`hlc`]) and carrying a valid-time interval ([`mvcc`], [`bitemporal`]).
//! Writes go to the WAL ([`wal`]) with group commit, then the memtable ([`memtable`]); full
//! memtables are flushed to SSTables ([`sst`]) which leveled compaction merges ([`compaction`]),
//! dropping versions only as the retention policy allows. The set of tables lives in the
//! manifest ([`manifest`], [`version`]). Reads ([`read`]) merge the sources newest first
//! ([`iterators`]) through a block cache ([`cache`]). [`db`] ties it together.

pub mod bitemporal;
pub mod cache;
pub mod compaction;
pub mod db;
pub mod hlc;
pub mod inspect;
pub mod iterators;
pub mod manifest;
pub mod memtable;
pub mod multiget;
pub mod mvcc;
pub mod options;
pub mod read;
pub mod scan;
pub mod sst;
pub mod version;
pub mod wal;

pub use bitemporal::Retention;
pub use db::{Db, Snapshot};
pub use mvcc::Op;
pub use options::{Options, SyncMode};
pub use read::{HistoryEntry, Row};
pub use sst::Compression;
pub use wal::Recovery;
