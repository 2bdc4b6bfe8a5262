"""minide.columnar: see docs/columnar.md."""

# --- csv (python/minide/columnar/csv.py) ---
from minide.columnar.csv import CsvReader as CsvReader
from minide.columnar.csv import open_csv as open_csv
from minide.columnar.csv import read_csv as read_csv
from minide.columnar.csv import skipped_lines as skipped_lines
from minide.columnar.csv import skipped_rows as skipped_rows

# --- end csv ---
# --- parquet (python/minide/columnar/parquet.py) ---
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
    "FileMetadata",
    "ParquetFile",
    "RowGroupMetadata",
    "ScanStats",
    "inspect",
    "read_parquet",
    "write_parquet",
]
# --- end parquet ---
