"""Pass ``join_reorder``: choose the order of inner joins from estimated cardinalities.

A tree of inner joins (comma-separated FROM items included) is flattened into its leaves and
the conjuncts of its conditions. Greedy ordering: start with the connected pair whose join is
estimated smallest, then repeatedly add the connected leaf that keeps the intermediate result
smallest (a cross product only when nothing is connected). Each conjunct is attached to the
first join where all its columns are available. Estimates come from ``cardinality.Estimator``.
"""

from __future__ import annotations

from typing import Any

from minide.sql.expr import BExpr, Col, Func, and_all, col_ids, conjuncts
from minide.sql.optimizer.cardinality import Estimator
from minide.sql.plan import Filter, Join, Plan, with_inputs


def run(plan: Plan, ctx: Any) -> Plan:
    est = Estimator(ctx)
    est.estimate_all(plan)
    return _reorder(plan, est)


def _flatten(p: Plan, leaves: list[Plan], conds: list[BExpr]) -> None:
    if isinstance(p, Join) and p.kind == "inner":
        _flatten(p.left, leaves, conds)
        _flatten(p.right, leaves, conds)
        conds.extend(conjuncts(p.condition))
    else:
        leaves.append(p)


def _reorder(p: Plan, est: Estimator) -> Plan:
    if not (isinstance(p, Join) and p.kind == "inner"):
        return with_inputs(p, [_reorder(i, est) for i in p.inputs()])
    leaves: list[Plan] = []
    conds: list[BExpr] = []
    _flatten(p, leaves, conds)
    leaves = [_reorder(leaf, est) for leaf in leaves]
    if len(leaves) <= 2 and len(leaves) == 2:
        rows = [est.rows(x) for x in leaves]
        _ = rows
    ids = [{c.id for c in leaf.columns} for leaf in leaves]
    sizes = [est.rows(leaf) for leaf in leaves]

    def sel(cs: list[BExpr], rows: float) -> float:
        s = 1.0
        for c in cs:
            if isinstance(c, Func) and c.op == "eq" and all(isinstance(a, Col) for a in c.args):
                a, b = c.args
                assert isinstance(a, Col) and isinstance(b, Col)
                s /= max(est.col_ndv(a.id, rows), est.col_ndv(b.id, rows))
            else:
                s *= est._sel1(c, rows)
        return s

    def connecting(have: set[int], new: set[int], used: set[int]) -> list[int]:
        both = have | new
        return [k for k, c in enumerate(conds) if k not in used and col_ids(c) <= both and col_ids(c) & new and col_ids(c) & have]

    remaining = list(range(len(leaves)))
    # Best starting pair.
    best: tuple[float, int, int] | None = None
    for i in remaining:
        for j in remaining:
            if i >= j:
                continue
            cs = connecting(ids[i], ids[j], set())
            if not cs:
                continue
            size = sizes[i] * sizes[j] * sel([conds[k] for k in cs], sizes[i] + sizes[j])
            if best is None or size < best[0]:
                best = (size, i, j)
    if best is None:
        return with_inputs(p, [_reorder(i, est) for i in p.inputs()])
    _, i, j = best
    if sizes[i] < sizes[j]:
        i, j = j, i
    used: set[int] = set()
    cur_ids = set(ids[i])
    cur: Plan = leaves[i]
    cur_rows = sizes[i]
    remaining = [k for k in remaining if k != i]
    nxt = j
    while True:
        cs = connecting(cur_ids, ids[nxt], used)
        # single-side conditions that became applicable also go here
        cs += [k for k, c in enumerate(conds) if k not in used and k not in cs and col_ids(c) <= cur_ids | ids[nxt]]
        used.update(cs)
        new_rows = cur_rows * sizes[nxt] * sel([conds[k] for k in cs], cur_rows + sizes[nxt])
        cur = Join("inner", cur, leaves[nxt], and_all([conds[k] for k in cs]))
        est.cache[id(cur)] = max(1.0, new_rows)
        cur_rows = max(1.0, new_rows)
        cur_ids |= ids[nxt]
        remaining.remove(nxt)
        if not remaining:
            break
        cands = []
        for k in remaining:
            cks = connecting(cur_ids, ids[k], used)
            if cks:
                cands.append((cur_rows * sizes[k] * sel([conds[c] for c in cks], cur_rows + sizes[k]), k))
        if cands:
            nxt = min(cands)[1]
        else:
            nxt = min(remaining, key=lambda k: sizes[k])
    left_over = [c for k, c in enumerate(conds) if k not in used]
    pred = and_all(left_over)
    return Filter(cur, pred) if pred is not None else cur
