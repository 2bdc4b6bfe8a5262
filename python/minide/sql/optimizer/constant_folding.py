"""Pass ``constant_folding``: evaluate operators whose inputs are all constants, at plan time
(``DATE '1998-12-01' - INTERVAL '90' DAY`` becomes ``DATE '1998-09-02'``), and simplify boolean
logic with constant sides (``x AND TRUE`` -> ``x``, ``x OR TRUE`` -> ``TRUE``).

Only operators whose semantics are trivially identical in Python and Rust are folded; anything
else is left for the executor.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import replace
from typing import Any

from minide.errors import PlanError
from minide.sql.expr import BExpr, Const, Func, Subquery
from minide.sql.plan import Aggregate, Filter, Join, Plan, Project, Scan, Sort, TopN, with_inputs
from minide.sql.plan import SortKey as _SortKey
from minide.sql.types import (
    BOOL,
    DATE,
    EPOCH,
    FLOAT,
    FLOATS,
    INT,
    STR,
    days_to_date,
    dec_const,
    dec_ps,
    fits,
    is_dec,
    to_decimal,
)

_CMP = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _add_months(days: int, n: int) -> int:
    import calendar

    d = days_to_date(days)
    total = d.year * 12 + d.month - 1 + n
    y, m = divmod(total, 12)
    day = min(d.day, calendar.monthrange(y, m + 1)[1])
    return (d.replace(year=y, month=m + 1, day=day) - EPOCH).days


def _fold_func(f: Func) -> BExpr | None:
    args = f.args
    op = f.op
    # Boolean simplification with one constant side.
    if op in ("and", "or") and len(args) == 2:
        a, b = args
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Const) and x.value is not None:
                if op == "and":
                    return y if x.value else Const(False, BOOL)
                return Const(True, BOOL) if x.value else y
        if isinstance(a, Const) and isinstance(b, Const):
            return Const(None, BOOL)
        return None
    if not all(isinstance(a, Const) for a in args):
        return None
    vals: list[Any] = [a.value for a in args if isinstance(a, Const)]
    if op == "is_null":
        return Const(vals[0] is None, BOOL)
    if op == "is_not_null":
        return Const(vals[0] is not None, BOOL)
    if op == "case":
        # every branch constant (NULLIF(-3, 0)): the first true condition's value, else ELSE
        n = len(args) - 1 if f.extra else len(args)
        for i in range(0, n, 2):
            if vals[i] is True:
                return Const(vals[i + 1], f.type)
        return Const(vals[-1] if f.extra else None, f.type)
    if op == "coalesce" or op == "is_not_distinct":
        return None
    if any(v is None for v in vals):
        return Const(None, f.type)
    try:
        if op in _CMP and not (
            f.args[0].type in FLOATS and any(isinstance(v, float) and math.isnan(v) for v in vals)
        ):
            return Const(_CMP[op](vals[0], vals[1]), BOOL)
        if op == "not":
            return Const(not vals[0], BOOL)
        if op == "neg":
            return Const(-vals[0], f.type)
        if op in ("add", "sub", "mul", "mod") and is_dec(f.type):
            # exact: the operands are Decimals at their scales; the result must fit the type
            a, b = vals
            with decimal.localcontext() as dctx:
                dctx.prec = 100
                if op == "mod":
                    if b == 0:
                        return None
                    r = a.copy_abs() % b.copy_abs() * (1 if a >= 0 else -1)
                else:
                    r = a + b if op == "add" else a - b if op == "sub" else a * b
            p, s = dec_ps(f.type)
            r = to_decimal(r, s)
            return Const(r, f.type) if fits(r, p, s) else None
        if op == "cast" and (is_dec(f.extra) or is_dec(args[0].type)):
            c = dec_const(vals[0], args[0].type, f.extra)
            return Const(c, f.extra) if c is not None else None
        if op in ("add", "sub", "mul") and f.type in (INT, FLOAT, DATE):
            a, b = vals
            if f.type == FLOAT:
                # Decimal arithmetic on the literals' shortest representations, so that
                # 0.06 + 0.01 folds to 0.07 (as SQL's exact decimals do), not 0.06999999999999999.
                da, db = decimal.Decimal(repr(float(a))), decimal.Decimal(repr(float(b)))
                r = da + db if op == "add" else da - db if op == "sub" else da * db
                return Const(float(r), FLOAT)
            r = a + b if op == "add" else a - b if op == "sub" else a * b
            if f.type == INT and not -(2**63) <= r < 2**63:
                return None
            return Const(float(r) if f.type == FLOAT else int(r), f.type)
        if op == "div" and f.type == FLOAT and vals[1] != 0:
            return Const(vals[0] / vals[1], FLOAT)
        if op == "add_months" and f.type == DATE:
            return Const(_add_months(vals[0], vals[1]), DATE)
        if op == "cast":
            src = args[0]
            if f.extra == FLOAT and src.type == INT:
                return Const(float(vals[0]), FLOAT)
            if f.extra == STR and src.type == INT:
                return Const(str(vals[0]), STR)
        if op == "concat" and f.type == STR:
            return Const(str(vals[0]) + str(vals[1]), STR)
        if op in ("extract_year", "extract_month", "extract_day") and args[0].type == DATE:
            d = days_to_date(vals[0])
            return Const(
                {"extract_year": d.year, "extract_month": d.month, "extract_day": d.day}[op], INT
            )
    except (TypeError, ValueError, OverflowError, decimal.InvalidOperation, PlanError):
        return None
    return None


def fold(e: BExpr) -> BExpr:
    """Fold constants in ``e`` bottom-up."""

    def rec(x: BExpr) -> BExpr:
        if isinstance(x, Subquery):
            operand = rec(x.operand) if x.operand is not None else None
            return replace(x, plan=run(x.plan), operand=operand)
        if isinstance(x, Func):
            new_args = tuple(rec(a) for a in x.args)
            y = replace(x, args=new_args) if new_args != x.args else x
            r = _fold_func(y)
            return r if r is not None else y
        return x

    return rec(e)


def _fold_opt(e: BExpr | None) -> BExpr | None:
    return fold(e) if e is not None else None


def run(plan: Plan, ctx: Any = None) -> Plan:
    new_inputs = [run(i, ctx) for i in plan.inputs()]
    p = with_inputs(plan, new_inputs)
    if isinstance(p, Filter):
        pred = fold(p.predicate)
        if isinstance(pred, Const) and pred.value is True:
            return p.input
        return replace(p, predicate=pred)
    if isinstance(p, Project):
        return replace(p, items=[(c, fold(e)) for c, e in p.items])
    if isinstance(p, Scan):
        return replace(p, filter=_fold_opt(p.filter))
    if isinstance(p, Join):
        return replace(p, condition=_fold_opt(p.condition))
    if isinstance(p, Aggregate):
        return replace(
            p,
            groups=[(c, fold(e)) for c, e in p.groups],
            aggs=[(c, replace(a, arg=fold(a.arg)) if a.arg is not None else a) for c, a in p.aggs],
        )
    if isinstance(p, Sort | TopN):
        return replace(p, keys=[_SortKey(fold(k.expr), k.desc, k.nulls_first) for k in p.keys])
    return p
