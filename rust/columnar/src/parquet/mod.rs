//! Parquet: the file format, written and read from scratch (see docs/columnar.md).
