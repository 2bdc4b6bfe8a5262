//! Parquet: the file format, written and read from scratch (see docs/columnar.md).
//!
//! - [`thrift`]: the Thrift compact protocol codec (footer, page headers, page indexes).
//! - [`metadata`]: the parquet.thrift structs with their field ids.
//! - [`encodings`]: PLAIN, RLE/bit-packed hybrid, DELTA_*, BYTE_STREAM_SPLIT.
//! - [`compression`]: page codecs. [`stats`]: exact min/max in the type's order.
//! - [`writer`]: Arrow batches -> row groups -> column chunks -> pages -> file.
//! - [`reader`]: file -> footer -> pages -> Arrow batches, with checks at every step.
//! - [`bloom`]: split-block Bloom filters (written on request, probed by filters).
//! - [`filter`]: exact row filtering of decoded batches.
//! - [`inspect`]: a human-readable dump of a file's layout.

pub mod bloom;
pub mod compression;
pub mod encodings;
pub mod filter;
pub mod inspect;
pub mod metadata;
pub mod page_header;
pub mod page_index;
pub mod reader;
pub mod stats;
pub mod thrift;
pub mod writer;
