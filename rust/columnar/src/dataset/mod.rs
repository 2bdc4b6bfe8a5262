//! Datasets: Hive-partitioned directories of Parquet files, and streaming CSV -> Parquet.
//! See `docs/columnar.md` ("Datasets and conversion").
//!
//! - [`hive`]: `key=value` path segments (value formatting and percent-escaping as pyarrow).
//! - [`split`]: cut a record batch into one batch per partition (dynamic partitions).
//! - [`writer`]: [`DatasetWriter`], one open [`FileWriter`](crate::parquet::writer::FileWriter)
//!   per partition directory, with a cap on open files and on buffered bytes.
//! - [`convert`]: [`CsvConversion`], CSV batches streamed into a file or a dataset, the CSV
//!   reader running on its own thread so parsing overlaps encoding.
//!
//! Reading datasets (discovery, partition pruning, schema evolution) lives in the Python facade
//! (`python/minide/columnar/dataset.py`) on top of the Parquet reader.

pub mod convert;
pub mod hive;
pub mod split;
pub mod writer;

pub use convert::{ConversionSummary, CsvConversion};
pub use writer::{DatasetOptions, DatasetWriter, ExistingData, WrittenFile};
