"""Pass ``limit_pushdown``: ``LIMIT n`` over ``ORDER BY`` becomes a Top-N operator (keeps n rows
instead of sorting everything), also when a projection sits between them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from minide.sql.plan import Limit, Plan, Project, Sort, TopN, with_inputs


def run(plan: Plan, ctx: Any = None) -> Plan:
    p = with_inputs(plan, [run(i, ctx) for i in plan.inputs()])
    if isinstance(p, Limit) and p.limit is not None:
        inner = p.input
        if isinstance(inner, Sort):
            return TopN(inner.input, inner.keys, p.limit, p.offset)
        if isinstance(inner, Project) and isinstance(inner.input, Sort):
            s = inner.input
            return replace(inner, input=TopN(s.input, s.keys, p.limit, p.offset))
    return p
