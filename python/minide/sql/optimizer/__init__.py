"""The optimizer: an ordered list of named rewrite passes over the logical plan.

Every pass is a function ``run(plan, ctx) -> plan`` in its own module. The list below is the order
they run in; ``con.disable_optimizer(name)`` switches one off and ``EXPLAIN`` shows the plan after
each pass that changed something. ``decorrelate`` is required to execute subqueries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minide.errors import InvalidArgumentError
from minide.sql.optimizer import (
    build_side,
    constant_folding,
    decorrelate,
    join_reorder,
    limit_pushdown,
    predicate_pushdown,
    projection_pruning,
    semijoin_reduction,
)
from minide.sql.plan import Plan, explain_tree

PASSES: list[tuple[str, Callable[[Plan, Any], Plan]]] = [
    ("constant_folding", constant_folding.run),
    ("decorrelate", decorrelate.run),
    ("predicate_pushdown", predicate_pushdown.run),
    ("join_reorder", join_reorder.run),
    ("semijoin_reduction", semijoin_reduction.run),
    ("build_side", build_side.run),
    ("projection_pruning", projection_pruning.run),
    ("limit_pushdown", limit_pushdown.run),
]
PASS_NAMES = [n for n, _ in PASSES]


def check_name(name: str) -> None:
    if name not in PASS_NAMES:
        import difflib

        close = difflib.get_close_matches(name, PASS_NAMES, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise InvalidArgumentError(
            f"unknown optimizer pass {name!r}{hint}; passes: {', '.join(PASS_NAMES)}"
        )


@dataclass
class PassTrace:
    name: str
    enabled: bool
    millis: float
    plan_after: str


def optimize(
    plan: Plan, ctx: Any, disabled: set[str], trace: list[PassTrace] | None = None
) -> Plan:
    for name, fn in PASSES:
        if name in disabled:
            if trace is not None:
                trace.append(PassTrace(name, False, 0.0, ""))
            continue
        t0 = time.perf_counter()
        plan = fn(plan, ctx)
        if trace is not None:
            trace.append(
                PassTrace(name, True, (time.perf_counter() - t0) * 1e3, explain_tree(plan))
            )
    return plan
