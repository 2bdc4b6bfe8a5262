//! Building blocks shared by every minide engine crate.
//!
//! Nothing here knows about Python: the engine crates (columnar, sql, kv, ...) depend on this crate,
//! and only `rust/bindings` turns [`Error`] into Python exceptions.
//!
//! - [`error`]: the one error type every engine returns, with kinds that map 1:1 to
//!   `minide.errors` classes.
//! - [`varint`]: LEB128 varints and zigzag, as used by Thrift compact, the WAL and SST blocks.
//! - [`durable`]: the atomic write (temp file, fsync, rename, fsync of the directory).
//! - [`fd`]: is a socket readable right now (the connection pool's idle probe).
//! - [`crc`]: CRC32C (Castagnoli) with LevelDB-style masking for checksums stored next to data.
//! - [`keyenc`]: order-preserving ("memcomparable") key encoding, so byte order = logical order.
//! - [`hash`]: xxh3-64 of single Arrow values, the kernel behind `minide.hash_column`.
//! - [`time`]: calendar days, ISO 8601 dates/timestamps, time units.
//! - [`rowkey`]: the one row-key encoder/hasher over Arrow key columns (sql, stream, kv).
//! - [`prefetch`]: a cache-line prefetch hint, for hot loops that know their next random access.

pub mod crc;
pub mod durable;
pub mod error;
pub mod fd;
pub mod hash;
pub mod keyenc;
pub mod rowkey;
pub mod time;
pub mod varint;

pub use error::{Error, Result};

/// Ask for the cache line holding `p` ahead of use, so that the misses of several upcoming
/// random accesses overlap (the kv store's multi-get, the dedup stores' table lines).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
