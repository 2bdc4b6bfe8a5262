"""The pool's state machine against a model (Hypothesis RuleBasedStateMachine).

The model is what a user may rely on: with ``in_use < max_size`` a borrow succeeds, otherwise
it times out; a held connection belongs to its borrower alone (a token written into its session
reads back unchanged, and no two held connections share a server session); a returned
connection cannot be used; uncommitted work never outlives its borrow; after every cut a
borrow gets a working connection. Stats must agree with the model after every step. It runs on
SQLite and, through the fault-injecting proxy, on PostgreSQL (where ``cut`` resets every
connection).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import minide.pool as mp
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from minide.errors import PoolClosedError, PoolTimeoutError
from minide.pool.testing import FaultProxy

from .dbs import PG, one, rows

_tokens = itertools.count()


class PoolMachine(RuleBasedStateMachine):
    """Subclasses set ``url()`` and ``family``."""

    family = ""

    def __init__(self) -> None:
        super().__init__()
        self.proxy: FaultProxy | None = None
        self.pool = mp.Pool(
            self.url(), min_size=0, max_size=3, acquire_timeout="2s", leak_threshold=None
        )
        with self.pool.connection() as c:
            rows(c, "DROP TABLE IF EXISTS pool_model")
            rows(c, "CREATE TABLE pool_model (x INT)")
            c.commit()
        self.max = 3
        self.held: list[tuple[mp.PooledConnection, str]] = []
        self.broken: set[int] = set()  # ids of held connections that a cut killed
        self.returned: list[mp.PooledConnection] = []
        self.committed = 0
        self.acquired = 1
        self.timeouts = 0

    def url(self) -> str:
        raise NotImplementedError

    # -- session tokens, per dialect --
    def set_token(self, c: Any, tok: str) -> None:
        if self.family == "sqlite":
            rows(c, "CREATE TEMP TABLE IF NOT EXISTS tok (v TEXT)")
            rows(c, "DELETE FROM temp.tok")
            rows(c, "INSERT INTO temp.tok VALUES (?)", (tok,))
        else:
            rows(c, "SELECT set_config('minide.tok', %s, false)", (tok,))

    def get_token(self, c: Any) -> str:
        if self.family == "sqlite":
            return str(one(c, "SELECT v FROM temp.tok"))
        return str(one(c, "SELECT current_setting('minide.tok')"))

    # -- rules --
    @rule()
    def borrow(self) -> None:
        if len(self.held) < self.max:
            c = self.pool.acquire(timeout=2)
            assert c.backend_id not in {h.backend_id for h, _ in self.held}
            tok = f"t{next(_tokens)}"
            self.set_token(c, tok)
            self.held.append((c, tok))
            self.acquired += 1
        else:
            with pytest.raises(PoolTimeoutError, match=f"{len(self.held)} in use"):
                self.pool.acquire(timeout=0.02)
            self.timeouts += 1

    @precondition(lambda self: self.held)
    @rule(i=st.integers(0, 10))
    def use(self, i: int) -> None:
        c, tok = self.held[i % len(self.held)]
        if id(c) in self.broken:
            with pytest.raises(Exception):  # noqa: B017 (any driver error)
                one(c, "SELECT 1")
        else:
            assert self.get_token(c) == tok  # nobody else touched this session

    @precondition(lambda self: self.held)
    @rule(i=st.integers(0, 10), commit=st.booleans())
    def write_and_return(self, i: int, commit: bool) -> None:
        c, _ = self.held.pop(i % len(self.held))
        if id(c) in self.broken:
            self.broken.discard(id(c))
        else:
            rows(c, "INSERT INTO pool_model VALUES (1)")
            if commit:
                c.commit()
                self.committed += 1
        c.close()
        self.returned.append(c)

    @precondition(lambda self: self.held)
    @rule(i=st.integers(0, 10))
    def invalidate(self, i: int) -> None:
        c, _ = self.held.pop(i % len(self.held))
        self.broken.discard(id(c))
        c.invalidate()
        self.returned.append(c)

    @precondition(lambda self: self.returned)
    @rule()
    def use_after_return(self) -> None:
        with pytest.raises(PoolClosedError):
            self.returned[-1].cursor()

    @rule(n=st.integers(1, 4))
    def resize(self, n: int) -> None:
        self.pool.resize(min_size=0, max_size=n)
        self.max = n

    @precondition(lambda self: self.proxy is not None)
    @rule()
    def cut(self) -> None:
        assert self.proxy is not None
        self.proxy.reset_all()
        self.broken |= {id(c) for c, _ in self.held}

    @rule()
    def count_committed(self) -> None:
        if len(self.held) >= self.max:
            return
        with self.pool.connection(timeout=2) as c:
            assert one(c, "SELECT COUNT(*) FROM pool_model") == self.committed
        self.acquired += 1

    # -- invariants --
    @invariant()
    def stats_agree(self) -> None:
        s = self.pool.stats()
        assert s["in_use"] == len(self.held)
        assert s["acquired"] == self.acquired and s["timeouts"] == self.timeouts
        assert s["idle"] + s["in_use"] + s["opening"] == s["size"]
        assert s["size"] <= max(self.max, len(self.held))
        assert s["waiting"] == 0 and s["max_size"] == self.max

    def teardown(self) -> None:
        for c, _ in self.held:
            c.close()
        with self.pool.connection() as c:
            rows(c, "DROP TABLE IF EXISTS pool_model")
            c.commit()
        self.pool.close()
        if self.proxy is not None:
            self.proxy.close()


class SQLiteMachine(PoolMachine):
    family = "sqlite"
    path: Path | None = None

    def url(self) -> str:
        assert self.path is not None
        return f"sqlite:///{self.path}"


class PostgresMachine(PoolMachine):
    family = "postgresql"

    def url(self) -> str:
        self.proxy = FaultProxy("127.0.0.1", 5432)
        # a lock held by a transaction the pool failed to end fails fast instead of hanging
        return PG.url(self.proxy.port) + "?options=-c%20lock_timeout%3D2000"


def test_pool_model_sqlite(tmp_path: Path) -> None:
    SQLiteMachine.path = tmp_path / "model.db"
    SQLiteMachine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=25, deadline=None
    )
    SQLiteMachine.TestCase().runTest()


def test_pool_model_postgresql() -> None:
    PostgresMachine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=20, deadline=None
    )
    PostgresMachine.TestCase().runTest()
