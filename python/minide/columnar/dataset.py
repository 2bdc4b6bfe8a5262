"""Datasets: ``write_dataset`` (Hive-partitioned directories) and ``read_dataset`` / ``Dataset``.

Layout (as pyarrow, Spark, DuckDB and Polars read and write it)::

    root/country=DE/year=2024/part-0.parquet
    root/country=FR/year=2024/part-0.parquet
    root/country=__HIVE_DEFAULT_PARTITION__/year=2024/part-0.parquet   (null country)

Writing runs in Rust (``rust/columnar/src/dataset``): batches are split by the partition
columns and streamed into one Parquet writer per directory. The files hold the other columns;
the partition values live only in the directory names (percent-escaped).

Reading runs in the scan core (``rust/columnar/src/scan/dataset.rs``): discovery, partition
values unescaped with the writer's codec and typed as pyarrow's Hive partitioning infers them
(int32 when every value is an integer in int32's range, else string), files pruned by the
filter's predicates on partition columns (and on columns a file lacks, which read as null),
the rest scanned like single files (row groups by statistics, Bloom filters and dictionaries,
pages by the page index, exact row filtering), row groups of all files in parallel, and the
files' schemas unified: int32 -> int64 and float32 -> float64 widen, any other change raises
``SchemaError`` naming file and column.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from minide import _core, _memory
from minide.columnar._write_opts import build_write_options, file_schema, partition_list
from minide.columnar.filter import to_predicate
from minide.columnar.parquet import ScanStats, _as_reader, _cols, resolve_threads
from minide.errors import InvalidArgumentError

__all__ = [
    "Dataset",
    "DatasetScanStats",
    "WrittenFile",
    "read_dataset",
    "write_dataset",
]


@dataclass(frozen=True)
class WrittenFile:
    """A Parquet file written by ``write_dataset`` / ``csv_to_parquet``."""

    path: str
    rows: int


def write_dataset(
    data: Any,
    root: str | os.PathLike[str],
    *,
    partition_by: str | Sequence[str] | None,
    existing_data_behavior: str = "error",
    compression: str = "zstd",
    basename_template: str = "part-{i}.parquet",
    max_open_files: int = 256,
    max_buffered_bytes: int = 256 << 20,
    **write_options: Any,
) -> list[WrittenFile]:
    """Write Arrow data as a Hive-partitioned dataset of Parquet files under ``root``.

    - ``partition_by``: column(s) whose values name the directories (``key=value/``, one level
      per column, in order); None or ``[]`` writes the files directly under ``root``. Partition
      columns must be integers, strings, booleans or dates; a null is
      ``__HIVE_DEFAULT_PARTITION__``.
    - ``existing_data_behavior`` (as pyarrow): ``"error"`` refuses a non-empty root,
      ``"overwrite_or_ignore"`` keeps other files and replaces files of the same name,
      ``"delete_matching"`` empties each partition directory this write puts a file into.
    - ``basename_template``: file names, ``{i}`` numbers the files of a directory.
    - ``max_open_files`` / ``max_buffered_bytes``: bounds for data with many partitions (the
      least recently used file is finished; the largest buffered row group is flushed early).
    - ``**write_options``: ``write_parquet``'s options (row_group_size, dictionary, ...).

    Returns the files written with their row counts.
    """
    parts = partition_list(partition_by)
    reader = _as_reader(data)
    opts = build_write_options(
        compression, file_schema(reader.schema, parts), write_options, "write_dataset"
    )
    if max_open_files < 1 or max_buffered_bytes < 1:
        raise InvalidArgumentError("max_open_files and max_buffered_bytes must be positive")
    files = _core.dataset_write(
        reader,
        os.fspath(root),
        partition_by=parts,
        existing_data_behavior=existing_data_behavior,
        basename_template=basename_template,
        max_open_files=max_open_files,
        max_buffered_bytes=max_buffered_bytes,
        write=opts,
    )
    return [WrittenFile(p, n) for p, n in files]


@dataclass(frozen=True)
class DatasetScanStats:
    """What the last ``Dataset.read`` did: files pruned by partition values, then the files'
    own pruning (summed over the files read)."""

    files_total: int
    #: files skipped without reading data: the filter is false for their partition values (or
    #: for columns they lack, which read as null)
    files_skipped: int
    row_groups_total: int
    row_groups_skipped: int
    pages_skipped: int
    rows_read: int
    rows_matched: int
    row_groups_skipped_bloom: int = 0
    row_groups_skipped_statistics: int = 0
    row_groups_skipped_dictionary: int = 0

    @staticmethod
    def from_counters(c: dict[str, int]) -> DatasetScanStats:
        s = ScanStats.from_counters(c)
        return DatasetScanStats(
            files_total=s.files_total,
            files_skipped=s.files_skipped,
            row_groups_total=s.row_groups_total,
            row_groups_skipped=s.row_groups_skipped,
            pages_skipped=s.pages_skipped,
            rows_read=s.rows_read,
            rows_matched=s.rows_matched,
            row_groups_skipped_bloom=s.row_groups_skipped_bloom,
            row_groups_skipped_statistics=s.row_groups_skipped_statistics,
            row_groups_skipped_dictionary=s.row_groups_skipped_dictionary,
        )

    def describe(self) -> str:
        return ScanStats(
            row_groups_total=self.row_groups_total,
            row_groups_skipped=self.row_groups_skipped,
            row_groups_skipped_bloom=self.row_groups_skipped_bloom,
            pages_skipped=self.pages_skipped,
            rows_read=self.rows_read,
            rows_matched=self.rows_matched,
            row_groups_skipped_statistics=self.row_groups_skipped_statistics,
            row_groups_skipped_dictionary=self.row_groups_skipped_dictionary,
            files_total=self.files_total,
            files_skipped=self.files_skipped,
        ).describe()


@dataclass(frozen=True)
class _File:
    path: str
    #: partition values as written in the path, unescaped; None = null partition
    partition: dict[str, str | None]


class Dataset:
    """A directory of Parquet files (Hive-partitioned or not): files, unified schema, reads.

    ``schema`` has the files' columns (unified across files) then the partition columns.
    ``last_scan`` holds the counters of the last ``read``/``scan``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._reader = _core.DatasetReader(self.root)
        self.schema: pa.Schema = self._reader.schema()
        self.partition_schema: pa.Schema = self._reader.partition_schema()
        keys = self.partition_schema.names
        self._files = [
            (_File(path, dict(zip(keys, values, strict=True))), rows, None)
            for path, values, rows in self._reader.files()
        ]
        self.last_scan: DatasetScanStats | None = None

    @property
    def files(self) -> list[str]:
        return [f.path for f, _, _ in self._files]

    def _stream(self, columns: Any, filter: Any, **kw: Any) -> Any:
        pred = to_predicate(filter, self.schema.names) if filter is not None else None
        return self._reader.scan(_cols(columns), pred, **kw)

    def read(
        self,
        columns: Sequence[str] | None = None,
        filter: Any = None,
        *,
        threads: int | None = None,
    ) -> pa.Table:
        """Read the dataset (or ``columns``) into one Table, pruning by ``filter``."""
        _memory.tune_once()  # keep freed memory for the next read (minide.keep_freed_memory)
        stream = self._stream(columns, filter, threads=resolve_threads(threads))
        table = stream.read_all()
        self.last_scan = DatasetScanStats.from_counters(stream.counters())
        return table

    def scan(
        self,
        columns: Sequence[str] | None = None,
        filter: Any = None,
        *,
        batch_size: int | None = 65_536,
        threads: int | None = None,
        limit: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the dataset as record batches (see ``ParquetFile.scan``)."""
        if batch_size is not None and batch_size <= 0:
            raise InvalidArgumentError("batch_size must be positive (or None)")
        stream = self._stream(
            columns, filter, threads=resolve_threads(threads), batch_size=batch_size, limit=limit
        )
        yield from stream
        self.last_scan = DatasetScanStats.from_counters(stream.counters())

    def __repr__(self) -> str:
        keys = ", ".join(self.partition_schema.names) or "none"
        return f"Dataset({self.root!r}, files={len(self._files)}, partitions=[{keys}])"


def read_dataset(
    root: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    filter: Any = None,
    threads: int | None = None,
) -> pa.Table:
    """Read a (Hive-partitioned) directory of Parquet files into a pyarrow Table.

    Partition columns come last, typed as pyarrow infers them. ``filter`` (SQL string or
    (column, op, value) tuples, as ``read_parquet``) prunes files by partition values, then row
    groups and pages inside the files. Counters: use :class:`Dataset` and its ``last_scan``.
    """
    return Dataset(root).read(columns=columns, filter=filter, threads=threads)
