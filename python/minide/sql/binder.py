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
from minide.sql.bind_expr import ExprBinder, _has_agg_bound
from minide.sql.expr import (
    AggCall,
    BExpr,
    Col,
    Const,
    Func,
    WindowCall,
    and_all,
    col_ids,
    transform,
    walk,
)
from minide.sql.functions import AGGREGATES
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
    INT,
    NULL,
    common_type,
    is_int,
)


class Binder(ExprBinder):
    def __init__(self, catalog: CatalogView, params: tuple[Const, ...] = ()) -> None:
        self.catalog = catalog
        self.params = params
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
            if not isinstance(b, Const) or not (is_int(b.type) or b.type == NULL):
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
