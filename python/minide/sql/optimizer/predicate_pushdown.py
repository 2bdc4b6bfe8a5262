"""Pass ``predicate_pushdown``: move every filter conjunct as far down as it can go.

Conjuncts travel through projections (rewritten over the projection's inputs), sorts and
GROUP BY keys; at an inner join each conjunct goes to the side that has all its columns, or
becomes part of the join condition (so ``FROM a, b WHERE a.x = b.y`` becomes a hash join); at
outer and semi/anti joins only the side whose rows are preserved accepts them; at a scan they
become the scan's filter, evaluated on each morsel as it is read. An OR left in an inner join's
condition also sends each side the weaker predicate it implies about that side alone
(``implied_on``), so per-branch table tests still filter before the join.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from minide.sql.expr import BExpr, Func, and_all, col_ids, conjuncts, has_subquery, substitute
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
    Values,
    Window,
)
from minide.sql.types import BOOL

_EST: list[Any] = []


def run(plan: Plan, ctx: Any = None) -> Plan:
    from minide.sql.optimizer.cardinality import Estimator

    _EST[:] = [Estimator(ctx) if ctx is not None else None]
    try:
        return _push(plan, [])
    finally:
        _EST.clear()


def factor_or(e: BExpr) -> list[BExpr]:
    """``(a AND b) OR (a AND c)`` -> ``[a, b OR c]``: conjuncts common to every OR branch are
    pulled out, so a join key repeated in each branch (TPC-H Q19) becomes a hash-join key."""
    if not (isinstance(e, Func) and e.op == "or"):
        return [e]
    branches = _disjuncts(e)
    sets = [conjuncts(b) for b in branches]
    common = [c for c in sets[0] if all(c in s for s in sets[1:])]
    if not common:
        return [e]
    rest = [[c for c in s if c not in common] for s in sets]
    if any(not r for r in rest):
        return common  # one branch is just the common part: the OR is implied
    ors: BExpr | None = None
    for r in rest:
        b = and_all(r)
        assert b is not None
        ors = b if ors is None else Func("or", (ors, b), BOOL)
    assert ors is not None
    return [*common, ors]


def implied_on(e: BExpr, ids: set[int]) -> BExpr | None:
    """A predicate over columns ``ids`` only that ``e`` implies, from an OR whose every branch
    has conjuncts over those columns: ``(a1 AND b1) OR (a2 AND b2)`` implies ``a1 OR a2``.
    TPC-H Q19's OR mixes part and lineitem tests per branch; the part-only ``(brand AND
    container AND size) OR ...`` filters part to ~500 rows before the join, and the lineitem
    quantity ranges thin the probe side. ``e`` itself stays where it was (the implied predicate
    is weaker); None when some branch says nothing about those columns."""
    if not (isinstance(e, Func) and e.op == "or"):
        return None
    out: BExpr | None = None
    for b in _disjuncts(e):
        mine = [c for c in conjuncts(b) if col_ids(c) and col_ids(c) <= ids and not has_subquery(c)]
        part = and_all(mine)
        if part is None:
            return None
        out = part if out is None else Func("or", (out, part), BOOL)
    return out


def _disjuncts(e: BExpr) -> list[BExpr]:
    if isinstance(e, Func) and e.op == "or":
        return _disjuncts(e.args[0]) + _disjuncts(e.args[1])
    return [e]


def _split(e: BExpr | None) -> list[BExpr]:
    out: list[BExpr] = []
    for c in conjuncts(e):
        out += factor_or(c)
    return out


def _ids(p: Plan) -> set[int]:
    return {c.id for c in p.columns}


def _wrap(p: Plan, preds: list[BExpr]) -> Plan:
    pred = and_all(preds)
    return Filter(p, pred) if pred is not None else p


def _push(p: Plan, preds: list[BExpr]) -> Plan:
    if isinstance(p, Filter):
        return _push(p.input, preds + _split(p.predicate))
    if isinstance(p, Scan):
        movable = [c for c in preds if not has_subquery(c) and col_ids(c) <= _ids(p)]
        rest = [c for c in preds if c not in movable]
        f = and_all(conjuncts(p.filter) + movable)
        return _wrap(replace(p, filter=f), rest)
    if isinstance(p, Project):
        mapping = {c.id: e for c, e in p.items}
        down, keep = [], []
        for c in preds:
            if (
                not has_subquery(c)
                and col_ids(c) <= set(mapping)
                and not any(has_subquery(mapping[i]) for i in col_ids(c))
            ):
                down.append(substitute(c, mapping))
            else:
                keep.append(c)
        return _wrap(replace(p, input=_push(p.input, down)), keep)
    if isinstance(p, Sort):
        return replace(p, input=_push(p.input, preds))
    if isinstance(p, Aggregate):
        gmap = {c.id: e for c, e in p.groups}
        down, keep = [], []
        for c in preds:
            ids = col_ids(c)
            if p.groups and ids and ids <= set(gmap) and not has_subquery(c):
                down.append(substitute(c, gmap))
            else:
                keep.append(c)
        return _wrap(replace(p, input=_push(p.input, down)), keep)
    if isinstance(p, Join):
        return _push_join(p, preds)
    if isinstance(p, Union):
        parts = []
        for part in p.parts:
            mapping = {o.id: c.ref() for o, c in zip(p.cols, part.columns, strict=True)}
            parts.append(_push(part, [substitute(c, mapping) for c in preds]))
        return replace(p, parts=parts)
    if isinstance(p, Limit | TopN | Values | Window):
        new = [_push(i, []) for i in p.inputs()]
        from minide.sql.plan import with_inputs

        return _wrap(with_inputs(p, new), preds)
    return _wrap(p, preds)


def _push_join(p: Join, preds: list[BExpr]) -> Plan:
    lids, rids = _ids(p.left), _ids(p.right)
    left_preds: list[BExpr] = []
    right_preds: list[BExpr] = []
    cond: list[BExpr] = []
    above: list[BExpr] = []
    on = _split(p.condition)
    if p.kind == "inner":
        for c in preds + on:
            ids = col_ids(c)
            if has_subquery(c):
                above.append(c)
            elif ids <= lids:
                left_preds.append(c)
            elif ids <= rids:
                right_preds.append(c)
            else:
                cond.append(c)
                for side_ids, bucket in ((lids, left_preds), (rids, right_preds)):
                    implied = implied_on(c, side_ids)
                    if implied is not None and implied not in bucket:
                        bucket.append(implied)
    elif p.kind in ("left", "semi", "anti", "null_aware_anti", "mark"):
        for c in preds:
            (left_preds if col_ids(c) <= lids and not has_subquery(c) else above).append(c)
        for c in on:
            ids = col_ids(c)
            if ids and ids <= rids and not has_subquery(c):
                right_preds.append(c)
            else:
                cond.append(c)
    else:  # right / full: leave everything in place
        above = preds
        cond = on
    out = replace(
        p,
        left=_push(p.left, left_preds),
        right=_push(p.right, right_preds),
        condition=and_all(cond),
    )
    if out.kind in ("semi", "anti", "null_aware_anti") and _selective(out):
        out = _sink_semi(out)
    return _wrap(out, above)


def _selective(j: Join) -> bool:
    """Sink a semi/anti join only when it keeps few rows (Q18's IN over 5 orders); a weak one
    (Q21's EXISTS over all lineitems) is cheaper after the selective inner joins."""
    est = _EST[0] if _EST else None
    if est is None:
        return False
    return est.rows(j) < 0.2 * est.rows(j.left)


def _sink_semi(j: Join) -> Plan:
    """A semi/anti join over an inner join moves to the inner join's input that has all the
    left-side columns it reads (TPC-H Q18: ``o_orderkey IN (...)`` filters orders before orders
    meets lineitem)."""
    inner = j.left
    if not (isinstance(inner, Join) and inner.kind == "inner"):
        return j
    used = col_ids(j.condition) if j.condition is not None else set()
    need = used & _ids(inner)
    for side in ("left", "right"):
        child = getattr(inner, side)
        if need <= _ids(child):
            moved = _sink_semi(replace(j, left=child))
            return replace(inner, **{side: moved})
    return j
