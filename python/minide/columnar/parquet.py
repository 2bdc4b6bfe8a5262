"""Parquet files: ``write_parquet``, ``read_parquet``, ``ParquetFile`` and ``inspect``.

The format is written and read by minide's own Rust engine (``rust/columnar/src/parquet``); this
module converts arguments, restores exact Arrow types from the ``ARROW:schema`` footer key (the
same key pyarrow writes, so pyarrow reads minide's files back with the original types and minide
reads pyarrow's), and wraps the footer in typed dataclasses. See docs/columnar.md.
"""

from __future__ import annotations

import base64
import itertools
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

from minide import _core
from minide.columnar.filter import Expr, bind, columns_of, may_match, parse_filter
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
    "write_parquet",
]

#: Threads used to encode/decode columns when the caller does not say (this machine has 2 cores).
DEFAULT_THREADS = max(1, min(2, os.cpu_count() or 1))

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
    """What the last filtered read did: row groups pruned by statistics, rows decoded and kept."""

    row_groups_total: int
    #: row groups skipped by min/max statistics or Bloom filters (the latter also counted below)
    row_groups_skipped: int
    #: row groups whose Bloom filters excluded every equality value
    row_groups_skipped_bloom: int
    #: data pages left unread because the page index excluded them (summed over columns)
    pages_skipped: int
    rows_read: int
    rows_matched: int


def _decode_stat(raw: bytes | None, physical: str, arrow_type: pa.DataType | None) -> Any:
    if raw is None:
        return None
    unsigned = arrow_type is not None and pa.types.is_unsigned_integer(arrow_type)
    if physical == "BOOLEAN":
        return bool(raw[0]) if raw else None
    if (
        arrow_type is not None
        and pa.types.is_decimal(arrow_type)
        and physical in ("INT32", "INT64")
        and len(raw) in (4, 8)
    ):
        # decimals stored as INT32/INT64 hold the unscaled value (little-endian)
        unscaled = struct.unpack("<i" if len(raw) == 4 else "<q", raw)[0]
        return Decimal(unscaled).scaleb(-arrow_type.scale)
    if physical == "INT32" and len(raw) == 4:
        return struct.unpack("<I" if unsigned else "<i", raw)[0]
    if physical == "INT64" and len(raw) == 8:
        return struct.unpack("<Q" if unsigned else "<q", raw)[0]
    if physical == "FLOAT" and len(raw) == 4:
        return struct.unpack("<f", raw)[0]
    if physical == "DOUBLE" and len(raw) == 8:
        return struct.unpack("<d", raw)[0]
    if arrow_type is not None and pa.types.is_decimal(arrow_type):
        return Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(-arrow_type.scale)
    if arrow_type is not None and (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or (pa.types.is_dictionary(arrow_type) and pa.types.is_string(arrow_type.value_type))
    ):
        return raw.decode("utf-8", errors="replace")
    return raw


def _hint_schema(kv: list[tuple[str, str | None]]) -> pa.Schema | None:
    for k, v in kv:
        if k == _ARROW_SCHEMA_KEY and v:
            try:
                return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(v)))
            except (ValueError, pa.ArrowException, OSError):
                return None  # a foreign or damaged hint: fall back to the Parquet types
    return None


def _target_type(ours: pa.DataType, hint: pa.DataType) -> pa.DataType:
    """The type to present: the hint's, except timestamps keep the unit stored in the file
    (pyarrow reads timestamp[s] back as timestamp[ms] too)."""
    if pa.types.is_timestamp(ours) and pa.types.is_timestamp(hint):
        return pa.timestamp(ours.unit, hint.tz)
    return hint


def _apply_hint(table: pa.Table, hint: pa.Schema | None) -> pa.Table:
    if hint is None:
        return table
    columns = []
    fields = []
    changed = False
    for i, f in enumerate(table.schema):
        col = table.column(i)
        idx = hint.get_field_index(f.name)
        if idx < 0:
            columns.append(col)
            fields.append(f)
            continue
        hf = hint.field(idx)
        target = _target_type(f.type, hf.type)
        if target != f.type:
            try:
                col = col.cast(target)
                changed = True
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                target = f.type
        fields.append(pa.field(f.name, target, f.nullable, hf.metadata))
        columns.append(col)
    schema = pa.schema(fields, metadata=hint.metadata)
    if not changed:
        return table.replace_schema_metadata(hint.metadata) if hint.metadata else table
    return pa.Table.from_arrays(columns, schema=schema)


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
    ``threads`` (default 2) encodes columns in parallel.
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
        threads=threads or DEFAULT_THREADS,
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
        self._hint = _hint_schema(self._kv)
        self._metadata: FileMetadata | None = None
        self._raw_schema: pa.Schema = self._reader.schema()
        #: per row group {column: (min, max, null_count, num_values)} in the file's own types,
        #: built on first use (pruning reads it for every filtered scan)
        self._raw_stats: list[dict[str, tuple[Any, Any, int | None, int]]] | None = None
        #: counters of the last read with a filter (None before the first one)
        self.last_scan: ScanStats | None = None

    @property
    def num_rows(self) -> int:
        return self._reader.num_rows

    @property
    def num_row_groups(self) -> int:
        return self._reader.num_row_groups

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema ``read`` returns."""
        return _apply_hint(self._reader.schema().empty_table(), self._hint).schema

    @property
    def metadata(self) -> FileMetadata:
        if self._metadata is None:
            self._metadata = self._build_metadata()
        return self._metadata

    def _build_metadata(self) -> FileMetadata:
        raw = self._reader.metadata()
        schema = self.schema
        rgs = []
        for g in raw["row_groups"]:
            cols = []
            for c in g["columns"]:
                idx = schema.get_field_index(c["path"])
                at = schema.field(idx).type if idx >= 0 else None
                s = c["statistics"]
                stats = None
                if s is not None:
                    stats = ColumnStatistics(
                        null_count=s["null_count"],
                        distinct_count=s["distinct_count"],
                        min=_decode_stat(s["min"], c["physical_type"], at),
                        max=_decode_stat(s["max"], c["physical_type"], at),
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

    def read(
        self,
        columns: Sequence[str] | None = None,
        filter: Any = None,
        *,
        threads: int | None = None,
    ) -> pa.Table:
        """Read the whole file (or ``columns``) into a pyarrow Table.

        ``filter`` (SQL string or (column, op, value) tuples) skips row groups whose statistics
        exclude a match, then keeps exactly the matching rows; see ``last_scan`` for counters.
        """
        cols = list(columns) if columns is not None else None
        if filter is None:
            table = self._reader.read(None, cols, threads or DEFAULT_THREADS)
            return _apply_hint(table, self._hint)
        expr = self._bind(filter)
        by_stats = self._prune(expr)
        groups = [g for g in by_stats if self._bloom_may_match(g, expr)]
        parts = []
        pages_skipped = rows_read = 0
        for g in groups:
            sel = self._select_rows(g, expr)
            if not sel:
                continue
            t, skipped = self._reader.read_selected(g, sel, cols, threads or DEFAULT_THREADS, expr)
            pages_skipped += skipped
            rows_read += sum(e - s for s, e in sel)
            parts.append(t)
        if parts:
            table = pa.concat_tables(parts)
        else:
            table = self._reader.read([], cols, threads or DEFAULT_THREADS, expr)
        self.last_scan = ScanStats(
            row_groups_total=self.num_row_groups,
            row_groups_skipped=self.num_row_groups - len(groups),
            row_groups_skipped_bloom=len(by_stats) - len(groups),
            pages_skipped=pages_skipped,
            rows_read=rows_read,
            rows_matched=table.num_rows,
        )
        return _apply_hint(table, self._hint)

    def _bloom_may_match(self, rg: int, e: Expr) -> bool:
        """False when Bloom filters prove no row of `rg` satisfies `e` (equality and IN only)."""
        kind = e[0]
        if kind == "and":
            return self._bloom_may_match(rg, e[1]) and self._bloom_may_match(rg, e[2])
        if kind == "or":
            return self._bloom_may_match(rg, e[1]) or self._bloom_may_match(rg, e[2])
        values: list[Any] | None = None
        if kind == "cmp" and e[2] == "=":
            values = [e[3]]
        elif kind == "in" and not e[3]:
            values = list(e[2])
        if values is None or e[1] not in self._reader.column_names:
            return True
        hit = self._reader.bloom_probe(rg, e[1], values)
        return hit is None or hit

    def _select_rows(self, rg: int, expr: Expr) -> list[tuple[int, int]]:
        """Row ranges of row group `rg` whose pages (by the page index) may match `expr`."""
        rows = self.metadata.row_groups[rg].num_rows
        chunks = {c.path: c for c in self.metadata.row_groups[rg].columns}
        pages: dict[str, list[tuple[int, int, tuple[Any, Any, int | None, int]]]] = {}
        for col in columns_of(expr):
            idx = self._raw_schema.get_field_index(col)
            entries = self._reader.page_index(rg, col) if col in chunks else None
            if idx < 0 or not entries:
                continue
            t = self._raw_schema.field(idx).type
            phys = chunks[col].physical_type
            bounds = [e["first_row"] for e in entries] + [rows]
            pages[col] = []
            for k, e in enumerate(entries):
                n = bounds[k + 1] - bounds[k]
                if e["null_page"]:
                    st: tuple[Any, Any, int | None, int] = (None, None, n, n)
                else:
                    st = (
                        _decode_stat(e["min"], phys, t),
                        _decode_stat(e["max"], phys, t),
                        e["null_count"],
                        n,
                    )
                pages[col].append((bounds[k], bounds[k + 1], st))
        if not pages:
            return [(0, rows)] if rows else []
        cuts = sorted({0, rows} | {p[0] for ps in pages.values() for p in ps})
        keep: list[tuple[int, int]] = []
        for s, e in itertools.pairwise(cuts):
            stats = {col: next(p[2] for p in ps if p[0] <= s < p[1]) for col, ps in pages.items()}
            if may_match(expr, stats):
                if keep and keep[-1][1] == s:
                    keep[-1] = (keep[-1][0], e)
                else:
                    keep.append((s, e))
        return keep

    def _bind(self, filter: Any) -> Expr:
        return bind(parse_filter(filter), self._raw_schema)

    def _row_group_stats(self, i: int) -> dict[str, tuple[Any, Any, int | None, int]]:
        if self._raw_stats is None:
            self._raw_stats = [self._group_stats(g) for g in self._reader.metadata()["row_groups"]]
        return self._raw_stats[i]

    def _group_stats(self, raw: dict[str, Any]) -> dict[str, tuple[Any, Any, int | None, int]]:
        out: dict[str, tuple[Any, Any, int | None, int]] = {}
        for c in raw["columns"]:
            s = c["statistics"]
            idx = self._raw_schema.get_field_index(c["path"])
            if s is None or idx < 0:
                continue
            t = self._raw_schema.field(idx).type
            out[c["path"]] = (
                _decode_stat(s["min"], c["physical_type"], t),
                _decode_stat(s["max"], c["physical_type"], t),
                s["null_count"],
                c["num_values"],
            )
        return out

    def _prune(self, expr: Expr) -> list[int]:
        """Row groups that may hold a matching row, judged by their column statistics."""
        return [i for i in range(self.num_row_groups) if may_match(expr, self._row_group_stats(i))]

    def scan(
        self,
        columns: Sequence[str] | None = None,
        filter: Any = None,
        *,
        batch_rows: int | None = 65_536,
        threads: int | None = None,
        exact: bool = True,
        decimals_as_float: bool = False,
        file_types: bool | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the file (or ``columns``) as record batches, keeping the rows where ``filter``
        holds, with late materialization.

        Row groups whose statistics or Bloom filters exclude a match are skipped. In each row
        group left, the filter's columns are decoded first and the predicate evaluated; the
        other columns are then decoded only for the matching rows (dictionary pages of
        fixed-width columns gather just those rows). Row groups are decoded in morsels of
        ``2 * threads`` groups spread over the threads, so memory stays bounded by a morsel.

        - ``batch_rows``: the largest batch yielded (None: one batch per row group);
        - ``exact=False``: a row group where most rows match, or whose filter needs the slow
          three-valued evaluator (strings, nulls, NOT), may be yielded whole: a superset of the
          matching rows, for callers that evaluate the predicate again (the SQL engine);
        - ``decimals_as_float``: INT32/INT64-backed decimals come out as float64 and the
          types are the file's own (the ``ARROW:schema`` hint is not applied);
        - ``file_types``: the file's own types, without the ``ARROW:schema`` hint (default:
          as ``decimals_as_float``); the SQL scan takes exact decimals with the file's string
          type, which its catalog uses as is (a hinted string_view would be copied back).

        When the iterator is exhausted, ``last_scan`` holds the counters (``pages_skipped`` is
        always 0 here: page-index pruning is ``read(filter=...)``'s, see ``skips_pages``).
        """
        if batch_rows is not None and batch_rows <= 0:
            raise InvalidArgumentError("batch_rows must be positive (or None)")
        cols = list(columns) if columns is not None else None
        n_threads = threads or DEFAULT_THREADS
        expr = None
        groups = list(range(self.num_row_groups))
        by_stats = groups
        if filter is not None:
            expr = self._bind(filter)
            by_stats = self._prune(expr)
            groups = [g for g in by_stats if self._bloom_may_match(g, expr)]
        rows_read = rows_out = 0
        morsel = 2 * max(1, n_threads)
        for i in range(0, len(groups), morsel):
            table, read = self._reader.scan(
                groups[i : i + morsel], cols, n_threads, expr, decimals_as_float, exact
            )
            rows_read += read
            rows_out += table.num_rows
            if not (decimals_as_float if file_types is None else file_types):
                table = _apply_hint(table, self._hint)
            for b in table.to_batches(max_chunksize=batch_rows):
                if b.num_rows:
                    yield b
        self.last_scan = ScanStats(
            row_groups_total=self.num_row_groups,
            row_groups_skipped=self.num_row_groups - len(groups),
            row_groups_skipped_bloom=len(by_stats) - len(groups),
            pages_skipped=0,
            rows_read=rows_read,
            rows_matched=rows_out,
        )

    def scan_schema(
        self,
        columns: Sequence[str] | None = None,
        *,
        decimals_as_float: bool = False,
        file_types: bool | None = None,
    ) -> pa.Schema:
        """The schema of the batches ``scan`` yields with the same arguments."""
        cols = list(columns) if columns is not None else None
        table, _ = self._reader.scan([], cols, 1, None, decimals_as_float, True)
        if decimals_as_float if file_types is None else file_types:
            return table.schema
        return _apply_hint(table, self._hint).schema

    def skips_pages(self, filter: Any) -> bool:
        """True if the page index excludes some pages of ``filter``'s columns in a row group
        the statistics keep: then ``read(filter=...)``, which leaves those pages unread, is
        the better path; else ``scan`` (late materialization) is."""
        expr = self._bind(filter)
        for g in self._prune(expr):
            rows = self.metadata.row_groups[g].num_rows
            if rows and self._select_rows(g, expr) != [(0, rows)]:
                return True
        return False

    def read_row_group(self, i: int, columns: Sequence[str] | None = None) -> pa.Table:
        if not 0 <= i < self.num_row_groups:
            raise InvalidArgumentError(
                f"row group {i} does not exist (file has {self.num_row_groups})"
            )
        cols = list(columns) if columns is not None else None
        return _apply_hint(self._reader.read([i], cols, DEFAULT_THREADS), self._hint)

    def iter_batches(
        self,
        batch_size: int = 65_536,
        columns: Sequence[str] | None = None,
        filter: Any = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream record batches of at most ``batch_size`` rows; one row group in memory."""
        if batch_size <= 0:
            raise InvalidArgumentError("batch_size must be positive")
        cols = list(columns) if columns is not None else None
        if filter is None:
            groups = list(range(self.num_row_groups))
            expr = None
        else:
            expr = self._bind(filter)
            groups = [g for g in self._prune(expr) if self._bloom_may_match(g, expr)]
        for i in groups:
            t = self._reader.read([i], cols, DEFAULT_THREADS, expr)
            yield from _apply_hint(t, self._hint).to_batches(max_chunksize=batch_size)

    def inspect(self) -> str:
        return self._reader.inspect()

    def __repr__(self) -> str:
        return f"ParquetFile({self.path!r}, rows={self.num_rows}, row_groups={self.num_row_groups})"


def read_parquet(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    filter: Any = None,
    threads: int | None = None,
) -> pa.Table:
    """Read a Parquet file (any writer's) into a pyarrow Table with minide's reader."""
    return ParquetFile(path).read(columns=columns, filter=filter, threads=threads)


def inspect(path: str | os.PathLike[str]) -> str:
    """Human-readable layout: row groups, column chunks, pages, encodings, statistics."""
    return _core.ParquetReader(os.fspath(path)).inspect()
