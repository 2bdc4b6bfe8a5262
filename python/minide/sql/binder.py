"""Binder: AST -> logical plan. Resolves names against the catalog (with "did you mean"
suggestions), types every expression, inserts implicit casts, expands ``*``, turns GROUP BY /
aggregates / HAVING / ORDER BY / DISTINCT / LIMIT into operators, and keeps subqueries as
``Subquery`` expressions for the decorrelation pass.
"""

from __future__ import annotations

import difflib
from typing import Any

from minide.errors import PlanError, UnsupportedError
from minide.sql import ast
from minide.sql.casts_frames import cast_expr, window_frame
from minide.sql.expr import (
    AggCall,
    BExpr,
    Col,
    Const,
    Func,
    Subquery,
    WindowCall,
    and_all,
    col_ids,
    transform,
    walk,
)
from minide.sql.functions import AGGREGATES, call_scalar, extract
from minide.sql.plan import (
    Aggregate,
    Column,
    Filter,
    Join,
    Limit,
    Plan,
    Project,
    Scan,
    Sort,
    SortKey,
    Union,
    Values,
    Window,
)
from minide.sql.scope import (
    WINDOW_ONLY,
    AggContext,
    CatalogView,
    Entry,
    Scope,
    WindowContext,
    cast_to,
    coerce_pair,
    require_bool,
)
from minide.sql.types import (
    BOOL,
    DATE,
    FLOAT,
    INT,
    INTERVAL,
    NULL,
    NUMERIC,
    STR,
    TS,
    common_type,
    date_to_days,
    ts_to_micros,
)


class Binder:
    def __init__(self, catalog: CatalogView) -> None:
        self.catalog = catalog
        self.next_id = 0
        self._windows: WindowContext | None = None

    def new_col(self, name: str, type_: str) -> Column:
        self.next_id += 1
        return Column(self.next_id, name, type_)

    # ---- queries ------------------------------------------------------------------------------

    def bind_query(
        self, q: ast.Query, outer: Scope | None = None, ctes: dict[str, ast.CTE] | None = None
    ) -> Plan:
        ctes = dict(ctes or {})
        for cte in q.with_:
            ctes[cte.name] = cte
        if isinstance(q.body, ast.Select):
            return self._bind_select(q.body, q, outer, ctes)
        plan = self._bind_body(q.body, outer, ctes)
        return self._order_limit_by_output(plan, q)

    def _bind_body(
        self, body: ast.QueryBody, outer: Scope | None, ctes: dict[str, ast.CTE]
    ) -> Plan:
        if isinstance(body, ast.Select):
            return self._bind_select(body, None, outer, ctes)
        if isinstance(body, ast.Values):
            return self._bind_values(body)
        if isinstance(body, ast.SetOp):
            return self._bind_setop(body, outer, ctes)
        raise UnsupportedError(f"query body {type(body).__name__}")

    def _bind_values(self, v: ast.Values) -> Plan:
        scope = Scope()
        rows = [[self.bind_expr(e, scope) for e in row] for row in v.rows]
        width = len(rows[0])
        if any(len(r) != width for r in rows):
            raise PlanError("VALUES rows must all have the same number of columns")
        types = []
        for i in range(width):
            t = NULL
            for r in rows:
                t = common_type(t, r[i].type, f"VALUES column {i + 1}")
            types.append(INT if t == NULL else t)
        out_rows = []
        for r in rows:
            vals = []
            for e, t in zip(r, types, strict=True):
                from minide.sql.optimizer.constant_folding import fold

                c = fold(cast_to(e, t))
                if not isinstance(c, Const):
                    raise PlanError(f"VALUES entries must be constants, got {e}")
                vals.append(c.value)
            out_rows.append(vals)
        cols = [self.new_col(f"col{i}", t) for i, t in enumerate(types)]
        return Values(out_rows, cols)

    def _bind_setop(self, s: ast.SetOp, outer: Scope | None, ctes: dict[str, ast.CTE]) -> Plan:
        left = self._bind_body(s.left, outer, ctes)
        right = self._bind_body(s.right, outer, ctes)
        lc, rc = left.columns, right.columns
        if len(lc) != len(rc):
            raise PlanError(f"{s.op.upper()} inputs have {len(lc)} and {len(rc)} columns")
        types = [
            common_type(a.type, b.type, f"{s.op.upper()} column {a.name}")
            for a, b in zip(lc, rc, strict=True)
        ]
        types = [INT if t == NULL else t for t in types]
        left = self._cast_columns(left, types)
        right = self._cast_columns(right, types)
        if s.op == "union":
            cols = [self.new_col(c.name, t) for c, t in zip(lc, types, strict=True)]
            plan: Plan = Union([left, right], cols)
            return plan if s.all else self._distinct(plan)
        if s.all:
            return self._setop_all(s.op, left, right)
        cond = and_all(
            [
                Func("is_not_distinct", (a.ref(), b.ref()), BOOL)
                for a, b in zip(left.columns, right.columns, strict=True)
            ]
        )
        kind = "semi" if s.op == "intersect" else "anti"
        return self._distinct(Join(kind, left, right, cond))

    def _setop_all(self, op: str, left: Plan, right: Plan) -> Plan:
        """INTERSECT ALL / EXCEPT ALL as bags: number the copies of each distinct row on both
        sides (row_number() OVER (PARTITION BY every column)); copy k of a left row survives
        INTERSECT ALL if the right side has a copy k too (min(m, n) copies), EXCEPT ALL if it
        does not (max(m - n, 0) copies)."""

        def numbered(p: Plan) -> tuple[Plan, Column]:
            rn = self.new_col("copy_no", INT)
            call = WindowCall("row_number", (), tuple(c.ref() for c in p.columns), (), INT)
            return Window(p, [(rn, call)]), rn

        lnum, lrn = numbered(left)
        rnum, rrn = numbered(right)
        pairs = [*zip(left.columns, right.columns, strict=True), (lrn, rrn)]
        cond = and_all([Func("is_not_distinct", (a.ref(), b.ref()), BOOL) for a, b in pairs])
        joined = Join("semi" if op == "intersect" else "anti", lnum, rnum, cond)
        return Project(joined, [(self.new_col(c.name, c.type), c.ref()) for c in left.columns])

    def _cast_columns(self, p: Plan, types: list[str]) -> Plan:
        if all(c.type == t for c, t in zip(p.columns, types, strict=True)):
            return p
        items = [
            (self.new_col(c.name, t), cast_to(c.ref(), t))
            for c, t in zip(p.columns, types, strict=True)
        ]
        return Project(p, items)

    def _distinct(self, p: Plan) -> Plan:
        groups = [(self.new_col(c.name, c.type), c.ref()) for c in p.columns]
        return Aggregate(p, groups, [])

    def _order_limit_by_output(self, plan: Plan, q: ast.Query) -> Plan:
        """ORDER BY / LIMIT over a set operation or VALUES: keys are output names or ordinals."""
        if q.order_by:
            scope = Scope([Entry(None, c.name, c) for c in plan.columns])
            keys = []
            for item in q.order_by:
                e = item.expr
                if isinstance(e, ast.Literal) and e.kind == "int":
                    if not 1 <= e.value <= len(plan.columns):
                        raise PlanError(f"ORDER BY position {e.value} is not in the select list")
                    b: BExpr = plan.columns[e.value - 1].ref()
                else:
                    b = self.bind_expr(e, scope)
                keys.append(self._sort_key(b, item))
            plan = Sort(plan, keys)
        return self._limit(plan, q)

    def _sort_key(self, e: BExpr, item: ast.OrderItem) -> SortKey:
        # DuckDB's default: NULLS LAST for both directions.
        nulls_first = item.nulls_first if item.nulls_first is not None else False
        return SortKey(e, item.desc, nulls_first)

    def _limit(self, plan: Plan, q: ast.Query) -> Plan:
        if q.limit is None and q.offset is None:
            return plan

        def const_int(e: ast.Expr | None, what: str) -> int | None:
            if e is None:
                return None
            from minide.sql.optimizer.constant_folding import fold

            b = fold(self.bind_expr(e, Scope()))
            if not isinstance(b, Const) or b.type not in (INT, NULL):
                raise PlanError(f"{what} must be an integer constant")
            if b.value is not None and b.value < 0:
                raise PlanError(f"{what} must not be negative")
            return b.value

        return Limit(plan, const_int(q.limit, "LIMIT"), const_int(q.offset, "OFFSET") or 0)

    # ---- FROM -----------------------------------------------------------------------------------

    def _bind_from_item(
        self, item: ast.FromItem, outer: Scope | None, ctes: dict[str, ast.CTE]
    ) -> tuple[Plan, list[Entry]]:
        if isinstance(item, ast.TableRef):
            alias = item.alias or item.name
            if item.name in ctes:
                cte = ctes[item.name]
                inner_ctes = {k: v for k, v in ctes.items() if k != item.name}
                plan = self.bind_query(cte.query, outer, inner_ctes)
                return plan, self._entries(plan, alias, item.column_aliases or cte.columns)
            view = self.catalog.view_query(item.name)
            if view is not None:
                vq, vcols = view
                plan = self.bind_query(vq, None, {})
                return plan, self._entries(plan, alias, item.column_aliases or vcols)
            cols = self.catalog.table_columns(item.name)
            if cols is None:
                known = self.catalog.names() + list(ctes)
                close = difflib.get_close_matches(item.name, known, n=1)
                hint = (
                    f"; did you mean {close[0]}?"
                    if close
                    else (
                        f"; registered: {', '.join(sorted(known))}"
                        if known
                        else "; register one with con.register(name, data)"
                    )
                )
                raise PlanError(f"unknown table {item.name!r}{hint}")
            out = [self.new_col(n, t) for n, t in cols]
            plan = Scan(item.name, out, list(range(len(out))))
            return plan, self._entries(plan, alias, item.column_aliases)
        if isinstance(item, ast.DerivedTable):
            plan = self.bind_query(item.query, outer, ctes)
            return plan, self._entries(plan, item.alias, item.column_aliases)
        if isinstance(item, ast.Join):
            lp, le = self._bind_from_item(item.left, outer, ctes)
            rp, re_ = self._bind_from_item(item.right, outer, ctes)
            entries = le + re_
            scope = Scope(entries, outer)
            cond: BExpr | None = None
            if item.on is not None:
                cond = require_bool(self.bind_expr(item.on, scope), "JOIN ... ON")
            elif item.using:
                parts = []
                for n in item.using:
                    a = Scope(le).resolve(n, None)
                    b = Scope(re_).resolve(n, None)
                    x, y = coerce_pair(a, b, "USING")
                    parts.append(Func("eq", (x, y), BOOL))
                cond = and_all(parts)
            kind = "inner" if item.kind == "cross" else item.kind
            if kind != "inner" and cond is None:
                raise PlanError(f"{kind.upper()} JOIN needs an ON or USING condition")
            return Join(kind, lp, rp, cond), entries
        raise UnsupportedError(f"FROM item {type(item).__name__}")

    def _entries(self, plan: Plan, alias: str | None, names: tuple[str, ...]) -> list[Entry]:
        cols = plan.columns
        if names and len(names) > len(cols):
            raise PlanError(f"{alias} has {len(cols)} columns but {len(names)} column aliases")
        out = []
        for i, c in enumerate(cols):
            n = names[i] if i < len(names) else c.name
            out.append(Entry(alias, n, c))
        return out

    # ---- SELECT ---------------------------------------------------------------------------------

    def _bind_select(
        self, s: ast.Select, q: ast.Query | None, outer: Scope | None, ctes: dict[str, ast.CTE]
    ) -> Plan:
        # FROM: comma-separated items become cross joins; the optimizer turns WHERE predicates
        # into join conditions and picks the order.
        plan: Plan | None = None
        entries: list[Entry] = []
        for item in s.from_:
            p, e = self._bind_from_item(item, outer, ctes)
            plan = p if plan is None else Join("inner", plan, p, None)
            entries += e
        if plan is None:
            plan = Values([[]], [])
        scope = Scope(entries, outer)
        local_ids = {e.col.id for e in entries}

        if s.where is not None:
            pred = self.bind_expr(s.where, scope)
            if any(isinstance(x, AggCall) for x in walk(pred)):
                raise PlanError("aggregate functions are not allowed in WHERE; use HAVING")
            plan = Filter(plan, require_bool(pred, "WHERE"))

        # Select list with * expanded.
        items: list[tuple[ast.Expr, str]] = []
        for it in s.items:
            if isinstance(it.expr, ast.Star):
                chosen = [e for e in entries if it.expr.table is None or e.table == it.expr.table]
                if not chosen:
                    raise PlanError(f"no columns match {it.expr.table or ''}.*")
                items += [(ast.ColumnRef(e.name, e.table), e.name) for e in chosen]
            else:
                items.append((it.expr, it.alias or _default_name(it.expr)))
        aliases = {name: e for e, name in items}

        order_items = q.order_by if q is not None else ()
        has_aggs = (
            bool(s.group_by)
            or s.having is not None
            or any(_contains_agg(e) for e, _ in items)
            or any(_contains_agg(o.expr) for o in order_items)
        )

        agg_ctx: AggContext | None = None
        group_map: dict[BExpr, Col] = {}
        saved_windows = self._windows
        windows = self._windows = WindowContext(self)
        if has_aggs:
            agg_ctx = AggContext(self)
            groups: list[tuple[Column, BExpr]] = []
            for g in s.group_by:
                ge = self._group_expr(g, items, aliases, scope)
                if ge in group_map:
                    continue
                col = self.new_col(ge.name if isinstance(ge, Col) else "group", ge.type)
                groups.append((col, ge))
                group_map[ge] = col.ref()
            bound_items = [self.bind_expr(e, scope, agg_ctx) for e, _ in items]
            having = self.bind_expr(s.having, scope, agg_ctx) if s.having is not None else None
            order_bound = [
                self._bind_order_expr(o, items, aliases, scope, agg_ctx) for o in order_items
            ]
            aggs = [(col, call) for call, col in agg_ctx.calls.items()]
            plan = Aggregate(plan, groups, aggs)
            agg_ids = {c.id for c, _ in aggs}

            def lift(e: BExpr, what: str) -> BExpr:
                out = transform(e, lambda x: group_map.get(x) if not isinstance(x, Const) else None)
                bad = (col_ids(out) & local_ids) - agg_ids - {c.id for c in group_map.values()}
                if bad:
                    name = next(x.name for x in walk(out) if isinstance(x, Col) and x.id in bad)
                    raise PlanError(
                        f"column {name!r} in {what} must appear in GROUP BY or be used in an aggregate function"
                    )
                return out

            bound_items = [lift(e, "the select list") for e in bound_items]
            if having is not None:
                plan = Filter(plan, require_bool(lift(having, "HAVING"), "HAVING"))
            order_bound = [
                lift(e, "ORDER BY") if not isinstance(e, int) else e for e in order_bound
            ]
        else:
            bound_items = [self.bind_expr(e, scope) for e, _ in items]
            order_bound = [
                self._bind_order_expr(o, items, aliases, scope, None) for o in order_items
            ]

        self._windows = saved_windows
        if windows.calls:
            calls = list(windows.calls.items())
            if agg_ctx is not None:
                lifted = []
                for w, c in calls:
                    lw = lift(w, "a window function")
                    assert isinstance(lw, WindowCall)
                    lifted.append((c, lw))
                plan = Window(plan, lifted)
            else:
                plan = Window(plan, [(c, w) for w, c in calls])

        out_cols = [
            self.new_col(name, e.type if e.type != NULL else INT)
            for (_, name), e in zip(items, bound_items, strict=True)
        ]
        proj_items: list[tuple[Column, BExpr]] = [
            (c, cast_to(e, INT) if e.type == NULL else e)
            for c, e in zip(out_cols, bound_items, strict=True)
        ]
        # ORDER BY keys that are not select items become hidden columns, dropped after the sort.
        keys: list[SortKey] = []
        hidden: list[tuple[Column, BExpr]] = []
        for o, b in zip(order_items, order_bound, strict=True):
            if isinstance(b, int):
                keys.append(self._sort_key(out_cols[b].ref(), o))
                continue
            match = next((c for c, e in proj_items if e == b), None)
            if match is None:
                if s.distinct:
                    raise PlanError(
                        "with SELECT DISTINCT, ORDER BY expressions must appear in the select list"
                    )
                match = self.new_col("sortkey", b.type)
                hidden.append((match, b))
            keys.append(self._sort_key(match.ref(), o))
        plan = Project(plan, proj_items + hidden)
        if s.distinct:
            groups = [(self.new_col(c.name, c.type), c.ref()) for c in out_cols]
            remap = {c.id: g.ref() for c, (g, _) in zip(out_cols, groups, strict=True)}
            plan = Aggregate(plan, groups, [])
            keys = [
                SortKey(
                    remap.get(k.expr.id, k.expr) if isinstance(k.expr, Col) else k.expr,
                    k.desc,
                    k.nulls_first,
                )
                for k in keys
            ]
            out_cols = [g for g, _ in groups]
        if keys:
            plan = Sort(plan, keys)
        if q is not None:
            plan = self._limit(plan, q)
        if hidden:
            plan = Project(plan, [(self.new_col(c.name, c.type), c.ref()) for c in out_cols])
        return plan

    def _group_expr(
        self,
        g: ast.Expr,
        items: list[tuple[ast.Expr, str]],
        aliases: dict[str, ast.Expr],
        scope: Scope,
    ) -> BExpr:
        if isinstance(g, ast.Literal) and g.kind == "int":
            if not 1 <= g.value <= len(items):
                raise PlanError(f"GROUP BY position {g.value} is not in the select list")
            g = items[g.value - 1][0]
        elif isinstance(g, ast.ColumnRef) and g.table is None and g.name in aliases:
            try:
                return self.bind_expr(g, scope)
            except PlanError:
                g = aliases[g.name]
        e = self.bind_expr(g, scope)
        if _has_agg_bound(e):
            raise PlanError("aggregate functions are not allowed in GROUP BY")
        return e

    def _bind_order_expr(
        self,
        o: ast.OrderItem,
        items: list[tuple[ast.Expr, str]],
        aliases: dict[str, ast.Expr],
        scope: Scope,
        agg_ctx: AggContext | None,
    ) -> Any:
        e = o.expr
        if isinstance(e, ast.Literal) and e.kind == "int":
            if not 1 <= e.value <= len(items):
                raise PlanError(f"ORDER BY position {e.value} is not in the select list")
            return e.value - 1
        if isinstance(e, ast.ColumnRef) and e.table is None and e.name in aliases:
            names = [n for _, n in items]
            return names.index(e.name)
        return self.bind_expr(e, scope, agg_ctx)

    # ---- expressions ----------------------------------------------------------------------------

    def bind_expr(self, e: ast.Expr, scope: Scope, agg: AggContext | None = None) -> BExpr:
        b = lambda x: self.bind_expr(x, scope, agg)  # noqa: E731
        if isinstance(e, ast.Literal):
            return _literal(e)
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
            if x.type not in (INT, FLOAT, NULL):
                raise PlanError(f"unary minus needs a number, got {x.type}")
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
        if y.type == INTERVAL and x.type in (DATE, TS) and op in "+-":
            return _add_interval(x, y, -1 if op == "-" else 1)
        if x.type == INTERVAL and y.type in (DATE, TS) and op == "+":
            return _add_interval(y, x, 1)
        if x.type == DATE and y.type in (INT, NULL) and op in "+-":
            return Func(name, (x, cast_to(y, INT)), DATE)
        if y.type == DATE and x.type == INT and op == "+":
            return Func(name, (y, x), DATE)
        if x.type == DATE and y.type == DATE and op == "-":
            return Func("sub", (x, y), INT)
        for v in (x, y):
            if v.type not in (INT, FLOAT, NULL):
                raise PlanError(f"operator {op} needs numbers, got {x.type} and {y.type}")
        t = common_type(x.type, y.type, f"operator {op}")
        if t == NULL:
            return Const(None, INT)
        if name == "div":
            t = FLOAT  # SQL / on integers gives a fraction here, as in DuckDB
        return Func(name, (cast_to(x, t), cast_to(y, t)), t)

    def _in_list(self, x: BExpr, items: list[BExpr], negated: bool) -> BExpr:
        from minide.sql.optimizer.constant_folding import fold

        t = x.type
        for i in items:
            if not (isinstance(i, Const) and i.type == STR and t not in (STR, NULL)):
                t = common_type(t, i.type, "IN list")
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
        t = NULL
        for _, v in whens:
            t = common_type(t, v.type, "CASE branches")
        if els is not None:
            t = common_type(t, els.type, "CASE branches")
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
        if name in ("sum", "avg") and args[0].type not in (*NUMERIC, NULL):
            raise PlanError(f"{name}() needs numbers, got {args[0].type}")
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
                if arg.type not in (*NUMERIC, NULL):
                    raise PlanError(f"{name}() needs numbers, got {arg.type}")
                t = FLOAT if name == "avg" or arg.type != INT else INT
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
        return INT if args[0].type in (INT, NULL) else FLOAT
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
        if x.type == TS:
            raise UnsupportedError("month intervals on timestamps")
    if days:
        if out.type == DATE:
            out = Func("add", (out, Const(sign * days, INT)), DATE)
        else:
            out = Func("add", (out, Const(sign * days * 86_400_000_000, TS)), TS)
    if micros:
        out = Func("add", (out, Const(sign * micros, TS)), TS)
    return out


def _literal(e: ast.Literal) -> Const:
    if e.kind == "int":
        return Const(e.value, INT)
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


def _default_name(e: ast.Expr) -> str:
    if isinstance(e, ast.ColumnRef):
        return e.name
    if isinstance(e, ast.FuncCall):
        return e.name.lower()
    if isinstance(e, ast.Extract):
        return e.field
    if isinstance(e, ast.Cast):
        return _default_name(e.expr)
    return "?column?"


def _contains_agg(e: ast.Expr) -> bool:
    if isinstance(e, ast.FuncCall):
        if e.name.lower() in AGGREGATES and e.window is None:
            return True
        return any(_contains_agg(a) for a in e.args)
    if isinstance(e, ast.SubqueryExpr | ast.Exists):
        return False
    for v in vars(e).values() if hasattr(e, "__dict__") else []:
        if isinstance(v, ast.Expr) and _contains_agg(v):
            return True
        if isinstance(v, tuple):
            for x in v:
                if isinstance(x, ast.Expr) and _contains_agg(x):
                    return True
                if isinstance(x, tuple) and any(
                    isinstance(y, ast.Expr) and _contains_agg(y) for y in x
                ):
                    return True
    return False


def _has_agg_bound(e: BExpr) -> bool:
    return any(isinstance(x, AggCall) for x in walk(e))
