"""File-backed tables: Parquet and CSV files scanned lazily with minide.columnar's readers.

``con.register(name, "x.parquet")`` only opens the footer (schema, row count, statistics); the
columns are decoded when a query runs, once per scan operator, with

- projection pushdown: only the columns the optimized plan's scan needs are decoded;
- predicate pushdown: the scan's filter conjuncts of the form ``column <op> literal``,
  ``column [NOT] IN (...)``, ``column IS [NOT] NULL`` (and ORs of them) become a
  ``minide.columnar`` filter, which skips row groups by min/max statistics and Bloom filters and
  pages by the page index (``ParquetFile.read(filter=...)``, when the page index skips pages),
  or else drives a late-materializing ``ParquetFile.scan``: the filter's columns are decoded
  first and the others only for the rows that match. The Rust scan still evaluates the whole
  predicate on the rows read, so the pushed part only ever removes rows that cannot match.

The decoded columns are handed to the Rust catalog as a temporary table for the duration of the
query (``prepare_scans``) and dropped afterwards. EXPLAIN shows the pushed columns and filter;
EXPLAIN ANALYZE adds the reader's counters (row groups skipped, pages skipped, rows read).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

import minide.columnar as mc
from minide.sql.expr import BExpr, Col, Const, Func, conjuncts
from minide.sql.plan import Column, Scan
from minide.sql.types import BOOL, DATE, FLOAT, INT, STR, is_dec

#: rows decoded to estimate distinct counts of a file's columns (for the optimizer)
SAMPLE_ROWS = 65_536
_COMPARE = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_scan_ids = itertools.count()


def _quote_id(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class ScanReport:
    """What one file scan did: shown by EXPLAIN ANALYZE."""

    kind: str
    columns: list[str]
    pushed: str | None
    stats: mc.ScanStats | None = None
    read_ms: float = 0.0
    rows: int = 0
    note: str = ""

    def describe(self) -> str:
        out = f"read {self.rows:,} rows in {self.read_ms:.2f} ms"
        s = self.stats
        if s is not None:
            out += (
                f"; row groups skipped {s.row_groups_skipped}/{s.row_groups_total}"
                f" (bloom {s.row_groups_skipped_bloom}), pages skipped {s.pages_skipped},"
                f" rows decoded {s.rows_read:,}, matched {s.rows_matched:,}"
            )
        return out + (f"; {self.note}" if self.note else "")


@dataclass
class FileSource:
    """A registered Parquet or CSV file. ``names`` are the SQL column names (lower-cased like
    registered Arrow tables), ``file_names`` the names in the file."""

    path: str
    kind: str
    schema: pa.Schema
    names: list[str]
    file_names: list[str]
    rows: int
    #: CSV only: the schema inferred at registration, imposed on every later read
    csv_schema: pa.Schema | None = None
    _parquet: mc.ParquetFile | None = field(default=None, repr=False)
    #: (mtime_ns, size, inode) of the file ``_parquet`` was opened on (None: not checked yet)
    _parquet_version: tuple[int, int, int] | None = field(default=None, repr=False)
    _dataset: mc.Dataset | None = field(default=None, repr=False)
    #: (mtime_ns, size, pushed filter) -> whether the page index skips pages: the check walks
    #: every row group's page index in Python (tens of ms at SF1 lineitem)
    _skips_pages_cache: dict[tuple[int, int, str], bool] = field(default_factory=dict, repr=False)

    @staticmethod
    def open(path: Path) -> FileSource:
        suffix = path.suffix.lower()
        if path.is_dir():
            ds = mc.Dataset(path)
            rows = sum(mc.ParquetFile(f).num_rows for f in ds.files)
            src = FileSource(str(path), "dataset", ds.schema, [], ds.schema.names, rows)
            src._dataset = ds
        elif suffix == ".parquet":
            pf = mc.ParquetFile(path)
            schema = pf.schema
            src = FileSource(str(path), "parquet", schema, [], schema.names, pf.num_rows)
            src._parquet = pf
        else:
            with mc.open_csv(path, batch_size=SAMPLE_ROWS) as rd:
                schema = rd.schema
                first = next(iter(rd), None)
                sample_rows = first.num_rows if first is not None else 0
                used = max(rd.bytes_read, 1)
            size = os.path.getsize(path)
            rows = sample_rows if used >= size else int(sample_rows * size / used)
            src = FileSource(str(path), "csv", schema, [], schema.names, rows, csv_schema=schema)
        src.names = [n.lower() if n.isidentifier() else n for n in src.file_names]
        return src

    def placeholder(self) -> pa.Table:
        """An empty table of the file's schema: gives the Rust catalog the column types."""
        return self.schema.empty_table()

    # ---- statistics for the optimizer -----------------------------------------------------------
    def sample(self) -> pa.Table:
        if self.kind == "dataset":
            return self._dataset_sample()
        if self.kind == "parquet":
            pf = self._pf()
            if pf.num_row_groups == 0:
                return self.placeholder()
            return pf.read_row_group(0).slice(0, SAMPLE_ROWS)
        with mc.open_csv(self.path, schema=self.csv_schema, batch_size=SAMPLE_ROWS) as rd:
            first = next(iter(rd), None)
        return pa.Table.from_batches([first]) if first is not None else self.placeholder()

    def min_max(self) -> list[tuple[float | None, float | None]]:
        """Per column (min, max) over the whole file from Parquet statistics (numbers and dates)."""
        out: list[tuple[float | None, float | None]] = [(None, None)] * len(self.file_names)
        if self.kind != "parquet":
            return out
        meta = self._pf().metadata
        for i, f in enumerate(self.schema):
            t = f.type
            numeric = (
                pa.types.is_integer(t)
                or pa.types.is_floating(t)
                or pa.types.is_decimal(t)
                or pa.types.is_date32(t)
            )
            if not numeric or not meta.row_groups:
                continue
            lo, hi = math.inf, -math.inf
            for g in meta.row_groups:
                s = next((c.statistics for c in g.columns if c.path == f.name), None)
                if s is None or not s.has_min_max:
                    lo = -math.inf
                    break
                lo, hi = min(lo, float(s.min)), max(hi, float(s.max))
            if math.isfinite(lo) and math.isfinite(hi):
                out[i] = (lo, hi)
        return out

    def _dataset_sample(self) -> pa.Table:
        """The first row group of the first file, with its partition values."""
        assert self._dataset is not None
        files = self._dataset.files
        if not files:
            return self.placeholder()
        pf = mc.ParquetFile(files[0])
        if pf.num_row_groups == 0:
            return self.placeholder()
        n = min(pf.metadata.row_groups[0].num_rows, SAMPLE_ROWS)
        part = self._dataset.partition_schema
        cols = [c for c in self.schema.names if c not in part.names]
        body = pf.read_row_group(0, columns=cols).slice(0, n) if cols else None
        key_values = self._dataset._files[0][0].partition  # unescaped; None = null partition
        arrays = []
        for f in self.schema:
            if f.name in part.names:
                v = key_values.get(f.name)
                arrays.append(pa.array([v] * n, pa.string()).cast(f.type))
            else:
                assert body is not None
                col = body.column(f.name)
                arrays.append(col if col.type == f.type else col.cast(f.type))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    # ---- scanning -------------------------------------------------------------------------------
    def _pf(self) -> mc.ParquetFile:
        if self._parquet is None:
            self._parquet = mc.ParquetFile(self.path)
        return self._parquet

    def read(
        self, positions: list[int], pushed: str | None, threads: int
    ) -> tuple[pa.Table, ScanReport]:
        cols = [self.file_names[i] for i in positions]
        report = ScanReport(self.kind, cols, pushed)
        t0 = time.perf_counter()
        if self.kind == "parquet":
            _keep_freed_memory()
            pf = self._current_pf()
            if pushed is not None and self._skips_pages_cached(pf, pushed):
                # The page index rules pages out: the exact filtered read leaves them unread.
                table = pf.read(columns=cols, filter=pushed, threads=threads)
                report.note = "page index: pages skipped, filter exact"
            else:
                # Late materialization: the filter's columns first, the others only for the
                # rows that match (row groups where most rows match come whole, the Rust scan
                # evaluates the whole predicate anyway). Decimals stay exact (decimal128, the
                # executor's DECIMAL) and strings keep the file's type (no ARROW:schema hint
                # to convert twice).
                batches = list(
                    pf.scan(
                        cols,
                        filter=pushed,
                        batch_rows=None,
                        threads=threads,
                        exact=False,
                        decimals_as_float=False,
                        file_types=True,
                    )
                )
                table = pa.Table.from_batches(
                    batches, schema=pf.scan_schema(cols, decimals_as_float=False, file_types=True)
                )
            report.stats = pf.last_scan
        elif self.kind == "dataset":
            # Only partition-column terms are pushed (see _col_of): they prune whole files, and
            # the files left are read by the plain (unfiltered) path.
            ds = self._dataset = mc.Dataset(self.path)
            table = ds.read(columns=cols, filter=pushed, threads=threads)
            s = ds.last_scan
            if s is not None:
                report.note = f"files skipped {s.files_skipped}/{s.files_total} by partition values"
        else:
            assert self.csv_schema is not None
            schema = pa.schema([self.csv_schema.field(c) for c in cols])
            table = mc.read_csv(self.path, schema=schema, threads=threads)
        report.read_ms = (time.perf_counter() - t0) * 1e3
        report.rows = table.num_rows
        return table, report

    def _current_pf(self) -> mc.ParquetFile:
        """The open file, reopened when it changed since (the query sees the file as it is
        now, not at registration); kept across queries otherwise, with its decoded statistics."""
        st = os.stat(self.path)
        version = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._parquet is None or self._parquet_version != version:
            self._parquet = mc.ParquetFile(self.path)
            self._parquet_version = version
        return self._parquet

    def _skips_pages_cached(self, pf: mc.ParquetFile, pushed: str) -> bool:
        st = os.stat(self.path)
        key = (st.st_mtime_ns, st.st_size, pushed)
        hit = self._skips_pages_cache.get(key)
        if hit is None:
            if len(self._skips_pages_cache) >= 256:
                self._skips_pages_cache.clear()
            hit = self._skips_pages_cache[key] = pf.skips_pages(pushed)
        return hit


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


def pushable_filter(
    pred: BExpr | None, cols: list[Column], positions: list[int], src: FileSource
) -> str | None:
    """The part of a scan predicate the columnar reader can evaluate, as its SQL filter text."""
    if pred is None:
        return None
    where = {c.id: positions[i] for i, c in enumerate(cols)}
    parts = [t for t in (_term(c, where, src) for c in conjuncts(pred)) if t is not None]
    return " AND ".join(parts) if parts else None


def _literal(c: Const, arrow: pa.DataType) -> str | None:
    v = c.value
    if v is None:
        return None
    if c.type == STR and (
        pa.types.is_string(arrow)
        or pa.types.is_large_string(arrow)
        or pa.types.is_string_view(arrow)
    ):
        return "'" + str(v).replace("'", "''") + "'"
    if c.type == DATE and pa.types.is_date32(arrow):
        return str(int(v))
    if c.type == BOOL and pa.types.is_boolean(arrow):
        return "TRUE" if v else "FALSE"
    if is_dec(c.type) and (pa.types.is_decimal(arrow) or pa.types.is_floating(arrow)):
        return format(v, "f")
    if c.type in (INT, FLOAT) and not isinstance(v, bool):
        if pa.types.is_integer(arrow) and c.type == INT:
            return str(int(v))
        if (pa.types.is_floating(arrow) or pa.types.is_decimal(arrow)) and math.isfinite(float(v)):
            return repr(float(v)) if c.type == FLOAT else str(int(v))
    return None


def _col_of(e: BExpr, where: dict[int, int], src: FileSource) -> tuple[str, pa.DataType] | None:
    if isinstance(e, Col) and e.id in where:
        f = src.schema.field(where[e.id])
        if src._dataset is not None and f.name not in src._dataset.partition_schema.names:
            return None  # datasets: the reader's row filter is slower than the Rust scan's
        return _quote_id(f.name), f.type
    return None


def _term(e: BExpr, where: dict[int, int], src: FileSource) -> str | None:
    if not isinstance(e, Func):
        return None
    if e.op == "or":
        a, b = (_term(x, where, src) for x in e.args)
        return f"({a} OR {b})" if a is not None and b is not None else None
    if e.op == "and":
        a, b = (_term(x, where, src) for x in e.args)
        if a is not None and b is not None:
            return f"({a} AND {b})"
        return a if a is not None else b
    if e.op in ("is_null", "is_not_null"):
        c = _col_of(e.args[0], where, src)
        if c is None:
            return None
        return f"{c[0]} IS {'NOT ' if e.op == 'is_not_null' else ''}NULL"
    if e.op in _COMPARE:
        lhs, rhs = e.args
        op = _COMPARE[e.op]
        if isinstance(lhs, Const):
            lhs, rhs, op = rhs, lhs, _FLIP[op]
        c = _col_of(lhs, where, src)
        if c is None or not isinstance(rhs, Const):
            return None
        lit = _literal(rhs, c[1])
        return f"{c[0]} {op} {lit}" if lit is not None else None
    if e.op == "in_list":
        c = _col_of(e.args[0], where, src)
        vals, negated = e.extra
        if c is None or negated:
            return None
        lits = [_literal(v, c[1]) for v in vals]
        if not lits or any(x is None for x in lits):
            return None
        return f"{c[0]} IN ({', '.join(lits)})"  # type: ignore[arg-type]
    return None


def prepare_scans(
    phys: Any, files: dict[str, FileSource], rust: Any, threads: int, temps: list[str]
) -> dict[int, ScanReport]:
    """Decode the file columns each Scan of ``phys`` needs into temporary Rust tables and point
    the scans at them. Returns the per-operator reports; appends the temporary table names to
    ``temps`` as they are created (the caller drops them, also after an error)."""
    reports: dict[int, ScanReport] = {}

    def visit(node: dict[str, Any]) -> None:
        ((op, body),) = node["op"].items()
        if op == "Scan" and body["table"] in files:
            src = files[body["table"]]
            logical = phys.nodes[node["id"]][0]
            assert isinstance(logical, Scan)
            wanted = list(dict.fromkeys(body["columns"])) or [0]
            pushed = pushable_filter(logical.filter, logical.cols, logical.positions, src)
            table, report = src.read(wanted, pushed, threads)
            temp = f"__scan{next(_scan_ids)}"
            rust.register(temp, table, threads)
            temps.append(temp)
            body["table"] = temp
            body["columns"] = [wanted.index(p) for p in body["columns"]]
            reports[node["id"]] = report
            return
        for v in body.values() if isinstance(body, dict) else ():
            if isinstance(v, dict) and "op" in v and "id" in v:
                visit(v)
            elif isinstance(v, list):
                for x in v:
                    if isinstance(x, dict) and "op" in x and "id" in x:
                        visit(x)

    visit(phys.root)
    return reports


def describe_scan(logical: Scan, src: FileSource) -> str:
    """EXPLAIN's line for a file scan: what is pushed into the reader."""
    cols = [src.file_names[i] for i in dict.fromkeys(logical.positions)]
    pushed = pushable_filter(logical.filter, logical.cols, logical.positions, src)
    kind = {"parquet": "ParquetScan", "dataset": "DatasetScan"}.get(src.kind, "CsvScan")
    out = f"{kind} {Path(src.path).name} columns=[{', '.join(cols)}]"
    if src.kind in ("parquet", "dataset"):
        out += f" pushed filter: {pushed}" if pushed else " pushed filter: none"
    return out
