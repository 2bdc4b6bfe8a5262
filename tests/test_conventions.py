"""The API conventions of docs/conventions.md: durations, sync=, threads=None, no builtin shadows."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path

import minide.kv as kv
import minide.replication as mr
import minide.stream as ms
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minide._convert import check_sync, resolve_threads, to_nanos, to_seconds
from minide.errors import InvalidArgumentError

S = 1_000_000_000


@pytest.mark.parametrize(
    ("value", "nanos"),
    [
        (dt.timedelta(hours=1, minutes=30), 5400 * S),
        (dt.timedelta(microseconds=7), 7_000),
        ("1h30m", 5400 * S),
        ("250ms", 250_000_000),
        ("1.5s", 1_500_000_000),
        ("2d", 2 * 86_400 * S),
        (" 1m 5s ", 65 * S),
        ("10us", 10_000),
        ("3ns", 3),
        (42, 42),
    ],
)
def test_durations(value: object, nanos: int) -> None:
    assert to_nanos(value, "window") == nanos  # type: ignore[arg-type]


def test_int_durations_count_the_documented_unit() -> None:
    assert to_nanos(3, "x", int_unit="ms") == 3_000_000
    assert to_seconds(2.5, "hint_interval") == 2.5
    assert to_seconds("250ms", "hint_interval") == 0.25


@pytest.mark.parametrize("bad", ["", "1x", "h", "1h30", "ms250", "1h-30m", "abc", True, None, [1]])
def test_bad_durations_name_the_argument(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="checkpoint_interval"):
        to_nanos(bad, "checkpoint_interval")  # type: ignore[arg-type]


@given(
    h=st.integers(0, 1000),
    m=st.integers(0, 59),
    s=st.integers(0, 59),
    ms_=st.integers(0, 999),
)
def test_duration_strings_agree_with_timedelta(h: int, m: int, s: int, ms_: int) -> None:
    text = f"{h}h{m}m{s}s{ms_}ms"
    td = dt.timedelta(hours=h, minutes=m, seconds=s, milliseconds=ms_)
    assert to_nanos(text) == to_nanos(td)


def test_engines_take_duration_strings(tmp_path: Path) -> None:
    d = ms.Deduplicator(
        "id", time_column="t", window=dt.timedelta(minutes=5), allowed_lateness="1s"
    )
    assert d.process(pa.record_batch({"id": [1, 1], "t": [0, 1]})).num_rows == 1
    with pytest.raises(InvalidArgumentError, match="allowed_lateness"):
        ms.Deduplicator("id", time_column="t", allowed_lateness="soon")
    with kv.open(tmp_path / "kv", retention="30d") as db:
        db.put("k", b"v")
    with pytest.raises(InvalidArgumentError, match="retention"):
        kv.open(tmp_path / "kv2", retention="forever")
    r = mr.Region("a", str(tmp_path / "r"), hint_interval="50ms", anti_entropy_interval=2)
    assert (r.hint_interval, r.anti_entropy_interval) == (0.05, 2.0)
    with pytest.raises(InvalidArgumentError, match="hint_interval"):
        mr.Region("a", str(tmp_path / "r"), hint_interval="often")


def test_sync_values_are_validated(tmp_path: Path) -> None:
    for mode in ("always", "batch", "none"):
        assert check_sync(mode) == mode
        log = ms.Log(tmp_path / f"log-{mode}", partitions=1, sync=mode)  # type: ignore[arg-type]
        log.append(pa.record_batch({"x": [1, 2]}))
        assert log.end_offsets() == [2] and log.sync_mode == mode
        assert mr.Region("a", str(tmp_path / "r"), sync=mode).sync == mode  # type: ignore[arg-type]
        with kv.open(tmp_path / f"kv-{mode}", sync=mode) as db:  # type: ignore[arg-type]
            db.put("k", b"v")
    for bad in ("sometimes", True, "ALWAYS", None):
        with pytest.raises(InvalidArgumentError, match="sync"):
            ms.Log(tmp_path / "bad", partitions=1, sync=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="sync"):
            kv.open(tmp_path / "bad-kv", sync=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="sync"):
            mr.Region("a", str(tmp_path / "r"), sync=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="sync"):
            mr.LocalCluster(["a", "b"], tmp_path, sync=bad)  # type: ignore[arg-type]


def test_old_fsync_keywords_warn_and_map_onto_sync(tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning, match='sync="none"'):
        log = ms.Log(tmp_path / "a", partitions=1, fsync=False)
    assert log.sync_mode == "none"
    with pytest.warns(DeprecationWarning, match='sync="always"'):
        assert ms.Log(tmp_path / "b", partitions=1, fsync=True).sync_mode == "always"
    with pytest.warns(DeprecationWarning):
        assert mr.Region("a", str(tmp_path / "r"), fsync=True).sync == "always"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ms.Log(tmp_path / "c", partitions=1)  # the new spelling does not warn


def test_threads_none_means_every_core() -> None:
    assert resolve_threads(None) == os.cpu_count()
    assert resolve_threads(3) == 3
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InvalidArgumentError, match="threads"):
            resolve_threads(bad)  # type: ignore[arg-type]


def test_no_public_name_shadows_a_builtin() -> None:
    import builtins

    import minide
    import minide.columnar
    import minide.sql

    for mod in (minide, kv, ms, mr, minide.columnar, minide.sql):
        # ``Warning`` is a module attribute PEP 249 requires of a DB-API driver (minide.sql).
        allowed = {"open"} | ({"Warning"} if mod is minide.sql else set())
        shadows = set(getattr(mod, "__all__", ())) & set(dir(builtins)) - allowed
        assert not shadows, f"{mod.__name__} exports {sorted(shadows)}"
    assert not hasattr(ms, "map") and callable(ms.map_batches)
