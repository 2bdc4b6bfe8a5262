//! minide's columnar engine (issue: columnar). See `docs/columnar.md`.
//!
//! - [`parquet`]: Thrift compact codec, encodings, pages, writer and reader of Parquet files.
//! - [`csv`]: a streaming CSV reader with type inference that produces Arrow batches.
//! - [`dataset`]: Hive-partitioned datasets and streaming CSV -> Parquet conversion.

pub mod csv;
pub mod dataset;
pub mod parquet;
pub mod scan;
