"""Pass ``build_side``: hash the smaller input. The executor builds its hash table from a join's
right input and streams the left one, so an inner join whose left input is estimated smaller
swaps its inputs, and a left join with a much smaller preserved side becomes a right join."""

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
    if isinstance(p, Join) and p.kind in ("inner", "left"):
        lr, rr = est.rows(p.left), est.rows(p.right)
        if p.kind == "inner" and lr < rr:
            out = replace(p, left=p.right, right=p.left)
            est.cache[id(out)] = est.rows(p)
            return out
        if p.kind == "left" and lr * 4 < rr:
            out = Join("right", p.right, p.left, p.condition)
            est.cache[id(out)] = est.rows(p)
            return out
    return p
