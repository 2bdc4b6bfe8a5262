"""Fixtures of the pool tests: ``backend`` (PostgreSQL, MariaDB, SQLite), ``net_backend`` (the
two servers) and ``proxy`` (a fault-injecting proxy in front of ``net_backend``), see dbs.py;
``standby``: a real streaming standby of the PostgreSQL server, see standby.py."""

from __future__ import annotations

import contextlib
import gc
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minide.pool.testing import FaultProxy

from .dbs import MARIA, PG, Backend, rows, sqlite_backend
from .standby import Standby, StandbyError, create_standby


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = {"postgresql": PG, "mariadb": MARIA}.get(request.param) or sqlite_backend(
        tmp_path / "pool.db"
    )
    b = Backend(**{**b.__dict__, "table": f"pool_t_{uuid.uuid4().hex[:10]}"})
    yield b
    if b.name != "sqlite":
        _drop(b)


@pytest.fixture(params=["postgresql", "mariadb"])
def net_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    b = {"postgresql": PG, "mariadb": MARIA}[request.param]
    b = Backend(**{**b.__dict__, "table": f"pool_t_{uuid.uuid4().hex[:10]}"})
    yield b
    _drop(b)


def _drop(b: Backend) -> None:
    import minide.pool as mp

    with (
        contextlib.suppress(Exception),
        mp.Pool(b.url(), min_size=0, max_size=1) as p,
        p.connection() as c,
    ):
        rows(c, f"DROP TABLE IF EXISTS {b.table}")
        c.commit()


@pytest.fixture
def proxy(net_backend: Backend) -> Iterator[FaultProxy]:
    with net_backend.proxy() as px:
        yield px


@pytest.fixture(scope="session")
def _pg_standby() -> Iterator[Standby]:
    try:
        sb = create_standby()
    except StandbyError as e:
        pytest.fail(f"cannot create a PostgreSQL standby: {e}", pytrace=False)
    yield sb
    sb.stop()


@pytest.fixture
def standby(_pg_standby: Standby) -> Iterator[Standby]:
    """The session's standby (created on first use, about a second), replaying and caught up
    with the primary before and after each test."""
    _pg_standby.resume()
    _pg_standby.catch_up()
    yield _pg_standby
    _pg_standby.resume()
    _pg_standby.catch_up()


@pytest.fixture(autouse=True)
def _pool_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO, logger="minide.pool")
    yield
    gc.collect()
