"""The engine's logical types (mirrors ``rust/sql/src/types.rs``) and the binder's coercion rules.

``bool int64 float64 utf8 date32 timestamp`` are column types; ``null`` is the type of an untyped
NULL literal and ``interval`` the type of an interval constant (only valid in date arithmetic).
Decimals are computed as float64.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from minide.errors import PlanError

BOOL, INT, FLOAT, STR, DATE, TS, NULL, INTERVAL = (
    "bool",
    "int64",
    "float64",
    "utf8",
    "date32",
    "timestamp",
    "null",
    "interval",
)
NUMERIC = (INT, FLOAT)
EPOCH = dt.date(1970, 1, 1)

_SQL_TYPES = {
    "boolean": BOOL,
    "bool": BOOL,
    "tinyint": INT,
    "smallint": INT,
    "int": INT,
    "integer": INT,
    "bigint": INT,
    "int2": INT,
    "int4": INT,
    "int8": INT,
    "int64": INT,
    "hugeint": INT,
    "real": FLOAT,
    "float": FLOAT,
    "float4": FLOAT,
    "float8": FLOAT,
    "double": FLOAT,
    "float64": FLOAT,
    "decimal": FLOAT,
    "numeric": FLOAT,
    "varchar": STR,
    "char": STR,
    "text": STR,
    "string": STR,
    "utf8": STR,
    "date": DATE,
    "timestamp": TS,
    "datetime": TS,
}


def from_sql(name: str) -> str:
    """The engine type of a SQL type name (``DECIMAL(15,2)`` -> float64)."""
    t = _SQL_TYPES.get(name.lower())
    if t is None:
        raise PlanError(f"unknown type {name!r}; known: {', '.join(sorted(_SQL_TYPES))}")
    return t


def to_arrow(t: str) -> pa.DataType:
    return {
        BOOL: pa.bool_(),
        INT: pa.int64(),
        FLOAT: pa.float64(),
        STR: pa.string(),
        DATE: pa.date32(),
        TS: pa.timestamp("us"),
        NULL: pa.int64(),
    }[t]


def common_type(a: str, b: str, what: str) -> str:
    """The type both sides of a comparison / arithmetic / UNION are cast to."""
    if a == b:
        return a
    if a == NULL:
        return b
    if b == NULL:
        return a
    if {a, b} == {INT, FLOAT}:
        return FLOAT
    if {a, b} == {DATE, TS}:
        return TS
    raise PlanError(f"{what}: cannot combine {a} and {b}; add a CAST")


def date_to_days(text: str) -> int:
    try:
        return (dt.date.fromisoformat(text.strip()[:10]) - EPOCH).days
    except ValueError:
        raise PlanError(f"invalid date literal {text!r}; expected YYYY-MM-DD") from None


def days_to_date(days: int) -> dt.date:
    return EPOCH + dt.timedelta(days=days)


def ts_to_micros(text: str) -> int:
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise PlanError(f"invalid timestamp literal {text!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return (t - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
