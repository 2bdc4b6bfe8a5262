"""`minide columnar ...` subcommands, listed in COMMANDS for minide.cli.

``minide csv2parquet SRC DST [--partition-by COL ...] [--compression zstd]``: streams a CSV file
into Parquet (``minide.columnar.csv_to_parquet``) with a progress bar, then prints the report.
"""

from __future__ import annotations

import argparse

from minide._cmd import Command


def _csv2parquet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="the CSV file")
    p.add_argument("dst", help="the Parquet file, or the dataset root with --partition-by")
    p.add_argument(
        "--partition-by",
        action="append",
        default=None,
        metavar="COL",
        help="write a Hive-partitioned dataset by this column (repeat for more levels)",
    )
    p.add_argument(
        "--compression",
        default="zstd",
        choices=["zstd", "snappy", "lz4", "gzip", "none"],
        help="page codec (default zstd)",
    )
    p.add_argument("--compression-level", type=int, default=None)
    p.add_argument("--row-group-size", type=int, default=524_288, help="rows per row group")
    p.add_argument("--delimiter", default=",")
    p.add_argument(
        "--skip-bad-lines",
        action="store_true",
        help="skip and count malformed records instead of failing",
    )
    p.add_argument(
        "--existing-data-behavior",
        default="error",
        choices=["error", "overwrite_or_ignore", "delete_matching"],
        help="with --partition-by: what to do with data already under DST",
    )
    p.add_argument("--threads", type=int, default=None, help="threads (default: every core)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _csv2parquet(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from minide.columnar.convert import csv_to_parquet

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("[bold]csv2parquet"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeRemainingColumn(),
        console=console,
        disable=args.no_progress,
        transient=False,
    )
    with bar:
        task = bar.add_task("convert", total=None, rows=0)

        def progress(done: int, total: int, rows: int) -> None:
            bar.update(task, completed=done, total=total or None, rows=rows)

        report = csv_to_parquet(
            args.src,
            args.dst,
            partition_by=args.partition_by,
            compression=args.compression,
            compression_level=args.compression_level,
            row_group_size=args.row_group_size,
            delimiter=args.delimiter,
            on_bad_lines="skip" if args.skip_bad_lines else "error",
            existing_data_behavior=args.existing_data_behavior,
            threads=args.threads,
            progress=progress,
        )
    print(report.summary())
    return 0


#: this engine's ``minide`` subcommands
COMMANDS: tuple[Command, ...] = (
    Command(
        "csv2parquet",
        "convert a CSV file to Parquet (streaming, bounded memory)",
        _csv2parquet,
        _csv2parquet_args,
    ),
)
