"""The logical plan: relational operators over bound expressions.

Each node lists its output columns (``Column``: id, name, type). Nodes are plain dataclasses that
optimizer passes rebuild (never mutate in place). ``explain`` renders a tree with estimated rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minide.sql.expr import AggCall, BExpr, Col, col_ids, walk


@dataclass(frozen=True)
class Column:
    id: int
    name: str
    type: str

    def ref(self) -> Col:
        return Col(self.id, self.type, self.name)


class Plan:
    """Base class of logical operators."""

    def inputs(self) -> list[Plan]:
        return []

    @property
    def columns(self) -> list[Column]:
        raise NotImplementedError

    def exprs(self) -> list[BExpr]:
        """Expressions this node evaluates (for column-use analysis)."""
        return []


@dataclass
class Scan(Plan):
    table: str
    cols: list[Column]
    #: positions in the registered table of each column in ``cols``
    positions: list[int]
    filter: BExpr | None = None

    @property
    def columns(self) -> list[Column]:
        return self.cols

    def exprs(self) -> list[BExpr]:
        return [self.filter] if self.filter is not None else []


@dataclass
class Values(Plan):
    rows: list[list[Any]]
    cols: list[Column]

    @property
    def columns(self) -> list[Column]:
        return self.cols


@dataclass
class Filter(Plan):
    input: Plan
    predicate: BExpr

    def inputs(self) -> list[Plan]:
        return [self.input]

    @property
    def columns(self) -> list[Column]:
        return self.input.columns

    def exprs(self) -> list[BExpr]:
        return [self.predicate]


@dataclass
class Project(Plan):
    input: Plan
    items: list[tuple[Column, BExpr]]

    def inputs(self) -> list[Plan]:
        return [self.input]

    @property
    def columns(self) -> list[Column]:
        return [c for c, _ in self.items]

    def exprs(self) -> list[BExpr]:
        return [e for _, e in self.items]


@dataclass
class Aggregate(Plan):
    input: Plan
    groups: list[tuple[Column, BExpr]]
    aggs: list[tuple[Column, AggCall]]

    def inputs(self) -> list[Plan]:
        return [self.input]

    @property
    def columns(self) -> list[Column]:
        return [c for c, _ in self.groups] + [c for c, _ in self.aggs]

    def exprs(self) -> list[BExpr]:
        return [e for _, e in self.groups] + [a for _, a in self.aggs]


JOIN_KINDS = ("inner", "left", "right", "full", "semi", "anti", "null_aware_anti", "mark")


@dataclass
class Join(Plan):
    """``kind`` in JOIN_KINDS. Output: left ++ right (inner/outer), left (semi/anti),
    left ++ [mark] (mark). ``condition`` None means a cross product."""

    kind: str
    left: Plan
    right: Plan
    condition: BExpr | None = None
    mark: Column | None = None
    #: semi/anti joins: hash the left input instead of the right one (set by build_side)
    build_left: bool = False
    #: scalar subquery joins: a left row may match at most one right row (else an error)
    single_match: bool = False

    def inputs(self) -> list[Plan]:
        return [self.left, self.right]

    @property
    def columns(self) -> list[Column]:
        if self.kind in ("semi", "anti", "null_aware_anti"):
            return self.left.columns
        if self.kind == "mark":
            assert self.mark is not None
            return [*self.left.columns, self.mark]
        return self.left.columns + self.right.columns

    def exprs(self) -> list[BExpr]:
        return [self.condition] if self.condition is not None else []


@dataclass(frozen=True)
class SortKey:
    expr: BExpr
    desc: bool = False
    nulls_first: bool = False

    def __str__(self) -> str:
        return (
            f"{self.expr}{' DESC' if self.desc else ''}{' NULLS FIRST' if self.nulls_first else ''}"
        )


@dataclass
class Sort(Plan):
    input: Plan
    keys: list[SortKey]

    def inputs(self) -> list[Plan]:
        return [self.input]

    @property
    def columns(self) -> list[Column]:
        return self.input.columns

    def exprs(self) -> list[BExpr]:
        return [k.expr for k in self.keys]


@dataclass
class TopN(Plan):
    input: Plan
    keys: list[SortKey]
    limit: int
    offset: int = 0

    def inputs(self) -> list[Plan]:
        return [self.input]

    @property
    def columns(self) -> list[Column]:
        return self.input.columns

    def exprs(self) -> list[BExpr]:
        return [k.expr for k in self.keys]


@dataclass
class Limit(Plan):
    input: Plan
    limit: int | None
    offset: int = 0

    def inputs(self) -> list[Plan]:
        return [self.input]

    @property
    def columns(self) -> list[Column]:
        return self.input.columns


@dataclass
class Window(Plan):
    """Appends one column per window function call to its input's columns."""

    input: Plan
    calls: list[tuple[Column, Any]]

    def inputs(self) -> list[Plan]:
        return [self.input]

    @property
    def columns(self) -> list[Column]:
        return self.input.columns + [c for c, _ in self.calls]

    def exprs(self) -> list[BExpr]:
        return [w for _, w in self.calls]


@dataclass
class Union(Plan):
    """UNION ALL of inputs with positionally matching columns."""

    parts: list[Plan]
    cols: list[Column] = field(default_factory=list)

    def inputs(self) -> list[Plan]:
        return list(self.parts)

    @property
    def columns(self) -> list[Column]:
        return self.cols


def with_inputs(p: Plan, new: list[Plan]) -> Plan:
    """A copy of ``p`` with its inputs replaced."""
    from dataclasses import replace

    if isinstance(p, Join):
        return replace(p, left=new[0], right=new[1])
    if isinstance(p, Union):
        return replace(p, parts=list(new))
    if isinstance(p, Filter | Project | Aggregate | Sort | TopN | Limit | Window):
        return replace(p, input=new[0])
    return p


def free_ids(p: Plan) -> set[int]:
    """Column ids ``p`` reads but does not produce: its correlation with an outer query."""
    produced: set[int] = set()
    used: set[int] = set()

    def visit(n: Plan) -> None:
        for i in n.inputs():
            visit(i)
        produced.update(c.id for c in n.columns)
        if isinstance(n, Aggregate | Project):
            produced.update(c.id for c, _ in (n.groups if isinstance(n, Aggregate) else n.items))
        for e in n.exprs():
            used.update(col_ids(e))
            for x in walk(e):
                from minide.sql.expr import Subquery

                if isinstance(x, Subquery):
                    used.update(free_ids(x.plan))

    visit(p)
    return used - produced


# ------------------------------------------------------------------------------------------------
# EXPLAIN rendering
# ------------------------------------------------------------------------------------------------


def describe(p: Plan) -> str:
    """One line describing ``p`` (without inputs)."""
    if isinstance(p, Scan):
        cols = ", ".join(c.name for c in p.cols)
        f = f" filter={p.filter}" if p.filter is not None else ""
        return f"Scan {p.table} [{cols}]{f}"
    if isinstance(p, Values):
        return f"Values {len(p.rows)} rows"
    if isinstance(p, Filter):
        return f"Filter {p.predicate}"
    if isinstance(p, Project):
        return "Project " + ", ".join(
            f"{e}" if isinstance(e, Col) and e.id == c.id else f"{e} AS {c.name}#{c.id}"
            for c, e in p.items
        )
    if isinstance(p, Aggregate):
        g = ", ".join(str(e) for _, e in p.groups)
        a = ", ".join(f"{e} AS {c.name}#{c.id}" for c, e in p.aggs)
        return f"Aggregate group=[{g}] aggs=[{a}]"
    if isinstance(p, Join):
        cond = f" on {p.condition}" if p.condition is not None else " (cross)"
        return f"Join {p.kind}{cond}" + (" build=left" if p.build_left else "")
    if isinstance(p, Sort):
        return "Sort " + ", ".join(str(k) for k in p.keys)
    if isinstance(p, TopN):
        return f"TopN {p.limit} offset {p.offset} by " + ", ".join(str(k) for k in p.keys)
    if isinstance(p, Limit):
        return f"Limit {p.limit} offset {p.offset}"
    if isinstance(p, Union):
        return f"UnionAll {len(p.parts)} inputs"
    if isinstance(p, Window):
        return "Window " + ", ".join(f"{w} AS {c.name}#{c.id}" for c, w in p.calls)
    return type(p).__name__


def explain_tree(p: Plan, est: dict[int, float] | None = None, indent: str = "") -> str:
    rows = f"  (~{est[id(p)]:,.0f} rows)" if est is not None and id(p) in est else ""
    lines = [f"{indent}{describe(p)}{rows}"]
    for i in p.inputs():
        lines.append(explain_tree(i, est, indent + "  "))
    return "\n".join(lines)
