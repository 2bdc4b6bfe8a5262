"""minide.columnar: a from-scratch Parquet writer/reader, a streaming CSV reader, Hive-partitioned
datasets and streaming CSV -> Parquet conversion.

See docs/columnar.md (Parquet layout, encodings, pushdown, datasets and conversion) and
docs/columnar-csv.md (the CSV tokenizer, chunking and inference).
"""

from minide.columnar.convert import ConversionReport, csv_to_parquet
from minide.columnar.csv import CsvReader, open_csv, read_csv, skipped_lines, skipped_rows
from minide.columnar.dataset import (
    Dataset,
    DatasetScanStats,
    WrittenFile,
    read_dataset,
    write_dataset,
)
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
    "ConversionReport",
    "CsvReader",
    "Dataset",
    "DatasetScanStats",
    "FileMetadata",
    "ParquetFile",
    "RowGroupMetadata",
    "ScanStats",
    "WrittenFile",
    "csv_to_parquet",
    "inspect",
    "open_csv",
    "read_csv",
    "read_dataset",
    "read_parquet",
    "skipped_lines",
    "skipped_rows",
    "write_dataset",
    "write_parquet",
]
