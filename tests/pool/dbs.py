"""Backends for the pool tests: the real PostgreSQL and MariaDB on this machine, and SQLite.

Every test that takes ``backend`` runs once per database with the same code; ``net_backend``
is the two networked ones (the fault-injecting proxy needs a TCP server). SQL that differs by
dialect lives in :class:`Backend` (placeholders, session variables, the session id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minide.pool.testing import FaultProxy


@dataclass
class Backend:
    name: str
    #: URL template; {host}:{port} are filled with the server's or a proxy's address
    template: str
    port: int | None
    ph: str  # the driver's placeholder
    session_id_sql: str
    set_var_sql: str  # one placeholder: the value
    get_var_sql: str
    table: str = ""

    def url(self, port: int | None = None) -> str:
        return self.template.format(port=port or self.port)

    def proxy(self) -> FaultProxy:
        assert self.port is not None, "SQLite has no server to proxy"
        return FaultProxy("127.0.0.1", self.port)


def rows(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a pooled connection of any driver; the rows (empty for DDL/DML)."""
    cur = conn.cursor()
    try:
        cur.execute(sql, params) if params else cur.execute(sql)
        if cur.description is None:
            return []
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def one(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
    return rows(conn, sql, params)[0][0]


PG = Backend(
    "postgresql",
    "postgresql://postgres@127.0.0.1:{port}/test",
    5432,
    "%s",
    "SELECT pg_backend_pid()",
    "SELECT set_config('minide.token', %s, false)",
    "SELECT current_setting('minide.token', true)",
)
MARIA = Backend(
    "mariadb",
    "mysql://root@127.0.0.1:{port}/test",
    3306,
    "%s",
    "SELECT CONNECTION_ID()",
    "SET @minide_token = %s",
    "SELECT @minide_token",
)


def sqlite_backend(path: Path) -> Backend:
    return Backend(
        "sqlite",
        f"sqlite:///{path}",
        None,
        "?",
        "SELECT 0",  # replaced by conn.backend_id in the tests
        "CREATE TEMP TABLE IF NOT EXISTS minide_token AS SELECT ? AS v",
        "SELECT v FROM temp.minide_token",
    )
