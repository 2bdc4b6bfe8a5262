"""What the pool needs from a database driver, one class per driver.

A :class:`Driver` opens a raw DB-API connection and answers, for one raw connection:

- ``broken(raw)``: a *local* check (no I/O): did the driver already see the connection die?
- ``in_transaction(raw)``: a local check of the transaction status (no round trip);
- ``ping(raw, query, timeout)``: a round trip, bounded by ``timeout`` even against a server that
  stopped answering (a black-holed connection): the :class:`Watchdog` shuts the socket down when
  the deadline passes, which makes the blocked driver call fail;
- ``reset(raw, discard)``: roll back an open transaction (and, with ``discard``, drop session
  state: ``DISCARD ALL`` on PostgreSQL);
- ``backend_id(raw)``: the server's id of the session (``pg_backend_pid()``, ``CONNECTION_ID()``),
  read locally from the handshake;
- ``position(raw, primary, timeout)``: the server's replication position, for read-your-writes
  routing (drivers with ``has_position``; psycopg also awaits it on an asyncio connection as
  ``aposition``, with the same query), bounded like a ping;
- ``awaiting_reply(raw)``: a local check: is a command in flight (sent, its reply not yet all
  read)? The stall watch (``socket_timeout``, see :mod:`minide.pool.liveness`) asks it of
  borrowed connections, from another thread;
- ``session_busy(raw, backend, timeout)``: over ``raw``, is the server session ``backend``
  running a command (True), idle (False) or not to be seen (None)?
- ``is_disconnect(exc)``: whether an exception means the connection is gone (so
  :func:`minide.pool.retry` may try again on a fresh one).

Drivers are imported when a pool first uses them, never at ``import minide.pool``.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from typing import Any

from minide.errors import InvalidArgumentError
from minide.pool.liveness import (
    WATCHDOG,
    Watchdog,
    keepalive_kwargs,
    set_socket_keepalive,
    socket_says_broken,
)
from minide.pool.url import ConnInfo

__all__ = ["DRIVERS", "Driver", "Watchdog", "get_driver", "socket_says_broken"]


class Driver:
    """Base class: subclasses fill in the driver-specific parts."""

    name = "driver"
    family = "?"
    module_name = ""
    #: the query ``validation_query=None`` means (None: the driver's native ping)
    default_validation: str | None = "SELECT 1"
    #: whether ``position`` can answer (False: it always returns None, without a round trip)
    has_position = False
    #: what another session reads to tell whether session ``%s`` is running a command
    session_sql: str | None = None
    #: the answers of ``session_sql`` that mean idle (waiting for its client)
    idle_states: frozenset[str] = frozenset()

    def __init__(self) -> None:
        try:
            self.mod = importlib.import_module(self.module_name)
        except ImportError as e:
            raise InvalidArgumentError(
                f"driver {self.name!r} needs the {self.module_name!r} package: pip install "
                f"{self.pip_name()} ({e})"
            ) from None

    def pip_name(self) -> str:
        return self.module_name

    # -- opening and closing ------------------------------------------------------------------
    def connect(self, info: ConnInfo, timeout: float, socket_timeout: float | None) -> Any:
        """Open a connection within ``timeout`` seconds; with ``socket_timeout``, TCP
        keepalives and ``TCP_USER_TIMEOUT`` are set on it (where the URL does not set them)."""
        raise NotImplementedError

    def close(self, raw: Any) -> None:
        with contextlib.suppress(Exception):
            raw.close()

    # -- local checks (no I/O) ----------------------------------------------------------------
    def fileno(self, raw: Any) -> int | None:
        try:
            return int(raw.fileno())
        except Exception:
            return None

    def broken(self, raw: Any) -> bool:
        return bool(raw.closed)

    def in_transaction(self, raw: Any) -> bool:
        raise NotImplementedError

    def awaiting_reply(self, raw: Any) -> bool:
        return False

    def state(self, raw: Any) -> int:
        """One local look at a returned connection: 0 clean, 1 in a transaction, 2 broken."""
        if self.broken(raw):
            return 2
        return 1 if self.in_transaction(raw) else 0

    def backend_id(self, raw: Any) -> int:
        return id(raw)

    # -- round trips ---------------------------------------------------------------------------
    def ping(self, raw: Any, query: str | None, timeout: float) -> None:
        # a transaction left open on purpose (reset_on_return=False) stays open: the ping
        # runs inside it and only a transaction the ping itself started is rolled back
        was_open = self.in_transaction(raw)
        with WATCHDOG.guard(self.fileno(raw), timeout):
            cur = raw.cursor()
            try:
                cur.execute(query or self.default_validation)
                cur.fetchall()
            finally:
                cur.close()
            if not was_open and self.in_transaction(raw):
                raw.rollback()

    def reset(self, raw: Any, discard: bool, timeout: float) -> None:
        """Roll back an open transaction; with ``discard``, also drop session state."""
        with WATCHDOG.guard(self.fileno(raw), timeout):
            if self.in_transaction(raw):
                raw.rollback()

    def position(self, raw: Any, primary: bool, timeout: float) -> Any:
        """The replication position of the server behind ``raw`` (comparable with ``>=``), or
        None when the database has none to offer. Used for read-your-writes routing; a server
        that does not answer within ``timeout`` raises :class:`NetworkError` (the socket is
        shut down: the connection is broken)."""
        return None

    def session_busy(self, raw: Any, backend: int, timeout: float) -> bool | None:
        if self.session_sql is None:
            return None
        with WATCHDOG.guard(self.fileno(raw), timeout):
            cur = raw.cursor()
            try:
                cur.execute(self.session_sql, (backend,))
                row = cur.fetchone()
            finally:
                cur.close()
            if self.in_transaction(raw):
                raw.rollback()
        if row is None or row[0] is None:
            return None
        return str(row[0]) not in self.idle_states

    def is_disconnect(self, exc: BaseException) -> bool:
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _pg_lsn(text: str | None) -> int | None:
    if not text:
        return None
    hi, _, lo = text.partition("/")
    return (int(hi, 16) << 32) | int(lo, 16)


#: the position of a PostgreSQL server, for the sync and the asyncio side alike: on a standby
#: the WAL it has replayed, on a primary the WAL it has written
_PG_POSITION = (
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END::text"
)


def _pg_kwargs(info: ConnInfo, timeout: float, socket_timeout: float | None) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "host": info.host,
        "port": info.port,
        "dbname": info.database,
        # libpq counts whole seconds and refuses less than 2
        "connect_timeout": max(2, math.ceil(timeout)),
    }
    if info.user:
        kw["user"] = info.user
    if info.password is not None:
        kw["password"] = info.password
    if socket_timeout is not None:
        kw.update(keepalive_kwargs(socket_timeout))
    for k, v in info.params.items():  # libpq keywords pass through as strings (and win)
        kw[k] = v.lower() in ("1", "true", "yes", "on") if k == "autocommit" else v
    return kw


class _Postgres(Driver):
    """What psycopg 3 and psycopg2 share: WAL positions for read-your-writes, and which
    exceptions mean the session is gone (both follow PEP 249's classes)."""

    family = "postgresql"
    has_position = True
    session_sql = "SELECT state FROM pg_stat_activity WHERE pid = %s"
    idle_states = frozenset(("idle", "idle in transaction", "idle in transaction (aborted)"))

    def position(self, raw: Any, primary: bool, timeout: float) -> Any:
        with WATCHDOG.guard(self.fileno(raw), timeout):
            with raw.cursor() as cur:
                cur.execute(_PG_POSITION)
                (lsn,) = cur.fetchone()
            if self.in_transaction(raw):
                raw.rollback()
        return _pg_lsn(lsn)

    def is_disconnect(self, exc: BaseException) -> bool:
        return isinstance(exc, self.mod.OperationalError | self.mod.InterfaceError)


class Psycopg(_Postgres):
    """psycopg 3. Local checks read libpq's state directly (``pgconn``), no Python wrappers."""

    name = "psycopg"
    module_name = "psycopg"

    def pip_name(self) -> str:
        return "'psycopg[binary]'"

    def connect(self, info: ConnInfo, timeout: float, socket_timeout: float | None) -> Any:
        return self.mod.connect(**_pg_kwargs(info, timeout, socket_timeout))

    def broken(self, raw: Any) -> bool:
        return raw.pgconn.status != 0  # CONNECTION_BAD: closed, or broken (psycopg's `closed`)

    def in_transaction(self, raw: Any) -> bool:
        return raw.pgconn.transaction_status != 0  # IDLE

    def awaiting_reply(self, raw: Any) -> bool:
        return raw.pgconn.transaction_status == 1  # ACTIVE: a command in progress

    def state(self, raw: Any) -> int:
        pg = raw.pgconn
        if pg.status:
            return 2
        return 1 if pg.transaction_status else 0

    def backend_id(self, raw: Any) -> int:
        return int(raw.pgconn.backend_pid)

    def fileno(self, raw: Any) -> int | None:
        try:
            return int(raw.pgconn.socket)
        except Exception:
            return None

    def ping(self, raw: Any, query: str | None, timeout: float) -> None:
        status = raw.pgconn.transaction_status
        if status == 3:  # INERROR: a failed transaction kept open; a query would only fail
            return
        with WATCHDOG.guard(self.fileno(raw), timeout):
            raw.execute(query or "SELECT 1").fetchall()
            if status == 0 and self.in_transaction(raw):
                raw.rollback()

    def reset(self, raw: Any, discard: bool, timeout: float) -> None:
        with WATCHDOG.guard(self.fileno(raw), timeout):
            if self.in_transaction(raw):
                raw.rollback()
            if discard:
                saved = raw.autocommit
                raw.autocommit = True
                raw.execute("DISCARD ALL")
                raw.autocommit = saved

    # -- asyncio -------------------------------------------------------------------------------
    async def aconnect(self, info: ConnInfo, timeout: float, socket_timeout: float | None) -> Any:
        return await self.mod.AsyncConnection.connect(**_pg_kwargs(info, timeout, socket_timeout))

    # every awaited round trip is bounded by the watchdog, not by asyncio.wait_for: psycopg
    # answers a cancellation with a cancel request and a wait for the query's end (up to 5 s
    # each in psycopg 3.3), which on a link that swallows packets overruns the caller's
    # timeout by seconds; a shut-down socket ends that wait at once
    async def aping(self, raw: Any, query: str | None, timeout: float) -> None:
        status = raw.pgconn.transaction_status
        if status == 3:
            return
        with WATCHDOG.guard(self.fileno(raw), timeout):
            cur = await raw.execute(query or "SELECT 1")
            await cur.fetchall()
            if status == 0 and self.in_transaction(raw):
                await raw.rollback()

    async def areset(self, raw: Any, discard: bool, timeout: float) -> None:
        with WATCHDOG.guard(self.fileno(raw), timeout):
            if self.in_transaction(raw):
                await raw.rollback()
            if discard:
                saved = raw.autocommit
                await raw.set_autocommit(True)
                await raw.execute("DISCARD ALL")
                await raw.set_autocommit(saved)

    async def aposition(self, raw: Any, primary: bool, timeout: float) -> Any:
        """:meth:`position` on an ``AsyncConnection``: the same query, awaited."""
        with WATCHDOG.guard(self.fileno(raw), timeout):
            cur = await raw.execute(_PG_POSITION)
            (lsn,) = await cur.fetchone()
            if self.in_transaction(raw):
                await raw.rollback()
        return _pg_lsn(lsn)

    async def aclose(self, raw: Any) -> None:
        with contextlib.suppress(Exception):
            await raw.close()


class Psycopg2(_Postgres):
    """psycopg2 (libpq through the C extension)."""

    name = "psycopg2"
    module_name = "psycopg2"

    def pip_name(self) -> str:
        return "psycopg2-binary"

    def connect(self, info: ConnInfo, timeout: float, socket_timeout: float | None) -> Any:
        kw = _pg_kwargs(info, timeout, socket_timeout)
        autocommit = kw.pop("autocommit", False)  # an attribute in psycopg2, not a keyword
        raw = self.mod.connect(**kw)
        raw.autocommit = autocommit
        return raw

    def broken(self, raw: Any) -> bool:
        return raw.closed != 0

    def in_transaction(self, raw: Any) -> bool:
        return raw.info.transaction_status != 0

    def awaiting_reply(self, raw: Any) -> bool:
        return raw.info.transaction_status == 1  # ACTIVE (readable while the query runs)

    def backend_id(self, raw: Any) -> int:
        return int(raw.info.backend_pid)

    def reset(self, raw: Any, discard: bool, timeout: float) -> None:
        with WATCHDOG.guard(self.fileno(raw), timeout):
            if self.in_transaction(raw):
                raw.rollback()
            if discard:
                saved = raw.autocommit
                raw.autocommit = True
                with raw.cursor() as cur:
                    cur.execute("DISCARD ALL")
                raw.autocommit = saved


#: MySQL client errors that mean the session is gone: server gone away, lost connection,
#: can't connect, lost during query, killed, disconnected for inactivity
_MYSQL_GONE = {2003, 2006, 2013, 2055, 1927, 4031}
#: PyMySQL connect arguments that are numbers (URL query values arrive as strings)
_MYSQL_NUMERIC = {"connect_timeout", "read_timeout", "write_timeout"}


class PyMySQL(Driver):
    """PyMySQL (pure Python), for MySQL and MariaDB. The native ping is ``COM_PING``."""

    name = "pymysql"
    family = "mysql"
    module_name = "pymysql"
    default_validation = None
    session_sql = "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = %s"
    idle_states = frozenset(("Sleep",))

    def __init__(self) -> None:
        super().__init__()
        base = self.mod.connections.Connection

        class MySQLConnection(base):  # type: ignore[misc, valid-type]
            """PyMySQL's connection (a subclass), noting while it waits for the server (a
            blocking read), which PyMySQL does not tell (:meth:`PyMySQL.awaiting_reply`)."""

            _minide_reading = False

            def _read_bytes(self, num_bytes: int) -> bytes:
                self._minide_reading = True
                try:
                    return base._read_bytes(self, num_bytes)  # type: ignore[no-any-return]
                finally:
                    self._minide_reading = False

        MySQLConnection.__module__ = __name__
        MySQLConnection.__qualname__ = "MySQLConnection"
        self.connection_class = MySQLConnection

    def connect(self, info: ConnInfo, timeout: float, socket_timeout: float | None) -> Any:
        kw: dict[str, Any] = {
            "host": info.host,
            "port": info.port,
            "user": info.user or "root",
            "password": info.password or "",
            "database": info.database,
            "connect_timeout": timeout,
            # bounds the handshake too (PyMySQL reads it with the read timeout); cleared below
            "read_timeout": timeout,
            "autocommit": False,
        }
        for k, v in info.params.items():  # URL query values are strings
            kw[k] = float(v) if k in _MYSQL_NUMERIC else v
        raw = self.connection_class(**kw)
        # back to the URL's read timeout (default: none) for the borrowers' queries: a
        # read timeout would also end a query that is slow, not lost (socket_timeout does not)
        raw._read_timeout = (
            float(info.params["read_timeout"]) if "read_timeout" in info.params else None
        )
        if socket_timeout is not None:
            set_socket_keepalive(raw._sock, socket_timeout)
        return raw

    def broken(self, raw: Any) -> bool:
        return raw._sock is None

    def fileno(self, raw: Any) -> int | None:
        sock = raw._sock
        return sock.fileno() if sock is not None else None

    def in_transaction(self, raw: Any) -> bool:
        return bool(raw.server_status & 1)  # SERVER_STATUS_IN_TRANS

    def awaiting_reply(self, raw: Any) -> bool:
        return bool(getattr(raw, "_minide_reading", False))

    def backend_id(self, raw: Any) -> int:
        return int(raw.thread_id())

    def ping(self, raw: Any, query: str | None, timeout: float) -> None:
        if query:
            return super().ping(raw, query, timeout)
        with WATCHDOG.guard(self.fileno(raw), timeout):
            raw.ping(reconnect=False)
        return None

    def is_disconnect(self, exc: BaseException) -> bool:
        err = self.mod.err
        if isinstance(exc, err.InterfaceError):
            return True
        if isinstance(exc, err.OperationalError):
            code = exc.args[0] if exc.args else None
            return code in _MYSQL_GONE
        return False


#: sqlite3's default wait for a locked database, in seconds
_SQLITE_BUSY_S = 5.0


class SQLite(Driver):
    """The standard library's sqlite3. Connections are opened with ``check_same_thread=False``
    (the pool hands a connection to one borrower at a time, on any thread) and
    ``isolation_level=""`` (deferred transactions, rolled back on return)."""

    name = "sqlite3"
    family = "sqlite"
    module_name = "sqlite3"

    def connect(self, info: ConnInfo, timeout: float, socket_timeout: float | None) -> Any:
        # sqlite3's `timeout` is how long a statement waits for another connection's lock
        # (SQLITE_BUSY), not a connect timeout (opening a file does not wait): keep sqlite3's
        # default, or `?timeout=` seconds from the URL.
        kw: dict[str, Any] = {"check_same_thread": False, "timeout": _SQLITE_BUSY_S}
        for k, v in info.params.items():
            kw[k] = float(v) if k == "timeout" else v
        return self.mod.connect(info.database, **kw)

    def broken(self, raw: Any) -> bool:
        try:
            raw.total_changes  # noqa: B018 (raises ProgrammingError once closed)
        except self.mod.ProgrammingError:
            return True
        return False

    def fileno(self, raw: Any) -> int | None:
        return None

    def in_transaction(self, raw: Any) -> bool:
        return raw.in_transaction

    def reset(self, raw: Any, discard: bool, timeout: float) -> None:
        if raw.in_transaction:
            raw.rollback()


DRIVERS: dict[str, type[Driver]] = {
    "psycopg": Psycopg,
    "psycopg2": Psycopg2,
    "pymysql": PyMySQL,
    "sqlite3": SQLite,
}
_LOADED: dict[str, Driver] = {}


def get_driver(name: str) -> Driver:
    """The (shared) driver object called ``name``; imports the driver's package on first use."""
    drv = _LOADED.get(name)
    if drv is None:
        cls = DRIVERS.get(name)
        if cls is None:
            raise InvalidArgumentError(f"driver must be one of {', '.join(DRIVERS)}, got {name!r}")
        drv = _LOADED[name] = cls()
    return drv
