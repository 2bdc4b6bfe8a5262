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
- ``position(raw, primary)``: the server's replication position, for read-your-writes routing
  (drivers with ``has_position``; psycopg also awaits it on an asyncio connection as
  ``aposition``, with the same query);
- ``is_disconnect(exc)``: whether an exception means the connection is gone (so
  :func:`minide.pool.retry` may try again on a fresh one).

Drivers are imported when a pool first uses them, never at ``import minide.pool``.
"""

from __future__ import annotations

import contextlib
import heapq
import importlib
import math
import os
import socket
import threading
import time
from typing import Any

from minide._core import fd_ready_now
from minide.errors import InvalidArgumentError, MinideError, NetworkError
from minide.pool.url import ConnInfo

__all__ = ["DRIVERS", "Driver", "Watchdog", "get_driver"]


class Watchdog:
    """One daemon thread that shuts down sockets whose deadline passed.

    ``with WATCHDOG.guard(fd, seconds): blocking_call()``: if the call is still running after
    ``seconds``, the socket behind ``fd`` is shut down (``SHUT_RDWR`` on a duplicate of the fd,
    which acts on the shared socket), so the driver's blocked ``recv`` returns and it raises.
    The guard then raises :class:`NetworkError` even if the driver swallowed the failure.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, int]] = []
        self._live: dict[int, int] = {}  # token -> fd, for guards still running
        self._fired: set[int] = set()
        self._next = 0
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][1] not in self._live):
                    heapq.heappop(self._heap)
                if self._heap and self._heap[0][0] <= now:
                    _, token, fd = heapq.heappop(self._heap)
                    del self._live[token]
                    self._fired.add(token)
                    _shutdown_fd(fd)
                    continue
                self._cond.wait(self._heap[0][0] - now if self._heap else None)

    def guard(self, fd: int | None, seconds: float) -> _Guard:
        return _Guard(self, fd, seconds)

    def _arm(self, fd: int, seconds: float) -> int:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="minide-pool-watchdog", daemon=True
                )
                self._thread.start()
            self._next += 1
            token = self._next
            self._live[token] = fd
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, fd))
            self._cond.notify()
            return token

    def _disarm(self, token: int) -> bool:
        """False if the deadline fired (the socket was shut down)."""
        with self._cond:
            if token in self._fired:
                self._fired.discard(token)
                return False
            self._live.pop(token, None)
            return True


class _Guard:
    __slots__ = ("dog", "fd", "seconds", "token")

    def __init__(self, dog: Watchdog, fd: int | None, seconds: float) -> None:
        self.dog, self.fd, self.seconds, self.token = dog, fd, seconds, 0

    def __enter__(self) -> None:
        if self.fd is not None and self.fd >= 0:
            self.token = self.dog._arm(self.fd, self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.token and not self.dog._disarm(self.token):
            raise NetworkError(
                f"no answer within {self.seconds:.3g} s: the socket was shut down (fd {self.fd})"
            )


def _shutdown_fd(fd: int) -> None:
    try:
        s = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        s.close()


WATCHDOG = Watchdog()


def socket_says_broken(probe: Any) -> bool:
    """An idle connection's socket is readable only if the server closed it or sent an error
    (PostgreSQL's ``FATAL: terminating connection``, MariaDB's idle-timeout packet) or the
    peer reset it: in every case the connection must not be handed out. ``probe`` is the
    slot's socket descriptor (None: no socket, e.g. SQLite). No I/O is done, and the GIL is
    kept (a zero-timeout ``poll``)."""
    if probe is None:
        return False
    try:
        return fd_ready_now(probe)
    except MinideError:
        return True


class Driver:
    """Base class: subclasses fill in the driver-specific parts."""

    name = "driver"
    family = "?"
    module_name = ""
    #: the query ``validation_query=None`` means (None: the driver's native ping)
    default_validation: str | None = "SELECT 1"
    #: whether ``position`` can answer (False: it always returns None, without a round trip)
    has_position = False

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
    def connect(self, info: ConnInfo, timeout: float) -> Any:
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

    def position(self, raw: Any, primary: bool) -> Any:
        """The replication position of the server behind ``raw`` (comparable with ``>=``), or
        None when the database has none to offer. Used for read-your-writes routing."""
        return None

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


def _pg_kwargs(info: ConnInfo, timeout: float) -> dict[str, Any]:
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
    for k, v in info.params.items():  # libpq keywords pass through as strings
        kw[k] = v.lower() in ("1", "true", "yes", "on") if k == "autocommit" else v
    return kw


class _Postgres(Driver):
    """What psycopg 3 and psycopg2 share: WAL positions for read-your-writes, and which
    exceptions mean the session is gone (both follow PEP 249's classes)."""

    family = "postgresql"
    has_position = True

    def position(self, raw: Any, primary: bool) -> Any:
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

    def connect(self, info: ConnInfo, timeout: float) -> Any:
        return self.mod.connect(**_pg_kwargs(info, timeout))

    def broken(self, raw: Any) -> bool:
        return raw.pgconn.status != 0  # CONNECTION_BAD: closed, or broken (psycopg's `closed`)

    def in_transaction(self, raw: Any) -> bool:
        return raw.pgconn.transaction_status != 0  # IDLE

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
    async def aconnect(self, info: ConnInfo, timeout: float) -> Any:
        return await self.mod.AsyncConnection.connect(**_pg_kwargs(info, timeout))

    async def aping(self, raw: Any, query: str | None, timeout: float) -> None:
        import asyncio

        status = raw.pgconn.transaction_status
        if status == 3:
            return

        async def go() -> None:
            cur = await raw.execute(query or "SELECT 1")
            await cur.fetchall()
            if status == 0 and self.in_transaction(raw):
                await raw.rollback()

        await asyncio.wait_for(go(), timeout)

    async def areset(self, raw: Any, discard: bool, timeout: float) -> None:
        import asyncio

        async def go() -> None:
            if self.in_transaction(raw):
                await raw.rollback()
            if discard:
                saved = raw.autocommit
                await raw.set_autocommit(True)
                await raw.execute("DISCARD ALL")
                await raw.set_autocommit(saved)

        await asyncio.wait_for(go(), timeout)

    async def aposition(self, raw: Any, primary: bool) -> Any:
        """:meth:`position` on an ``AsyncConnection``: the same query, awaited."""
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

    def connect(self, info: ConnInfo, timeout: float) -> Any:
        kw = _pg_kwargs(info, timeout)
        autocommit = kw.pop("autocommit", False)  # an attribute in psycopg2, not a keyword
        raw = self.mod.connect(**kw)
        raw.autocommit = autocommit
        return raw

    def broken(self, raw: Any) -> bool:
        return raw.closed != 0

    def in_transaction(self, raw: Any) -> bool:
        return raw.info.transaction_status != 0

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

    def connect(self, info: ConnInfo, timeout: float) -> Any:
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
        raw = self.mod.connect(**kw)
        # back to the URL's read timeout (default: none) for the borrowers' queries
        raw._read_timeout = (
            float(info.params["read_timeout"]) if "read_timeout" in info.params else None
        )
        return raw

    def broken(self, raw: Any) -> bool:
        return raw._sock is None

    def fileno(self, raw: Any) -> int | None:
        sock = raw._sock
        return sock.fileno() if sock is not None else None

    def in_transaction(self, raw: Any) -> bool:
        return bool(raw.server_status & 1)  # SERVER_STATUS_IN_TRANS

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

    def connect(self, info: ConnInfo, timeout: float) -> Any:
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
