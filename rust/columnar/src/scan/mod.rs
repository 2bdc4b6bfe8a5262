//! The scan core: ONE read path for Parquet files and Hive datasets, shared by every engine
//! that reads files (the columnar package, the SQL engine's file scans, and what comes next).
//!
//! ```text
//! predicate tree (typed literals) ── bind to the schema (bind.rs)
//!   → partition pruning: files whose partition values rule it out (dataset.rs)
//!   → row groups: min/max statistics → Bloom filters → dictionaries (prune.rs, dictionary.rs)
//!   → page index: row ranges of the pages that may match (prune.rs::select_pages)
//!   (a join's build keys, [`KeySet`], prune and filter like any other leaf)
//!   → late materialization: filter columns first, the others for matching rows
//!     (parquet/reader/scan.rs)
//!   → shaping: ARROW:schema hint types, partition constants, widening (hint.rs, convert.rs)
//!   → batches of `batch_size` rows + counters (driver.rs)
//! ```
//!
//! Entry points: [`scan_file`] (one open file), [`Dataset::open`] + [`Dataset::scan`], or
//! [`scan_path`] (either, by what `path` is). Open files and decoded footers are cached by
//! (path, size, mtime, inode) ([`cache::open_cached`]).

pub mod bind;
pub mod cache;
pub mod convert;
pub mod dataset;
pub mod dictionary;
mod driver;
mod file;
pub mod hint;
mod ipc_schema;
pub mod keyset;
pub mod predicate;
pub mod prune;
pub mod stats;

use std::path::Path;

pub use dataset::Dataset;
pub use driver::{Scan, ScanCounters, ScanSpec};
pub use file::{decoded_schema, file_output_schema, pages_prunable, scan_file};
pub use ipc_schema::decode_hint;
pub use keyset::KeySet;
pub use predicate::{CmpOp, Literal, Predicate};

use minide_common::Result;

/// Scan `path`: a Parquet file, or a directory read as a (Hive-partitioned) dataset.
pub fn scan_path(path: &Path, spec: ScanSpec) -> Result<Scan> {
    if path.is_dir() {
        Dataset::open(path)?.scan(spec)
    } else {
        scan_file(cache::open_cached(path)?, spec)
    }
}

#[cfg(test)]
mod tests;
