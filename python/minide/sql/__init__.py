"""minide.sql: a SQL engine — lark parser, binder, optimizer passes, vectorized Rust executor.

>>> import minide
>>> con = minide.connect()
>>> con.register("t", pyarrow_table)            # doctest: +SKIP
>>> con.sql("SELECT count(*) FROM t").fetchall()  # doctest: +SKIP

See docs/sql.md for the life of a query.
"""

from __future__ import annotations

from minide.sql.ast import Script
from minide.sql.connection import Connection, Cursor, Relation, connect
from minide.sql.optimizer import PASS_NAMES
from minide.sql.parser import parse, parse_script
from minide.sql.sources import keep_freed_memory

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"

__all__ = [
    "PASS_NAMES",
    "Connection",
    "Cursor",
    "Relation",
    "Script",
    "apilevel",
    "connect",
    "keep_freed_memory",
    "paramstyle",
    "parse",
    "parse_script",
    "threadsafety",
]
