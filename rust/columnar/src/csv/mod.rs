//! CSV: a streaming RFC 4180 reader with type inference, producing Arrow batches.
//! See `docs/columnar-csv.md`.
//!
//! The pipeline, one file per step:
//! 1. [`chunker`]: reads the file piecewise and cuts it into blocks of whole records (a `\n`
//!    outside quotes), counting physical lines; only quote and newline bytes are examined.
//! 2. [`tokenizer`]: splits each record of a block into `(start, end)` field spans (RFC 4180
//!    state machine; unescaped copies only for fields with `""`).
//! 3. [`infer`] (when no schema is given): the per-column set of types every value fits.
//! 4. [`convert`] + [`parse`]: field text straight into Arrow buffers.
//! 5. [`decode`]: steps 2 and 4 for one block, with bad-row handling; [`reader`] runs blocks
//!    through it (in parallel when asked) and yields `RecordBatch`es.

mod chunker;
mod convert;
mod decode;
pub mod infer;
mod options;
pub mod parse;
mod reader;
mod tokenizer;

#[cfg(test)]
mod proptests;

pub use convert::NullMatcher;
pub use options::{CsvOptions, OnBadLines};
pub use reader::{CsvReader, CsvTable, infer_schema_full, read_csv};
