"""Binding context: the catalog interface, name scopes, aggregate and window collectors, and the
implicit-cast helpers the binder (binder.py) builds on.

A :class:`Scope` is the set of columns visible at one point of a query (one entry per FROM item,
chained to the outer query's scope for correlated subqueries); ``resolve`` turns a name into a
column reference or a PlanError with "did you mean" suggestions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from minide.errors import PlanError
from minide.sql import ast
from minide.sql.expr import (
    AggCall,
    BExpr,
    Col,
    Const,
    Func,
    WindowCall,
    walk,
)
from minide.sql.plan import (
    Column,
)
from minide.sql.types import (
    BOOL,
    DATE,
    FLOAT32,
    FLOATS,
    INT,
    INTERVAL,
    NULL,
    NUMERIC,
    STR,
    TIMESTAMPS,
    common_type,
    date_to_days,
    dec,
    dec_common,
    dec_const,
    dec_ps,
    int_as_dec,
    int_fits,
    int_type_of,
    is_dec,
    is_int,
    to_f32,
    ts_to_micros,
)

if TYPE_CHECKING:
    from minide.sql.binder import Binder


class CatalogView(Protocol):
    def table_columns(self, name: str) -> list[tuple[str, str]] | None: ...
    def view_query(self, name: str) -> tuple[ast.Query, tuple[str, ...]] | None: ...
    def names(self) -> list[str]: ...


# ------------------------------------------------------------------------------------------------
# casts
# ------------------------------------------------------------------------------------------------


def cast_to(e: BExpr, t: str) -> BExpr:
    """``e`` as type ``t``: constants are converted now, columns get a cast operator."""
    if e.type == t:
        return e
    if isinstance(e, Const):
        v = e.value
        if v is None:
            return Const(None, t)
        try:
            if is_dec(t) or is_dec(e.type):
                c = dec_const(v, e.type, t)
                if c is not None:
                    return Const(c, t)
            if t in FLOATS and e.type in (*NUMERIC, STR):
                return Const(to_f32(float(v)) if t == FLOAT32 else float(v), t)
            if is_int(t) and e.type in (*NUMERIC, STR):
                n = int(v) if is_int(e.type) or e.type == STR else round(v)
                if not int_fits(n, t):
                    raise ValueError(n)  # the executor's cast reports the overflow
                return Const(n, t)
            if t == DATE and e.type == STR:
                return Const(date_to_days(v), t)
            if t in TIMESTAMPS and e.type == STR:
                return Const(ts_to_micros(v), t)
            if t in TIMESTAMPS and e.type == DATE:
                return Const(v * 86_400_000_000, t)
            if t in TIMESTAMPS and e.type in TIMESTAMPS:  # the session zone is UTC
                return Const(v, t)
        except ValueError:
            # Not folded: the executor's cast raises the same data error as for a column.
            pass
    if e.type == INTERVAL:
        raise PlanError("an interval can only be added to or subtracted from a date or timestamp")
    return Func("cast", (e,), t, t)


def coerce_pair(a: BExpr, b: BExpr, what: str) -> tuple[BExpr, BExpr]:
    # A string literal compared with a date/number column takes the column's type.
    if isinstance(a, Const) and a.type == STR and b.type not in (STR, NULL):
        return cast_to(a, b.type), b
    if isinstance(b, Const) and b.type == STR and a.type not in (STR, NULL):
        return a, cast_to(b, a.type)
    t = unify([a, b], what)
    if t == NULL:
        t = INT
    return cast_to(a, t), cast_to(b, t)


def int_constant(e: BExpr) -> int | None:
    """The value of an integer expression over constants only (``1 + 10`` in TPC-H Q19), else
    None: such an expression is DuckDB's INTEGER, not a BIGINT column."""
    if isinstance(e, Const):
        return e.value if isinstance(e.value, int) else None
    if e.type != INT or not isinstance(e, Func) or any(isinstance(x, Col) for x in walk(e)):
        return None
    from minide.sql.optimizer.constant_folding import fold

    f = fold(e)
    return f.value if isinstance(f, Const) and isinstance(f.value, int) else None


def unify(exprs: list[BExpr], what: str) -> str:
    """The type a list of expressions (CASE branches, IN items, both sides of a comparison) is
    cast to. Among decimals an integer constant counts as DuckDB's INTEGER, DECIMAL(10, 0), and
    other integers as BIGINT, DECIMAL(19, 0)."""
    # An integer literal meets a narrow integer as that type when it fits (DuckDB types
    # literals by value: `smallint_col + 1` is a SMALLINT), as INTEGER or BIGINT when not.
    # Constant expressions count too (`-3`, `NULLIF(-3, 0)`).
    lits: list[int] = []
    t = NULL
    for e in exprs:
        v = int_constant(e) if e.type == INT else None
        if v is None or type(v) is not int:
            t = common_type(t, e.type, what)
        else:
            lits.append(v)
    for v in lits:
        if is_int(t) and t != INT:
            t = t if int_fits(v, t) else common_type(t, int_type_of(v), what)
        else:
            t = common_type(t, INT, what)
    if not is_dec(t):
        return t
    ps: tuple[int, int] | None = None
    for e in exprs:
        if e.type == NULL:
            continue
        d = dec_ps(e.type) if is_dec(e.type) else int_as_dec(int_constant(e), e.type)
        ps = d if ps is None else dec_ps(dec_common(ps, d))
    assert ps is not None
    return dec(*ps)


def require_bool(e: BExpr, what: str) -> BExpr:
    if e.type == NULL:
        return Const(None, BOOL)
    if e.type != BOOL:
        raise PlanError(f"{what} needs a boolean, got {e.type} ({e})")
    return e


# ------------------------------------------------------------------------------------------------
# scopes
# ------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    table: str | None
    name: str
    col: Column


@dataclass
class Scope:
    entries: list[Entry] = field(default_factory=list)
    parent: Scope | None = None

    def resolve(self, name: str, table: str | None) -> Col:
        hits = [e for e in self.entries if e.name == name and (table is None or e.table == table)]
        if len(hits) > 1 and len({h.col.id for h in hits}) > 1:
            tables = ", ".join(sorted({str(h.table) for h in hits}))
            raise PlanError(
                f"column reference {name!r} is ambiguous (in {tables}); qualify it as table.{name}"
            )
        if hits:
            c = hits[0].col
            return Col(c.id, c.type, name)
        if self.parent is not None:
            try:
                return self.parent.resolve(name, table)
            except PlanError:
                pass
        full = f"{table}.{name}" if table else name
        candidates = [e.name for e in self._all()] + [
            f"{e.table}.{e.name}" for e in self._all() if e.table
        ]
        close = difflib.get_close_matches(full, candidates, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        if table is not None and not any(e.table == table for e in self._all()):
            tables = sorted({str(e.table) for e in self._all() if e.table})
            close_t = difflib.get_close_matches(table, tables, n=1)
            hint = f"; did you mean {close_t[0]}.{name}?" if close_t else hint
            raise PlanError(f"unknown table {table!r} in column reference {full}{hint}")
        raise PlanError(f"unknown column {full!r}{hint}")

    def _all(self) -> list[Entry]:
        return self.entries + (self.parent._all() if self.parent else [])


@dataclass
class AggContext:
    """Collects the aggregate calls of one SELECT while its expressions are bound."""

    binder: Binder
    calls: dict[AggCall, Column] = field(default_factory=dict)

    def add(self, call: AggCall) -> Col:
        col = self.calls.get(call)
        if col is None:
            col = self.binder.new_col(call.func, call.type)
            self.calls[call] = col
        return col.ref()


WINDOW_ONLY = {"row_number", "rank", "dense_rank", "lag", "lead"}


@dataclass
class WindowContext:
    """Collects the window function calls of one SELECT list."""

    binder: Binder
    calls: dict[WindowCall, Column] = field(default_factory=dict)

    def add(self, call: WindowCall) -> Col:
        col = self.calls.get(call)
        if col is None:
            col = self.binder.new_col(call.func, call.type)
            self.calls[call] = col
        return col.ref()


# ------------------------------------------------------------------------------------------------
# the binder
# ------------------------------------------------------------------------------------------------
