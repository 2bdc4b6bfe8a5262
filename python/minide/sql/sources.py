"""File-backed tables: Parquet files, Hive datasets and CSV files, scanned per query in Rust.

``con.register(name, "x.parquet")`` registers the file in the connection's one catalog, which
lives in Rust (``_core.SqlCatalog.register_file``, ``rust/sql/src/files.rs``): only the footer is
read (schema, row count, statistics). When a query runs, the plan's ``Scan`` names the table and
the Rust scan operator (``rust/sql/src/ops/scan.rs``) reads it through minide.columnar's scan
core: the columns the optimized plan needs (projection pushdown), and the part of the scan's
filter the core can use (``rust/sql/src/pushdown.rs``: comparisons of a column with a literal of
its type, IN lists, IS NULL, and AND/OR/NOT of them) to skip partitions, row groups (statistics,
Bloom filters, dictionaries) and pages (page index), and to decode the filter's columns first.
The SQL filter then runs on the rows read. No table is copied into the catalog and no plan is
patched; EXPLAIN shows the pushed filter and EXPLAIN ANALYZE the scan core's counters.

This module keeps what stays in Python: the process-wide glibc memory switch file scans use,
and the text of a scan's counters in EXPLAIN ANALYZE.
"""

from __future__ import annotations

from typing import Any


def describe_counters(c: dict[str, Any]) -> str:
    """EXPLAIN ANALYZE's line for one file scan's counters (``_core`` scan counters dict)."""
    pruned = (
        c["row_groups_pruned_stats"] + c["row_groups_pruned_bloom"] + c["row_groups_pruned_dict"]
    )
    out = (
        f"row groups skipped {pruned}/{c['row_groups_total']}"
        f" (stats {c['row_groups_pruned_stats']}, bloom {c['row_groups_pruned_bloom']},"
        f" dictionary {c['row_groups_pruned_dict']}), pages skipped {c['pages_pruned']},"
        f" rows decoded {c['rows_decoded']:,}, matched {c['rows_matched']:,}"
    )
    if c["files_total"] > 1 or c["files_pruned"]:
        out = f"files skipped {c['files_pruned']}/{c['files_total']} by partition values; " + out
    return out


#: Process-wide switch set by :func:`keep_freed_memory` (no environment variable is read).
_keep_freed = True
_malloc_tuned = False

# glibc's mallopt parameters and their documented defaults (what ``keep_freed_memory(False)``
# restores after a tuning).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_DEFAULT_THRESHOLD = 128 << 10


def _mallopt(trim: int, mmap: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_TRIM_THRESHOLD, trim)
        libc.mallopt(_M_MMAP_THRESHOLD, mmap)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def keep_freed_memory(on: bool = True) -> None:
    """Whether file scans let glibc keep freed memory for the next query (default: on).

    A file scan materializes hundreds of MB of columns per query and frees them after; with
    glibc's defaults (dynamic mmap threshold, trim above ~2x it) that memory goes back to the
    kernel, so every query page-faults its columns in afresh (the kernel zeroes each page):
    ~15% of TPC-H Q1's time at SF1. When on, the first file scan raises the trim and mmap
    thresholds once, keeping up to 512 MB of freed heap for reuse. No-op on other C libraries.

    The setting is process-wide (glibc has one allocator per process), so it is a switch of the
    process, not of a connection: embedders who would rather give memory back than save the page
    faults call ``minide.sql.keep_freed_memory(False)``, best before the first query (after
    one, it puts glibc's default thresholds back).
    """
    global _keep_freed, _malloc_tuned
    _keep_freed = bool(on)
    if not _keep_freed and _malloc_tuned:
        _mallopt(_DEFAULT_THRESHOLD, _DEFAULT_THRESHOLD)
        _malloc_tuned = False


def _keep_freed_memory() -> None:
    """Apply :func:`keep_freed_memory`'s setting at the first file scan (once per process)."""
    global _malloc_tuned
    if _malloc_tuned or not _keep_freed:
        return
    _malloc_tuned = True
    _mallopt(512 << 20, 64 << 20)
