"""Pass ``projection_pruning``: drop every column nobody above needs — scans read only the
columns used, projections and aggregates drop unused outputs — so less data flows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from minide.sql.expr import col_ids
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
    Union,
    Window,
)


def run(plan: Plan, ctx: Any = None) -> Plan:
    return _prune(plan, {c.id for c in plan.columns})


def _uses(p: Plan) -> set[int]:
    out: set[int] = set()
    for e in p.exprs():
        out |= col_ids(e)
    return out


def _prune(p: Plan, need: set[int]) -> Plan:
    if isinstance(p, Scan):
        keep = need | _uses(p)
        pairs = [(c, pos) for c, pos in zip(p.cols, p.positions, strict=True) if c.id in keep]
        return replace(p, cols=[c for c, _ in pairs], positions=[pos for _, pos in pairs])
    if isinstance(p, Filter | Sort | TopN | Limit):
        from minide.sql.plan import with_inputs

        return with_inputs(p, [_prune(p.inputs()[0], need | _uses(p))])
    if isinstance(p, Project):
        items = [(c, e) for c, e in p.items if c.id in need]
        used: set[int] = set()
        for _, e in items:
            used |= col_ids(e)
        return replace(p, items=items, input=_prune(p.input, used))
    if isinstance(p, Aggregate):
        aggs = [(c, a) for c, a in p.aggs if c.id in need]
        used = set()
        for _, e in p.groups:
            used |= col_ids(e)
        for _, a in aggs:
            used |= col_ids(a)
        return replace(p, aggs=aggs, input=_prune(p.input, used))
    if isinstance(p, Join):
        sub = need | _uses(p)
        return replace(p, left=_prune(p.left, sub), right=_prune(p.right, sub))
    if isinstance(p, Union):
        return replace(p, parts=[_prune(x, {c.id for c in x.columns}) for x in p.parts])
    if isinstance(p, Window):
        return replace(p, input=_prune(p.input, need | _uses(p)))
    return p
