"""Datasets: ``write_dataset`` (Hive-partitioned directories) and ``read_dataset`` / ``Dataset``.

Layout (as pyarrow, Spark, DuckDB and Polars read and write it)::

    root/country=DE/year=2024/part-0.parquet
    root/country=FR/year=2024/part-0.parquet
    root/country=__HIVE_DEFAULT_PARTITION__/year=2024/part-0.parquet   (null country)

Writing runs in Rust (``rust/columnar/src/dataset``): batches are split by the partition
columns and streamed into one Parquet writer per directory. The files hold the other columns;
the partition values live only in the directory names (percent-escaped).

Reading (this module) discovers the files, types the partition values as pyarrow's Hive
partitioning infers them (int32 when every value is an integer in int32's range, else string),
prunes whole files by the filter's predicates on partition columns, hands the rest of the filter
to each file's own pushdown (row groups by statistics, pages by the page index, then exact row
filtering), and unifies the files' schemas: a column a file lacks reads as null, int32 -> int64
and float32 -> float64 widen, any other change raises ``SchemaError`` naming file and column.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from minide import _core
from minide.columnar._write_opts import build_write_options, file_schema, partition_list
from minide.columnar.filter import (
    Expr,
    Parsed,
    columns_of,
    parse_filter,
    residual,
    to_nnf,
    to_physical,
)
from minide.columnar.parquet import ParquetFile, _as_reader
from minide.errors import InvalidArgumentError, SchemaError

__all__ = [
    "Dataset",
    "DatasetScanStats",
    "WrittenFile",
    "read_dataset",
    "write_dataset",
]

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_INT32 = (-(2**31), 2**31 - 1)


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
    own pushdown (summed over the files read)."""

    files_total: int
    #: files skipped without opening: the filter is false for their partition values (or for
    #: columns they lack, which read as null)
    files_skipped: int
    row_groups_total: int
    row_groups_skipped: int
    pages_skipped: int
    rows_read: int
    rows_matched: int


@dataclass(frozen=True)
class _File:
    path: str
    partition: dict[str, str | None]


def _discover(root: str) -> tuple[list[_File], list[str]]:
    """Data files under `root` (names starting with "." or "_" are skipped, as pyarrow does)
    and the partition keys in directory order."""
    if os.path.isfile(root):
        return [_File(root, {})], []
    if not os.path.isdir(root):
        raise InvalidArgumentError(f"{root}: no such dataset (not a file or directory)")
    files: list[_File] = []
    keys: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        rel = os.path.relpath(dirpath, root)
        part: dict[str, str | None] = {}
        if rel != ".":
            for seg in rel.split(os.sep):
                if "=" not in seg:
                    continue
                k, v = seg.split("=", 1)
                key = urllib.parse.unquote(k)
                part[key] = None if v == NULL_PARTITION else urllib.parse.unquote(v)
                if key not in keys:
                    keys.append(key)
        for name in sorted(filenames):
            if not name.startswith((".", "_")):
                files.append(_File(os.path.join(dirpath, name), part))
    return files, keys


def _infer_partition_type(values: list[str | None]) -> pa.DataType:
    """pyarrow's Hive inference: int32 if every value is an integer that fits, else string."""
    present = [v for v in values if v is not None]
    if not present:
        return pa.string()
    try:
        ints = [int(v) for v in present]
    except ValueError:
        return pa.string()
    if all(_INT32[0] <= i <= _INT32[1] for i in ints):
        return pa.int32()
    return pa.string()


def _widen(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type both `a` and `b` read as, or None if the change is incompatible."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    for same_kind in (
        pa.types.is_signed_integer,
        pa.types.is_unsigned_integer,
        pa.types.is_floating,
    ):
        if same_kind(a) and same_kind(b):
            return a if a.bit_width >= b.bit_width else b
    strings = (pa.string(), pa.large_string())
    if a in strings and b in strings:
        return pa.large_string()
    return None


def _constant(value: Any, t: pa.DataType, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, t)
    return pa.repeat(pa.scalar(value, t), n)


class Dataset:
    """A directory of Parquet files (Hive-partitioned or not): files, unified schema, reads.

    ``schema`` has the files' columns (unified across files) then the partition columns.
    ``last_scan`` holds the counters of the last filtered ``read``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        found, keys = _discover(self.root)
        for f in found:
            missing = [k for k in keys if k not in f.partition]
            if missing:
                raise SchemaError(
                    f"{f.path}: not under a {missing[0]}=... directory like the other files "
                    f"(partition keys: {', '.join(keys)})"
                )
        self.partition_schema = pa.schema(
            [pa.field(k, _infer_partition_type([f.partition[k] for f in found])) for k in keys]
        )
        self._files: list[tuple[_File, dict[str, Any], pa.Schema]] = []
        unified: dict[str, tuple[pa.Field, str]] = {}
        for f in found:
            schema = ParquetFile(f.path).schema
            for fld in schema:
                if fld.name in keys:
                    raise SchemaError(
                        f"{f.path}: column {fld.name!r} is also a partition key of the dataset"
                    )
                if fld.name not in unified:
                    unified[fld.name] = (fld, f.path)
                    continue
                cur, first = unified[fld.name]
                t = _widen(cur.type, fld.type)
                if t is None:
                    raise SchemaError(
                        f"{f.path}: column {fld.name!r} is {fld.type}, incompatible with "
                        f"{cur.type} in {first}"
                    )
                unified[fld.name] = (pa.field(fld.name, t, True), first)
            values = {
                k: None if v is None else to_physical(v, self.partition_schema.field(k).type)
                for k, v in f.partition.items()
            }
            self._files.append((f, values, schema))
        self.schema = pa.schema([u[0] for u in unified.values()] + list(self.partition_schema))
        self.last_scan: DatasetScanStats | None = None

    @property
    def files(self) -> list[str]:
        return [f.path for f, _, _ in self._files]

    def _bind(self, e: Expr) -> Expr:
        """Check the filter's columns against the dataset schema; type partition literals."""
        kind = e[0]
        if kind in ("and", "or"):
            return (kind, self._bind(e[1]), self._bind(e[2]))
        if kind == "not":
            return ("not", self._bind(e[1]))
        col = e[1]
        if self.schema.get_field_index(col) < 0:
            raise SchemaError(
                f"filter column {col!r} is not in the dataset (columns: "
                f"{', '.join(self.schema.names)})"
            )
        idx = self.partition_schema.get_field_index(col)
        if idx < 0:
            return e  # file columns are bound per file by ParquetFile
        t = self.partition_schema.field(idx).type
        if kind == "cmp":
            return ("cmp", col, e[2], to_physical(e[3], t))
        if kind == "in":
            return ("in", col, [to_physical(v, t) for v in e[2]], e[3])
        return e

    def read(
        self,
        columns: Sequence[str] | None = None,
        filter: Any = None,
        *,
        threads: int | None = None,
    ) -> pa.Table:
        """Read the dataset (or ``columns``) into one Table, pruning by ``filter``."""
        names = list(self.schema.names) if columns is None else list(columns)
        for c in names:
            if self.schema.get_field_index(c) < 0:
                raise SchemaError(
                    f"column {c!r} is not in the dataset (columns: {', '.join(self.schema.names)})"
                )
        out_schema = pa.schema([self.schema.field(c) for c in names])
        expr = to_nnf(self._bind(parse_filter(filter))) if filter is not None else None
        tables: list[pa.Table] = []
        skipped = rg_total = rg_skipped = pages = rows_read = 0
        for f, values, schema in self._files:
            rest: Expr | bool = True
            if expr is not None:
                consts = dict(values)
                for c in columns_of(expr):
                    if c not in consts and schema.get_field_index(c) < 0:
                        consts[c] = None  # a column this file lacks is null in every row
                rest = residual(expr, consts)
            if rest is False:
                skipped += 1
                continue
            pf = ParquetFile(f.path)
            file_cols = [c for c in names if schema.get_field_index(c) >= 0]
            if rest is True:
                if file_cols:
                    t = pf.read(columns=file_cols, threads=threads)
                    n = t.num_rows
                else:
                    t, n = None, pf.num_rows
                rg_total += pf.num_row_groups
                rows_read += n
            elif isinstance(rest, tuple):
                read_cols = file_cols or sorted(columns_of(rest))[:1]
                t = pf.read(columns=read_cols, filter=Parsed(rest), threads=threads)
                n = t.num_rows
                s = pf.last_scan
                if s is not None:
                    rg_total += s.row_groups_total
                    rg_skipped += s.row_groups_skipped
                    pages += s.pages_skipped
                    rows_read += s.rows_read
            arrays = []
            for fld in out_schema:
                if fld.name in values:
                    arrays.append(_constant(values[fld.name], fld.type, n))
                elif t is not None and fld.name in file_cols:
                    col = t.column(fld.name)
                    arrays.append(col if col.type == fld.type else col.cast(fld.type))
                else:
                    arrays.append(pa.nulls(n, fld.type))
            tables.append(pa.Table.from_arrays(arrays, schema=out_schema))
        result = pa.concat_tables(tables) if tables else out_schema.empty_table()
        self.last_scan = DatasetScanStats(
            files_total=len(self._files),
            files_skipped=skipped,
            row_groups_total=rg_total,
            row_groups_skipped=rg_skipped,
            pages_skipped=pages,
            rows_read=rows_read,
            rows_matched=result.num_rows,
        )
        return result

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
