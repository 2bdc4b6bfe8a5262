"""Parquet files: ``write_parquet``, ``read_parquet``, ``ParquetFile`` and ``inspect``.

The format is written and read by minide's own Rust engine (``rust/columnar/src/parquet``);
reads go through the scan core (``rust/columnar/src/scan``): projection, predicate, pruning by
statistics, Bloom filters, dictionaries and the page index, late materialization, the
``ARROW:schema`` hint (the same key pyarrow writes, so pyarrow reads minide's files back with
the original types and minide reads pyarrow's) — all in Rust, crossing to Python once as Arrow.
This module converts arguments and wraps the footer in typed dataclasses. See docs/columnar.md.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from minide import _core, _memory
from minide._convert import resolve_threads
from minide.columnar.filter import Node, to_predicate
from minide.errors import InvalidArgumentError

__all__ = [
    "ColumnChunkMetadata",
    "ColumnStatistics",
    "FileMetadata",
    "ParquetFile",
    "RowGroupMetadata",
    "ScanStats",
    "inspect",
    "read_parquet",
    "resolve_threads",
    "write_parquet",
]

_ARROW_SCHEMA_KEY = "ARROW:schema"


@dataclass(frozen=True)
class ColumnStatistics:
    """Exact statistics of a column chunk; ``min``/``max`` in the physical representation
    (ints for dates and timestamps, ``Decimal`` for decimals, ``str`` for strings)."""

    null_count: int | None
    distinct_count: int | None
    min: Any
    max: Any
    has_min_max: bool


@dataclass(frozen=True)
class ColumnChunkMetadata:
    path: str
    physical_type: str
    codec: str
    encodings: tuple[str, ...]
    num_values: int
    total_compressed_size: int
    total_uncompressed_size: int
    data_page_offset: int
    dictionary_page_offset: int | None
    has_column_index: bool
    has_offset_index: bool
    statistics: ColumnStatistics | None


@dataclass(frozen=True)
class RowGroupMetadata:
    num_rows: int
    total_byte_size: int
    total_compressed_size: int | None
    columns: tuple[ColumnChunkMetadata, ...]


@dataclass(frozen=True)
class FileMetadata:
    """The footer of a Parquet file: row count, row groups and their column chunks."""

    num_rows: int
    created_by: str | None
    format_version: int
    row_groups: tuple[RowGroupMetadata, ...]
    key_value_metadata: dict[str, str | None] = field(default_factory=dict)

    @property
    def num_row_groups(self) -> int:
        return len(self.row_groups)

    @property
    def num_columns(self) -> int:
        return len(self.row_groups[0].columns) if self.row_groups else 0

    def column(self, row_group: int, name: str) -> ColumnChunkMetadata:
        for c in self.row_groups[row_group].columns:
            if c.path == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class ScanStats:
    """What the last read did (the scan core's counters): row groups pruned, rows decoded/kept."""

    row_groups_total: int
    #: row groups skipped by statistics, Bloom filters or dictionaries (all three)
    row_groups_skipped: int
    #: row groups whose Bloom filters excluded every equality value
    row_groups_skipped_bloom: int
    #: data pages left unread because the page index excluded them (summed over columns)
    pages_skipped: int
    #: rows decoded for the predicate (rows of the row groups / page ranges read)
    rows_read: int
    rows_matched: int
    #: row groups skipped by min/max statistics and null counts
    row_groups_skipped_statistics: int = 0
    #: row groups whose dictionaries hold no value the predicate accepts
    row_groups_skipped_dictionary: int = 0
    files_total: int = 1
    #: files skipped by their partition values (datasets)
    files_skipped: int = 0

    @staticmethod
    def from_counters(c: dict[str, int]) -> ScanStats:
        pruned = (
            c["row_groups_pruned_stats"]
            + c["row_groups_pruned_bloom"]
            + c["row_groups_pruned_dict"]
        )
        return ScanStats(
            row_groups_total=c["row_groups_total"],
            row_groups_skipped=pruned,
            row_groups_skipped_bloom=c["row_groups_pruned_bloom"],
            pages_skipped=c["pages_pruned"],
            rows_read=c["rows_decoded"],
            rows_matched=c["rows_matched"],
            row_groups_skipped_statistics=c["row_groups_pruned_stats"],
            row_groups_skipped_dictionary=c["row_groups_pruned_dict"],
            files_total=c["files_total"],
            files_skipped=c["files_pruned"],
        )

    def describe(self) -> str:
        """One line: what was pruned at each step and what was decoded."""
        files = (
            f"files skipped {self.files_skipped}/{self.files_total} by partition values; "
            if self.files_total > 1 or self.files_skipped
            else ""
        )
        return (
            f"{files}row groups skipped {self.row_groups_skipped}/{self.row_groups_total} "
            f"(statistics {self.row_groups_skipped_statistics}, bloom "
            f"{self.row_groups_skipped_bloom}, dictionary {self.row_groups_skipped_dictionary}), "
            f"pages skipped {self.pages_skipped}, rows decoded {self.rows_read:,}, "
            f"matched {self.rows_matched:,}"
        )


def _as_reader(data: Any) -> pa.RecordBatchReader:
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_batches(data.schema, [data])
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    raise InvalidArgumentError(
        f"write_parquet needs Arrow data (an object with __arrow_c_stream__: a pyarrow Table, "
        f"RecordBatchReader, Polars DataFrame, DuckDB relation), got {type(data).__name__}"
    )


def write_parquet(
    data: Any,
    path: str | os.PathLike[str],
    *,
    compression: str = "zstd",
    compression_level: int | None = None,
    row_group_size: int = 1_048_576,
    data_page_size: int = 1 << 20,
    dictionary: bool = True,
    statistics: bool = True,
    page_index: bool = True,
    bloom_filter_columns: Sequence[str] = (),
    data_page_version: str = "1.0",
    threads: int | None = None,
) -> FileMetadata:
    """Write Arrow data to a Parquet file with minide's own writer; returns the file's footer.

    ``compression`` takes pyarrow's names (none, snappy, zstd, lz4 = LZ4_RAW, gzip). Pages carry
    CRC32 checksums; statistics are exact; ``page_index`` writes ColumnIndex/OffsetIndex.
    ``threads`` (default: all cores) encodes columns in parallel.
    """
    if data_page_version not in ("1.0", "2.0"):
        raise InvalidArgumentError(
            f"data_page_version must be '1.0' or '2.0', got {data_page_version!r}"
        )
    if row_group_size <= 0 or data_page_size <= 0:
        raise InvalidArgumentError("row_group_size and data_page_size must be positive")
    reader = _as_reader(data)
    schema_b64 = base64.b64encode(reader.schema.serialize().to_pybytes()).decode("ascii")
    out = os.fspath(path)
    _core.parquet_write(
        reader,
        out,
        compression=compression,
        compression_level=compression_level,
        row_group_size=row_group_size,
        data_page_size=data_page_size,
        dictionary=dictionary,
        statistics=statistics,
        page_index=page_index,
        data_page_v2=data_page_version == "2.0",
        threads=resolve_threads(threads),
        key_value_metadata=[(_ARROW_SCHEMA_KEY, schema_b64)],
        bloom_filter_columns=list(bloom_filter_columns),
    )
    return ParquetFile(out).metadata


class ParquetFile:
    """An open Parquet file (footer parsed and validated); columns are decoded on ``read``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._reader = _core.ParquetReader(self.path)
        self._kv = self._reader.key_value_metadata()
        self._metadata: FileMetadata | None = None
        self._schema: pa.Schema | None = None
        #: counters of the last read or scan (None before the first one)
        self.last_scan: ScanStats | None = None

    @property
    def num_rows(self) -> int:
        return self._reader.num_rows

    @property
    def num_row_groups(self) -> int:
        return self._reader.num_row_groups

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema ``read`` returns (the ``ARROW:schema`` hint applied, in Rust)."""
        if self._schema is None:
            self._schema = self._reader.output_schema(None, False)
        return self._schema

    @property
    def metadata(self) -> FileMetadata:
        if self._metadata is None:
            self._metadata = self._build_metadata()
        return self._metadata

    def _build_metadata(self) -> FileMetadata:
        raw = self._reader.metadata()  # statistics decoded in Rust (scan::stats)
        rgs = []
        for g in raw["row_groups"]:
            cols = []
            for c in g["columns"]:
                s = c["statistics"]
                stats = None
                if s is not None:
                    stats = ColumnStatistics(
                        null_count=s["null_count"],
                        distinct_count=s["distinct_count"],
                        min=s["min"],
                        max=s["max"],
                        has_min_max=s["min"] is not None and s["max"] is not None,
                    )
                cols.append(
                    ColumnChunkMetadata(
                        path=c["path"],
                        physical_type=c["physical_type"],
                        codec=c["codec"],
                        encodings=tuple(c["encodings"]),
                        num_values=c["num_values"],
                        total_compressed_size=c["total_compressed_size"],
                        total_uncompressed_size=c["total_uncompressed_size"],
                        data_page_offset=c["data_page_offset"],
                        dictionary_page_offset=c["dictionary_page_offset"],
                        has_column_index=c["has_column_index"],
                        has_offset_index=c["has_offset_index"],
                        statistics=stats,
                    )
                )
            rgs.append(
                RowGroupMetadata(
                    num_rows=g["num_rows"],
                    total_byte_size=g["total_byte_size"],
                    total_compressed_size=g["total_compressed_size"],
                    columns=tuple(cols),
                )
            )
        return FileMetadata(
            num_rows=raw["num_rows"],
            created_by=raw["created_by"],
            format_version=raw["version"],
            row_groups=tuple(rgs),
            key_value_metadata=dict(self._kv),
        )

    def _predicate(self, filter: Any) -> Node | None:
        if filter is None:
            return None
        return to_predicate(filter, self._reader.column_names)

    def read(
        self,
        columns: Sequence[str] | None = None,
        filter: Any = None,
        *,
        threads: int | None = None,
    ) -> pa.Table:
        """Read the whole file (or ``columns``) into a pyarrow Table.

        ``filter`` (SQL string or (column, op, value) tuples) skips row groups by statistics,
        Bloom filters and dictionaries and pages by the page index, then keeps exactly the
        matching rows; see ``last_scan`` for the counters. ``threads=None``: all cores.
        """
        _memory.tune_once()  # keep freed memory for the next read (minide.keep_freed_memory)
        stream = self._reader.scan(
            _cols(columns),
            self._predicate(filter),
            threads=resolve_threads(threads),
            batch_size=None,
        )
        table = stream.read_all()
        self.last_scan = ScanStats.from_counters(stream.counters())
        return table

    def scan(
        self,
        columns: Sequence[str] | None = None,
        filter: Any = None,
        *,
        batch_rows: int | None = 65_536,
        threads: int | None = None,
        exact: bool = True,
        decimals_as_float: bool = False,
        limit: int | None = None,
        file_types: bool | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the file (or ``columns``) as record batches, keeping the rows where ``filter``
        holds, through the scan core (pruning, page index, late materialization).

        In each row group left after pruning, the filter's columns are decoded first and the
        predicate evaluated; the other columns are then decoded only for the matching rows.
        Row groups are decoded in morsels of ``2 * threads`` groups spread over the threads.

        - ``batch_rows``: the largest batch yielded (None: one batch per row group);
        - ``exact=False``: a row group where most rows match may be yielded whole (a superset
          of the matching rows, for callers that evaluate the predicate again: the SQL engine);
        - ``decimals_as_float``: INT32/INT64-backed decimals come out as float64 and the types
          are the file's own (the ``ARROW:schema`` hint is not applied);
        - ``file_types``: the types as stored, without the ``ARROW:schema`` hint (default:
          as ``decimals_as_float``): INT32/INT64-backed decimals of precision <= 18 come out
          as ``decimal64(p, s)`` (the stored integers, not widened to 128 bits), strings as
          the file's string type (the SQL engine's layout, used as is);
        - ``limit``: stop after this many rows.

        When the iterator is exhausted, ``last_scan`` holds the counters.
        """
        if batch_rows is not None and batch_rows <= 0:
            raise InvalidArgumentError("batch_rows must be positive (or None)")
        stream = self._reader.scan(
            _cols(columns),
            self._predicate(filter),
            limit=limit,
            threads=resolve_threads(threads),
            batch_size=batch_rows,
            exact=exact,
            decimals_as_float=decimals_as_float,
            file_types=file_types,
        )
        yield from stream
        self.last_scan = ScanStats.from_counters(stream.counters())

    def scan_schema(
        self,
        columns: Sequence[str] | None = None,
        *,
        decimals_as_float: bool = False,
        file_types: bool | None = None,
    ) -> pa.Schema:
        """The schema of the batches ``scan`` yields with the same arguments."""
        return self._reader.output_schema(_cols(columns), decimals_as_float, file_types)

    def skips_pages(self, filter: Any) -> bool:
        """True if the page index excludes some pages of ``filter``'s columns in a row group
        the other pruning keeps (the scan then decodes only the pages left)."""
        return self._reader.skips_pages(self._predicate(filter))

    def read_row_group(self, i: int, columns: Sequence[str] | None = None) -> pa.Table:
        if not 0 <= i < self.num_row_groups:
            raise InvalidArgumentError(
                f"row group {i} does not exist (file has {self.num_row_groups})"
            )
        stream = self._reader.scan(_cols(columns), row_groups=[i], batch_size=None)
        return stream.read_all()

    def iter_batches(
        self,
        batch_size: int = 65_536,
        columns: Sequence[str] | None = None,
        filter: Any = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream record batches of at most ``batch_size`` rows; one row group in memory."""
        if batch_size <= 0:
            raise InvalidArgumentError("batch_size must be positive")
        yield from self.scan(columns, filter, batch_rows=batch_size, threads=1)

    def inspect(self) -> str:
        return self._reader.inspect()

    def __repr__(self) -> str:
        return f"ParquetFile({self.path!r}, rows={self.num_rows}, row_groups={self.num_row_groups})"


def _cols(columns: Sequence[str] | None) -> list[str] | None:
    if isinstance(columns, str):
        raise InvalidArgumentError(f"columns must be a list of names, got the string {columns!r}")
    return list(columns) if columns is not None else None


def read_parquet(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    filter: Any = None,
    threads: int | None = None,
) -> pa.Table:
    """Read a Parquet file (any writer's) into a pyarrow Table with minide's reader.

    ``filter``: SQL text (``"x > 3 AND s IN ('a', 'b')"``) or pyarrow-style tuples
    (``[("x", ">", 3)]``; a list of lists is an OR). ``threads=None``: all cores."""
    return ParquetFile(path).read(columns=columns, filter=filter, threads=threads)


def inspect(path: str | os.PathLike[str]) -> str:
    """Human-readable layout: row groups, column chunks, pages, encodings, statistics."""
    return _core.ParquetReader(os.fspath(path)).inspect()
