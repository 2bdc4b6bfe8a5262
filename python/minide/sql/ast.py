"""The typed syntax tree produced by :func:`minide.sql.parse`.

Every node is a frozen dataclass; expressions and relations are separate families. The tree is
purely syntactic: names are unresolved and types unknown until the binder (``binder.py``) runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ------------------------------------------------------------------------------------------------
# expressions
# ------------------------------------------------------------------------------------------------


class Expr:
    """Base class of expression nodes."""


@dataclass(frozen=True)
class Literal(Expr):
    """A constant. ``kind`` is int, float, str, bool, null, date or timestamp (value is the text)."""

    value: Any
    kind: str


@dataclass(frozen=True)
class IntervalLit(Expr):
    """``INTERVAL '3' MONTH``: months, days and microseconds kept apart (months vary in length)."""

    months: int
    days: int
    micros: int = 0


@dataclass(frozen=True)
class Parameter(Expr):
    """A placeholder (``?`` or ``$n``): ``index`` is its 0-based position in the parameter
    sequence the caller passes (``?`` are numbered left to right, ``$n`` is ``n - 1``). The binder
    turns it into a typed constant from that value; the value never enters the SQL text."""

    index: int


@dataclass(frozen=True)
class ColumnRef(Expr):
    name: str
    table: str | None = None


@dataclass(frozen=True)
class Star(Expr):
    """``*`` or ``t.*`` in a select list."""

    table: str | None = None


@dataclass(frozen=True)
class BinaryOp(Expr):
    """Arithmetic (+ - * / %), comparison (= <> < <= > >=), AND, OR, ``||``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    """``-x`` (op "neg") or ``NOT x`` (op "not")."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class IsNull(Expr):
    expr: Expr
    negated: bool = False


@dataclass(frozen=True)
class IsDistinct(Expr):
    left: Expr
    right: Expr
    negated: bool = False


@dataclass(frozen=True)
class Between(Expr):
    expr: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(frozen=True)
class InList(Expr):
    expr: Expr
    items: tuple[Expr, ...]
    negated: bool = False


@dataclass(frozen=True)
class InSubquery(Expr):
    expr: Expr
    query: Query
    negated: bool = False


@dataclass(frozen=True)
class Exists(Expr):
    query: Query
    negated: bool = False


@dataclass(frozen=True)
class SubqueryExpr(Expr):
    """A scalar subquery: ``(SELECT max(x) FROM t)``."""

    query: Query


@dataclass(frozen=True)
class Like(Expr):
    expr: Expr
    pattern: Expr
    negated: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True)
class Case(Expr):
    """``CASE [operand] WHEN .. THEN .. [ELSE ..] END``."""

    operand: Expr | None
    whens: tuple[tuple[Expr, Expr], ...]
    else_: Expr | None


@dataclass(frozen=True)
class TypeName:
    name: str
    params: tuple[int, ...] = ()


@dataclass(frozen=True)
class Cast(Expr):
    expr: Expr
    type: TypeName


@dataclass(frozen=True)
class Extract(Expr):
    field: str
    expr: Expr


@dataclass(frozen=True)
class FrameBound:
    """``kind``: unbounded_preceding, preceding, current_row, following, unbounded_following;
    ``offset`` for preceding/following."""

    kind: str
    offset: int | None = None


@dataclass(frozen=True)
class Frame:
    """``ROWS|RANGE BETWEEN start AND end`` of a window."""

    unit: str
    start: FrameBound
    end: FrameBound


@dataclass(frozen=True)
class WindowSpec:
    partition_by: tuple[Expr, ...]
    order_by: tuple[OrderItem, ...]
    frame: Frame | None = None


@dataclass(frozen=True)
class FuncCall(Expr):
    name: str
    args: tuple[Expr, ...]
    distinct: bool = False
    star: bool = False
    window: WindowSpec | None = None


# ------------------------------------------------------------------------------------------------
# relations and queries
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectItem:
    expr: Expr
    alias: str | None = None


@dataclass(frozen=True)
class OrderItem:
    expr: Expr
    desc: bool = False
    nulls_first: bool | None = None


class FromItem:
    """Base class of FROM-clause items."""


@dataclass(frozen=True)
class TableRef(FromItem):
    name: str
    alias: str | None = None
    column_aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class DerivedTable(FromItem):
    query: Query
    alias: str | None = None
    column_aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Join(FromItem):
    """``left [kind] JOIN right ON on | USING (...)``; kind is inner, left, right, full or cross."""

    kind: str
    left: FromItem
    right: FromItem
    on: Expr | None = None
    using: tuple[str, ...] = ()


class QueryBody:
    """Base class of SELECT, VALUES and set operations."""


@dataclass(frozen=True)
class Select(QueryBody):
    items: tuple[SelectItem, ...]
    from_: tuple[FromItem, ...] = ()
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    having: Expr | None = None
    distinct: bool = False


@dataclass(frozen=True)
class Values(QueryBody):
    rows: tuple[tuple[Expr, ...], ...]


@dataclass(frozen=True)
class SetOp(QueryBody):
    """UNION / INTERSECT / EXCEPT, with ``all`` for the bag versions."""

    op: str
    left: QueryBody
    right: QueryBody
    all: bool = False


@dataclass(frozen=True)
class CTE:
    name: str
    query: Query
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Query:
    body: QueryBody
    with_: tuple[CTE, ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    limit: Expr | None = None
    offset: Expr | None = None


# ------------------------------------------------------------------------------------------------
# statements
# ------------------------------------------------------------------------------------------------


class Statement:
    """Base class of statements other than a bare query."""


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: TypeName


@dataclass(frozen=True)
class CreateTable(Statement):
    name: str
    columns: tuple[ColumnDef, ...]


@dataclass(frozen=True)
class CreateTableAs(Statement):
    name: str
    query: Query


@dataclass(frozen=True)
class CreateView(Statement):
    name: str
    query: Query
    columns: tuple[str, ...] = ()
    replace: bool = False


@dataclass(frozen=True)
class Insert(Statement):
    table: str
    query: Query
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class DropTable(Statement):
    name: str
    if_exists: bool = False
    view: bool = False


@dataclass(frozen=True)
class Explain(Statement):
    query: Query
    analyze: bool = False


@dataclass(frozen=True)
class Script:
    """What :func:`minide.sql.parse` returns: the statements of the text, in order."""

    statements: tuple[Query | Statement, ...] = field(default_factory=tuple)
    #: number of parameters the text takes (``?`` count, or the highest ``$n``)
    param_count: int = 0
    #: "qmark" or "numeric" when the text has placeholders, else None
    paramstyle: str | None = None
