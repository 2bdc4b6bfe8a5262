//! Building blocks shared by every minide engine crate.
//!
//! Nothing here knows about Python: the engine crates (columnar, sql, kv, ...) depend on this crate,
//! and only `rust/bindings` turns [`Error`] into Python exceptions.
//!
//! - [`error`]: the one error type every engine returns, with kinds that map 1:1 to
//!   `minide.errors` classes.
//! - [`varint`]: LEB128 varints and zigzag, as used by Thrift compact, the WAL and SST blocks.
//! - [`crc`]: CRC32C (Castagnoli) with LevelDB-style masking for checksums stored next to data.
//! - [`keyenc`]: order-preserving ("memcomparable") key encoding, so byte order = logical order.
//! - [`hash`]: xxh3-64 over Arrow arrays, the kernel behind `minide.hash_column`.

pub mod crc;
pub mod error;
pub mod hash;
pub mod keyenc;
pub mod varint;

pub use error::{Error, Result};
