"""Bound expressions: what the binder turns AST expressions into.

Columns are referenced by a query-wide unique id (``Col.id``), not by position, so optimizer
passes can move expressions between operators freely; the physical planner maps ids to positions.
Every expression knows its type. All nodes are frozen (hashable, comparable by structure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from minide.sql.types import BOOL


class BExpr:
    """Base class of bound expressions."""

    type: str


@dataclass(frozen=True)
class Col(BExpr):
    id: int
    type: str
    #: display only: two references to the same column compare equal whatever they are called
    name: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.name}#{self.id}"


@dataclass(frozen=True)
class Const(BExpr):
    """A constant; dates are days since 1970-01-01, timestamps microseconds."""

    value: Any
    type: str

    def __str__(self) -> str:
        from minide.sql.types import DATE, STR, days_to_date

        if self.value is None:
            return "NULL"
        if self.type == DATE:
            return f"DATE '{days_to_date(self.value)}'"
        if self.type == STR:
            return "'" + str(self.value).replace("'", "''") + "'"
        return str(self.value)


@dataclass(frozen=True)
class Func(BExpr):
    """An operator or function. ``op`` names: arithmetic (add sub mul div mod neg concat),
    comparison (eq ne lt le gt ge is_not_distinct), logic (and or not), is_null, is_not_null,
    case (args: cond1, val1, ..., [else]; ``extra`` = has_else), cast (``extra`` = target type),
    like (``extra`` = (pattern, negated, case_insensitive)), in_list (``extra`` = (values, negated)),
    and scalar functions by name (extract_year, substring, coalesce, abs, add_months, ...)."""

    op: str
    args: tuple[BExpr, ...]
    type: str
    extra: Any = None

    def __str__(self) -> str:
        sym = {
            "add": "+",
            "sub": "-",
            "mul": "*",
            "div": "/",
            "mod": "%",
            "eq": "=",
            "ne": "<>",
            "lt": "<",
            "le": "<=",
            "gt": ">",
            "ge": ">=",
            "and": "AND",
            "or": "OR",
            "concat": "||",
            "is_not_distinct": "IS NOT DISTINCT FROM",
        }
        if self.op in sym and len(self.args) == 2:
            return f"({self.args[0]} {sym[self.op]} {self.args[1]})"
        if self.op == "not":
            return f"NOT {self.args[0]}"
        if self.op == "neg":
            return f"-{self.args[0]}"
        if self.op == "is_null":
            return f"{self.args[0]} IS NULL"
        if self.op == "is_not_null":
            return f"{self.args[0]} IS NOT NULL"
        if self.op == "cast":
            return f"CAST({self.args[0]} AS {self.extra})"
        if self.op == "like":
            pat, neg, ci = self.extra
            return f"{self.args[0]} {'NOT ' if neg else ''}{'ILIKE' if ci else 'LIKE'} '{pat}'"
        if self.op == "in_list":
            vals, neg = self.extra
            return f"{self.args[0]} {'NOT ' if neg else ''}IN ({', '.join(str(v) for v in vals)})"
        if self.op == "case":
            parts = ["CASE"]
            n = len(self.args) - (1 if self.extra else 0)
            for i in range(0, n, 2):
                parts.append(f"WHEN {self.args[i]} THEN {self.args[i + 1]}")
            if self.extra:
                parts.append(f"ELSE {self.args[-1]}")
            return " ".join([*parts, "END"])
        return f"{self.op}({', '.join(str(a) for a in self.args)})"


@dataclass(frozen=True)
class AggCall(BExpr):
    """An aggregate call (sum count count_star avg min max bool_and bool_or), maybe DISTINCT."""

    func: str
    arg: BExpr | None
    type: str
    distinct: bool = False

    def __str__(self) -> str:
        if self.func == "count_star":
            return "count(*)"
        return f"{self.func}({'DISTINCT ' if self.distinct else ''}{self.arg})"


@dataclass(frozen=True)
class WindowCall(BExpr):
    """``func(args) OVER (PARTITION BY partition ORDER BY order [frame])``; ``order`` holds
    (expr, desc, nulls_first) triples."""

    func: str
    args: tuple[BExpr, ...]
    partition: tuple[BExpr, ...]
    order: tuple[tuple[BExpr, bool, bool], ...]
    type: str
    #: None = the default frame; else (unit, (start kind, offset), (end kind, offset)) with
    #: unit "rows"/"range" and kinds as in ``ast.FrameBound``
    frame: tuple[str, tuple[str, int | None], tuple[str, int | None]] | None = None

    def __str__(self) -> str:
        over = []
        if self.partition:
            over.append("PARTITION BY " + ", ".join(map(str, self.partition)))
        if self.order:
            over.append(
                "ORDER BY " + ", ".join(f"{e}{' DESC' if d else ''}" for e, d, _ in self.order)
            )
        if self.frame is not None:

            def bound(b: tuple[str, int | None]) -> str:
                kind = b[0].upper().replace("_", " ")
                return f"{b[1]} {kind}" if b[1] is not None else kind

            unit, lo, hi = self.frame
            over.append(f"{unit.upper()} BETWEEN {bound(lo)} AND {bound(hi)}")
        return f"{self.func}({', '.join(map(str, self.args))}) OVER ({' '.join(over)})"


@dataclass(frozen=True, eq=False)
class Subquery(BExpr):
    """A subquery inside an expression, before decorrelation turns it into a join.

    kind: ``scalar`` (value = its single column), ``exists``, ``in`` (``operand`` IN subquery).
    The plan may reference outer columns by id (correlation).
    """

    kind: str
    plan: Any
    type: str
    operand: BExpr | None = None
    negated: bool = False

    def __str__(self) -> str:
        neg = "NOT " if self.negated else ""
        if self.kind == "exists":
            return f"{neg}EXISTS(<subquery>)"
        if self.kind == "in":
            return f"{self.operand} {neg}IN (<subquery>)"
        return "(<scalar subquery>)"


def children(e: BExpr) -> tuple[BExpr, ...]:
    if isinstance(e, Func):
        return e.args
    if isinstance(e, WindowCall):
        return e.args + e.partition + tuple(o[0] for o in e.order)
    if isinstance(e, AggCall):
        return (e.arg,) if e.arg is not None else ()
    if isinstance(e, Subquery):
        return (e.operand,) if e.operand is not None else ()
    return ()


def walk(e: BExpr) -> Iterator[BExpr]:
    yield e
    for c in children(e):
        yield from walk(c)


def transform(e: BExpr, f: Callable[[BExpr], BExpr | None]) -> BExpr:
    """Rebuild ``e`` bottom-up... top-down: ``f`` may return a replacement (not descended into)."""
    r = f(e)
    if r is not None:
        return r
    if isinstance(e, Func):
        args = tuple(transform(a, f) for a in e.args)
        return e if args == e.args else replace(e, args=args)
    if isinstance(e, AggCall) and e.arg is not None:
        return replace(e, arg=transform(e.arg, f))
    if isinstance(e, WindowCall):
        return replace(
            e,
            args=tuple(transform(a, f) for a in e.args),
            partition=tuple(transform(a, f) for a in e.partition),
            order=tuple((transform(x, f), d, nf) for x, d, nf in e.order),
        )
    if isinstance(e, Subquery) and e.operand is not None:
        return replace(e, operand=transform(e.operand, f))
    return e


def col_ids(e: BExpr) -> set[int]:
    """Ids of the columns ``e`` reads (subquery plans excluded; see ``plan.free_ids``)."""
    return {x.id for x in walk(e) if isinstance(x, Col)}


def has_subquery(e: BExpr) -> bool:
    return any(isinstance(x, Subquery) for x in walk(e))


def substitute(e: BExpr, mapping: dict[int, BExpr]) -> BExpr:
    return transform(e, lambda x: mapping.get(x.id) if isinstance(x, Col) else None)


def conjuncts(e: BExpr | None) -> list[BExpr]:
    if e is None:
        return []
    if isinstance(e, Func) and e.op == "and":
        return conjuncts(e.args[0]) + conjuncts(e.args[1])
    return [e]


def and_all(es: list[BExpr]) -> BExpr | None:
    out: BExpr | None = None
    for e in es:
        out = e if out is None else Func("and", (out, e), BOOL)
    return out


TRUE = Const(True, BOOL)
