"""Physical planning: the optimized logical plan -> the msgpack document ``rust/sql`` executes.

Column ids become positions in each operator's input; join conditions are split into hash keys
(``left = right`` conjuncts) and a residual; aggregate and expression names become the Rust
enum variants of ``rust/sql/src/plan.rs``. Also renders the physical tree for EXPLAIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from minide.errors import UnsupportedError
from minide.sql.expr import AggCall, BExpr, Col, Const, Func, Subquery, col_ids, conjuncts
from minide.sql.plan import (
    Aggregate,
    Filter,
    Join,
    Limit,
    Plan,
    Project,
    Scan,
    Sort,
    SortKey,
    TopN,
    Union,
    Values,
    Window,
)
from minide.sql.types import (
    BOOL,
    DATE,
    FLOAT,
    FLOAT32,
    FLOATS,
    INT,
    INT8,
    INT16,
    INT32,
    NULL,
    STR,
    TS,
    TSTZ,
    dec_ps,
    is_dec,
    is_int,
    scaled,
)

_DTYPE = {
    BOOL: "Bool",
    INT: "Int64",
    INT32: "Int32",
    INT16: "Int16",
    INT8: "Int8",
    FLOAT: "Float64",
    FLOAT32: "Float32",
    STR: "Utf8",
    DATE: "Date32",
    TS: "Timestamp",
    TSTZ: "TimestampTz",
    NULL: "Int64",
}
_BINOP = {
    "add": "Add",
    "sub": "Sub",
    "mul": "Mul",
    "div": "Div",
    "mod": "Mod",
    "eq": "Eq",
    "ne": "NotEq",
    "lt": "Lt",
    "le": "LtEq",
    "gt": "Gt",
    "ge": "GtEq",
    "and": "And",
    "or": "Or",
    "concat": "Concat",
    "is_not_distinct": "IsNotDistinct",
}
_AGG = {
    "sum": "Sum",
    "count": "Count",
    "count_star": "CountStar",
    "avg": "Avg",
    "min": "Min",
    "max": "Max",
    "bool_and": "BoolAnd",
    "bool_or": "BoolOr",
}
_DISTINCT_AGG = {"count": "CountDistinct", "sum": "SumDistinct", "avg": "AvgDistinct"}
_WIN = {
    "row_number": "RowNumber",
    "rank": "Rank",
    "dense_rank": "DenseRank",
    "lag": "Lag",
    "lead": "Lead",
    "sum": "Sum",
    "count": "Count",
    "count_star": "CountStar",
    "avg": "Avg",
    "min": "Min",
    "max": "Max",
}
_JOIN = {
    "inner": "Inner",
    "left": "Left",
    "right": "Right",
    "full": "Full",
    "semi": "Semi",
    "anti": "Anti",
    "null_aware_anti": "NullAwareAnti",
    "mark": "Mark",
}


def dtype(t: str) -> Any:
    if is_dec(t):
        return {"Decimal": list(dec_ps(t))}
    return _DTYPE[t]


def scalar(value: Any, t: str) -> Any:
    if value is None:
        return "Null"
    if is_dec(t):
        # the scaled integer; above 64 bits as decimal digits (msgpack has no 128-bit ints)
        v = scaled(value, dec_ps(t)[1])
        return {"Int": v} if -(2**63) <= v < 2**63 else {"Str": str(v)}
    if t == BOOL:
        return {"Bool": bool(value)}
    if is_int(t) or t in (DATE, TS, TSTZ):
        return {"Int": int(value)}
    if t in FLOATS:
        return {"Float": float(value)}
    return {"Str": str(value)}


def expr(e: BExpr, layout: dict[int, int]) -> Any:
    """Serialize a bound expression; ``layout`` maps column id -> input position."""
    if isinstance(e, Col):
        if e.id not in layout:
            raise UnsupportedError(f"internal: column {e} is not available here")
        return {"Col": layout[e.id]}
    if isinstance(e, Const):
        return {"Lit": {"value": scalar(e.value, e.type), "ty": dtype(e.type)}}
    if isinstance(e, Subquery):
        raise UnsupportedError(
            "a subquery survived planning; enable the 'decorrelate' optimizer pass"
        )
    if isinstance(e, AggCall):
        raise UnsupportedError(f"internal: aggregate {e} outside an Aggregate operator")
    assert isinstance(e, Func)
    a = [expr(x, layout) for x in e.args]
    op = e.op
    if op in _BINOP:
        return {"Binary": {"op": _BINOP[op], "l": a[0], "r": a[1], "ty": dtype(e.type)}}
    if op == "not":
        return {"Not": a[0]}
    if op == "neg":
        return {"Neg": a[0]}
    if op == "is_null":
        return {"IsNull": a[0]}
    if op == "is_not_null":
        return {"IsNotNull": a[0]}
    if op == "cast":
        return {"Cast": {"expr": a[0], "to": dtype(e.extra), "from": dtype(e.args[0].type)}}
    if op == "like":
        pat, neg, ci = e.extra
        return {"Like": {"expr": a[0], "pattern": pat, "negated": neg, "case_insensitive": ci}}
    if op == "in_list":
        vals, neg = e.extra
        return {
            "InList": {
                "expr": a[0],
                "list": [scalar(v.value, v.type) for v in vals],
                "negated": neg,
            }
        }
    if op == "case":
        n = len(a) - (1 if e.extra else 0)
        whens = [[a[i], a[i + 1]] for i in range(0, n, 2)]
        return {
            "Case": {"whens": whens, "otherwise": a[-1] if e.extra else None, "ty": dtype(e.type)}
        }
    return {"Func": {"name": op, "args": a, "ty": dtype(e.type)}}


def split_join_condition(
    cond: BExpr | None, left_ids: set[int], right_ids: set[int]
) -> tuple[list[BExpr], list[BExpr], list[BExpr], bool]:
    """(left keys, right keys, residual conjuncts, null_equal) of a join condition."""
    lk: list[BExpr] = []
    rk: list[BExpr] = []
    rest: list[BExpr] = []
    nd_l: list[BExpr] = []
    nd_r: list[BExpr] = []
    for c in conjuncts(cond):
        if isinstance(c, Func) and c.op in ("eq", "is_not_distinct"):
            a, b = c.args
            ia, ib = col_ids(a), col_ids(b)
            pair = None
            if ia and ib and ia <= left_ids and ib <= right_ids:
                pair = (a, b)
            elif ia and ib and ia <= right_ids and ib <= left_ids:
                pair = (b, a)
            if pair is not None:
                (lk if c.op == "eq" else nd_l).append(pair[0])
                (rk if c.op == "eq" else nd_r).append(pair[1])
                continue
        rest.append(c)
    if nd_l and not lk:
        return nd_l, nd_r, rest, True
    for a, b in zip(nd_l, nd_r, strict=True):
        rest.append(Func("is_not_distinct", (a, b), BOOL))
    return lk, rk, rest, False


@dataclass
class PhysicalPlan:
    root: dict[str, Any]
    names: list[str]
    #: operator id -> (logical node, one-line description)
    nodes: dict[int, tuple[Plan, str]] = field(default_factory=dict)
    #: operator id -> child operator ids
    children: dict[int, list[int]] = field(default_factory=dict)
    #: operator id -> extra EXPLAIN lines (file scans: what is pushed, what the reader did)
    notes: dict[int, list[str]] = field(default_factory=dict)

    def encode(self) -> bytes:
        return msgpack.packb(self.root, use_bin_type=True)


class _Builder:
    def __init__(self) -> None:
        self.next_id = 0
        self.nodes: dict[int, tuple[Plan, str]] = {}
        self.children: dict[int, list[int]] = {}
        self.notes: dict[int, list[str]] = {}

    def node(
        self, p: Plan, op: str, body: dict[str, Any], desc: str, kids: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self.next_id += 1
        nid = self.next_id
        self.nodes[nid] = (p, desc)
        self.children[nid] = [k["id"] for k in kids]
        return {"id": nid, "types": [dtype(c.type) for c in p.columns], "op": {op: body}}

    def build(self, p: Plan) -> dict[str, Any]:
        if isinstance(p, Scan):
            layout = {c.id: i for i, c in enumerate(p.cols)}
            f = expr(p.filter, layout) if p.filter is not None else None
            desc = f"TableScan {p.table} [{', '.join(c.name for c in p.cols)}]" + (
                f" filter: {p.filter}" if p.filter is not None else ""
            )
            return self.node(
                p, "Scan", {"table": p.table, "columns": p.positions, "filter": f}, desc, []
            )
        if isinstance(p, Values):
            rows = [[scalar(v, c.type) for v, c in zip(r, p.cols, strict=True)] for r in p.rows]
            return self.node(p, "Values", {"rows": rows}, f"Values ({len(p.rows)} rows)", [])
        if isinstance(p, Filter):
            child = self.build(p.input)
            layout = _layout(p.input)
            return self.node(
                p,
                "Filter",
                {"input": child, "predicate": expr(p.predicate, layout)},
                f"Filter {p.predicate}",
                [child],
            )
        if isinstance(p, Project):
            child = self.build(p.input)
            layout = _layout(p.input)
            return self.node(
                p,
                "Project",
                {"input": child, "exprs": [expr(e, layout) for _, e in p.items]},
                "Projection " + ", ".join(str(e) for _, e in p.items),
                [child],
            )
        if isinstance(p, Aggregate):
            child = self.build(p.input)
            layout = _layout(p.input)
            aggs = []
            for _, a in p.aggs:
                func = (
                    _DISTINCT_AGG[a.func]
                    if a.distinct and a.func in _DISTINCT_AGG
                    else _AGG[a.func]
                )
                if a.distinct and a.func in ("min", "max"):
                    func = _AGG[a.func]
                aggs.append(
                    {
                        "func": func,
                        "arg": expr(a.arg, layout) if a.arg is not None else None,
                        "arg_ty": dtype(a.arg.type) if a.arg is not None else None,
                        "ty": dtype(a.type),
                    }
                )
            desc = (
                "HashAggregate "
                + f"group=[{', '.join(str(e) for _, e in p.groups)}] aggs=[{', '.join(str(a) for _, a in p.aggs)}]"
            )
            if isinstance(p.input, Scan) and p.input.filter is not None:
                self.notes.setdefault(child["id"], []).append(
                    "(filter fused into the aggregate above: its time is counted there)"
                )
            return self.node(
                p,
                "Aggregate",
                {"input": child, "groups": [expr(e, layout) for _, e in p.groups], "aggs": aggs},
                desc,
                [child],
            )
        if isinstance(p, Join):
            left = self.build(p.left)
            right = self.build(p.right)
            lids = {c.id for c in p.left.columns}
            rids = {c.id for c in p.right.columns}
            lk, rk, rest, null_eq = split_join_condition(p.condition, lids, rids)
            both = {c.id: i for i, c in enumerate(p.left.columns + p.right.columns)}
            residual = None
            if rest:
                from minide.sql.expr import and_all

                r = and_all(rest)
                assert r is not None
                residual = expr(r, both)
            body = {
                "left": left,
                "right": right,
                "kind": _JOIN[p.kind],
                "left_keys": [expr(k, _layout(p.left)) for k in lk],
                "right_keys": [expr(k, _layout(p.right)) for k in rk],
                "residual": residual,
                "null_equal": null_eq,
                "build_left": p.build_left and p.kind in ("semi", "anti", "null_aware_anti"),
                "single_match": p.single_match,
            }
            keys = (
                ", ".join(f"{a} = {b}" for a, b in zip(lk, rk, strict=True)) or "none (nested loop)"
            )
            desc = (
                f"HashJoin {p.kind} keys=[{keys}]"
                + (f" residual: {' AND '.join(map(str, rest))}" if rest else "")
                + ("  build=left" if body["build_left"] else "  build=right")
            )
            return self.node(p, "HashJoin", body, desc, [left, right])
        if isinstance(p, Sort):
            child = self.build(p.input)
            layout = _layout(p.input)
            return self.node(
                p,
                "Sort",
                {"input": child, "keys": _keys(p.keys, layout)},
                "Sort " + ", ".join(map(str, p.keys)),
                [child],
            )
        if isinstance(p, TopN):
            child = self.build(p.input)
            layout = _layout(p.input)
            return self.node(
                p,
                "TopN",
                {
                    "input": child,
                    "keys": _keys(p.keys, layout),
                    "limit": p.limit,
                    "offset": p.offset,
                },
                f"TopN limit={p.limit} offset={p.offset} by " + ", ".join(map(str, p.keys)),
                [child],
            )
        if isinstance(p, Limit):
            child = self.build(p.input)
            return self.node(
                p,
                "Limit",
                {"input": child, "limit": p.limit, "offset": p.offset},
                f"Limit {p.limit} offset {p.offset}",
                [child],
            )
        if isinstance(p, Window):
            child = self.build(p.input)
            layout = _layout(p.input)
            calls = []
            for _, w in p.calls:
                calls.append(
                    {
                        "func": _WIN[w.func],
                        "args": [expr(a, layout) for a in w.args],
                        "partition": [expr(e, layout) for e in w.partition],
                        "order": [
                            {"expr": expr(e, layout), "desc": d, "nulls_first": nf}
                            for e, d, nf in w.order
                        ],
                        "ty": dtype(w.type),
                        "frame": _frame(w.frame),
                    }
                )
            desc = "Window " + ", ".join(str(w) for _, w in p.calls)
            return self.node(p, "Window", {"input": child, "calls": calls}, desc, [child])
        if isinstance(p, Union):
            kids = [self.build(x) for x in p.parts]
            return self.node(p, "UnionAll", {"inputs": kids}, "UnionAll", kids)
        raise UnsupportedError(f"no physical operator for {type(p).__name__}")


_BOUND = {
    "unbounded_preceding": "UnboundedPreceding",
    "preceding": "Preceding",
    "current_row": "CurrentRow",
    "following": "Following",
    "unbounded_following": "UnboundedFollowing",
}


def _frame(f: Any) -> Any:
    if f is None:
        return None

    def bound(b: tuple[str, int | None]) -> Any:
        return {_BOUND[b[0]]: b[1]} if b[1] is not None else _BOUND[b[0]]

    return {"rows": f[0] == "rows", "start": bound(f[1]), "end": bound(f[2])}


def _layout(p: Plan) -> dict[int, int]:
    return {c.id: i for i, c in enumerate(p.columns)}


def _keys(keys: list[SortKey], layout: dict[int, int]) -> list[dict[str, Any]]:
    return [
        {"expr": expr(k.expr, layout), "desc": k.desc, "nulls_first": k.nulls_first} for k in keys
    ]


def to_physical(plan: Plan) -> PhysicalPlan:
    b = _Builder()
    root = b.build(plan)
    return PhysicalPlan(root, [c.name for c in plan.columns], b.nodes, b.children, b.notes)


def explain_physical(
    pp: PhysicalPlan,
    est: dict[int, float] | None = None,
    actual: dict[int, tuple[int, int]] | None = None,
) -> str:
    lines: list[str] = []

    def visit(nid: int, indent: str) -> None:
        p, desc = pp.nodes[nid]
        extra = ""
        if est is not None and id(p) in est:
            extra += f"  (est ~{est[id(p)]:,.0f} rows"
            extra += ")" if actual is None else ""
        if actual is not None:
            rows, nanos = actual.get(nid, (0, 0))
            kids = sum(actual.get(k, (0, 0))[1] for k in pp.children[nid])
            self_ms = max(nanos - kids, 0) / 1e6
            extra += (
                "," if est is not None and id(p) in est else "  ("
            ) + f" actual {rows:,} rows, {self_ms:.2f} ms)"
        lines.append(f"{indent}{desc}{extra}")
        lines.extend(f"{indent}    {n}" for n in pp.notes.get(nid, ()))
        for k in pp.children[nid]:
            visit(k, indent + "  ")

    visit(pp.root["id"], "")
    return "\n".join(lines)
