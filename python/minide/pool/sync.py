"""The thread pool: :class:`Pool`.

Hot path (no lock): a borrow pops the warmest idle slot (``deque.pop`` is atomic under the GIL),
probes its socket, and wraps it; a return checks the driver's local state, rolls back if a
transaction is open, and appends the slot back. When the idle set is empty or callers are
already waiting, a borrower queues a private lock (FIFO) and whoever frees a connection hands it
over directly (:meth:`Pool._match`), so a waiter is never overtaken by a later borrower once it
queued. That handoff takes no lock either: the waiter queues, then looks for an idle slot; the
returner makes the slot idle, then looks for a waiter; each step is one atomic deque operation,
so whichever comes second sees the other. The pool's lock (one ``threading.Lock``) guards only
the connection count (opening, closing, resizing): under contention no thread sleeps on it while
another holds it across a GIL switch.

Connections are opened by short-lived opener threads, one per missing connection, so a slow
handshake delays nobody who could be served by a returning connection, and ``acquire_timeout``
bounds the wait even when the server does not answer at all. A maintenance thread (every
``tick`` seconds) expires idle and old connections, pings idle ones (``health_check="periodic"``),
reports leaks, reclaims connections whose borrower lost them, and keeps ``min_size`` open.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from typing import Any

from minide._core import fd_ready_now
from minide.errors import PoolClosedError, PoolTimeoutError
from minide.pool.core import ALIVE_BYPASS, PoolBase, log
from minide.pool.drivers import socket_says_broken
from minide.pool.slot import PooledConnection, Slot, lend, record_stack

__all__ = ["Pool"]

_current_thread = threading.current_thread
_monotonic = time.monotonic
_CLOSED: Any = object()  # handed to waiters when the pool closes


class _Waiter:
    """A caller queued for a connection: ``lock`` is released when ``slot`` is set."""

    __slots__ = ("lock", "slot")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.slot: Any = None


class _Borrow:
    """``with pool.connection() as conn``: the connection goes back on every exit; an exception
    that means the connection is gone (per the driver) closes it instead."""

    __slots__ = ("conn", "pool", "timeout")

    def __init__(self, pool: Pool, timeout: float | None) -> None:
        self.pool, self.timeout, self.conn = pool, timeout, None

    def __enter__(self) -> PooledConnection:
        self.conn = c = self.pool._acquire(self.timeout, 2)
        return c

    def __exit__(self, et: Any, e: Any, tb: Any) -> None:
        pool = self.pool
        if e is None:
            pool.release(self.conn)
        else:
            pool.release(self.conn, broken=pool.driver.is_disconnect(e), failed=True)


class Pool(PoolBase):
    """A thread-safe connection pool for PostgreSQL (psycopg 3, psycopg2), MySQL/MariaDB
    (PyMySQL) and SQLite (sqlite3).

    ``Pool(url, min_size=2, max_size=20, max_idle="5m", max_lifetime="30m",
    acquire_timeout="5s", health_check="on_borrow", validation_query=None,
    reset_on_return=True, leak_threshold="30s", socket_timeout="30s", driver=None)``;
    durations are ``timedelta``, strings like ``"250ms"`` or numbers of seconds; ``None``
    disables ``max_idle``, ``max_lifetime``, ``leak_threshold`` and ``socket_timeout``. See
    docs/pool.md for what each option prevents.

    ``socket_timeout`` bounds a borrower's query against a server that went silent: TCP
    keepalives and ``TCP_USER_TIMEOUT`` end a connection whose server stops acknowledging
    (a network cut) after about that long, and a borrowed connection that waited that long
    for a reply with nothing arriving is checked with the server over a separate connection:
    if the server is not running its query (the request or the answer was lost), the socket
    is shut down and the borrower gets the driver's disconnect error (the connection is then
    closed as broken). A query that is merely slow is never cut.

    >>> with pool.connection() as conn:        # doctest: +SKIP
    ...     conn.execute("SELECT 1")
    """

    def __init__(self, url: Any, **options: Any) -> None:
        super().__init__(url, **options)
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()
        self._stop = threading.Event()
        with self._lock:
            n = self._demand_locked()
            self._reserve_locked(n)
        self._start_openers(n)
        self._maint = threading.Thread(
            target=_maintain,
            args=(weakref.ref(self), self._stop, self.tick),
            name=f"minide-pool-maint-{id(self):x}",
            daemon=True,
        )
        self._maint.start()

    def _waiters_view(self) -> Any:
        return self._waiters

    # -- borrowing -------------------------------------------------------------------------------
    def connection(self, timeout: Any = None) -> _Borrow:
        """``with pool.connection() as conn:`` borrows a connection and gives it back on exit,
        even on an exception. ``timeout`` (seconds) overrides ``acquire_timeout``."""
        return _Borrow(self, timeout)

    def acquire(self, timeout: Any = None) -> PooledConnection:
        """Borrow a connection; give it back with :meth:`release` (or ``conn.close()``).
        Raises :class:`~minide.errors.PoolTimeoutError` after ``acquire_timeout``."""
        return self._acquire(timeout, 2)

    def _acquire(self, timeout: Any, depth: int) -> PooledConnection:
        # the hot path: no lock, no call that can be avoided (the checks of _usable, inlined
        # for the common case: not expired, socket quiet, validated lately)
        if not self._waiters:
            try:
                slot = self._idle.pop()
            except IndexError:
                pass
            else:
                now = _monotonic()
                probe = slot.probe
                if (
                    now < slot.expires
                    and (
                        not self._on_borrow
                        or (
                            (probe is None or not fd_ready_now(probe))
                            and now - slot.checked <= ALIVE_BYPASS
                            and slot.checked > self._break_epoch
                        )
                    )
                ) or self._usable(slot, self.options.acquire_timeout):
                    slot.borrowed_at = now
                    record_stack(slot, depth)
                    slot.thread = _current_thread()
                    slot.leak_reported = False
                    self._borrowed[slot.id] = slot
                    self._c.acquired += 1
                    return lend(self, slot)
        return self._acquire_slow(timeout, depth + 1)

    def _usable(self, slot: Slot, budget: float) -> bool:
        """Is an idle slot fit to lend? Closes it (and says False) if not. A ping may take
        ``budget`` seconds at most (what is left of the caller's acquire timeout)."""
        now = _monotonic()
        if now >= slot.expires:
            self._discard(slot, "lifetime")
            return False
        if not self._on_borrow:
            return True
        # the driver's own state was checked when the slot came back; the socket tells the rest
        if slot.probe is not None and socket_says_broken(slot.probe):
            self._discard(slot, "broken")
            return False
        if self._needs_ping(slot, now):
            try:
                limit = min(self.options.ping_timeout, max(budget, 0.05))
                self.driver.ping(slot.raw, self.options.validation_query, limit)
            except Exception as e:
                log.info("pool %s: connection #%d failed its check: %s", self.name, slot.id, e)
                self._discard(slot, "broken")
                return False
            slot.checked = _monotonic()
        return True

    def _acquire_slow(self, timeout: Any, depth: int) -> PooledConnection:
        if self._closed:
            raise PoolClosedError(f"pool {self.name} is closed")
        limit = self.options.acquire_timeout if timeout is None else float(timeout)
        t0 = _monotonic()
        deadline = t0 + limit
        waiters = self._waiters
        first = True
        while True:
            if not first and _monotonic() >= deadline:
                self._c.timeouts += 1
                raise PoolTimeoutError(self._timeout_message(limit))
            first = False
            # queue first, then look: a returner appends to idle first, then looks for
            # waiters; whichever of the two comes second makes the match (no lock needed)
            w = _Waiter()
            waiters.append(w)
            if self._closed:
                self._cancel(w)
                raise PoolClosedError(f"pool {self.name} is closed")
            if self._idle:
                self._match()
            if self._size < self._max:  # else no connection can be added
                with self._lock:
                    n = self._demand_locked()
                    self._reserve_locked(n)
                self._start_openers(n)
            remaining = deadline - _monotonic()
            got = remaining > 0 and w.lock.acquire(timeout=remaining)
            if not got and self._cancel(w):
                self._c.timeouts += 1
                raise PoolTimeoutError(self._timeout_message(limit))
            slot = w.slot
            if slot is _CLOSED:
                raise PoolClosedError(f"pool {self.name} closed while waiting")
            if not self._usable(slot, deadline - _monotonic()):
                continue  # closed; try again within the deadline
            now = _monotonic()
            self._c.record_wait(now - t0)
            slot.borrowed_at = now
            record_stack(slot, depth)
            slot.thread = _current_thread()
            slot.leak_reported = False
            self._borrowed[slot.id] = slot
            self._c.acquired += 1
            return lend(self, slot)

    def _cancel(self, w: _Waiter) -> bool:
        """Take a waiter out of the queue (True). False: a returner already took it out and is
        handing it a slot (or the pool's close its marker): wait the moment until it is set."""
        try:
            self._waiters.remove(w)
        except ValueError:
            w.lock.acquire()
            return False
        return True

    def _match(self) -> None:
        """Hand idle slots to the first waiters. Lock-free: each step is one atomic deque
        operation under the GIL, and a waiter is released only after its slot is set."""
        idle, waiters = self._idle, self._waiters
        while waiters and idle:
            try:
                slot = idle.pop()
            except IndexError:
                return
            try:
                w = waiters.popleft()
            except IndexError:
                idle.append(slot)  # the waiter was served (or gave up) meanwhile
                continue
            w.slot = slot
            w.lock.release()

    # -- returning -------------------------------------------------------------------------------
    def release(self, conn: PooledConnection, broken: bool = False, failed: bool = False) -> None:
        """Give a borrowed connection back (idempotent). ``broken=True`` closes it instead;
        ``failed=True`` (the borrower raised) rolls back an open transaction even when
        ``reset_on_return`` is False."""
        slot = conn._detach()
        if slot is None:
            return
        self._borrowed.pop(slot.id, None)
        slot.borrowed_at = 0.0
        raw = slot.raw
        drv = self.driver
        state = drv.state(raw)
        if broken or state == 2:
            self._discard(slot, "broken")
            return
        if self._closed:
            self._discard(slot, "pool")
            return
        if (self._reset_tx or failed) and (state or self._discard_state):
            try:
                drv.reset(raw, self._discard_state, self.options.ping_timeout)
            except Exception as e:
                log.info("pool %s: reset of connection #%d failed: %s", self.name, slot.id, e)
                self._discard(slot, "broken" if drv.broken(raw) else "reset")
                return
        now = _monotonic()
        if now >= slot.expires:
            self._discard(slot, "lifetime")
        elif self._size > self._max:
            self._discard(slot, "resize")
        else:
            slot.last_used = now
            self._deliver(slot)

    def _deliver(self, slot: Slot) -> None:
        """Make ``slot`` idle, then hand it to the first waiter if there is one."""
        self._idle.append(slot)
        if self._waiters:
            self._match()

    def _discard(self, slot: Slot, reason: str) -> None:
        """Close a slot's connection and free its place (opening a replacement for waiters)."""
        self.driver.close(slot.raw)
        with self._lock:
            self._size -= 1
            self._c.closed[reason] += 1
            if reason == "broken":
                self._break_epoch = _monotonic()
            n = self._demand_locked() if not self._closed else 0
            self._reserve_locked(n)
        self._start_openers(n)

    # -- opening ---------------------------------------------------------------------------------
    def _reserve_locked(self, n: int) -> None:
        self._size += n
        self._opening += n

    def _start_openers(self, n: int) -> None:
        for _ in range(n):
            threading.Thread(target=self._open_one, name="minide-pool-open", daemon=True).start()

    def _open_one(self) -> None:
        """Open one connection for a reserved place; retry with backoff while it is needed."""
        backoff = 0.05
        while True:
            try:
                raw = self.driver.connect(
                    self.info, self.options.connect_timeout, self.options.socket_timeout
                )
            except Exception as e:
                with self._lock:
                    self._note_connect_error(e)
                    needed = not self._closed and (
                        len(self._waiters) > 0 or self._size - self._opening < self._min
                    )
                    if not needed:
                        self._size -= 1
                        self._opening -= 1
                        return
                if self._stop.wait(backoff):
                    with self._lock:
                        self._size -= 1
                        self._opening -= 1
                    return
                backoff = min(backoff * 2, 1.0)
                continue
            slot = self._new_slot(raw)
            with self._lock:
                self._opening -= 1
                self._c.created += 1
            if self._closed:
                self._discard(slot, "pool")
            else:
                self._deliver(slot)
            return

    # -- maintenance -----------------------------------------------------------------------------
    def _maintain_once(self) -> None:
        now = _monotonic()
        self._c.sample(now)
        while self._reclaim:
            self._reclaim_one(self._reclaim.popleft(), now)
        self._check_leaks(now)
        for slot, reason in self._idle_expiry(now):
            try:
                self._idle.remove(slot)
            except ValueError:
                continue  # borrowed meanwhile
            self._discard(slot, reason)
        if self.options.health_check == "periodic":
            self._periodic_checks(now)
        self._watch.scan(self, now)
        with self._lock:
            self._wait_ticks = self._wait_ticks + 1 if self._waiters else 0
            n = self._demand_locked()
            # sustained waits (three ticks in a row): open one spare ahead of demand
            if n == 0 and self._wait_ticks >= 3 and self._size < self._max and not self._opening:
                n = 1
            self._reserve_locked(n)
        self._start_openers(n)

    def _reclaim_one(self, slot: Slot, now: float) -> None:
        if self._borrowed.pop(slot.id, None) is None:
            return
        self._report_leak(slot, "collected", now)
        self._c.gc_reclaimed += 1
        slot.borrowed_at = 0.0
        try:
            self.driver.reset(slot.raw, self._discard_state, self.options.ping_timeout)
        except Exception:
            self._discard(slot, "leaked")
            return
        if self.driver.broken(slot.raw) or self._closed:
            self._discard(slot, "leaked")
        else:
            self._deliver(slot)

    def _periodic_checks(self, now: float) -> None:
        every = self.options.periodic_interval
        for slot in list(self._idle):
            if now - slot.checked < every:
                continue
            try:
                self._idle.remove(slot)
            except ValueError:
                continue
            ok = not socket_says_broken(slot.probe) and not self.driver.broken(slot.raw)
            if ok:
                try:
                    self.driver.ping(
                        slot.raw, self.options.validation_query, self.options.ping_timeout
                    )
                    slot.checked = _monotonic()
                except Exception:
                    ok = False
            if ok:
                self._deliver(slot)
            else:
                self._discard(slot, "broken")

    # -- public ----------------------------------------------------------------------------------
    def resize(self, min_size: int | None = None, max_size: int | None = None) -> None:
        """Change the bounds. Growing opens connections up to the new ``min_size`` (and for
        waiting callers); shrinking closes idle connections now and surplus borrowed ones when
        they come back."""
        lo, hi = self._check_resize(min_size, max_size)
        surplus: list[Slot] = []
        with self._lock:
            self._min, self._max = lo, hi
            while self._size - len(surplus) > hi and self._idle:
                surplus.append(self._idle.popleft())
            n = self._demand_locked()
            self._reserve_locked(n)
        for slot in surplus:
            self._discard(slot, "resize")
        self._start_openers(n)

    def wait(self, timeout: Any = None) -> None:
        """Block until ``min_size`` connections are open (PoolTimeoutError after ``timeout``
        seconds, default ``acquire_timeout``)."""
        limit = self.options.acquire_timeout if timeout is None else float(timeout)
        deadline = _monotonic() + limit
        while self._size - self._opening < self._min:
            if _monotonic() > deadline:
                raise PoolTimeoutError(
                    f"pool {self.name}: {self._size - self._opening} of min_size={self._min} "
                    f"connections open after {limit:g} s" + self._last_error_text()
                )
            time.sleep(0.005)

    def _last_error_text(self) -> str:
        if self._last_error is None:
            return ""
        return f"; last connect error: {type(self._last_error[1]).__name__}: {self._last_error[1]}"

    def close(self) -> None:
        """Close idle connections and stop maintenance; waiting callers get PoolClosedError;
        borrowed connections are closed as they come back."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
        self._stop.set()
        # waiters that queue after this see _closed (they look after queueing)
        while True:
            try:
                w = self._waiters.popleft()
            except IndexError:
                break
            w.slot = _CLOSED
            w.lock.release()
        for slot in idle:
            self._discard(slot, "pool")

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _maintain(ref: weakref.ref[Pool], stop: threading.Event, tick: float) -> None:
    while not stop.wait(tick):
        pool = ref()
        if pool is None:
            return
        try:
            pool._maintain_once()
        except Exception:  # keep maintaining; never die silently
            log.exception("pool maintenance failed")
        del pool
