"""minide.columnar: a from-scratch Parquet writer/reader and a streaming CSV reader.

See docs/columnar.md (Parquet layout, encodings, pushdown) and docs/columnar-csv.md (the CSV
tokenizer, chunking and inference).
"""

from minide.columnar.csv import CsvReader, open_csv, read_csv, skipped_lines, skipped_rows
from minide.columnar.parquet import (
    ColumnChunkMetadata,
    ColumnStatistics,
    FileMetadata,
    ParquetFile,
    RowGroupMetadata,
    ScanStats,
    inspect,
    read_parquet,
    write_parquet,
)

__all__ = [
    "ColumnChunkMetadata",
    "ColumnStatistics",
    "CsvReader",
    "FileMetadata",
    "ParquetFile",
    "RowGroupMetadata",
    "ScanStats",
    "inspect",
    "open_csv",
    "read_csv",
    "read_parquet",
    "skipped_lines",
    "skipped_rows",
    "write_parquet",
]
