"""Pass ``build_side``: hash the smaller input. The executor builds its hash table from a join's
right input and streams the left one, so an inner join whose left input is estimated smaller
swaps its inputs, a left join with a much smaller preserved side becomes a right join, and a
semi/anti join with a much smaller left input hashes the left input instead (``build_left``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from minide.sql.optimizer.cardinality import Estimator
from minide.sql.plan import Join, Plan, with_inputs


def run(plan: Plan, ctx: Any) -> Plan:
    est = Estimator(ctx)
    est.estimate_all(plan)
    return _visit(plan, est)


def _visit(p: Plan, est: Estimator) -> Plan:
    p = with_inputs(p, [_visit(i, est) for i in p.inputs()])
    if isinstance(p, Join) and p.kind in ("inner", "left", "semi", "anti", "null_aware_anti"):
        lr, rr = est.rows(p.left), est.rows(p.right)
        if p.kind == "inner" and lr < rr:
            out = replace(p, left=p.right, right=p.left)
            est.remember(out, est.rows(p))
            return out
        if p.kind in ("semi", "anti", "null_aware_anti") and lr * 4 < rr:
            out = replace(p, build_left=True)
            est.remember(out, est.rows(p))
            return out
        if p.kind == "left" and lr * 4 < rr and not p.single_match:
            out = Join("right", p.right, p.left, p.condition)
            est.remember(out, est.rows(p))
            return out
    return p
