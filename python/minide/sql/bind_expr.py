"""Expression binding, the half of the binder that types scalar expressions: literals, column
references, operators with implicit casts, IN lists, CASE, function and aggregate calls, window
calls, and subquery expressions (kept as ``Subquery`` for the decorrelation pass).

``Binder`` (binder.py) inherits ``ExprBinder`` and supplies the query-level parts it calls back:
``bind_query`` for subqueries, ``new_col`` and the current window context.
"""

from __future__ import annotations

from typing import Any

from minide.errors import PlanError, UnsupportedError
from minide.sql import ast
from minide.sql.casts_frames import cast_expr, window_frame
from minide.sql.expr import AggCall, BExpr, Const, Func, Subquery, WindowCall, walk
from minide.sql.functions import AGGREGATES, call_scalar, extract
from minide.sql.plan import Column, Plan, Project
from minide.sql.scope import (
    WINDOW_ONLY,
    AggContext,
    Scope,
    WindowContext,
    cast_to,
    coerce_pair,
    int_constant,
    require_bool,
    unify,
)
from minide.sql.types import (
    BOOL,
    DATE,
    FLOAT,
    FLOAT32,
    INT,
    INTERVAL,
    NULL,
    STR,
    TIMESTAMPS,
    TS,
    common_type,
    date_to_days,
    dec,
    dec_arith,
    dec_ps,
    int_as_dec,
    is_dec,
    is_int,
    is_numeric,
    to_decimal,
    ts_to_micros,
)


class ExprBinder:
    """Binds ``ast.Expr`` trees to typed ``BExpr`` trees within a ``Scope``."""

    _windows: WindowContext | None
    #: typed values of the ``?`` / ``$n`` placeholders (params.bind_params), by position
    params: tuple[Const, ...] = ()

    def new_col(self, name: str, type_: str) -> Column:
        raise NotImplementedError

    def bind_query(
        self, q: ast.Query, outer: Scope | None = None, ctes: dict[str, ast.CTE] | None = None
    ) -> Plan:
        raise NotImplementedError

    def bind_expr(self, e: ast.Expr, scope: Scope, agg: AggContext | None = None) -> BExpr:
        b = lambda x: self.bind_expr(x, scope, agg)  # noqa: E731
        if isinstance(e, ast.Literal):
            return _literal(e)
        if isinstance(e, ast.Parameter):
            if e.index >= len(self.params):
                raise PlanError(f"no value for parameter {e.index + 1}")
            return self.params[e.index]
        if isinstance(e, ast.IntervalLit):
            return Const((e.months, e.days, e.micros), INTERVAL)
        if isinstance(e, ast.ColumnRef):
            return scope.resolve(e.name, e.table)
        if isinstance(e, ast.BinaryOp):
            return self._binary(e.op, b(e.left), b(e.right))
        if isinstance(e, ast.UnaryOp):
            x = b(e.operand)
            if e.op == "not":
                return Func("not", (require_bool(x, "NOT"),), BOOL)
            if not is_numeric(x.type) and x.type != NULL:
                raise PlanError(f"unary minus needs a number, got {x.type}")
            if is_int(x.type) and x.type != INT:
                # 0 - x, so the executor checks the narrow range (-(-128) is no TINYINT)
                return Func("sub", (Const(0, x.type), x), x.type)
            return Func("neg", (x,), x.type)
        if isinstance(e, ast.IsNull):
            return Func("is_not_null" if e.negated else "is_null", (b(e.expr),), BOOL)
        if isinstance(e, ast.IsDistinct):
            x, y = coerce_pair(b(e.left), b(e.right), "IS DISTINCT FROM")
            r = Func("is_not_distinct", (x, y), BOOL)
            return r if e.negated else Func("not", (r,), BOOL)
        if isinstance(e, ast.Between):
            x, lo, hi = b(e.expr), b(e.low), b(e.high)
            if e.negated:
                return Func("or", (self._binary("<", x, lo), self._binary(">", x, hi)), BOOL)
            return Func("and", (self._binary(">=", x, lo), self._binary("<=", x, hi)), BOOL)
        if isinstance(e, ast.InList):
            return self._in_list(b(e.expr), [b(i) for i in e.items], e.negated)
        if isinstance(e, ast.Like):
            x = b(e.expr)
            p = b(e.pattern)
            if not isinstance(p, Const) or p.type not in (STR, NULL):
                raise UnsupportedError("LIKE patterns must be string constants")
            if x.type not in (STR, NULL):
                raise PlanError(f"LIKE needs a string, got {x.type}")
            if p.value is None:
                return Const(None, BOOL)
            return Func("like", (cast_to(x, STR),), BOOL, (p.value, e.negated, e.case_insensitive))
        if isinstance(e, ast.Case):
            return self._case(e, b)
        if isinstance(e, ast.Cast):
            return cast_expr(b(e.expr), e.type)
        if isinstance(e, ast.Extract):
            return extract(e.field, b(e.expr))
        if isinstance(e, ast.FuncCall):
            return self._func(e, scope, agg)
        if isinstance(e, ast.SubqueryExpr):
            plan = self.bind_query(e.query, scope)
            if len(plan.columns) != 1:
                raise PlanError(
                    f"a scalar subquery must return one column, this one returns {len(plan.columns)}"
                )
            return Subquery("scalar", plan, plan.columns[0].type)
        if isinstance(e, ast.Exists):
            plan = self.bind_query(e.query, scope)
            return Subquery("exists", plan, BOOL, negated=e.negated)
        if isinstance(e, ast.InSubquery):
            x = b(e.expr)
            plan = self.bind_query(e.query, scope)
            if len(plan.columns) != 1:
                raise PlanError(
                    f"IN (subquery) needs one column, this one returns {len(plan.columns)}"
                )
            inner = plan.columns[0]
            t = common_type(x.type, inner.type, "IN (subquery)")
            if inner.type != t:
                c = self.new_col(inner.name, t)
                plan = Project(plan, [(c, cast_to(inner.ref(), t))])
            return Subquery("in", plan, BOOL, operand=cast_to(x, t), negated=e.negated)
        if isinstance(e, ast.Star):
            raise PlanError("* is only allowed in a select list or count(*)")
        raise UnsupportedError(f"expression {type(e).__name__}")

    def _binary(self, op: str, x: BExpr, y: BExpr) -> BExpr:
        if op in ("and", "or"):
            return Func(op, (require_bool(x, op.upper()), require_bool(y, op.upper())), BOOL)
        cmp = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
        if op in cmp:
            a, c = coerce_pair(x, y, f"comparison {op}")
            return Func(cmp[op], (a, c), BOOL)
        if op == "||":
            return Func("concat", (cast_to(x, STR), cast_to(y, STR)), STR)
        name = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod"}[op]
        # Date and interval arithmetic.
        if y.type == INTERVAL and x.type in (DATE, *TIMESTAMPS) and op in "+-":
            return _add_interval(x, y, -1 if op == "-" else 1)
        if x.type == INTERVAL and y.type in (DATE, *TIMESTAMPS) and op == "+":
            return _add_interval(y, x, 1)
        if x.type == DATE and (is_int(y.type) or y.type == NULL) and op in "+-":
            return Func(name, (x, cast_to(y, INT)), DATE)
        if y.type == DATE and is_int(x.type) and op == "+":
            return Func(name, (y, cast_to(x, INT)), DATE)
        if x.type == DATE and y.type == DATE and op == "-":
            return Func("sub", (x, y), INT)
        for v in (x, y):
            if not is_numeric(v.type) and v.type != NULL:
                raise PlanError(f"operator {op} needs numbers, got {x.type} and {y.type}")
        if (is_dec(x.type) or is_dec(y.type)) and not {x.type, y.type} & {FLOAT, FLOAT32}:
            return _dec_binary(name, x, y)
        t = unify([x, y], f"operator {op}")
        if t == NULL:
            return Const(None, INT)
        if name == "div" and t != FLOAT32:
            t = FLOAT  # SQL / on integers gives a fraction here, as in DuckDB
        return Func(name, (cast_to(x, t), cast_to(y, t)), t)

    def _in_list(self, x: BExpr, items: list[BExpr], negated: bool) -> BExpr:
        from minide.sql.optimizer.constant_folding import fold

        typed = [i for i in items if not (isinstance(i, Const) and i.type == STR)]
        t = unify([x, *typed], "IN list")
        if x.type == STR or (x.type == NULL and len(typed) < len(items)):
            t = unify([x, *items], "IN list")
        if t == NULL:
            return Const(None, BOOL)
        folded = [fold(cast_to(i, t)) for i in items]
        if all(isinstance(f, Const) for f in folded):
            return Func(
                "in_list",
                (cast_to(x, t),),
                BOOL,
                (tuple(f for f in folded if isinstance(f, Const)), negated),
            )
        ors: BExpr | None = None
        for f in folded:
            eq = Func("eq", (cast_to(x, t), f), BOOL)
            ors = eq if ors is None else Func("or", (ors, eq), BOOL)
        assert ors is not None
        return Func("not", (ors,), BOOL) if negated else ors

    def _case(self, e: ast.Case, b: Any) -> BExpr:
        whens: list[tuple[BExpr, BExpr]] = []
        operand = b(e.operand) if e.operand is not None else None
        for cond, val in e.whens:
            c = b(cond)
            if operand is not None:
                c = self._binary("=", operand, c)
            whens.append((require_bool(c, "CASE WHEN"), b(val)))
        els = b(e.else_) if e.else_ is not None else None
        t = unify([v for _, v in whens] + ([els] if els is not None else []), "CASE branches")
        if t == NULL:
            t = INT
        args: list[BExpr] = []
        for c, v in whens:
            args += [c, cast_to(v, t)]
        if els is not None:
            args.append(cast_to(els, t))
        return Func("case", tuple(args), t, els is not None)

    def _window(self, e: ast.FuncCall, name: str, scope: Scope, agg: AggContext | None) -> BExpr:
        if self._windows is None:
            raise PlanError(f"window function {name}() is only allowed in the select list")
        assert e.window is not None
        if name not in WINDOW_ONLY and name not in ("sum", "count", "avg", "min", "max"):
            raise UnsupportedError(f"window function {name}()")
        if e.distinct:
            raise UnsupportedError("DISTINCT in window functions")
        args = [self.bind_expr(a, scope, agg) for a in e.args]
        func = "count_star" if name == "count" and e.star else name
        if (
            name in ("sum", "avg", "min", "max", "count", "lag", "lead")
            and not args
            and func != "count_star"
        ):
            raise PlanError(f"{name}() OVER needs an argument")
        if name in ("sum", "avg") and not is_numeric(args[0].type) and args[0].type != NULL:
            raise PlanError(f"{name}() needs numbers, got {args[0].type}")
        if name == "avg" and is_dec(args[0].type):
            # running AVG of decimals is computed in doubles (GROUP BY AVG sums exactly)
            args[0] = cast_to(args[0], FLOAT)
        if name in ("lag", "lead") and len(args) > 2:
            args[2] = cast_to(args[2], args[0].type)
        partition = tuple(self.bind_expr(p, scope, agg) for p in e.window.partition_by)
        order = tuple(
            (
                self.bind_expr(o.expr, scope, agg),
                o.desc,
                bool(o.nulls_first) if o.nulls_first is not None else False,
            )
            for o in e.window.order_by
        )
        frame = window_frame(e.window.frame, func, bool(order))
        call = WindowCall(func, tuple(args), partition, order, _window_type(func, args), frame)
        return self._windows.add(call)

    def _func(self, e: ast.FuncCall, scope: Scope, agg: AggContext | None) -> BExpr:
        name = e.name.lower()
        if e.window is not None:
            return self._window(e, name, scope, agg)
        if name in WINDOW_ONLY:
            raise PlanError(f"{name}() needs an OVER (...) clause")
        if name in AGGREGATES:
            if agg is None:
                raise PlanError(f"aggregate {name}() is not allowed here")
            if e.star:
                if name != "count":
                    raise PlanError(f"{name}(*) is not valid; only count(*)")
                return agg.add(AggCall("count_star", None, INT))
            if len(e.args) != 1:
                raise PlanError(f"{name}() takes one argument")
            arg = self.bind_expr(e.args[0], scope, None)
            if _has_agg_bound(arg):
                raise PlanError("aggregate calls cannot be nested")
            if name == "count":
                return agg.add(AggCall("count", arg, INT, e.distinct))
            if name in ("sum", "avg"):
                if not is_numeric(arg.type) and arg.type != NULL:
                    raise PlanError(f"{name}() needs numbers, got {arg.type}")
                t = INT if name == "sum" and is_int(arg.type) else FLOAT
                if name == "sum" and is_dec(arg.type):
                    t = dec(38, dec_ps(arg.type)[1])
                arg = cast_to(arg, INT if arg.type == NULL else arg.type)
                return agg.add(AggCall(name, arg, t, e.distinct))
            if name in ("bool_and", "bool_or", "every"):
                return agg.add(
                    AggCall(
                        "bool_or" if name == "bool_or" else "bool_and",
                        require_bool(arg, name),
                        BOOL,
                    )
                )
            t = INT if arg.type == NULL else arg.type
            return agg.add(AggCall(name, cast_to(arg, t), t))
        if e.star:
            raise PlanError(f"{name}(*) is not valid")
        args = [self.bind_expr(a, scope, agg) for a in e.args]
        return call_scalar(name, args)


def _window_type(name: str, args: list[BExpr]) -> str:
    if name in ("row_number", "rank", "dense_rank", "count", "count_star"):
        return INT
    if name == "avg":
        return FLOAT
    if name == "sum":
        if is_dec(args[0].type):
            return dec(38, dec_ps(args[0].type)[1])
        return INT if is_int(args[0].type) or args[0].type == NULL else FLOAT
    return args[0].type if args[0].type != NULL else INT


def _add_interval(x: BExpr, iv: BExpr, sign: int) -> BExpr:
    if not isinstance(iv, Const):
        raise UnsupportedError("interval expressions other than constants")
    months, days, micros = iv.value
    out = x
    if x.type == DATE and micros:
        out = cast_to(x, TS)
    if months:
        out = Func(
            "add_months", (out, Const(sign * months, INT)), out.type if out.type == DATE else TS
        )
        if x.type in TIMESTAMPS:
            raise UnsupportedError("month intervals on timestamps")
    if days:
        if out.type == DATE:
            out = Func("add", (out, Const(sign * days, INT)), DATE)
        else:
            out = Func("add", (out, Const(sign * days * 86_400_000_000, out.type)), out.type)
    if micros:
        out = Func("add", (out, Const(sign * micros, out.type)), out.type)
    return out


def _literal(e: ast.Literal) -> Const:
    if e.kind == "int":
        return Const(e.value, INT)
    if e.kind == "decimal":
        return decimal_literal(e.value)
    if e.kind == "float":
        return Const(e.value, FLOAT)
    if e.kind == "str":
        return Const(e.value, STR)
    if e.kind == "bool":
        return Const(e.value, BOOL)
    if e.kind == "null":
        return Const(None, NULL)
    if e.kind == "date":
        return Const(date_to_days(e.value), DATE)
    if e.kind == "timestamp":
        return Const(ts_to_micros(e.value), TS)
    raise UnsupportedError(f"literal of kind {e.kind}")


def decimal_literal(text: str) -> Const:
    """``0.06`` is DECIMAL(3, 2) as in DuckDB: every digit written counts toward the precision,
    the digits after the point are the scale; beyond 38 digits it is a DOUBLE."""
    body = text.lstrip("-")
    whole, _, frac = body.partition(".")
    p, s = max(len(whole) + len(frac), 1), len(frac)
    if p > 38:
        return Const(float(text), FLOAT)
    return Const(to_decimal(text, s), dec(p, s))


def _dec_binary(name: str, x: BExpr, y: BExpr) -> BExpr:
    """Decimal arithmetic (DuckDB's rules, see ``types.dec_arith``). ``+ - %`` rescale both
    operands to the result scale first, so the kernels add scaled integers as they are; ``*``
    multiplies them as they are (the scales add up); ``/`` gives a DOUBLE."""
    if x.type == NULL or y.type == NULL:
        other = y if x.type == NULL else x
        return Const(None, FLOAT if name == "div" else other.type)
    if name == "div":
        return Func("div", (cast_to(x, FLOAT), cast_to(y, FLOAT)), FLOAT)
    a = _as_dec(x)
    b = _as_dec(y)
    x, y = cast_to(x, dec(*a)), cast_to(y, dec(*b))
    t = dec_arith(name, a, b)
    if name == "mul":
        return Func(name, (x, y), t)
    s = dec_ps(t)[1]
    x = cast_to(x, dec(min(a[0] + s - a[1], 38), s))
    y = cast_to(y, dec(min(b[0] + s - b[1], 38), s))
    return Func(name, (x, y), t)


def _as_dec(e: BExpr) -> tuple[int, int]:
    if is_dec(e.type):
        return dec_ps(e.type)
    return int_as_dec(int_constant(e), e.type)


def _has_agg_bound(e: BExpr) -> bool:
    return any(isinstance(x, AggCall) for x in walk(e))
