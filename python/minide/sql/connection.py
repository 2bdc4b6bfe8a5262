"""Connections, relations and DB-API cursors: the public face of minide.sql.

``connect()`` -> :class:`Connection`; ``con.register(name, data)`` loads Arrow data into the
Rust catalog; ``con.sql(text)`` parses, binds, optimizes and (lazily) executes, returning a
:class:`Relation`; ``con.cursor()`` / ``con.execute(text, params)`` give PEP 249 cursors
(dbapi.py). See docs/sql.md for the five stages a query goes through.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from minide import _core, errors
from minide._convert import resolve_threads
from minide._memory import tune_once
from minide.errors import (
    InvalidArgumentError,
    PlanError,
    ProgrammingError,
    SqlClosedError,
    SqlUnsupportedError,
    UnsupportedError,
)
from minide.sql import ast
from minide.sql.binder import Binder, cast_to
from minide.sql.dbapi import Cursor, sql_errors, translated
from minide.sql.expr import Const
from minide.sql.optimizer import PassTrace, check_name, optimize
from minide.sql.optimizer.cardinality import Estimator, TableStats
from minide.sql.params import bind_params, has_parameters, stack_values
from minide.sql.parser import parse_script
from minide.sql.physical import PhysicalPlan, explain_physical, to_physical
from minide.sql.plan import Plan, Scan, explain_tree
from minide.sql.sources import describe_counters
from minide.sql.types import from_sql, to_arrow


def _load_source(source: Any) -> Any:
    """Turn a registration source into something with ``__arrow_c_stream__``.

    Parquet and CSV files and Hive dataset directories never get here (they are
    file tables of the Rust catalog, scanned per query by the scan core).
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise InvalidArgumentError(f"cannot register {path}: no such file or directory")
        raise InvalidArgumentError(
            f"cannot register {path}: expected a .parquet or .csv file or a Hive dataset directory"
        )
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if hasattr(source, "__arrow_c_stream__"):
        return source
    for meth in ("arrow", "to_arrow", "to_arrow_table"):
        if hasattr(source, meth):
            out = getattr(source, meth)()
            if isinstance(out, pa.RecordBatchReader):
                out = out.read_all()
            return out
    if type(source).__name__ == "DataFrame" and hasattr(source, "to_numpy"):
        return pa.Table.from_pandas(source)
    raise InvalidArgumentError(
        f"cannot register a {type(source).__name__}: pass a .parquet/.csv path, a Hive dataset directory, "
        "or an Arrow table/stream (pyarrow, Polars, DuckDB result)"
    )


class _Catalog:
    """The binder's view of the connection's catalog. Tables live in the one catalog in Rust
    (``_core.SqlCatalog``: names, types, rows, statistics, in-memory data and registered files),
    which this asks; views are parsed queries, kept here for the binder to expand."""

    def __init__(self) -> None:
        self.rust = _core.SqlCatalog()
        self.views: dict[str, tuple[ast.Query, tuple[str, ...]]] = {}

    # CatalogView protocol used by the binder
    def table_columns(self, name: str) -> list[tuple[str, str]] | None:
        t = self.rust.table(name)
        return None if t is None else list(zip(t[0], t[1], strict=True))

    def view_query(self, name: str) -> tuple[ast.Query, tuple[str, ...]] | None:
        return self.views.get(name)

    def names(self) -> list[str]:
        return self.rust.names() + list(self.views)

    def has_table(self, name: str) -> bool:
        return self.rust.table(name) is not None

    def file_path(self, name: str) -> str | None:
        """The path of a registered file table (None: not a file table)."""
        t = self.rust.table(name)
        return None if t is None else t[3]

    def stats(self, name: str) -> TableStats:
        t = self.rust.table(name)
        if t is None:
            raise PlanError(f"no table named {name}")
        cols = self.rust.stats(name)  # computed once per table by the Rust catalog
        return TableStats(t[2], [c[0] for c in cols], [c[1] for c in cols], [c[2] for c in cols])

    def put_file(self, name: str, path: Path) -> None:
        self.views.pop(name, None)
        self.rust.register_file(name, path)

    def put(self, name: str, data: Any) -> None:
        self.views.pop(name, None)
        self.rust.register(name, data)


class Relation:
    """The result of ``con.sql(...)``: executed on first use, then cached."""

    def __init__(
        self, con: Connection, plan: Plan | None, sql: str, table: pa.Table | None = None
    ) -> None:
        self._con = con
        self._plan = plan
        self._sql = sql
        self._table: pa.Table | None = table

    @property
    def columns(self) -> list[str]:
        if self._plan is None:
            return self.to_arrow().column_names
        return [c.name for c in self._plan.columns]

    @property
    def types(self) -> list[str]:
        if self._plan is None:
            return [str(f.type) for f in self.to_arrow().schema]
        return [c.type for c in self._plan.columns]

    @translated
    def to_arrow(self) -> pa.Table:
        if self._table is None:
            assert self._plan is not None
            with self._con._lock:
                self._con._check_open()
                self._table, _ = self._con._execute(self._plan)
        return self._table

    arrow = to_arrow
    fetch_arrow_table = to_arrow

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple (a cursor's fetch* convert in chunks instead)."""
        t = self.to_arrow()
        cols = [c.to_pylist() for c in t.columns]
        return list(zip(*cols, strict=True)) if cols else [()] * t.num_rows

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row (only that row is converted)."""
        t = self.to_arrow().slice(0, 1)
        return tuple(c[0].as_py() for c in t.columns) if t.num_rows else None

    def df(self) -> Any:
        """The result as a pandas DataFrame (needs pandas installed)."""
        return self.to_arrow().to_pandas()

    def explain(self) -> str:
        if self._plan is None:
            raise InvalidArgumentError("this result has no plan to explain (it is EXPLAIN output)")
        return self._con._explain_plan(self._plan, analyze=False)

    def __len__(self) -> int:
        return self.to_arrow().num_rows

    def __repr__(self) -> str:
        from minide.sql.format import format_table

        return format_table(self.to_arrow(), max_rows=20)


class Connection:
    """An in-memory SQL database: registered tables, views, settings and optimizer switches."""

    # PEP 249 optional extension: the exception classes as connection attributes
    Warning = errors.SqlWarning
    Error = errors.SqlError
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.DatabaseInternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError

    def __init__(self, threads: int | None = None) -> None:
        self._catalog = _Catalog()
        self._disabled: set[str] = set()
        self._threads = resolve_threads(threads)
        #: one statement at a time per connection: threads may share it (threadsafety 2)
        self._lock = threading.RLock()
        self._closed = False

    # ---- settings -------------------------------------------------------------------------------
    @translated
    def set(self, name: str, value: Any) -> None:
        """``con.set("threads", 2)``: worker threads for the executor (None: all cores)."""
        if name == "threads":
            self._threads = resolve_threads(value)
            return
        raise InvalidArgumentError(f"unknown setting {name!r}; known: threads")

    def disable_optimizer(self, name: str) -> None:
        """Switch optimizer pass ``name`` off (see ``minide.sql.optimizer.PASS_NAMES``)."""
        check_name(name)
        self._disabled.add(name)

    def enable_optimizer(self, name: str) -> None:
        check_name(name)
        self._disabled.discard(name)

    # ---- data -----------------------------------------------------------------------------------
    @translated
    def register(self, name: str, source: Any) -> Connection:
        """Make ``source`` queryable as table ``name`` (replacing any table or view of that name)."""
        if not name or not isinstance(name, str):
            raise InvalidArgumentError("table name must be a non-empty string")
        with self._lock:
            self._check_open()
            if isinstance(source, str | os.PathLike):
                path = Path(source)
                if path.is_dir() or (
                    path.is_file() and path.suffix.lower() in (".parquet", ".csv", ".tbl", ".txt")
                ):
                    self._catalog.put_file(name.lower(), path)
                    return self
            data = _load_source(source)
            self._catalog.put(name.lower(), data)
        return self

    def tables(self) -> list[str]:
        return sorted(self._catalog.names())

    # ---- queries --------------------------------------------------------------------------------
    @translated
    def sql(self, sql: str, params: Sequence[Any] | None = None) -> Relation | None:
        """Run SQL; returns a :class:`Relation` for the last statement if it is a query.
        ``params`` fill the ``?`` (or ``$1, $2, ...``) placeholders, typed from their values."""
        script = self._parse(sql)
        with self._lock:
            self._check_open()
            consts = bind_params(script, params)
            result: Relation | None = None
            for stmt in script.statements:
                out = self._run_statement(stmt, sql, consts)
                result = out if isinstance(out, Relation) else None
        return result

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        """sqlite3/DuckDB-style shortcut: a new cursor that has executed ``sql``."""
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, seq_of_params: Any) -> Cursor:
        """A new cursor that has run ``sql`` once per parameter sequence."""
        return self.cursor().executemany(sql, seq_of_params)

    @translated
    def explain(self, sql: str, analyze: bool = False) -> str:
        """Logical plan (after every optimizer pass) and physical plan with estimated rows;
        ``analyze=True`` runs the query and adds actual rows and time per operator."""
        stmts = self._parse(sql).statements
        with self._lock:
            self._check_open()
            for stmt in stmts[:-1]:
                self._run_statement(stmt, sql, ())
            last = stmts[-1]
            if isinstance(last, ast.Explain):
                analyze = analyze or last.analyze
                last = last.query
            if not isinstance(last, ast.Query):
                raise InvalidArgumentError("EXPLAIN needs a query (SELECT ...)")
            plan = Binder(self._catalog).bind_query(last)
            return self._explain_plan(plan, analyze)

    @translated
    def cursor(self) -> Cursor:
        """A new PEP 249 cursor."""
        self._check_open()
        return Cursor(self)

    def close(self) -> None:
        """Drop every table and view; later use of the connection (or its cursors) raises
        ``InterfaceError``. Closing twice is fine."""
        with self._lock:
            self._closed = True
            self._catalog = _Catalog()

    def commit(self) -> None:
        """DB-API: minide has no transactions; every statement takes effect immediately
        (autocommit), so there is nothing to commit."""
        self._check_open()

    def rollback(self) -> None:
        """DB-API: minide has no transactions, so nothing can be rolled back: raises
        ``NotSupportedError`` (as drivers without transactions do)."""
        self._check_open()
        raise SqlUnsupportedError(
            "rollback: minide has no transactions; every statement is committed when it runs"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise SqlClosedError("this connection is closed")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ------------------------------------------------------------------------------
    def _optimize(self, plan: Plan, trace: list[PassTrace] | None = None) -> Plan:
        return optimize(plan, self._catalog, self._disabled, trace)

    def _execute(self, plan: Plan) -> tuple[pa.Table, PhysicalPlan]:
        opt = self._optimize(plan)
        phys = to_physical(opt)
        table, metrics, _ = self._run(phys)
        self._last_metrics = metrics
        return table, phys

    def _run(self, phys: PhysicalPlan) -> tuple[pa.Table, Any, dict[int, dict[str, int]]]:
        """Execute in Rust (file scans included): the result, per-operator (rows, ns) and the
        file scans' counters by operator id."""
        cat = self._catalog
        if any(isinstance(p, Scan) and cat.file_path(p.table) for p, _ in phys.nodes.values()):
            tune_once()
        with sql_errors(executing=True):
            return cat.rust.execute(phys.encode(), phys.names, self._threads)

    def _explain_plan(self, plan: Plan, analyze: bool) -> str:
        est = Estimator(self._catalog)
        out = ["== logical plan (bound) ==", explain_tree(plan, est.estimate_all(plan))]
        trace: list[PassTrace] = []
        opt = self._optimize(plan, trace)
        prev = explain_tree(plan)
        for t in trace:
            if not t.enabled:
                out.append(f"== pass {t.name}: disabled ==")
            elif t.plan_after == prev:
                out.append(f"== pass {t.name}: no change ({t.millis:.2f} ms) ==")
            else:
                out.append(f"== after pass {t.name} ({t.millis:.2f} ms) ==")
                out.append(t.plan_after)
                prev = t.plan_after
        est_rows = est.estimate_all(opt)
        phys = to_physical(opt)
        for nid, text in self._catalog.rust.describe_scans(phys.encode()).items():
            phys.notes.setdefault(nid, []).append(text)
        actual = None
        if analyze:
            t0 = time.perf_counter()
            _, actual, scans = self._run(phys)
            total = (time.perf_counter() - t0) * 1e3
            for nid, counters in scans.items():
                phys.notes.setdefault(nid, []).append(describe_counters(counters))
        out.append(
            "== physical plan =="
            if not analyze
            else f"== physical plan (analyzed, {self._threads} threads, total {total:.2f} ms) =="
        )
        out.append(explain_physical(phys, est_rows, actual))
        return "\n".join(out)

    def _parse(self, sql: str) -> ast.Script:
        if not isinstance(sql, str):
            raise ProgrammingError(f"SQL must be a str, got {type(sql).__name__}")
        return parse_script(sql)

    def _run_script(self, script: ast.Script, params: Any, sql: str) -> tuple[pa.Table | None, int]:
        """Run every statement now (for cursors): the last one's result table, or None, and its
        row count (result rows, rows inserted, or -1)."""
        with self._lock:
            self._check_open()
            consts = bind_params(script, params)
            out: Relation | int | None = None
            for stmt in script.statements:
                out = self._run_statement(stmt, sql, consts)
            if isinstance(out, Relation):
                table = out.to_arrow()
                return table, table.num_rows
            return None, out if isinstance(out, int) else -1

    def _insert_many(self, script: ast.Script, stmt: ast.Insert, seq: Any) -> int | None:
        """executemany of ``INSERT ... VALUES (?, ...)``: one INSERT per ``_MANY_ROWS`` parameter
        sets instead of one per set. The total rows inserted, None if ``seq`` was empty."""
        total: int | None = None
        it = iter(seq)
        while chunk := list(islice(it, _MANY_ROWS)):
            with self._lock:
                self._check_open()
                sets = [bind_params(script, p) for p in chunk]
                stacked = stack_values(stmt, sets, script.param_count)
                if stacked is None:
                    n = sum(self._insert(stmt, s) for s in sets)
                else:
                    n = self._insert(*stacked)
            total = (total or 0) + n
        return total

    def _run_statement(
        self, stmt: Any, sql: str, params: tuple[Const, ...]
    ) -> Relation | int | None:
        """Run one statement: a Relation for a query, the rows inserted for INSERT, else None."""
        cat = self._catalog
        if isinstance(stmt, ast.Query):
            plan = Binder(cat, params).bind_query(stmt)
            return Relation(self, plan, sql)
        if isinstance(stmt, ast.Explain):
            text = self._explain_plan(Binder(cat, params).bind_query(stmt.query), stmt.analyze)
            table = pa.table({"explain": pa.array(text.splitlines(), pa.string())})
            return Relation(self, None, sql, table)
        if isinstance(stmt, ast.CreateTable):
            if cat.has_table(stmt.name):
                raise PlanError(f"table {stmt.name} already exists; DROP TABLE it first")
            names = [c.name for c in stmt.columns]
            types = [from_sql(c.type.name, c.type.params) for c in stmt.columns]
            if len(set(names)) != len(names):
                raise PlanError(f"duplicate column names in CREATE TABLE {stmt.name}")
            cat.views.pop(stmt.name, None)
            cat.rust.create(stmt.name, names, types)
            return None
        if isinstance(stmt, ast.CreateTableAs):
            if cat.has_table(stmt.name):
                raise PlanError(f"table {stmt.name} already exists; DROP TABLE it first")
            plan = Binder(cat, params).bind_query(stmt.query)
            table, _ = self._execute(plan)
            cat.put(stmt.name, table)
            return None
        if isinstance(stmt, ast.CreateView):
            if cat.has_table(stmt.name):
                raise PlanError(f"{stmt.name} is a table; DROP TABLE it first")
            if stmt.name in cat.views and not stmt.replace:
                raise PlanError(f"view {stmt.name} already exists; use CREATE OR REPLACE VIEW")
            if has_parameters(stmt.query):
                raise ProgrammingError(
                    f"view {stmt.name}: a view cannot have parameters (? or $n); "
                    "use a query with parameters instead"
                )
            Binder(cat).bind_query(stmt.query)  # validate now
            cat.views[stmt.name] = (stmt.query, stmt.columns)
            return None
        if isinstance(stmt, ast.Insert):
            return self._insert(stmt, params)
        if isinstance(stmt, ast.DropTable):
            if stmt.view:
                if cat.views.pop(stmt.name, None) is None and not stmt.if_exists:
                    raise PlanError(f"no view named {stmt.name}")
                return None
            if not cat.rust.drop(stmt.name) and not stmt.if_exists:
                raise PlanError(f"no table named {stmt.name}")
            return None
        raise UnsupportedError(f"statement {type(stmt).__name__}")

    def _insert(self, stmt: ast.Insert, params: tuple[Const, ...]) -> int:
        cat = self._catalog
        cols = cat.table_columns(stmt.table)
        if cols is None:
            raise PlanError(f"no table named {stmt.table}; CREATE TABLE it first")
        path = cat.file_path(stmt.table)
        if path is not None:
            raise UnsupportedError(
                f"table {stmt.table} is a registered file ({path}); "
                f"copy it first: CREATE TABLE t AS SELECT * FROM {stmt.table}"
            )
        binder = Binder(cat, params)
        plan = binder.bind_query(stmt.query)
        target = [n for n, _ in cols]
        chosen = list(stmt.columns) or target
        for c in chosen:
            if c not in target:
                raise PlanError(f"table {stmt.table} has no column {c}")
        if len(chosen) != len(plan.columns):
            raise PlanError(
                f"INSERT INTO {stmt.table} gives {len(plan.columns)} values for {len(chosen)} columns"
            )
        from minide.sql.plan import Column, Project, Values

        if isinstance(plan, Values):
            # an all-NULL VALUES column was typed int64; give it the target column's type
            # (int64 does not cast to every type: INSERT INTO t (d) VALUES (NULL), d DATE)
            target_types = dict(cols)
            plan.cols = [
                Column(c.id, c.name, target_types[name])
                if all(r[i] is None for r in plan.rows)
                else c
                for i, (c, name) in enumerate(zip(plan.cols, chosen, strict=True))
            ]
        src = {c: col for c, col in zip(chosen, plan.columns, strict=True)}
        items = []
        for name, t in cols:
            col = src.get(name)
            e = cast_to(col.ref(), t) if col is not None else Const(None, t)
            items.append((binder.new_col(name, t), e))
        table, _ = self._execute(Project(plan, items))
        table = table.cast(pa.schema([pa.field(n, to_arrow(t)) for n, t in cols]))
        cat.rust.append(stmt.table, table)
        return int(table.num_rows)


#: parameter sets per INSERT in executemany
_MANY_ROWS = 4096


def connect(threads: int | None = None) -> Connection:
    """A new in-memory SQL connection; ``threads`` executor threads (None: all cores)."""
    return Connection(threads)
