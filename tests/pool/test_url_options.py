"""URL parsing and option checking: every bad value is an InvalidArgumentError naming it."""

from __future__ import annotations

import datetime as dt

import minide.pool as mp
import pytest
from minide.errors import InvalidArgumentError, MinideError, PoolTimeoutError


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        (
            "postgresql://postgres@127.0.0.1/shop",
            ("postgresql", "psycopg", "127.0.0.1", 5432, "postgres", None, "shop"),
        ),
        (
            "postgres://u:p%40ss@db.example:6543/x",
            ("postgresql", "psycopg", "db.example", 6543, "u", "p@ss", "x"),
        ),
        (
            "postgresql+psycopg2://h/d",
            ("postgresql", "psycopg2", "h", 5432, None, None, "d"),
        ),
        (
            "mysql://root@127.0.0.1/test",
            ("mysql", "pymysql", "127.0.0.1", 3306, "root", None, "test"),
        ),
        ("mariadb://root:@h:3307/t", ("mysql", "pymysql", "h", 3307, "root", "", "t")),
        ("sqlite:///rel/file.db", ("sqlite", "sqlite3", None, None, None, None, "rel/file.db")),
        ("sqlite:////abs/file.db", ("sqlite", "sqlite3", None, None, None, None, "/abs/file.db")),
        ("sqlite:///:memory:", ("sqlite", "sqlite3", None, None, None, None, ":memory:")),
    ],
)
def test_parse_url(url: str, expect: tuple[object, ...]) -> None:
    i = mp.parse_url(url)
    assert (i.family, i.driver, i.host, i.port, i.user, i.password, i.database) == expect
    assert "p@ss" not in i.redacted() and "p%40ss" not in i.redacted()


def test_url_params_and_driver_override() -> None:
    i = mp.parse_url("postgresql://h/d?application_name=etl&sslmode=disable", driver="psycopg2")
    assert i.driver == "psycopg2" and i.params == {"application_name": "etl", "sslmode": "disable"}


@pytest.mark.parametrize(
    ("url", "driver", "match"),
    [
        ("oracle://h/d", None, "unknown scheme"),
        ("mysql://h/d", "psycopg", "cannot connect to mysql"),
        ("postgresql://h/d", "sqlite3", "cannot connect to postgresql"),
        ("sqlite://", None, "needs a path"),
        ("postgresql://h:99999/d", None, "bad port"),
    ],
)
def test_bad_urls(url: str, driver: str | None, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        mp.parse_url(url, driver)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"max_size": 0}, "max_size"),
        ({"min_size": 5, "max_size": 2}, "min_size"),
        ({"min_size": -1}, "min_size"),
        ({"max_idle": "soon"}, "max_idle"),
        ({"max_lifetime": "-5s"}, "max_lifetime"),
        ({"acquire_timeout": None}, "acquire_timeout"),
        ({"acquire_timeout": 0}, "acquire_timeout"),
        ({"leak_threshold": "1 fortnight"}, "leak_threshold"),
        ({"health_check": "always"}, "health_check"),
        ({"reset_on_return": "yes"}, "reset_on_return"),
        ({"validation_query": "  "}, "validation_query"),
        ({"driver": "odbc"}, "driver"),
    ],
)
def test_bad_options_name_the_argument(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        mp.Pool("sqlite:///:memory:", **kw)  # type: ignore[arg-type]


def test_durations_follow_the_conventions() -> None:
    with mp.Pool(
        "sqlite:///:memory:",
        min_size=0,
        max_idle=dt.timedelta(minutes=5),
        max_lifetime="1h30m",
        acquire_timeout=2.5,  # numbers count seconds
        leak_threshold=None,
    ) as pool:
        o = pool.options
        assert (o.max_idle, o.max_lifetime, o.acquire_timeout, o.leak_threshold) == (
            300.0,
            5400.0,
            2.5,
            None,
        )
        assert "sqlite" in repr(pool) and "max_size=20" in repr(pool)


def test_error_classes() -> None:
    assert issubclass(PoolTimeoutError, MinideError) and issubclass(PoolTimeoutError, TimeoutError)
    assert issubclass(mp.PoolClosedError, MinideError)


def test_retry_only_retries_transient_errors() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("cut")
        return "done"

    assert mp.retry(flaky, attempts=3, backoff="1ms") == "done" and len(calls) == 3
    calls.clear()

    def wrong() -> None:
        calls.append(1)
        raise ValueError("a bug, not a blip")

    with pytest.raises(ValueError):
        mp.retry(wrong, attempts=5, backoff="1ms")
    assert len(calls) == 1
    calls.clear()

    def always() -> None:
        calls.append(1)
        raise ConnectionResetError("down")

    with pytest.raises(ConnectionResetError) as info:
        mp.retry(always, attempts=2, backoff=0.001)
    assert len(calls) == 2 and "failed after 2 attempts" in str(info.value.__notes__)
    with pytest.raises(InvalidArgumentError, match="attempts"):
        mp.retry(always, attempts=0)
