"""Read/write routing over a primary and its replicas (:class:`Router`), and several databases
by name (:class:`Pools`).

``router.connection(read_only=True)`` picks a replica by ``strategy``; ``read_only=False`` (the
default: writes and transactions) always gets the primary. A replica whose pool fails to hand
out a connection, or whose connection dies under a borrower, is *ejected*: no reads go to it
for a backoff (1 s, doubling to 30 s), then one read tries it again (half-open) and success
reinstates it. Reads fall back to the other replicas, then to the primary, so a replica going
away slows reads down but never fails them.

Read-your-writes (``read_your_writes="session"``): a *session* is the current thread or asyncio
task (its ``contextvars`` context), or an explicit ``with router.session():`` block. When a
session's primary borrow ends, the router records the primary's replication position
(PostgreSQL: its WAL LSN; asyncio pools await the same query); a later read in that session only
goes to a replica whose replayed position has reached it, else to the primary. Databases without
a position to compare (MariaDB without GTIDs, SQLite) keep the session's reads on the primary
from its first write to the end of the session: always correct, if less spread. Reads inside an
open primary borrow of the same session go to the primary too (a transaction's own writes are
visible only there).
"""

from __future__ import annotations

import contextvars
import itertools
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from minide.errors import InvalidArgumentError
from minide.pool.core import PoolBase, log
from minide.pool.slot import PooledConnection

__all__ = ["Pools", "Router"]

STRATEGIES = ("round_robin", "least_loaded", "latency")
#: first ejection lasts this long (seconds), doubling per failed retry up to EJECT_MAX
EJECT_BASE = 1.0
EJECT_MAX = 30.0
#: weight of the newest sample in the latency average
EWMA = 0.2
#: share of reads sent to a random replica under strategy="latency", so averages stay fresh
EXPLORE = 0.05

_session: contextvars.ContextVar[_Session | None] = contextvars.ContextVar(
    "minide_pool_session", default=None
)


class _Session:
    """What one session wrote: per router, a position (or STICKY) and open primary borrows."""

    __slots__ = ("open_primary", "wrote")

    def __init__(self) -> None:
        self.wrote: dict[int, Any] = {}
        self.open_primary: dict[int, int] = {}


_STICKY = object()  # wrote, but the database has no position to compare


def _current_session() -> _Session:
    s = _session.get()
    if s is None:
        s = _Session()
        _session.set(s)
    return s


class _Replica:
    """A replica pool and its routing state."""

    __slots__ = ("backoff", "ejected_until", "failures", "latency", "pool", "position", "trial")

    def __init__(self, pool: PoolBase) -> None:
        self.pool = pool
        self.ejected_until = 0.0
        self.backoff = EJECT_BASE
        self.failures = 0
        self.latency = 0.0
        self.position: Any = None  # highest replay position seen (it only grows)
        self.trial = False

    def load(self) -> float:
        st = self.pool
        return (len(st._borrowed) + len(st._waiters_view())) / max(1, st._max)


class _RouterBorrow:
    """``with router.connection(...)`` / ``async with``: routes, borrows, records, returns."""

    def __init__(self, router: Router, read_only: bool, timeout: Any) -> None:
        self.router, self.read_only, self.timeout = router, read_only, timeout
        self.conn: PooledConnection | None = None
        self.replica: _Replica | None = None
        self.t0 = 0.0

    # -- sync --
    def __enter__(self) -> PooledConnection:
        r = self.router
        for rep in r._candidates(self.read_only):
            try:
                conn = rep.pool._acquire(self.timeout, 2)  # type: ignore[attr-defined]
                try:
                    fresh = r._fresh_enough(rep, conn)
                except Exception:
                    rep.pool.release(conn, broken=True)  # type: ignore[attr-defined]
                    raise
                if fresh:
                    self._got(rep, conn)
                    return conn
                rep.pool.release(conn)  # type: ignore[attr-defined]
            except Exception as e:
                r._eject(rep, e)
        conn = r.primary._acquire(self.timeout, 2)  # type: ignore[attr-defined]
        self._got(None, conn)
        return conn

    def __exit__(self, et: Any, e: Any, tb: Any) -> None:
        assert self.conn is not None
        pool = self.replica.pool if self.replica else self.router.primary
        self._finish(e)
        wrote = e is None and self.replica is None and not self.read_only
        if wrote and not self.router._record_write(self.conn):
            pool.release(self.conn, broken=True)  # type: ignore[attr-defined]
            return
        if e is None:
            pool.release(self.conn)  # type: ignore[attr-defined]
        else:
            pool.release(self.conn, broken=pool.driver.is_disconnect(e), failed=True)  # type: ignore[attr-defined]

    # -- asyncio --
    # The position queries are awaited between the borrow and its return: if the task is
    # cancelled there, the connection (its query cut off mid-flight) is closed, not leaked.
    async def __aenter__(self) -> PooledConnection:
        r = self.router
        for rep in r._candidates(self.read_only):
            try:
                conn = await rep.pool._acquire(self.timeout, 2)  # type: ignore[attr-defined]
                try:
                    fresh = await r._afresh_enough(rep, conn)
                except BaseException:
                    await rep.pool.release(conn, broken=True)  # type: ignore[attr-defined]
                    raise
                if fresh:
                    self._got(rep, conn)
                    return conn
                await rep.pool.release(conn)  # type: ignore[attr-defined]
            except Exception as e:
                r._eject(rep, e)
        conn = await r.primary._acquire(self.timeout, 2)  # type: ignore[attr-defined]
        self._got(None, conn)
        return conn

    async def __aexit__(self, et: Any, e: Any, tb: Any) -> None:
        assert self.conn is not None
        pool = self.replica.pool if self.replica else self.router.primary
        self._finish(e)
        if e is None and self.replica is None and not self.read_only:
            try:
                ok = await self.router._arecord_write(self.conn)
            except BaseException:
                await pool.release(self.conn, broken=True)  # type: ignore[attr-defined]
                raise
            if not ok:
                await pool.release(self.conn, broken=True)  # type: ignore[attr-defined]
                return
        if e is None:
            await pool.release(self.conn)  # type: ignore[attr-defined]
        else:
            await pool.release(self.conn, broken=pool.driver.is_disconnect(e), failed=True)  # type: ignore[attr-defined]

    def _got(self, rep: _Replica | None, conn: PooledConnection) -> None:
        self.replica, self.conn = rep, conn
        self.t0 = time.monotonic()
        r = self.router
        if rep is not None:
            r._reinstate(rep)
            r.reads_replica += 1
        else:
            if self.read_only:
                r.reads_primary += 1
            s = r._session_state()
            s.open_primary[id(r)] = s.open_primary.get(id(r), 0) + 1

    def _finish(self, e: Any) -> None:
        r = self.router
        if self.replica is not None:
            rep = self.replica
            rep.latency += EWMA * (time.monotonic() - self.t0 - rep.latency)
            if e is not None and rep.pool.driver.is_disconnect(e):
                r._eject(rep, e)
        else:
            s = r._session_state()
            s.open_primary[id(r)] -= 1


class Router:
    """Routes reads to replicas and writes (and transactions) to the primary.

    ``Router(primary=pool_rw, replicas=[pool_r1, pool_r2], strategy="round_robin",
    read_your_writes="session")``; ``strategy`` is ``"round_robin"``, ``"least_loaded"``
    (fewest borrowed + waiting per max_size) or ``"latency"`` (lowest moving average of borrow
    durations, with a few random picks to keep averages fresh). ``read_your_writes=None``
    turns the session guarantee off. The pools may be :class:`~minide.pool.Pool` (use
    ``with``) or :class:`~minide.pool.AsyncPool` (use ``async with``).
    """

    def __init__(
        self,
        primary: PoolBase,
        replicas: list[PoolBase] | tuple[PoolBase, ...] = (),
        strategy: str = "round_robin",
        read_your_writes: str | None = "session",
    ) -> None:
        if strategy not in STRATEGIES:
            raise InvalidArgumentError(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}"
            )
        if read_your_writes not in ("session", None):
            raise InvalidArgumentError(
                f'read_your_writes must be "session" or None, got {read_your_writes!r}'
            )
        for p in (primary, *replicas):
            if not isinstance(p, PoolBase):
                raise InvalidArgumentError(f"Router takes minide.pool pools, got {p!r}")
        self.primary = primary
        self.replicas = [_Replica(p) for p in replicas]
        self.strategy = strategy
        self.read_your_writes = read_your_writes
        self._rr = itertools.count()
        self.reads_replica = 0
        self.reads_primary = 0
        self.ejections = 0

    # -- sessions --
    def _session_state(self) -> _Session:
        return _current_session()

    @contextmanager
    def session(self) -> Iterator[None]:
        """A read-your-writes session for the block (e.g. one web request), instead of the
        default: the whole thread or task."""
        token = _session.set(_Session())
        try:
            yield
        finally:
            _session.reset(token)

    # -- routing --
    def connection(self, read_only: bool = False, timeout: Any = None) -> _RouterBorrow:
        """``with router.connection(read_only=True) as conn``: a replica (or the primary when
        none can serve this session); ``read_only=False``: the primary."""
        return _RouterBorrow(self, read_only, timeout)

    def _candidates(self, read_only: bool) -> Iterator[_Replica]:
        """Replicas to try, best first (none for writes, or while the session's own
        transaction is open on the primary)."""
        if not read_only or not self.replicas:
            return iter(())
        s = self._session_state()
        if self.read_your_writes and s.open_primary.get(id(self)):
            return iter(())
        if self.read_your_writes and s.wrote.get(id(self)) is _STICKY:
            return iter(())
        now = time.monotonic()
        live: list[_Replica] = []
        for rep in self.replicas:
            if now >= rep.ejected_until:
                live.append(rep)
        if not live:
            return iter(())
        if self.strategy == "round_robin":
            k = next(self._rr) % len(live)
            live = live[k:] + live[:k]
        elif self.strategy == "least_loaded":
            live.sort(key=_Replica.load)
        else:
            if random.random() < EXPLORE:
                random.shuffle(live)
            else:
                live.sort(key=lambda r: r.latency)
        return iter(live)

    def _wanted(self, rep: _Replica) -> Any:
        """The position ``rep`` must have replayed for this session's read, or None when it
        may serve it without asking (no write recorded, or ``rep`` was seen past it)."""
        if not self.read_your_writes:
            return None
        want = self._session_state().wrote.get(id(self))
        if want is None or (rep.position is not None and rep.position >= want):
            return None
        return want

    def _reached(self, rep: _Replica, pos: Any, want: Any) -> bool:
        if pos is None:
            return False
        if rep.position is None or pos > rep.position:
            rep.position = pos
        return bool(pos >= want)

    # The position queries are bounded like a ping (the pool's ping_timeout: acquire_timeout / 2,
    # 0.2 to 5 s): a replica that does not answer in time is failing, like one whose pool
    # cannot lend, so it is ejected (the caller's except) and the read goes elsewhere; the
    # connection the query was cut off on is closed.
    def _fresh_enough(self, rep: _Replica, conn: PooledConnection) -> bool:
        """Has ``rep`` replayed the session's last write? (Asks it only when one is recorded;
        raises if it cannot tell.)"""
        want = self._wanted(rep)
        if want is None:
            return True
        pos = rep.pool.driver.position(conn.raw, False, rep.pool.options.ping_timeout)
        return self._reached(rep, pos, want)

    async def _afresh_enough(self, rep: _Replica, conn: PooledConnection) -> bool:
        """:meth:`_fresh_enough` for asyncio pools: the position query is awaited."""
        want = self._wanted(rep)
        if want is None:
            return True
        pos = await rep.pool._ops.position(conn.raw, False, rep.pool.options.ping_timeout)  # type: ignore[attr-defined]
        return self._reached(rep, pos, want)

    def _record_write(self, conn: PooledConnection) -> bool:
        """After a session's primary borrow: remember the primary's position (or STICKY).
        False: the position query failed, so the connection should be closed."""
        if not self.read_your_writes:
            return True
        pos, ok = None, True
        if self.primary.driver.has_position:
            try:
                pos = self.primary.driver.position(
                    conn.raw, True, self.primary.options.ping_timeout
                )
            except Exception as e:
                log.info("router: cannot read the primary's position: %r", e)
                ok = False
        self._session_state().wrote[id(self)] = _STICKY if pos is None else pos
        return ok

    async def _arecord_write(self, conn: PooledConnection) -> bool:
        """:meth:`_record_write` for asyncio pools: the position query is awaited."""
        if not self.read_your_writes:
            return True
        pos, ok = None, True
        try:
            pos = await self.primary._ops.position(  # type: ignore[attr-defined]
                conn.raw, True, self.primary.options.ping_timeout
            )
        except Exception as e:
            log.info("router: cannot read the primary's position: %r", e)
            ok = False
        self._session_state().wrote[id(self)] = _STICKY if pos is None else pos
        return ok

    def _eject(self, rep: _Replica, e: BaseException) -> None:
        now = time.monotonic()
        if now < rep.ejected_until and not rep.trial:
            return
        rep.failures += 1
        rep.ejected_until = now + rep.backoff * random.uniform(0.9, 1.1)
        log.warning(
            "router: replica %s ejected for %.1f s after %s: %s",
            rep.pool.name,
            rep.backoff,
            type(e).__name__,
            e,
        )
        rep.backoff = min(rep.backoff * 2, EJECT_MAX)
        rep.trial = True
        self.ejections += 1

    def _reinstate(self, rep: _Replica) -> None:
        if rep.trial:
            rep.trial = False
            rep.backoff = EJECT_BASE
            log.info("router: replica %s is back", rep.pool.name)

    # -- reports --
    def stats(self) -> dict[str, Any]:
        """Routing counters and each pool's ``stats()`` (replicas with their ejection state)."""
        now = time.monotonic()
        return {
            "reads_replica": self.reads_replica,
            "reads_primary": self.reads_primary,
            "ejections": self.ejections,
            "primary": self.primary.stats(),
            "replicas": [
                {
                    "name": r.pool.name,
                    "ejected_for_s": max(0.0, r.ejected_until - now),
                    "failures": r.failures,
                    "latency_s": r.latency,
                    **r.pool.stats(),
                }
                for r in self.replicas
            ],
        }

    def describe(self) -> str:
        now = time.monotonic()
        lines = [
            f"Router strategy={self.strategy} read_your_writes={self.read_your_writes}: "
            f"{self.reads_replica} reads on replicas, {self.reads_primary} on the primary, "
            f"{self.ejections} ejections",
            f"  primary {self.primary.name}",
        ]
        for r in self.replicas:
            state = (
                f"ejected for {r.ejected_until - now:.1f} s" if now < r.ejected_until else "live"
            )
            lines.append(
                f"  replica {r.pool.name}: {state}, {r.failures} failures, "
                f"latency {r.latency * 1e3:.2f} ms, load {r.load():.2f}"
            )
        return "\n".join(lines)

    def close(self) -> Any:
        """Close the primary and every replica pool (await it for asyncio pools)."""
        results = [p.close() for p in (self.primary, *(r.pool for r in self.replicas))]  # type: ignore[attr-defined]
        coros = [c for c in results if c is not None]
        if coros:
            import asyncio

            return asyncio.gather(*coros)
        return None

    def __repr__(self) -> str:
        return (
            f"Router(primary={self.primary.name!r}, replicas={[r.pool.name for r in self.replicas]}, "
            f"strategy={self.strategy!r}, read_your_writes={self.read_your_writes!r})"
        )


class Pools:
    """Several databases by name: ``Pools({"pg": Pool(...), "maria": "mysql://...", "local":
    Router(...)})``. A value that is a URL string becomes a :class:`~minide.pool.Pool` with the
    default options. ``multi["pg"]`` is that pool or router; ``multi.connection("pg",
    read_only=...)`` borrows from it."""

    def __init__(self, pools: Mapping[str, Any]) -> None:
        from minide.pool.sync import Pool

        if not pools:
            raise InvalidArgumentError("Pools needs at least one named pool")
        self._pools: dict[str, Any] = {}
        for name, p in pools.items():
            if isinstance(p, str):
                p = Pool(p)
            if not isinstance(p, PoolBase | Router):
                raise InvalidArgumentError(
                    f"Pools[{name!r}] must be a URL, a Pool, an AsyncPool or a Router, got {p!r}"
                )
            self._pools[name] = p

    def __getitem__(self, name: str) -> Any:
        try:
            return self._pools[name]
        except KeyError:
            raise InvalidArgumentError(
                f"no database named {name!r}; known: {', '.join(self._pools)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._pools

    def __iter__(self) -> Iterator[str]:
        return iter(self._pools)

    def __len__(self) -> int:
        return len(self._pools)

    def connection(self, name: str, read_only: bool = False, timeout: Any = None) -> Any:
        """Borrow from the database called ``name`` (``read_only`` matters for routers)."""
        target = self[name]
        if isinstance(target, Router):
            return target.connection(read_only=read_only, timeout=timeout)
        return target.connection(timeout=timeout)

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: p.stats() for name, p in self._pools.items()}

    def metrics_prometheus(self) -> str:
        """Every pool's metrics in one exposition (one HELP/TYPE per metric name)."""
        blocks: dict[str, list[str]] = {}
        for p in self._pools.values():
            pools = [p.primary, *(r.pool for r in p.replicas)] if isinstance(p, Router) else [p]
            for pool in pools:
                current = ""
                for line in pool.metrics_prometheus().splitlines():
                    if line.startswith("# HELP "):
                        current = line.split()[2]
                        if current in blocks:
                            continue
                        blocks[current] = [line]
                    elif line.startswith("# TYPE "):
                        if len(blocks[current]) == 1:
                            blocks[current].append(line)
                    else:
                        blocks[current].append(line)
        return "\n".join(line for b in blocks.values() for line in b) + "\n"

    def describe(self) -> str:
        return "\n".join(f"[{n}] {p.describe()}" for n, p in self._pools.items())

    def close(self) -> Any:
        results = [p.close() for p in self._pools.values()]
        coros = [c for c in results if c is not None]
        if coros:
            import asyncio

            return asyncio.gather(*coros)
        return None

    def __enter__(self) -> Pools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pools({', '.join(f'{n}={p!r}' for n, p in self._pools.items())})"
