"""SQL text -> typed AST (``ast.py``) with the LALR grammar in ``grammar.lark``.

Syntax errors become :class:`minide.errors.SqlSyntaxError` with the line, the column and the
offending line with a caret under the token.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from minide.errors import SqlSyntaxError
from minide.sql import ast


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", maybe_placeholders=False, cache=True)


def _unquote_name(tok: str) -> str:
    if tok.startswith('"'):
        return tok[1:-1].replace('""', '"')
    return tok.lower()


def _has(items: list[Any], kind: str) -> bool:
    return any(isinstance(i, Token) and i.type == kind for i in items)


def _exprs(items: list[Any]) -> list[Any]:
    return [i for i in items if not isinstance(i, Token)]


_INTERVAL_UNITS = {
    "year": (12, 0, 0),
    "month": (1, 0, 0),
    "day": (0, 1, 0),
    "week": (0, 7, 0),
    "hour": (0, 0, 3_600_000_000),
    "minute": (0, 0, 60_000_000),
    "second": (0, 0, 1_000_000),
}


def _interval(text: str, unit: str | None) -> ast.IntervalLit:
    parts = text.strip().split()
    if unit is None and len(parts) == 2:
        text, unit = parts
    unit = (unit or "day").lower().rstrip("s")
    if unit not in _INTERVAL_UNITS:
        raise SqlSyntaxError(
            f"unknown interval unit {unit!r}; use year, month, week, day, hour, minute or second"
        )
    try:
        n = int(text)
    except ValueError:
        raise SqlSyntaxError(f"interval amount must be an integer, got {text!r}") from None
    m, d, us = _INTERVAL_UNITS[unit]
    return ast.IntervalLit(months=m * n, days=d * n, micros=us * n)


class _ToAst(Transformer):
    def __init__(self) -> None:
        super().__init__()
        self._qmarks = 0  # ``?`` seen so far: lark transforms leaves left to right
        self._numeric = 0  # highest ``$n`` seen

    # ---- parameters
    def param_qmark(self, _: list[Token]) -> ast.Parameter:
        if self._numeric:
            raise SqlSyntaxError(_MIXED)
        self._qmarks += 1
        return ast.Parameter(self._qmarks - 1)

    def param_numeric(self, items: list[Token]) -> ast.Parameter:
        if self._qmarks:
            raise SqlSyntaxError(_MIXED)
        tok = items[0]
        n = int(str(tok)[1:])
        if n < 1:
            raise SqlSyntaxError(
                f"placeholder {tok} at line {tok.line}, column {tok.column}: "
                "numeric placeholders start at $1"
            )
        self._numeric = max(self._numeric, n)
        return ast.Parameter(n - 1)

    # ---- names and literals
    def name(self, items: list[Token]) -> str:
        return _unquote_name(str(items[0]))

    def number(self, items: list[Token]) -> ast.Literal:
        s = str(items[0])
        if re.fullmatch(r"\d+", s):
            return ast.Literal(int(s), "int")
        if re.fullmatch(r"\d*\.\d*", s):
            # kept as text: its digits give the type, DECIMAL(digits, fraction digits)
            return ast.Literal(s, "decimal")
        return ast.Literal(float(s), "float")

    def string(self, items: list[Token]) -> ast.Literal:
        return ast.Literal(str(items[0])[1:-1].replace("''", "'"), "str")

    def true(self, _: list[Any]) -> ast.Literal:
        return ast.Literal(True, "bool")

    def false(self, _: list[Any]) -> ast.Literal:
        return ast.Literal(False, "bool")

    def null(self, _: list[Any]) -> ast.Literal:
        return ast.Literal(None, "null")

    def date_lit(self, items: list[Token]) -> ast.Literal:
        return ast.Literal(str(items[0])[1:-1], "date")

    def timestamp_lit(self, items: list[Token]) -> ast.Literal:
        return ast.Literal(str(items[0])[1:-1], "timestamp")

    def interval(self, items: list[Any]) -> ast.IntervalLit:
        text = str(items[0])[1:-1]
        unit = (
            items[1]
            if len(items) > 1 and isinstance(items[1], str) and not isinstance(items[1], Token)
            else None
        )
        return _interval(text, unit)

    def column_ref(self, items: list[str]) -> ast.ColumnRef:
        if len(items) == 2:
            return ast.ColumnRef(items[1], items[0])
        return ast.ColumnRef(items[0])

    def type_name(self, items: list[Any]) -> ast.TypeName:
        return ast.TypeName(items[0], tuple(int(str(t)) for t in items[1:]))

    # ---- operators
    def binop(self, items: list[Any]) -> ast.BinaryOp:
        return ast.BinaryOp(str(items[1]), items[0], items[2])

    def compare(self, items: list[Any]) -> ast.BinaryOp:
        op = str(items[1])
        return ast.BinaryOp("<>" if op == "!=" else op, items[0], items[2])

    def and_(self, items: list[Any]) -> ast.BinaryOp:
        return ast.BinaryOp("and", items[0], items[1])

    def or_(self, items: list[Any]) -> ast.BinaryOp:
        return ast.BinaryOp("or", items[0], items[1])

    def not_(self, items: list[Any]) -> ast.UnaryOp:
        return ast.UnaryOp("not", items[0])

    def neg(self, items: list[Any]) -> ast.Expr:
        x = items[0]
        if isinstance(x, ast.Literal) and x.kind in ("int", "float"):
            return ast.Literal(-x.value, x.kind)
        if isinstance(x, ast.Literal) and x.kind == "decimal":
            return ast.Literal("-" + x.value, x.kind)
        return ast.UnaryOp("neg", x)

    def is_null(self, items: list[Any]) -> ast.IsNull:
        return ast.IsNull(items[0], negated=_has(items, "NOT"))

    def is_distinct(self, items: list[Any]) -> ast.IsDistinct:
        e = _exprs(items)
        return ast.IsDistinct(e[0], e[1], negated=_has(items, "NOT"))

    def between(self, items: list[Any]) -> ast.Between:
        e = _exprs(items)
        return ast.Between(e[0], e[1], e[2], negated=_has(items, "NOT"))

    def in_list(self, items: list[Any]) -> ast.Expr:
        e = _exprs(items)
        neg = _has(items, "NOT")
        values = e[1]
        if len(values) == 1 and isinstance(values[0], ast.SubqueryExpr):
            return ast.InSubquery(e[0], values[0].query, negated=neg)
        return ast.InList(e[0], tuple(values), negated=neg)

    def in_subquery(self, items: list[Any]) -> ast.InSubquery:
        e = _exprs(items)
        return ast.InSubquery(e[0], e[1], negated=_has(items, "NOT"))

    def like(self, items: list[Any]) -> ast.Like:
        e = _exprs(items)
        op = next(str(t) for t in items if isinstance(t, Token) and t.type == "LIKE_OP")
        return ast.Like(
            e[0], e[1], negated=_has(items, "NOT"), case_insensitive=op.lower() == "ilike"
        )

    def expr_list(self, items: list[Any]) -> list[Any]:
        return list(items)

    def pg_cast(self, items: list[Any]) -> ast.Cast:
        return ast.Cast(items[0], items[1])

    def cast(self, items: list[Any]) -> ast.Cast:
        return ast.Cast(items[0], items[1])

    def extract(self, items: list[Any]) -> ast.Extract:
        return ast.Extract(items[0], items[1])

    def substring_from(self, items: list[Any]) -> ast.FuncCall:
        return ast.FuncCall("substring", tuple(items))

    substring_args = substring_from

    def scalar_subquery(self, items: list[Any]) -> ast.SubqueryExpr:
        return ast.SubqueryExpr(items[0])

    def exists(self, items: list[Any]) -> ast.Exists:
        return ast.Exists(items[0])

    def when_clause(self, items: list[Any]) -> tuple[Any, Any]:
        return (items[0], items[1])

    def else_clause(self, items: list[Any]) -> tuple[str, Any]:
        return ("else", items[0])

    def _case(self, operand: Any, rest: list[Any]) -> ast.Case:
        whens = tuple(w for w in rest if not (isinstance(w, tuple) and w[0] == "else"))
        els = next((w[1] for w in rest if isinstance(w, tuple) and w[0] == "else"), None)
        return ast.Case(operand, whens, els)

    def simple_case(self, items: list[Any]) -> ast.Case:
        return self._case(items[0], items[1:])

    def searched_case(self, items: list[Any]) -> ast.Case:
        return self._case(None, items)

    def args(self, items: list[Any]) -> tuple[bool, bool, tuple[Any, ...]]:
        return (_has(items, "DISTINCT"), False, tuple(_exprs(items)[0]))

    def star_arg(self, _: list[Any]) -> tuple[bool, bool, tuple[Any, ...]]:
        return (False, True, ())

    def partition_clause(self, items: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("partition", tuple(items))

    def over_clause(self, items: list[Any]) -> ast.WindowSpec:
        part: tuple[Any, ...] = ()
        order: tuple[Any, ...] = ()
        frame = None
        for i in items:
            if isinstance(i, ast.Frame):
                frame = i
            elif isinstance(i, tuple) and i and i[0] == "partition":
                part = i[1]
            elif isinstance(i, tuple) and i and i[0] == "order":
                order = i[1]
        return ast.WindowSpec(part, order, frame)

    def frame_short(self, items: list[Any]) -> ast.Frame:
        return ast.Frame(str(items[0]).lower(), items[1], ast.FrameBound("current_row"))

    def frame_between(self, items: list[Any]) -> ast.Frame:
        return ast.Frame(str(items[0]).lower(), items[1], items[2])

    def unbounded_preceding(self, _: list[Any]) -> ast.FrameBound:
        return ast.FrameBound("unbounded_preceding")

    def unbounded_following(self, _: list[Any]) -> ast.FrameBound:
        return ast.FrameBound("unbounded_following")

    def current_row(self, _: list[Any]) -> ast.FrameBound:
        return ast.FrameBound("current_row")

    def preceding(self, items: list[Any]) -> ast.FrameBound:
        return ast.FrameBound("preceding", int(items[0]))

    def following(self, items: list[Any]) -> ast.FrameBound:
        return ast.FrameBound("following", int(items[0]))

    def func_call(self, items: list[Any]) -> ast.FuncCall:
        name = items[0]
        distinct, star, args = False, False, ()
        window = None
        for i in items[1:]:
            if isinstance(i, ast.WindowSpec):
                window = i
            else:
                distinct, star, args = i
        return ast.FuncCall(name, args, distinct=distinct, star=star, window=window)

    # ---- queries
    def select_expr(self, items: list[Any]) -> ast.SelectItem:
        return ast.SelectItem(items[0], items[1] if len(items) > 1 else None)

    def select_star(self, _: list[Any]) -> ast.SelectItem:
        return ast.SelectItem(ast.Star())

    def select_qualified_star(self, items: list[Any]) -> ast.SelectItem:
        return ast.SelectItem(ast.Star(items[0]))

    def from_clause(self, items: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("from", tuple(items))

    def where_clause(self, items: list[Any]) -> tuple[str, Any]:
        return ("where", items[0])

    def group_by(self, items: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("group", tuple(items))

    def having(self, items: list[Any]) -> tuple[str, Any]:
        return ("having", items[0])

    def select_core(self, items: list[Any]) -> ast.Select:
        distinct = _has(items, "DISTINCT")
        sel = [i for i in items if isinstance(i, ast.SelectItem)]
        parts = dict(i for i in items if isinstance(i, tuple))
        return ast.Select(
            tuple(sel),
            from_=parts.get("from", ()),
            where=parts.get("where"),
            group_by=parts.get("group", ()),
            having=parts.get("having"),
            distinct=distinct,
        )

    def values_row(self, items: list[Any]) -> tuple[Any, ...]:
        return tuple(items[0])

    def values_rows(self, items: list[Any]) -> tuple[Any, ...]:
        return tuple(items)

    def values_core(self, items: list[Any]) -> ast.Values:
        return ast.Values(items[0])

    def _setop(self, op: str, items: list[Any]) -> ast.SetOp:
        e = _exprs(items)
        return ast.SetOp(op, e[0], e[1], all=_has(items, "ALL"))

    def union(self, items: list[Any]) -> ast.SetOp:
        return self._setop("union", items)

    def except_(self, items: list[Any]) -> ast.SetOp:
        return self._setop("except", items)

    def intersect(self, items: list[Any]) -> ast.SetOp:
        return self._setop("intersect", items)

    def name_list_paren(self, items: list[str]) -> tuple[str, ...]:
        return tuple(items)

    def alias(self, items: list[Any]) -> tuple[str, tuple[str, ...]]:
        return (items[0], items[1] if len(items) > 1 else ())

    def table_name(self, items: list[Any]) -> ast.TableRef:
        name, cols = items[1] if len(items) > 1 else (None, ())
        return ast.TableRef(items[0], name, cols)

    def derived_table(self, items: list[Any]) -> ast.DerivedTable:
        name, cols = items[1] if len(items) > 1 else (None, ())
        return ast.DerivedTable(items[0], name, cols)

    def join_type(self, items: list[Token]) -> str:
        return str(items[0]).lower()

    def on_cond(self, items: list[Any]) -> tuple[str, Any]:
        return ("on", items[0])

    def using_cond(self, items: list[Any]) -> tuple[str, Any]:
        return ("using", items[0])

    def join(self, items: list[Any]) -> ast.Join:
        left, kind, right = items[0], items[1], items[2]
        cond = items[3] if len(items) > 3 else None
        on = cond[1] if cond and cond[0] == "on" else None
        using = cond[1] if cond and cond[0] == "using" else ()
        return ast.Join(kind, left, right, on, using)

    def inner_join(self, items: list[Any]) -> ast.Join:
        return self.join([items[0], "inner", *items[1:]])

    def order_item(self, items: list[Any]) -> ast.OrderItem:
        desc = any(
            isinstance(i, Token) and i.type == "DIRECTION" and str(i).lower() == "desc"
            for i in items
        )
        nulls = next((i for i in items[1:] if isinstance(i, bool)), None)
        return ast.OrderItem(items[0], desc, nulls)

    def nulls_order(self, items: list[Token]) -> bool:
        return str(items[0]).lower() == "first"

    def order_by(self, items: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("order", tuple(items))

    def limit_offset(self, items: list[Any]) -> tuple[str, Any, Any]:
        return ("limit", items[0], items[1] if len(items) > 1 else None)

    def offset_limit(self, items: list[Any]) -> tuple[str, Any, Any]:
        return ("limit", items[1] if len(items) > 1 else None, items[0])

    def cte(self, items: list[Any]) -> ast.CTE:
        if len(items) == 3:
            return ast.CTE(items[0], items[2], items[1])
        return ast.CTE(items[0], items[1])

    def with_clause(self, items: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return ("with", tuple(items))

    def query(self, items: list[Any]) -> ast.Query:
        body = next(i for i in items if isinstance(i, ast.QueryBody))
        with_: tuple[Any, ...] = ()
        order: tuple[Any, ...] = ()
        limit = offset = None
        for i in items:
            if isinstance(i, tuple) and i[0] == "with":
                with_ = i[1]
            elif isinstance(i, tuple) and i[0] == "order":
                order = i[1]
            elif isinstance(i, tuple) and i[0] == "limit":
                limit, offset = i[1], i[2]
        return ast.Query(body, with_, order, limit, offset)

    # ---- statements
    def column_def(self, items: list[Any]) -> ast.ColumnDef:
        return ast.ColumnDef(items[0], items[1])

    def create_table(self, items: list[Any]) -> ast.CreateTable:
        return ast.CreateTable(items[0], tuple(items[1:]))

    def create_table_as(self, items: list[Any]) -> ast.CreateTableAs:
        return ast.CreateTableAs(items[0], items[1])

    def create_view(self, items: list[Any]) -> ast.CreateView:
        replace = _has(items, "OR_REPLACE")
        e = _exprs(items)
        cols = e[1] if len(e) == 3 else ()
        return ast.CreateView(e[0], e[-1], cols, replace)

    def insert_query(self, items: list[Any]) -> ast.Insert:
        cols = items[1] if len(items) == 3 else ()
        return ast.Insert(items[0], items[-1], cols)

    def drop_table(self, items: list[Any]) -> ast.DropTable:
        return ast.DropTable(_exprs(items)[0], if_exists=_has(items, "IF_EXISTS"))

    def drop_view(self, items: list[Any]) -> ast.DropTable:
        return ast.DropTable(_exprs(items)[0], if_exists=_has(items, "IF_EXISTS"), view=True)

    def explain(self, items: list[Any]) -> ast.Explain:
        return ast.Explain(_exprs(items)[0], analyze=_has(items, "ANALYZE"))

    def start(self, items: list[Any]) -> ast.Script:
        style = "qmark" if self._qmarks else "numeric" if self._numeric else None
        return ast.Script(tuple(items), self._qmarks or self._numeric, style)


_MIXED = (
    "cannot mix ? and $n placeholders in one SQL text; use ? (parameters in order) "
    "or $1, $2, ... (parameters by position)"
)


def _syntax_error(sql: str, err: UnexpectedInput) -> SqlSyntaxError:
    line = getattr(err, "line", None)
    col = getattr(err, "column", None)
    if isinstance(err, UnexpectedEOF) or line is None or line < 1:
        lines = sql.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        what = "unexpected end of input"
    elif isinstance(err, UnexpectedCharacters):
        what = (
            f"unexpected character {sql[err.pos_in_stream]!r}"
            if err.pos_in_stream < len(sql)
            else "unexpected character"
        )
    else:
        tok = getattr(err, "token", None)
        if tok is not None and getattr(tok, "type", "") == "$END":
            what = "unexpected end of input"
        else:
            what = f"unexpected {str(tok)!r}" if tok is not None else "unexpected input"
    expected = sorted(getattr(err, "expected", None) or getattr(err, "allowed", None) or [])
    src = sql.splitlines()[line - 1] if sql.splitlines() else ""
    caret = " " * (max(col, 1) - 1) + "^"
    hint = ""
    if expected:
        nice = [e.strip("_").lower() for e in expected if not e.startswith("__ANON")][:8]
        if nice:
            hint = f" (expected one of: {', '.join(nice)})"
    err = SqlSyntaxError(
        f"syntax error at line {line}, column {col}: {what}{hint}\n  {src}\n  {caret}"
    )
    err.line = line  # type: ignore[attr-defined]
    err.column = col  # type: ignore[attr-defined]
    return err


#: parsed texts kept: a query run again (a dashboard's, a benchmark's) skips the parser
PARSE_CACHE = 256


@lru_cache(maxsize=PARSE_CACHE)
def parse_script(sql: str) -> ast.Script:
    """Parse every statement of ``sql`` (separated by ``;``). The AST is immutable (frozen
    dataclasses and tuples), so the result for a text is kept and shared by later calls."""
    try:
        tree = _parser().parse(sql)
        return _ToAst().transform(tree)
    except UnexpectedInput as e:
        raise _syntax_error(sql, e) from None
    except VisitError as e:
        if isinstance(e.orig_exc, SqlSyntaxError):
            raise e.orig_exc from None
        raise


def parse(sql: str) -> ast.Query | ast.Statement | ast.Script:
    """Parse SQL into the typed AST: the statement itself, or a :class:`Script` of several."""
    script = parse_script(sql)
    if len(script.statements) == 1:
        return script.statements[0]
    return script


@cache
def _expr_parser() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", start="expr", maybe_placeholders=False, cache=True)


def parse_expression(text: str) -> ast.Expr:
    """Parse one SQL expression (what follows WHERE), e.g. the text filters of
    ``minide.columnar.read_parquet(filter=...)``: one expression grammar in the project."""
    try:
        tree = _expr_parser().parse(text)
        out = _ToAst().transform(tree)
    except UnexpectedInput as e:
        raise _syntax_error(text, e) from None
    except VisitError as e:
        if isinstance(e.orig_exc, SqlSyntaxError):
            raise e.orig_exc from None
        raise
    if not isinstance(out, ast.Expr):
        raise SqlSyntaxError(f"not an expression: {text!r}")
    return out
