"""CSV reading: :func:`read_csv` (whole file) and :func:`open_csv` (streaming, bounded memory).

Both run the Rust reader of ``rust/columnar/src/csv`` (see ``docs/columnar-csv.md``): RFC 4180
quoting (doubled quotes, newlines inside quotes), CRLF, a UTF-8 BOM, type inference over the first
``infer_rows`` records or an explicit ``pyarrow.Schema``, null markers, and bad records reported
with their physical line number or skipped and counted.

Skipped records (``on_bad_lines="skip"``) are counted: :func:`read_csv` stores the count in the
table's schema metadata under ``b"minide.csv.skipped_rows"`` and the physical line numbers of
the first 1000 under ``b"minide.csv.skipped_lines"`` (read them with :func:`skipped_rows` and
:func:`skipped_lines`); the :class:`CsvReader` of :func:`open_csv` has ``skipped`` and
``skipped_lines`` attributes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from minide import _core
from minide.errors import InvalidArgumentError

__all__ = [
    "SKIPPED_LINES_KEY",
    "SKIPPED_ROWS_KEY",
    "CsvReader",
    "open_csv",
    "read_csv",
    "skipped_lines",
    "skipped_rows",
]

#: Schema metadata key of :func:`read_csv` results with ``on_bad_lines="skip"``.
SKIPPED_ROWS_KEY = b"minide.csv.skipped_rows"
#: Schema metadata key: comma-separated line numbers of the first 1000 skipped records.
SKIPPED_LINES_KEY = b"minide.csv.skipped_lines"

OnBadLines = Literal["error", "skip"]


def _options(
    schema: pa.Schema | None,
    null_values: Sequence[str],
    infer_rows: int,
    on_bad_lines: str,
    batch_size: int,
    threads: int | None,
) -> dict[str, Any]:
    if schema is not None and not isinstance(schema, pa.Schema):
        raise InvalidArgumentError(f"schema must be a pyarrow.Schema, got {type(schema).__name__}")
    if isinstance(null_values, str) or not all(isinstance(v, str) for v in null_values):
        raise InvalidArgumentError("null_values must be a sequence of strings, e.g. ('', 'NA')")
    if on_bad_lines not in ("error", "skip"):
        raise InvalidArgumentError(f"on_bad_lines must be 'error' or 'skip', got {on_bad_lines!r}")
    if infer_rows < 0:
        raise InvalidArgumentError(f"infer_rows must be >= 0, got {infer_rows}")
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    n = (os.cpu_count() or 1) if threads is None else threads
    if n < 1:
        raise InvalidArgumentError(f"threads must be >= 1, got {threads}")
    return {
        "schema": schema,
        "null_values": list(null_values),
        "infer_rows": infer_rows,
        "on_bad_lines": on_bad_lines,
        "batch_size": batch_size,
        "threads": n,
    }


def read_csv(
    path: str | os.PathLike[str],
    *,
    schema: pa.Schema | None = None,
    delimiter: str = ",",
    quote: str = '"',
    header: bool = True,
    null_values: Sequence[str] = ("",),
    infer_rows: int = 10_000,
    on_bad_lines: OnBadLines = "error",
    threads: int | None = None,
) -> pa.Table:
    """Read a whole CSV file into a ``pyarrow.Table``.

    - ``schema``: read these columns with these types (by name when ``header`` is true, so a
      subset of the columns can be read; by position otherwise). Without it, types are inferred
      from the first ``infer_rows`` records: int64, float64, bool, date32, timestamp[us] (with
      ``tz="UTC"`` when values carry ``Z`` or an offset), else string.
    - If a later value does not fit an inferred type, the type is widened (int64 -> float64 ->
      string, date32 -> timestamp -> string) and the file is read again: no value is rejected
      because inference looked only at the first records.
    - ``null_values``: field texts read as null, in every column including strings, quoted or
      not (a quoted empty field ``""`` is empty text too); other words (``"null"``, ``"NA"``,
      ``"NaN"``) stay text in string columns unless listed.
    - ``on_bad_lines``: a record with the wrong number of fields, an unclosed quote at the end
      of the file, or (with ``schema``) a value that does not parse raises
      :class:`~minide.errors.CorruptFileError` / :class:`~minide.errors.SchemaError` naming its
      line (1-based physical line), or with ``"skip"`` is dropped and counted in the schema
      metadata (see :func:`skipped_rows`).
    - ``threads``: decode threads (default: all cores); 1 decodes in the calling thread.

    Raises :class:`~minide.errors.MinideIOError` for a missing file and
    :class:`~minide.errors.CorruptFileError` for text that is not UTF-8.
    """
    opts = _options(schema, null_values, infer_rows, on_bad_lines, 65_536, threads)
    table, skipped, lines = _core.csv_read(
        os.fspath(path), delimiter=delimiter, quote=quote, header=header, **opts
    )
    if on_bad_lines == "skip":
        meta = dict(table.schema.metadata or {})
        meta[SKIPPED_ROWS_KEY] = str(skipped).encode()
        meta[SKIPPED_LINES_KEY] = ",".join(map(str, lines)).encode()
        table = table.replace_schema_metadata(meta)
    return table


def skipped_rows(table: pa.Table) -> int:
    """How many records :func:`read_csv` skipped (``on_bad_lines="skip"``); 0 if none recorded."""
    meta = table.schema.metadata or {}
    return int(meta.get(SKIPPED_ROWS_KEY, b"0"))


def skipped_lines(table: pa.Table) -> list[int]:
    """Physical line numbers of the first 1000 records :func:`read_csv` skipped."""
    raw = (table.schema.metadata or {}).get(SKIPPED_LINES_KEY, b"")
    return [int(x) for x in raw.split(b",") if x]


class CsvReader:
    """An open CSV file: iterate it for ``pyarrow.RecordBatch``es of ``batch_size`` records.

    Memory stays bounded (a few batches of raw text) whatever the file size. ``schema`` is known
    before the first batch; ``skipped`` counts records dropped so far with
    ``on_bad_lines="skip"`` (``skipped_lines``: their line numbers); ``bytes_read`` tells the progress through the file. The reader is
    also an Arrow stream (``__arrow_c_stream__``), so ``pa.table(reader)`` or any consumer of
    Arrow streams can take it directly.
    """

    def __init__(self, core: _core.CsvReader) -> None:
        self._core = core

    @property
    def schema(self) -> pa.Schema:
        return self._core.schema

    @property
    def skipped(self) -> int:
        return self._core.skipped

    @property
    def skipped_lines(self) -> list[int]:
        """Physical line numbers of the first 1000 skipped records, ascending."""
        return self._core.skipped_lines

    @property
    def bytes_read(self) -> int:
        return self._core.bytes_read

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        return next(self._core)

    def read_all(self) -> pa.Table:
        """The remaining batches as one table."""
        return pa.Table.from_batches(list(self), schema=self.schema)

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> CsvReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        stream = pa.RecordBatchReader.from_batches(self.schema, self)
        return stream.__arrow_c_stream__(requested_schema)


def open_csv(
    path: str | os.PathLike[str],
    *,
    schema: pa.Schema | None = None,
    delimiter: str = ",",
    quote: str = '"',
    header: bool = True,
    null_values: Sequence[str] = ("",),
    infer_rows: int = 10_000,
    on_bad_lines: OnBadLines = "error",
    batch_size: int = 65_536,
    threads: int | None = None,
) -> CsvReader:
    """Open a CSV file for streaming; options as :func:`read_csv`.

    Batches have ``batch_size`` records (the last one fewer; fewer too where records were
    skipped). The header is read and types are inferred here. Unlike :func:`read_csv`, a value
    after the inference window that does not fit its inferred type cannot widen batches already
    handed out: it raises :class:`~minide.errors.SchemaError` naming the line (or is skipped and
    counted with ``on_bad_lines="skip"``). Pass ``schema`` or a larger ``infer_rows`` to avoid it.
    """
    opts = _options(schema, null_values, infer_rows, on_bad_lines, batch_size, threads)
    core = _core.csv_open(os.fspath(path), delimiter=delimiter, quote=quote, header=header, **opts)
    return CsvReader(core)
