"""Pass ``decorrelate``: rewrite subqueries in expressions into joins.

- ``EXISTS (q)`` / ``NOT EXISTS (q)`` as a WHERE conjunct -> semi / anti join with q;
- ``x IN (q)`` -> semi join on ``x = q.col``; ``x NOT IN (q)`` -> null-aware anti join;
- a scalar subquery -> left join with q, the expression then reads q's column;
- EXISTS / IN anywhere else (under OR, in SELECT) -> mark join, read as a boolean column.

A correlated subquery (one that reads outer columns) has its correlated predicates pulled up out
of it and turned into the join condition; crossing an aggregate, an equality ``outer = inner``
turns ``inner`` into a GROUP BY key of the subquery (the classic "magic" rewrite), so
``(SELECT avg(x) FROM t WHERE t.k = o.k)`` becomes a join with ``SELECT k, avg(x) ... GROUP BY k``.
A correlated COUNT that is the subquery's value becomes ``coalesce(count, 0)`` after the left
join, so outer rows without matches see 0 (the "COUNT bug").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from minide.errors import UnsupportedError
from minide.sql.expr import (
    BExpr,
    Col,
    Const,
    Func,
    Subquery,
    and_all,
    col_ids,
    conjuncts,
    has_subquery,
    transform,
    walk,
)
from minide.sql.plan import (
    Aggregate,
    Column,
    Filter,
    Join,
    Plan,
    Project,
    Scan,
    Sort,
    free_ids,
    with_inputs,
)
from minide.sql.types import BOOL, INT


class _Ids:
    def __init__(self, start: int) -> None:
        self.n = start

    def col(self, name: str, t: str) -> Column:
        self.n += 1
        return Column(self.n, name, t)


def _max_id(p: Plan) -> int:
    m = max((c.id for c in p.columns), default=0)
    for e in p.exprs():
        for x in walk(e):
            if isinstance(x, Col):
                m = max(m, x.id)
            if isinstance(x, Subquery):
                m = max(m, _max_id(x.plan))
    if isinstance(p, Project | Aggregate):
        pass
    for i in p.inputs():
        m = max(m, _max_id(i))
    return m


def run(plan: Plan, ctx: Any = None) -> Plan:
    return _Rewriter(_Ids(_max_id(plan) + 1_000_000)).plan(plan)


class _Rewriter:
    def __init__(self, ids: _Ids) -> None:
        self.ids = ids

    def plan(self, p: Plan) -> Plan:
        p = with_inputs(p, [self.plan(i) for i in p.inputs()])
        if isinstance(p, Filter) and has_subquery(p.predicate):
            return self._filter(p)
        if isinstance(p, Project) and any(has_subquery(e) for _, e in p.items):
            inp = p.input
            items = []
            for c, e in p.items:
                inp, e2 = self._replace_all(inp, e)
                items.append((c, e2))
            return Project(inp, items)
        if isinstance(p, Join) and p.condition is not None and has_subquery(p.condition):
            raise UnsupportedError("subqueries inside JOIN ... ON conditions")
        if isinstance(p, Aggregate) and any(has_subquery(e) for e in p.exprs()):
            raise UnsupportedError("subqueries inside aggregate arguments or GROUP BY")
        return p

    def _filter(self, f: Filter) -> Plan:
        inp = f.input
        rest: list[BExpr] = []
        for c in conjuncts(f.predicate):
            neg = False
            s = c
            if isinstance(c, Func) and c.op == "not" and isinstance(c.args[0], Subquery):
                s, neg = c.args[0], True
            if isinstance(s, Subquery) and s.kind in ("exists", "in"):
                inp = self._semi(inp, s, s.negated != neg)
            else:
                rest.append(c)
        out_preds = []
        for c in rest:
            inp, c2 = self._replace_all(inp, c)
            out_preds.append(c2)
        pred = and_all(out_preds)
        return Filter(inp, pred) if pred is not None else inp

    def _prepare(self, s: Subquery, outer_ids: set[int]) -> tuple[Plan, list[BExpr]]:
        sub = self.plan(s.plan)
        corr = free_ids(sub) & outer_ids
        if not corr:
            return sub, []
        return self._pull(sub, corr)

    def _semi(self, inp: Plan, s: Subquery, negated: bool) -> Plan:
        outer = {c.id for c in inp.columns}
        value = s.plan.columns[0] if s.kind == "in" else None
        sub, preds = self._prepare(s, outer)
        cond = list(preds)
        if s.kind == "in":
            assert value is not None and s.operand is not None
            cond.insert(0, Func("eq", (s.operand, value.ref()), BOOL))
            kind = "null_aware_anti" if negated else "semi"
        else:
            kind = "anti" if negated else "semi"
        return Join(kind, inp, sub, and_all(cond))

    def _replace_all(self, inp: Plan, e: BExpr) -> tuple[Plan, BExpr]:
        """Turn every subquery in ``e`` into a join below; return the new input and expression."""
        subs = [x for x in walk(e) if isinstance(x, Subquery)]
        mapping: dict[int, BExpr] = {}
        for s in subs:
            outer = {c.id for c in inp.columns}
            if s.kind == "scalar":
                value = s.plan.columns[0]
                sub, preds = self._prepare(s, outer)
                single = not _at_most_one_row_per_key(sub)
                inp = Join("left", inp, sub, and_all(preds), single_match=single)
                ref: BExpr = value.ref()
                if preds and _is_count(sub, value.id):
                    # COUNT over no matching rows is 0, but the left join yields NULL.
                    ref = Func("coalesce", (ref, Const(0, INT)), INT)
                mapping[id(s)] = ref
            else:
                value = s.plan.columns[0] if s.kind == "in" else None
                sub, preds = self._prepare(s, outer)
                cond = list(preds)
                if s.kind == "in":
                    assert value is not None and s.operand is not None
                    cond.insert(0, Func("eq", (s.operand, value.ref()), BOOL))
                mark = self.ids.col("mark", BOOL)
                inp = Join("mark", inp, sub, and_all(cond), mark=mark)
                ref = mark.ref()
                mapping[id(s)] = Func("not", (ref,), BOOL) if s.negated else ref
        out = transform(e, lambda x: mapping.get(id(x)) if isinstance(x, Subquery) else None)
        return inp, out

    def _pull(self, p: Plan, outer: set[int]) -> tuple[Plan, list[BExpr]]:
        """Remove predicates reading ``outer`` columns from ``p``; return them for the join."""
        if not (free_ids(p) & outer):
            return p, []
        if isinstance(p, Filter):
            inp, preds = self._pull(p.input, outer)
            local, corr = [], []
            for c in conjuncts(p.predicate):
                (corr if col_ids(c) & outer else local).append(c)
            pred = and_all(local)
            return (Filter(inp, pred) if pred is not None else inp), preds + corr
        if isinstance(p, Scan):
            local, corr = [], []
            for c in conjuncts(p.filter):
                (corr if col_ids(c) & outer else local).append(c)
            return replace(p, filter=and_all(local)), corr
        if isinstance(p, Project):
            inp, preds = self._pull(p.input, outer)
            have = {c.id for c, _ in p.items}
            extra = []
            for i in (
                sorted(set().union(*(col_ids(x) for x in preds)) - outer - have) if preds else []
            ):
                col = next((c for c in inp.columns if c.id == i), None)
                if col is not None:
                    extra.append((col, col.ref()))
            return Project(inp, p.items + extra), preds
        if isinstance(p, Sort):
            return self._pull(p.input, outer)
        if isinstance(p, Aggregate):
            inp, preds = self._pull(p.input, outer)
            groups = list(p.groups)
            out_preds = []
            for c in preds:
                if not (isinstance(c, Func) and c.op == "eq"):
                    raise UnsupportedError(
                        f"correlated predicate {c} under an aggregate (only equalities are supported)"
                    )
                a, b = c.args
                if col_ids(a) <= outer and not (col_ids(b) & outer):
                    o, i = a, b
                elif col_ids(b) <= outer and not (col_ids(a) & outer):
                    o, i = b, a
                else:
                    raise UnsupportedError(
                        f"correlated predicate {c} mixes outer and inner columns"
                    )
                g = next((gc for gc, ge in groups if ge == i), None)
                if g is None:
                    g = self.ids.col(i.name if isinstance(i, Col) else "key", i.type)
                    groups.append((g, i))
                out_preds.append(Func("eq", (o, g.ref()), BOOL))
            return Aggregate(inp, groups, p.aggs), out_preds
        if isinstance(p, Join) and p.kind == "inner":
            left, lp = self._pull(p.left, outer)
            right, rp = self._pull(p.right, outer)
            return replace(p, left=left, right=right), lp + rp
        if isinstance(p, Join) and p.kind in ("left", "semi", "anti", "null_aware_anti", "mark"):
            if free_ids(p.right) & outer:
                raise UnsupportedError(
                    "correlation inside the inner side of an outer/semi join in a subquery"
                )
            left, lp = self._pull(p.left, outer)
            return replace(p, left=left), lp
        raise UnsupportedError(f"correlated subquery through {type(p).__name__}")


def _at_most_one_row_per_key(p: Plan) -> bool:
    """A subquery that is an aggregate (global, or grouped by the keys it is joined on) yields
    one row per join key; anything else is checked at run time (``single_match``)."""
    while isinstance(p, Project | Filter | Sort):
        p = p.input
    return isinstance(p, Aggregate)


def _is_count(p: Plan, cid: int) -> bool:
    """Whether column ``cid`` of ``p`` is (a projection of) a COUNT aggregate."""
    if isinstance(p, Project):
        e = next((e for c, e in p.items if c.id == cid), None)
        return isinstance(e, Col) and _is_count(p.input, e.id)
    if isinstance(p, Aggregate):
        return any(c.id == cid and a.func in ("count", "count_star") for c, a in p.aggs)
    if isinstance(p, Filter | Sort):
        return _is_count(p.input, cid)
    return False
