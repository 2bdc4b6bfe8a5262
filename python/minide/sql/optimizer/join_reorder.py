"""Pass ``join_reorder``: choose the shape and order of inner joins from estimated cardinalities.

A tree of inner joins (comma-separated FROM items included) is flattened into its leaves and the
conjuncts of its conditions. For up to 10 leaves a dynamic program over connected subsets
(DPsub) finds the bushy join tree with the least total intermediate rows ("C_out" cost); larger
queries fall back to a greedy order. Each conjunct is attached to the lowest join where all of its
columns are available. Cardinalities come from ``cardinality.Estimator``: equalities between the
same two leaves are treated as one composite key, whose distinct count is capped by the row
counts, so (partkey, suppkey) joins are not assumed to be independent.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from minide.sql.expr import BExpr, Col, Func, and_all, col_ids, conjuncts
from minide.sql.optimizer.cardinality import Estimator
from minide.sql.plan import Filter, Join, Plan, with_inputs

MAX_DP_LEAVES = 10


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


class _Graph:
    def __init__(self, leaves: list[Plan], conds: list[BExpr], est: Estimator) -> None:
        self.leaves = leaves
        self.conds = conds
        self.est = est
        self.rows = [est.rows(leaf) for leaf in leaves]
        owner: dict[int, int] = {}
        for i, leaf in enumerate(leaves):
            for c in leaf.columns:
                owner[c.id] = i
        # bitmask of the leaves each conjunct reads
        self.masks = [sum(1 << owner[i] for i in col_ids(c) if i in owner) for c in conds]
        # selectivity per conjunct; equalities between the same two leaves form one composite key
        self.sel = [1.0] * len(conds)
        groups: dict[int, list[int]] = {}
        for k, c in enumerate(conds):
            m = self.masks[k]
            if (
                isinstance(c, Func)
                and c.op == "eq"
                and all(isinstance(a, Col) for a in c.args)
                and bin(m).count("1") == 2
            ):
                groups.setdefault(m, []).append(k)
            else:
                self.sel[k] = est._sel1(c, sum(self.rows))
        for m, ks in groups.items():
            a, b = (i for i in range(len(leaves)) if m >> i & 1)
            nd = {a: 1.0, b: 1.0}
            for k in ks:
                for arg in conds[k].args:  # type: ignore[attr-defined]
                    side = owner[arg.id]
                    nd[side] *= est.col_ndv(arg.id, self.rows[side])
            ca, cb = min(nd[a], self.rows[a]), min(nd[b], self.rows[b])
            divisor = max(ca, cb, 1.0)
            unique_a, unique_b = ca >= self.rows[a], cb >= self.rows[b]
            if len(ks) > 1 and (unique_a or unique_b):
                # Several keys multiply their distinct counts into "unique" easily (TPC-H Q9:
                # partsupp's (partkey, suppkey) against lineitem's). Treat the join as key /
                # foreign key: the key side is the one that looks unique (the smaller one if
                # both do), and each row of the other side matches at most one of its rows.
                if unique_a and unique_b:
                    divisor = max(min(ca, cb), 1.0)
                else:
                    divisor = max(ca if unique_a else cb, 1.0)
            self.sel[ks[0]] = 1.0 / divisor
            for k in ks[1:]:
                self.sel[k] = 1.0
        self._card: dict[int, float] = {}

    def card(self, s: int) -> float:
        r = self._card.get(s)
        if r is None:
            r = 1.0
            for i in range(len(self.leaves)):
                if s >> i & 1:
                    r *= self.rows[i]
            for k, m in enumerate(self.masks):
                if m and m & s == m:
                    r *= self.sel[k]
            r = max(1.0, r)
            self._card[s] = r
        return r

    def connected(self, a: int, b: int) -> bool:
        return any(m & a and m & b and m & (a | b) == m for m in self.masks)

    def build(self, left: Plan, lmask: int, right: Plan, rmask: int, used: set[int]) -> Plan:
        s = lmask | rmask
        ks = [
            k
            for k, m in enumerate(self.masks)
            if k not in used and m & s == m and m & lmask != m and m & rmask != m
        ]
        used.update(ks)
        j = Join("inner", left, right, and_all([self.conds[k] for k in ks]))
        self.est.remember(j, self.card(s))
        return j


def _dp(g: _Graph) -> tuple[Plan, set[int]] | None:
    n = len(g.leaves)
    best: dict[int, tuple[float, Any]] = {1 << i: (0.0, i) for i in range(n)}
    full = (1 << n) - 1
    for size in range(2, n + 1):
        for combo in combinations(range(n), size):
            s = sum(1 << i for i in combo)
            card = g.card(s)
            choice = None
            # enumerate splits s = a | b with a containing the lowest leaf (each split once)
            low = s & -s
            rest = s ^ low
            sub = rest
            while True:
                a = low | sub
                b = s ^ a
                if b and a in best and b in best and g.connected(a, b):
                    cost = best[a][0] + best[b][0] + card
                    if choice is None or cost < choice[0]:
                        choice = (cost, (a, b))
                if sub == 0:
                    break
                sub = (sub - 1) & rest
            if choice is not None:
                best[s] = choice
    if full not in best:
        return None
    used: set[int] = set()

    def make(s: int) -> Plan:
        v = best[s][1]
        if isinstance(v, int):
            return g.leaves[v]
        a, b = v
        pa_, pb = make(a), make(b)
        # the larger side first (probe); build_side makes the final call
        if g.card(a) < g.card(b):
            pa_, pb, a, b = pb, pa_, b, a
        return g.build(pa_, a, pb, b, used)

    return make(full), used


def _greedy(g: _Graph) -> tuple[Plan, set[int]]:
    n = len(g.leaves)
    remaining = set(range(n))
    start = max(remaining, key=lambda i: g.rows[i])
    cur_mask = 1 << start
    cur = g.leaves[start]
    remaining.discard(start)
    used: set[int] = set()
    while remaining:
        cands = [i for i in remaining if g.connected(cur_mask, 1 << i)] or list(remaining)
        nxt = min(cands, key=lambda i: g.card(cur_mask | 1 << i))
        cur = g.build(cur, cur_mask, g.leaves[nxt], 1 << nxt, used)
        cur_mask |= 1 << nxt
        remaining.discard(nxt)
    return cur, used


def _reorder(p: Plan, est: Estimator) -> Plan:
    if not (isinstance(p, Join) and p.kind == "inner"):
        return with_inputs(p, [_reorder(i, est) for i in p.inputs()])
    leaves: list[Plan] = []
    conds: list[BExpr] = []
    _flatten(p, leaves, conds)
    leaves = [_reorder(leaf, est) for leaf in leaves]
    g = _Graph(leaves, conds, est)
    out = _dp(g) if len(leaves) <= MAX_DP_LEAVES else None
    plan, used = out if out is not None else _greedy(g)
    left_over = [c for k, c in enumerate(conds) if k not in used]
    pred = and_all(left_over)
    return Filter(plan, pred) if pred is not None else plan
