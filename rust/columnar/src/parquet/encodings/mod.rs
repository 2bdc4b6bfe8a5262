//! Parquet value encodings (Encodings.md): one file per encoding family.
//!
//! - [`plain`]: PLAIN for every physical type, and BYTE_STREAM_SPLIT (read).
//! - [`rle`]: the RLE / bit-packed hybrid (levels, dictionary indices, RLE booleans).
//! - [`delta`]: DELTA_BINARY_PACKED (write + read), DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY
//!   (read).
//! - Dictionary encoding is PLAIN values in a dictionary page plus RLE indices in data pages; the
//!   writer builds dictionaries in `writer/dictionary.rs`.

pub mod delta;
pub mod plain;
pub mod rle;
