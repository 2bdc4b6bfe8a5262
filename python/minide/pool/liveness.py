"""Is the other end still there? Bounding round trips to a server that stopped answering.

- :class:`Watchdog` bounds the pool's own round trips (pings, resets, position queries): at the
  deadline it shuts the socket down, which makes the blocked driver call fail.
- :func:`socket_says_broken`: an idle connection's socket is readable only if it died.
- ``socket_timeout`` bounds a *borrower's* query against a dead or silent server, in two layers:

  1. the operating system: TCP keepalives and ``TCP_USER_TIMEOUT`` on every connection the pool
     opens (:func:`keepalive_kwargs` for libpq, :func:`set_socket_keepalive` for PyMySQL), so a
     host that stops acknowledging (a network cut, a dead machine) fails the connection within
     about ``socket_timeout``, without limiting how long a query may run;
  2. :class:`StallWatch`, for a path that still acknowledges but delivers nothing (a hung proxy
     or load balancer: TCP is content, the query never ends). Every maintenance tick it looks at
     the borrowed connections that wait for a reply (the driver says so) and have received
     nothing for ``socket_timeout`` (``TCP_INFO``, Linux). For those it asks the server, over a
     short-lived connection of its own, what the session is doing: a session still running a
     query is left alone (a long query is not a fault); an idle one (the server answered, or
     never got the request) means the link lost the exchange, and the socket is shut down so
     the borrower's call fails with the driver's error and the connection is closed as broken.
     No answer to that side connection within ``socket_timeout`` means the same.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import socket
import struct
import threading
import time
from typing import Any

from minide._core import fd_ready_now
from minide.errors import MinideError, NetworkError

__all__ = [
    "WATCHDOG",
    "StallWatch",
    "Watchdog",
    "keepalive_kwargs",
    "set_socket_keepalive",
    "silence",
    "socket_says_broken",
]

log = logging.getLogger("minide.pool")


class Watchdog:
    """One daemon thread that shuts down sockets whose deadline passed.

    ``with WATCHDOG.guard(fd, seconds): blocking_call()``: if the call is still running after
    ``seconds``, the socket behind ``fd`` is shut down (``SHUT_RDWR`` on a duplicate of the fd,
    which acts on the shared socket), so the driver's blocked ``recv`` returns and it raises.
    The guard then raises :class:`NetworkError` even if the driver swallowed the failure
    (or raised its own error); an interruption (``CancelledError``, ``KeyboardInterrupt``)
    propagates unchanged. It works around awaits too: psycopg answers a cancelled await by
    waiting (up to seconds) for the query's end, which a shut-down socket cuts short.
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
                    shutdown_fd(fd)
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

    def __exit__(self, et: Any, e: Any, tb: Any) -> None:
        if not self.token or self.dog._disarm(self.token):
            return
        # the deadline fired; an interruption (asyncio cancellation, Ctrl-C) is not replaced
        if e is None or isinstance(e, Exception):
            raise NetworkError(
                f"no answer within {self.seconds:.3g} s: the socket was shut down (fd {self.fd})"
            )


def shutdown_fd(fd: int) -> None:
    """Shut down the socket behind ``fd`` (both ways) without closing ``fd``: a call blocked
    on it returns, and the driver sees the connection end."""
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


# -- the operating system's layer ------------------------------------------------------------


def _keepalive_numbers(seconds: float) -> tuple[int, int, int, int]:
    """(idle, interval, count, user timeout in ms) for a dead peer noticed in ~``seconds``:
    with ``TCP_USER_TIMEOUT`` (Linux) the connection fails once nothing was acknowledged for
    ``seconds``, data or keepalive probe; elsewhere idle + count × interval stays within it."""
    idle = max(1, int(seconds / 3))
    interval = max(1, int(seconds / 6))
    return idle, interval, 3, max(1, round(seconds * 1000))


def keepalive_kwargs(seconds: float) -> dict[str, int]:
    """libpq connection keywords: TCP keepalives and ``tcp_user_timeout`` (libpq ignores them
    on Unix-domain sockets)."""
    idle, interval, count, user_ms = _keepalive_numbers(seconds)
    return {
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": count,
        "tcp_user_timeout": user_ms,
    }


def set_socket_keepalive(sock: Any, seconds: float) -> None:
    """The same settings on a Python socket (PyMySQL's); options the platform lacks, or a
    socket that is not TCP, are skipped."""
    idle, interval, count, user_ms = _keepalive_numbers(seconds)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    opts = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", interval),
        ("TCP_KEEPCNT", count),
        ("TCP_USER_TIMEOUT", user_ms),
    ):
        if hasattr(socket, name):
            opts.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, opt, value in opts:
        with contextlib.suppress(OSError):
            sock.setsockopt(level, opt, value)


# -- the stall watch ---------------------------------------------------------------------------

_TCP_INFO = getattr(socket, "TCP_INFO", None)
#: struct tcp_info: tcpi_last_data_recv (ms since data last arrived) is the u32 at byte 52
_LAST_DATA_RECV = 52


def silence(fd: int | None) -> float | None:
    """Seconds since data last arrived on the TCP socket ``fd`` (None: not known, e.g. not
    Linux, not TCP). Arrival counts, not reading: a reply waiting in the buffer is not silence."""
    if _TCP_INFO is None or fd is None or fd < 0:
        return None
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        return None
    try:
        info = s.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 104)
    except OSError:
        return None
    finally:
        s.detach()
    if len(info) < _LAST_DATA_RECV + 4:
        return None
    return float(struct.unpack_from("I", info, _LAST_DATA_RECV)[0]) / 1000.0


class StallWatch:
    """Finds borrowed connections stuck waiting on a server that went silent, and cuts them
    (see the module docstring). One per pool; :meth:`scan` runs in the maintenance tick (no
    I/O but ``getsockopt``); the server is asked in a short-lived thread, one at a time."""

    def __init__(self) -> None:
        self.busy = False
        #: slot id -> (borrowed_at, not before): a slot found busy is asked again later
        self._later: dict[int, tuple[float, float]] = {}

    def scan(self, pool: Any, now: float) -> None:
        limit = pool.options.socket_timeout
        if limit is None or self.busy or not pool._borrowed:
            if not pool._borrowed:
                self._later.clear()
            return
        drv = pool.driver
        due: list[tuple[Any, float, float]] = []
        for slot in list(pool._borrowed.values()):
            if slot.probe is None:
                continue
            later = self._later.get(slot.id)
            if later is not None and later[0] == slot.borrowed_at and now < later[1]:
                continue
            try:
                waiting = drv.awaiting_reply(slot.raw)
            except Exception:
                continue
            if not waiting:
                continue
            quiet = silence(slot.probe)
            if quiet is not None and quiet >= limit:
                due.append((slot, slot.borrowed_at, quiet))
        for sid in [k for k in self._later if k not in pool._borrowed]:
            del self._later[sid]
        if due:
            self.busy = True
            threading.Thread(
                target=self._check, args=(pool, due, now), name="minide-pool-stall", daemon=True
            ).start()

    def _check(self, pool: Any, due: list[tuple[Any, float, float]], seen: float) -> None:
        try:
            self._ask(pool, due, seen)
        except Exception:
            log.exception("pool %s: checking stalled connections failed", pool.name)
        finally:
            self.busy = False

    def _ask(self, pool: Any, due: list[tuple[Any, float, float]], seen: float) -> None:
        limit = pool.options.socket_timeout
        drv = pool.driver
        t0 = time.monotonic()
        verdicts: list[tuple[Any, float, float, str]] = []
        try:
            side = drv.connect(pool.info, limit, None)
        except Exception as e:
            if time.monotonic() - t0 < 0.9 * limit:
                # the server answered (refused, full, ...): not silent; ask again next tick
                log.info(
                    "pool %s: cannot ask the server about stalled connections: %s", pool.name, e
                )
                return
            why = f"the server did not answer a new connection within {limit:g} s either"
            verdicts = [(s, b, q, why) for s, b, q in due]
        else:
            try:
                for i, (slot, borrowed_at, _) in enumerate(due):
                    try:
                        running = drv.session_busy(side, slot.backend, limit)
                    except NetworkError:  # the watchdog cut the side connection too
                        why = f"the server did not answer a check within {limit:g} s"
                        verdicts += [(s, b, q, why) for s, b, q in due[i:]]
                        break
                    except Exception as e:
                        log.info("pool %s: cannot read session %s: %s", pool.name, slot.backend, e)
                        continue
                    if running is False:
                        why = "the server says its session is idle: the exchange was lost"
                        verdicts.append((slot, borrowed_at, due[i][2], why))
                    else:  # running a long query (or not visible): ask again after a while
                        self._later[slot.id] = (borrowed_at, time.monotonic() + limit)
            finally:
                drv.close(side)
        for slot, borrowed_at, quiet, why in verdicts:
            self._cut(pool, slot, borrowed_at, quiet + (time.monotonic() - seen), why)

    def _cut(self, pool: Any, slot: Any, borrowed_at: float, quiet: float, why: str) -> None:
        """Shut the socket down if the slot is still in the same borrow, still waiting, and
        still received nothing since it was found silent."""
        if pool._borrowed.get(slot.id) is not slot or slot.borrowed_at != borrowed_at:
            return
        now_quiet = silence(slot.probe)
        if now_quiet is None or now_quiet < quiet - 0.05:
            return  # data arrived meanwhile: it was slow, not lost
        if not pool.driver.awaiting_reply(slot.raw):
            return
        pool._c.stalls += 1  # before the cut: the borrower may read stats() as soon as it fails
        shutdown_fd(slot.probe)
        log.warning(
            "pool %s: connection #%d (backend %s) got nothing for %.1f s while waiting for a "
            "reply (socket_timeout %g s) and %s; its socket was shut down",
            pool.name,
            slot.id,
            slot.backend,
            now_quiet,
            pool.options.socket_timeout,
            why,
        )
