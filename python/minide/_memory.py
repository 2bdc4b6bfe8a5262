"""The process-wide memory switch of minide's large reads (glibc's allocator thresholds).

Neutral ground like ``_convert``: minide.columnar and minide.sql both use it, and it imports
nothing of minide. No environment variable is read: :func:`keep_freed_memory` is the switch.
"""

from __future__ import annotations

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
    """Whether large reads let glibc keep freed memory for the next one (default: on).

    A file scan (a SQL query over files, ``read_parquet``, ``Dataset.read``) materializes
    hundreds of MB of columns and frees them after; with glibc's defaults (dynamic mmap
    threshold, trim above ~2x it) that memory goes back to the kernel, so every read
    page-faults its columns in afresh (the kernel zeroes each page): ~15% of TPC-H Q1's time at
    SF1, ~25% of a whole-file ``read_parquet``. pyarrow's allocator (jemalloc/mimalloc) keeps
    freed memory the same way. When on, the first large read raises the trim and mmap
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


def tune_once() -> None:
    """Apply :func:`keep_freed_memory`'s setting at the first large read (once per process)."""
    global _malloc_tuned
    if _malloc_tuned or not _keep_freed:
        return
    _malloc_tuned = True
    _mallopt(512 << 20, 64 << 20)
