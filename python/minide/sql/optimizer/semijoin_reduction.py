"""Pass ``semijoin_reduction``: aggregate only the groups a join above can use.

A decorrelated subquery becomes a join with an aggregate grouped by the correlation key (TPC-H
Q17: ``SELECT l_partkey, avg(l_quantity) FROM lineitem GROUP BY l_partkey``, 200,000 groups over
6M rows), but the other side of that join may hold only a few keys (the 204 parts of one brand
and container). Groups whose key matches no row there can never appear in the join's output, so
the aggregate's input is semi-joined with a small plan that yields every key value the other
side can produce — here the filtered ``part`` scan — and only ~6,000 lineitem rows are grouped.

Where the aggregate may sit: either side of an inner or semi join, the NULL-supplying side of a
left or right join, the right side of an anti join (groups that match nothing never change which
rows an anti join keeps). NOT IN (null-aware) and mark joins are left alone: for them a NULL
key on the aggregate side matters.

Which plan supplies the keys: any subtree of the other side whose values of the key column
include every value the key column has in that side's output. Starting from the join key, the
search follows the column down through filters, projections (plain column renames), group keys,
join inputs, and across the equality conditions of inner and semi joins (``ps_partkey =
p_partkey`` in Q20: every ``ps_partkey`` that survives is some ``p_partkey`` of the filtered
``part``). The smallest candidate by estimated rows wins, and the rewrite happens only when it is
much smaller than the aggregate's estimated groups and is not an unfiltered base table (which
would keep every key). The candidate is evaluated a second time; it is small by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from minide.sql.expr import Col, Func, and_all, conjuncts
from minide.sql.optimizer.cardinality import Estimator
from minide.sql.plan import (
    Aggregate,
    Filter,
    Join,
    Limit,
    Plan,
    Project,
    Scan,
    Sort,
    TopN,
    with_inputs,
)
from minide.sql.types import BOOL

#: the key-supplying plan must be this many times smaller than the aggregate's groups
MIN_REDUCTION = 4.0

# join kind -> sides where an aggregate may be reduced by keys of the other side
_SIDES = {
    "inner": ("left", "right"),
    "semi": ("left", "right"),
    "left": ("right",),
    "right": ("left",),
    "anti": ("right",),
}


def run(plan: Plan, ctx: Any) -> Plan:
    est = Estimator(ctx)
    est.estimate_all(plan)
    return _visit(plan, est)


def _visit(p: Plan, est: Estimator) -> Plan:
    p = with_inputs(p, [_visit(i, est) for i in p.inputs()])
    if isinstance(p, Join) and p.condition is not None:
        for side in _SIDES.get(p.kind, ()):
            p = _reduce_side(p, side, est)
    return p


def _eq_pairs(j: Join, side: str) -> list[tuple[int, Col]]:
    """(column id on ``side``, column on the other side) for each ``a = b`` key conjunct."""
    ids = {c.id for c in getattr(j, side).columns}
    out = []
    for c in conjuncts(j.condition):
        if isinstance(c, Func) and c.op == "eq" and all(isinstance(a, Col) for a in c.args):
            a, b = c.args
            assert isinstance(a, Col) and isinstance(b, Col)
            if a.id in ids and b.id not in ids:
                out.append((a.id, b))
            elif b.id in ids and a.id not in ids:
                out.append((b.id, a))
    return out


def _reduce_side(j: Join, side: str, est: Estimator) -> Join:
    other = j.right if side == "left" else j.left
    best: tuple[float, int, Plan, Col] | None = None
    for agg_col, key in _eq_pairs(j, side):
        found = _find_group_input(getattr(j, side), agg_col)
        if found is None:
            continue
        agg, input_col = found
        groups = est.rows(agg)
        for cand, cid in _sources(other, key.id):
            if _unfiltered(cand):
                continue
            rows = est.rows(cand)
            if rows * MIN_REDUCTION > groups:
                continue
            if best is None or rows < best[0]:
                kcol = next(c for c in cand.columns if c.id == cid)
                best = (rows, input_col, cand, kcol.ref())
    if best is None:
        return j
    _, input_col, cand, kref = best
    new_side = _rewrite_agg(getattr(j, side), input_col, cand, kref)
    if new_side is None:
        return j
    return replace(j, **{side: new_side})


def _find_group_input(p: Plan, cid: int) -> tuple[Aggregate, int] | None:
    """The aggregate under ``p`` (through filters and renames) whose group key is output as
    column ``cid``, and the id of the plain input column that key groups by."""
    if isinstance(p, Filter | Sort):
        return _find_group_input(p.input, cid)
    if isinstance(p, Project):
        e = dict((c.id, x) for c, x in p.items).get(cid)
        return _find_group_input(p.input, e.id) if isinstance(e, Col) else None
    if isinstance(p, Aggregate):
        for c, e in p.groups:
            if c.id == cid and isinstance(e, Col):
                return p, e.id
    return None


def _rewrite_agg(p: Plan, input_col: int, cand: Plan, kref: Col) -> Plan | None:
    """``p`` with the aggregate grouping by ``input_col`` fed by ``input SEMI JOIN cand``."""
    if isinstance(p, Filter | Sort | Project):
        inner = _rewrite_agg(p.input, input_col, cand, kref)
        return None if inner is None else replace(p, input=inner)
    if isinstance(p, Aggregate):
        if {c.id for c in cand.columns} & {c.id for c in p.input.columns}:
            return None  # shared column ids would make the semi join's keys ambiguous
        icol = next((c for c in p.input.columns if c.id == input_col), None)
        if icol is None:
            return None
        cond = and_all([Func("eq", (icol.ref(), kref), BOOL)])
        return replace(p, input=Join("semi", p.input, cand, cond))
    return None


def _sources(p: Plan, cid: int) -> Iterator[tuple[Plan, int]]:
    """Subplans (and the column in them) whose values of that column include every value
    column ``cid`` takes in ``p``'s output (NULLs aside: they never match a join key)."""
    yield p, cid
    if isinstance(p, Filter | Sort | Limit | TopN):
        yield from _sources(p.input, cid)
    elif isinstance(p, Project):
        e = dict((c.id, x) for c, x in p.items).get(cid)
        if isinstance(e, Col):
            yield from _sources(p.input, e.id)
    elif isinstance(p, Aggregate):
        e = dict((c.id, x) for c, x in p.groups).get(cid)
        if isinstance(e, Col):
            yield from _sources(p.input, e.id)
    elif isinstance(p, Join):
        lids = {c.id for c in p.left.columns}
        side = p.left if cid in lids else p.right
        if cid in {c.id for c in side.columns}:
            yield from _sources(side, cid)
        if p.kind in ("inner", "semi"):
            # an output row satisfied ``cid = other``: its value is one of ``other``'s values
            for c in conjuncts(p.condition):
                if isinstance(c, Func) and c.op == "eq" and all(isinstance(a, Col) for a in c.args):
                    a, b = c.args
                    assert isinstance(a, Col) and isinstance(b, Col)
                    for x, y in ((a, b), (b, a)):
                        if x.id == cid and y.id not in {c.id for c in side.columns}:
                            other = p.right if side is p.left else p.left
                            if y.id in {c.id for c in other.columns}:
                                yield from _sources(other, y.id)


def _unfiltered(p: Plan) -> bool:
    """A plan that is just a base table (maybe renamed): it yields every key, reducing nothing."""
    while isinstance(p, Project | Sort):
        p = p.input
    return isinstance(p, Scan) and p.filter is None
