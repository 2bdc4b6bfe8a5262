"""``csv_to_parquet``: stream a CSV file into a Parquet file or a Hive-partitioned dataset.

The conversion runs in Rust (``rust/columnar/src/dataset/convert.rs``): the CSV reader of
``open_csv`` feeds record batches straight into the Parquet writer, which flushes a row group
each time ``row_group_size`` rows are buffered, so memory stays bounded whatever the file size.
With more than one thread the CSV reader runs on its own thread (parsing overlaps encoding).
Python only drives it in steps, to report progress between them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from minide import _core
from minide.columnar._write_opts import build_write_options, file_schema, partition_list
from minide.columnar.csv import OnBadLines, _options
from minide.columnar.parquet import resolve_threads
from minide.errors import SchemaError

__all__ = ["ConversionReport", "csv_to_parquet"]

#: ``progress(bytes_read, bytes_total, rows)``, called between steps of the conversion.
Progress = Callable[[int, int, int], None]

#: batches converted between two progress calls
_STEP_BATCHES = 4

#: Rows per row group unless the caller says: half of write_parquet's 1Mi. The writer holds a
#: row group as Arrow data and about as much again while encoding it, so this sets peak memory
#: (~400 MiB for any file size on the bench data, vs ~600 MiB at 1Mi rows) for <1% more bytes.
ROW_GROUP_ROWS = 524_288

#: Batches the CSV reader thread may parse ahead of the writer.
QUEUE_BATCHES = 4

#: zstd level when the caller gives none: 3, as Polars and DuckDB convert (write_parquet keeps
#: pyarrow's 1). On the bench data it costs no measurable CPU and saves ~5% of the output.
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class ConversionReport:
    """What ``csv_to_parquet`` did."""

    rows: int
    #: size of the CSV file
    bytes_in: int
    #: total size of the Parquet file(s) written
    bytes_out: int
    #: bytes_in / bytes_out (how many times smaller the Parquet output is)
    ratio: float
    seconds: float
    #: records dropped with on_bad_lines="skip"
    skipped_rows: int
    #: physical line numbers of the first (up to 1000) skipped records
    skipped_lines: tuple[int, ...]
    #: the Parquet files written, sorted
    files: tuple[str, ...]
    #: the Arrow schema of the data (inferred or given)
    schema: pa.Schema

    def summary(self) -> str:
        mib = 2**20
        lines = [
            f"rows       {self.rows:,}",
            f"bytes in   {self.bytes_in:,} ({self.bytes_in / mib:,.1f} MiB CSV)",
            f"bytes out  {self.bytes_out:,} ({self.bytes_out / mib:,.1f} MiB Parquet, "
            f"{len(self.files)} file{'s' if len(self.files) != 1 else ''})",
            f"ratio      {self.ratio:.2f}x smaller",
            f"seconds    {self.seconds:.2f} ({self.bytes_in / mib / max(self.seconds, 1e-9):,.0f} MiB/s)",
        ]
        if self.skipped_rows:
            lines.append(f"skipped    {self.skipped_rows:,} bad rows (on_bad_lines='skip')")
        return "\n".join(lines)


def csv_to_parquet(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    partition_by: str | Sequence[str] | None = None,
    compression: str = "zstd",
    schema: pa.Schema | None = None,
    delimiter: str = ",",
    quote: str = '"',
    header: bool = True,
    null_values: Sequence[str] = ("",),
    infer_rows: int = 10_000,
    on_bad_lines: OnBadLines = "error",
    batch_size: int = 65_536,
    existing_data_behavior: str = "error",
    progress: Progress | None = None,
    **write_options: Any,
) -> ConversionReport:
    """Convert a CSV file to Parquet with bounded memory; returns a :class:`ConversionReport`.

    - Without ``partition_by``, ``dst`` is the Parquet file. With it, ``dst`` is the root of a
      Hive-partitioned dataset (as :func:`~minide.columnar.write_dataset`, with
      ``existing_data_behavior``).
    - CSV options as :func:`~minide.columnar.open_csv`. Types are inferred from the first
      ``infer_rows`` records unless ``schema`` is given; if a later value does not fit, the
      types of the whole file are found by a second, bounded-memory scan (widening as
      :func:`~minide.columnar.read_csv` does) and the conversion starts over with them (with
      ``on_bad_lines="skip"`` such a record is skipped and counted instead).
    - ``**write_options``: ``write_parquet``'s options (``threads`` is used for CSV decoding and
      Parquet encoding alike). Defaults differ in two places: ``row_group_size`` is 524,288 rows
      (bounds peak memory to ~400 MiB), and zstd without ``compression_level`` uses level 3 (as
      Polars and DuckDB do).
    - ``progress(bytes_read, bytes_total, rows)`` is called as the conversion advances.
    """
    t0 = time.perf_counter()
    src_path, dst_path = os.fspath(src), os.fspath(dst)
    parts = partition_list(partition_by)
    threads = resolve_threads(write_options.get("threads"))
    write_options.setdefault("row_group_size", ROW_GROUP_ROWS)
    if compression == "zstd" and write_options.get("compression_level") is None:
        write_options = {**write_options, "compression_level": ZSTD_LEVEL}
    opts = _options(schema, null_values, infer_rows, on_bad_lines, batch_size, threads)
    csv_opts: dict[str, Any] = {"delimiter": delimiter, "quote": quote, "header": header}
    total = os.path.getsize(src_path) if os.path.exists(src_path) else 0
    fresh_root = not parts or not os.path.exists(dst_path) or not os.listdir(dst_path)

    def run(opts: dict[str, Any]) -> tuple[pa.Schema, int, int, list[int], list[Any]]:
        return _run(
            src_path,
            dst_path,
            parts,
            compression,
            csv_opts,
            opts,
            write_options,
            existing_data_behavior,
            progress,
            total,
        )

    try:
        data_schema, rows, skipped, lines, files = run(opts)
    except SchemaError as e:
        # A value after the inference window does not fit its column's inferred type: find the
        # types of the whole file (a bounded-memory scan, as read_csv widens) and start over.
        if schema is not None or on_bad_lines != "error" or _LATE_TYPE not in str(e):
            raise
        if not fresh_root:
            raise  # partial files may sit among data that was there before: leave them be
        _remove_output(dst_path, parts)
        widened = _core.csv_infer_schema(
            src_path,
            null_values=opts["null_values"],
            infer_rows=infer_rows,
            threads=opts["threads"],
            **csv_opts,
        )
        data_schema, rows, skipped, lines, files = run({**opts, "schema": widened})
    if progress is not None:
        progress(total, total, rows)
    bytes_out = sum(os.path.getsize(p) for p, _ in files)
    return ConversionReport(
        rows=rows,
        bytes_in=total,
        bytes_out=bytes_out,
        ratio=total / bytes_out if bytes_out else 0.0,
        seconds=time.perf_counter() - t0,
        skipped_rows=skipped,
        skipped_lines=tuple(lines),
        files=tuple(p for p, _ in files),
        schema=data_schema,
    )


#: In the SchemaError of a value that does not fit a type inferred from the first records.
_LATE_TYPE = "the type was inferred from the first"


def _remove_output(dst: str, parts: list[str]) -> None:
    if not parts:
        if os.path.isfile(dst):
            os.remove(dst)
    elif os.path.isdir(dst):
        shutil.rmtree(dst)


def _run(
    src: str,
    dst: str,
    parts: list[str],
    compression: str,
    csv_opts: dict[str, Any],
    opts: dict[str, Any],
    write_options: dict[str, Any],
    existing_data_behavior: str,
    progress: Progress | None,
    total: int,
) -> tuple[pa.Schema, int, int, list[int], list[Any]]:
    """One pass of the conversion; a partial single-file output is removed on failure."""
    conv = _core.csv_convert_open(
        src, pipelined=opts["threads"] > 1, queue=QUEUE_BATCHES, **csv_opts, **opts
    )
    started = False
    try:
        data_schema = conv.schema
        wopts = write_options_for(compression, data_schema, parts, write_options)
        if parts:
            conv.start_dataset(
                dst,
                partition_by=parts,
                existing_data_behavior=existing_data_behavior,
                basename_template="part-{i}.parquet",
                max_open_files=256,
                max_buffered_bytes=256 << 20,
                write=wopts,
            )
        else:
            conv.start_file(dst, wopts)
        started = True
        while conv.step(_STEP_BATCHES):
            if progress is not None:
                done, rows, _ = conv.progress()
                progress(done, total, rows)
        rows, skipped, lines, files = conv.finish()
    except BaseException:
        conv.close()
        if started and not parts and os.path.isfile(dst):
            os.remove(dst)  # never leave a truncated file that looks like Parquet
        raise
    return data_schema, rows, skipped, lines, files


def write_options_for(
    compression: str, schema: pa.Schema, parts: list[str], options: dict[str, Any]
) -> dict[str, Any]:
    return build_write_options(compression, file_schema(schema, parts), options, "csv_to_parquet")
