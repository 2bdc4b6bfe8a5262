"""minide.sql: a SQL engine — lark parser, binder, optimizer passes, vectorized Rust executor.

>>> import minide
>>> con = minide.connect()
>>> con.register("t", pyarrow_table)            # doctest: +SKIP
>>> con.sql("SELECT count(*) FROM t").fetchall()  # doctest: +SKIP

The module is a PEP 249 (DB-API 2.0) driver: ``connect``, cursors with ``?`` / ``$n``
parameters, the PEP 249 exceptions (``Error`` also derives from ``minide.errors.MinideError``),
type objects and constructors. See docs/sql.md for the life of a query and the DB-API notes.
"""

from __future__ import annotations

from minide._memory import keep_freed_memory
from minide.errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from minide.errors import DatabaseInternalError as InternalError
from minide.errors import SqlError as Error
from minide.errors import SqlWarning as Warning
from minide.sql.ast import Script
from minide.sql.connection import Connection, Relation, connect
from minide.sql.dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Cursor,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)
from minide.sql.optimizer import PASS_NAMES
from minide.sql.parser import parse, parse_script

#: PEP 249 module globals
apilevel = "2.0"
#: threads may share the module and connections (each connection runs one statement at a time,
#: under a lock), not cursors
threadsafety = 2
#: ``?`` placeholders; ``$1, $2, ...`` (numeric) are accepted too, never both in one text
paramstyle = "qmark"

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "PASS_NAMES",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Relation",
    "Script",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "keep_freed_memory",
    "paramstyle",
    "parse",
    "parse_script",
    "threadsafety",
]
