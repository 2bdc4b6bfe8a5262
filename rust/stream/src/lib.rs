//! minide stream: durable log, dedup state store, watermarks, checkpoints. See `docs/stream.md`.
//!
//! - [`dedup`]: the deduplicator (exact hash-table state or expiring cuckoo filters).
//! - [`watermark`]: event time, watermark and lateness.
//! - [`keyhash`]: Arrow key columns → one fixed-size key per row (int value or xxh3-128).
//! - [`log`]: the durable, partitioned, segmented log with consumer-group offsets.
//! - [`ingest`]: Redis Streams reads into Arrow arrays, msgpack → Arrow decoding.
//! - [`count`]: exact running counts per key (the `count_by` step).
//! - [`window`]: event-time windows (tumbling, hopping, session) per key, emitted as Arrow.
//! - [`checkpoint`]: the versioned, CRC-checked envelope and atomic file replacement.

pub mod checkpoint;
pub mod count;
pub mod dedup;
pub mod ingest;
pub mod keyhash;
pub mod log;
pub mod watermark;
pub mod window;
