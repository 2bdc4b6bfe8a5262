"""minide.columnar: see docs/columnar.md."""

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
