"""The pool's options, checked once: :class:`Options` (durations in seconds, floats).

Every option exists to prevent one failure (docs/pool.md has the table):

==================  =========================================================================
``min_size``        the first requests after a quiet period paying for connection handshakes
``max_size``        a traffic spike opening more sessions than the server allows
``max_idle``        idle sessions held forever (server memory) and killed by idle timeouts
``max_lifetime``    sessions that live forever: server-side memory bloat, stale DNS/failover
``acquire_timeout`` a caller blocked forever when the pool is exhausted or the server is down
``health_check``    handing out a connection the server or the network already closed
``validation_query`` a ping that does not prove what the application needs (e.g. a writable primary)
``reset_on_return`` the next borrower inheriting an open transaction, locks or session settings
``leak_threshold``  a borrower that never returns its connection slowly starving the pool
``socket_timeout``  a borrower's query hanging for good when the server or the path to it goes
                    silent mid-query (a network cut, a hung proxy): the kernel's retransmission
                    timeout is about 15 minutes, and a path that still acknowledges never ends
==================  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from minide._convert import Duration, to_seconds
from minide.errors import InvalidArgumentError

__all__ = ["HealthCheck", "Options", "make_options"]

HealthCheck = Literal["on_borrow", "periodic", "none"]
HEALTH_CHECKS = ("on_borrow", "periodic", "none")
#: reset_on_return values: False, True (roll back an open transaction), "discard" (also drop
#: session state: ``DISCARD ALL`` on PostgreSQL)
ResetMode = bool | Literal["discard"]


@dataclass(frozen=True)
class Options:
    """Checked pool options; durations in seconds (``None``: never)."""

    min_size: int
    max_size: int
    max_idle: float | None
    max_lifetime: float | None
    acquire_timeout: float
    health_check: str
    validation_query: str | None
    reset_on_return: bool | str
    leak_threshold: float | None
    #: how long a connection may wait for its server with nothing arriving before the pool
    #: asks whether the server is still working on it; None: never (see :mod:`liveness`)
    socket_timeout: float | None

    @property
    def connect_timeout(self) -> float:
        """How long one connection attempt may take: twice the acquire timeout, at least 5 s.
        Long enough for a slow handshake to finish (the connection serves the next borrower
        even if the caller that asked for it gave up), short enough that a black-holed one
        cannot hold a place in the pool forever."""
        return max(5.0, 2 * self.acquire_timeout)

    @property
    def ping_timeout(self) -> float:
        """How long a health-check round trip may take before the connection counts as broken."""
        return min(max(0.2, self.acquire_timeout / 2), 5.0)

    @property
    def periodic_interval(self) -> float:
        """How often ``health_check="periodic"`` pings each idle connection."""
        base = self.max_idle / 4 if self.max_idle else 30.0
        return min(30.0, max(0.1, base))


def _duration(value: Duration | float | None, what: str, allow_none: bool = True) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise InvalidArgumentError(f"{what} must be a duration like '5s', got None")
    secs = to_seconds(value, what)
    if secs <= 0:
        raise InvalidArgumentError(f"{what} must be positive, got {value!r}")
    return secs


def make_options(
    *,
    min_size: int,
    max_size: int,
    max_idle: Duration | float | None,
    max_lifetime: Duration | float | None,
    acquire_timeout: Duration | float,
    health_check: str,
    validation_query: str | None,
    reset_on_return: bool | str,
    leak_threshold: Duration | float | None,
    socket_timeout: Duration | float | None = "30s",
) -> Options:
    """Check and convert the pool's keyword arguments (numbers count seconds)."""
    for what, n in (("min_size", min_size), ("max_size", max_size)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidArgumentError(f"{what} must be an int >= 0, got {n!r}")
    if max_size < 1 or min_size > max_size:
        raise InvalidArgumentError(
            f"need 0 <= min_size <= max_size and max_size >= 1, got min_size={min_size}, "
            f"max_size={max_size}"
        )
    if health_check not in HEALTH_CHECKS:
        raise InvalidArgumentError(
            f'health_check must be "on_borrow" (check before handing out), "periodic" (ping '
            f'idle connections in the background) or "none", got {health_check!r}'
        )
    if validation_query is not None and (
        not isinstance(validation_query, str) or not validation_query.strip()
    ):
        raise InvalidArgumentError(
            f"validation_query must be None (the driver's ping) or SQL text, got "
            f"{validation_query!r}"
        )
    if reset_on_return not in (True, False, "discard"):
        raise InvalidArgumentError(
            f'reset_on_return must be True (roll back), False or "discard" (roll back and '
            f"drop session state), got {reset_on_return!r}"
        )
    timeout = _duration(acquire_timeout, "acquire_timeout", allow_none=False)
    assert timeout is not None
    return Options(
        min_size=min_size,
        max_size=max_size,
        max_idle=_duration(max_idle, "max_idle"),
        max_lifetime=_duration(max_lifetime, "max_lifetime"),
        acquire_timeout=timeout,
        health_check=health_check,
        validation_query=validation_query,
        reset_on_return=reset_on_return,
        leak_threshold=_duration(leak_threshold, "leak_threshold"),
        socket_timeout=_duration(socket_timeout, "socket_timeout"),
    )
