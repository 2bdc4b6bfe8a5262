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

This module keeps what stays in Python: the text of a scan's counters in EXPLAIN ANALYZE. The
process-wide glibc memory switch file scans use is ``minide._memory`` (shared with
minide.columnar's reads).
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
    if c.get("join_filters"):
        out += f", keys of {c['join_filters']} join(s) applied (runtime join filter)"
    if c["files_total"] > 1 or c["files_pruned"]:
        out = f"files skipped {c['files_pruned']}/{c['files_total']} by partition values; " + out
    return out
