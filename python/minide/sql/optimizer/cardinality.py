"""Cardinality estimation from table statistics (row counts, per-column distinct estimates and
min/max gathered by the Rust catalog). Used by join reordering, build-side selection and EXPLAIN.

Classic System-R style rules: ``col = const`` keeps 1/ndv, ranges interpolate min/max (the
bounds of one column together: one range, not a product of halves; else 1/3),
LIKE keeps 1/10, conjunctions multiply, an equi-join of |L| and |R| rows gives
|L|·|R| / max(ndv(left key), ndv(right key)).
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from typing import Any

from minide.sql.expr import BExpr, Col, Const, Func, conjuncts
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


@dataclass
class TableStats:
    rows: int
    ndv: list[float]
    min: list[float | None]
    max: list[float | None]


class Estimator:
    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog
        self.ndv: dict[int, float] = {}
        self.range: dict[int, tuple[float, float]] = {}
        # keyed by id(), holding the node itself so that ids of dead nodes are never reused
        self.cache: dict[int, tuple[Plan, float]] = {}

    def estimate_all(self, plan: Plan) -> dict[int, float]:
        out: dict[int, float] = {}

        def visit(p: Plan) -> None:
            for i in p.inputs():
                visit(i)
            out[id(p)] = self.rows(p)

        visit(plan)
        return out

    def col_ndv(self, cid: int, rows: float) -> float:
        return max(1.0, min(self.ndv.get(cid, rows), rows))

    def selectivity(self, e: BExpr | None, rows: float) -> float:
        """Conjunctions multiply, except that the bounds of one column form one range: ``d >=
        lo AND d < hi`` keeps the share of [min, max] between lo and hi, not the product of
        the two halves (a quarter of seven years of orders is 4%, not 22%)."""
        if e is None:
            return 1.0
        s = 1.0
        bounds: dict[int, tuple[float, float]] = {}
        for c in conjuncts(e):
            b = self._bound(c)
            if b is None:
                s *= self._sel1(c, rows)
                continue
            cid, lo, hi = b
            old_lo, old_hi = bounds.get(cid, (-math.inf, math.inf))
            bounds[cid] = (max(lo, old_lo), min(hi, old_hi))
        for cid, (lo, hi) in bounds.items():
            rmin, rmax = self.range[cid]
            frac = (min(hi, rmax) - max(lo, rmin)) / (rmax - rmin)
            s *= max(0.01, min(1.0, frac))
        return s

    def _bound(self, e: BExpr) -> tuple[int, float, float] | None:
        """``col <op> const`` on a column with a known [min, max]: (column, low, high)."""
        if not (isinstance(e, Func) and e.op in ("lt", "le", "gt", "ge") and len(e.args) == 2):
            return None
        a, b = e.args
        op = e.op
        if isinstance(b, Col) and isinstance(a, Const):
            a, b = b, a
            op = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}[op]
        if not (isinstance(a, Col) and isinstance(b, Const)):
            return None
        rng = self.range.get(a.id)
        v = b.value
        if rng is None or rng[1] <= rng[0] or isinstance(v, bool):
            return None
        if not isinstance(v, int | float | decimal.Decimal):
            return None
        x = float(v)
        return (a.id, -math.inf, x) if op in ("lt", "le") else (a.id, x, math.inf)

    def _sel1(self, e: BExpr, rows: float) -> float:
        if isinstance(e, Const):
            return 1.0 if e.value else 0.0
        if not isinstance(e, Func):
            return 0.5
        op = e.op
        if op == "or":
            a, b = (self.selectivity(x, rows) for x in e.args)
            return min(1.0, a + b - a * b)
        if op == "not":
            return max(0.05, 1.0 - self._sel1(e.args[0], rows))
        if op in ("eq", "ne", "lt", "le", "gt", "ge") and len(e.args) == 2:
            a, b = e.args
            if isinstance(b, Col) and isinstance(a, Const):
                a, b = b, a
                op = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(op, op)
            if isinstance(a, Col) and isinstance(b, Col):
                if op == "eq":
                    return 1.0 / max(self.col_ndv(a.id, rows), self.col_ndv(b.id, rows))
                return 0.33
            if isinstance(a, Col) and isinstance(b, Const):
                if op == "eq":
                    return 1.0 / self.col_ndv(a.id, rows)
                if op == "ne":
                    return 1.0 - 1.0 / self.col_ndv(a.id, rows)
                rng = self.range.get(a.id)
                if (
                    rng is not None
                    and isinstance(b.value, int | float | decimal.Decimal)
                    and rng[1] > rng[0]
                ):
                    lo, hi = rng
                    frac = (float(b.value) - lo) / (hi - lo)
                    frac = min(1.0, max(0.0, frac))
                    return max(0.01, frac if op in ("lt", "le") else 1.0 - frac)
                return 0.33
            return 0.33 if op != "eq" else 0.1
        if op == "like":
            return 0.1 if not e.extra[1] else 0.9
        if op == "in_list":
            vals, neg = e.extra
            a = e.args[0]
            s = min(1.0, len(vals) / self.col_ndv(a.id, rows)) if isinstance(a, Col) else 0.2
            return 1.0 - s if neg else s
        if op == "is_null":
            return 0.05
        if op == "is_not_null":
            return 0.95
        return 0.5

    def rows(self, p: Plan) -> float:
        hit = self.cache.get(id(p))
        if hit is not None and hit[0] is p:
            return hit[1]
        r = max(1.0, self._rows(p))
        self.cache[id(p)] = (p, r)
        return r

    def remember(self, p: Plan, rows: float) -> None:
        self.cache[id(p)] = (p, max(1.0, rows))

    def _rows(self, p: Plan) -> float:
        if isinstance(p, Scan):
            try:
                st = self.catalog.stats(p.table)
            except Exception:
                return 1000.0
            base = float(st.rows)
            for c, pos in zip(p.cols, p.positions, strict=True):
                if pos < len(st.ndv):
                    self.ndv[c.id] = max(1.0, st.ndv[pos])
                    lo, hi = st.min[pos], st.max[pos]
                    if lo is not None and hi is not None:
                        self.range[c.id] = (lo, hi)
            return base * self.selectivity(p.filter, base)
        if isinstance(p, Values):
            return float(len(p.rows))
        if isinstance(p, Filter):
            base = self.rows(p.input)
            return base * self.selectivity(p.predicate, base)
        if isinstance(p, Project):
            base = self.rows(p.input)
            for c, e in p.items:
                if isinstance(e, Col) and e.id in self.ndv:
                    self.ndv[c.id] = self.ndv[e.id]
                    if e.id in self.range:
                        self.range[c.id] = self.range[e.id]
            return base
        if isinstance(p, Aggregate):
            base = self.rows(p.input)
            if not p.groups:
                return 1.0
            g = 1.0
            for c, e in p.groups:
                n = self.col_ndv(e.id, base) if isinstance(e, Col) else base**0.5
                self.ndv[c.id] = n
                g *= n
            return min(base, g)
        if isinstance(p, Join):
            lr, rr = self.rows(p.left), self.rows(p.right)
            if p.kind in ("semi", "anti", "null_aware_anti"):
                frac = 0.5
                for c in conjuncts(p.condition):
                    if (
                        isinstance(c, Func)
                        and c.op == "eq"
                        and all(isinstance(a, Col) for a in c.args)
                    ):
                        a, b = c.args
                        assert isinstance(a, Col) and isinstance(b, Col)
                        lids = {x.id for x in p.left.columns}
                        lk, rk = (a, b) if a.id in lids else (b, a)
                        frac = min(1.0, self.col_ndv(rk.id, rr) / self.col_ndv(lk.id, lr))
                        break
                return lr * (frac if p.kind == "semi" else max(0.05, 1.0 - frac))
            if p.kind == "mark":
                return lr
            out = lr * rr
            divisors = []
            for c in conjuncts(p.condition):
                if isinstance(c, Func) and c.op == "eq" and all(isinstance(a, Col) for a in c.args):
                    a, b = c.args
                    assert isinstance(a, Col) and isinstance(b, Col)
                    divisors.append(max(self.col_ndv(a.id, lr + rr), self.col_ndv(b.id, lr + rr)))
                else:
                    out *= self._sel1(c, out)
            divisor = math.prod(divisors)
            if len(divisors) > 1:
                # Several keys are correlated (TPC-H Q9's ps_partkey, ps_suppkey is partsupp's
                # key): multiplying their distinct counts would estimate almost nothing. Treat
                # it as a key/foreign-key join: each row of the larger side matches about one.
                divisor = min(divisor, max(min(lr, rr), 1.0))
            out /= divisor
            if p.kind in ("left", "full"):
                out = max(out, lr)
            if p.kind in ("right", "full"):
                out = max(out, rr)
            return out
        if isinstance(p, Sort):
            return self.rows(p.input)
        if isinstance(p, TopN):
            return min(self.rows(p.input), float(p.limit))
        if isinstance(p, Limit):
            base = self.rows(p.input)
            return min(base, float(p.limit)) if p.limit is not None else base
        if isinstance(p, Union):
            return sum(self.rows(x) for x in p.parts)
        if isinstance(p, Window):
            return self.rows(p.input)
        return 1000.0
