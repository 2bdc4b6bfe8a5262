"""The bench harness: thread counts set and read back on both sides of every case, fresh
processes for pools sized at start, the results report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest
from minide.bench import Case, ThreadMismatch, configure, discover, find_bench_dir, load_cases
from minide.bench import main as bench_main
from minide.bench.child import configure_in_child
from minide.bench.pools import Arg, Caller, DuckDB, Polars, Pool, PyArrow
from minide.bench.report import latest

BENCHES = find_bench_dir()


def _toy(tmp_path: Path, body: str) -> Path:
    """A benches/ folder with one bench ``toy`` whose module is ``body``."""
    root = tmp_path / "benches"
    (root / "toy").mkdir(parents=True)
    (root / "run.py").write_text("")
    (root / "toy" / "bench.py").write_text(textwrap.dedent(body))
    return root


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minide.cli", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- every real bench: each case declares both sides' pools and gets its thread count -----------
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(discover(BENCHES)))
def test_every_case_sets_its_threads_on_both_sides(name: str) -> None:
    path = discover(BENCHES)[name]
    cases = load_cases(name, path, "tiny")
    assert cases, f"bench {name} has no cases at size tiny"
    fresh: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, case in enumerate(cases):
        readings, env = configure(case)  # raises if a side declares nothing or reads wrong
        assert readings["minide"] and readings["baseline"]
        if env:
            fresh.setdefault(tuple(sorted(env.items())), []).append(i)
            continue
        for side in ("minide", "baseline"):
            assert set(readings[side].values()) == {case.threads}, (case.name, readings)
    # the pools sized at start read the case's count in the process the harness starts for them
    for env_items, indices in fresh.items():
        got = configure_in_child(name, path, "tiny", indices, dict(env_items))
        for i, readings in zip(indices, got, strict=True):
            for side in ("minide", "baseline"):
                assert set(readings[side].values()) == {cases[i].threads}, (cases[i].name, readings)


# -- the checks themselves ----------------------------------------------------------------------
def _case(**kw: object) -> Case:
    base: dict[str, object] = {
        "name": "c",
        "minide": lambda: 1,
        "baseline": lambda: 1,
        "baseline_name": "b",
        "minide_pools": [Caller("x")],
        "baseline_pools": [Caller("y")],
    }
    base.update(kw)
    return Case(**base)  # type: ignore[arg-type]


def test_a_side_without_pools_is_refused() -> None:
    with pytest.raises(ThreadMismatch, match="no thread pools for its baseline side"):
        configure(_case(baseline_pools=[]))
    with pytest.raises(ThreadMismatch, match="no thread pools for its minide side"):
        configure(_case(minide_pools=()))


def test_a_one_thread_side_in_a_two_thread_case_is_refused() -> None:
    with pytest.raises(ThreadMismatch, match="reads"):
        configure(_case(threads=2, baseline_pools=[Caller("a Python loop")]))


class _Stuck(Pool):
    """A pool that ignores apply: what a case that forgot to size its library looks like."""

    name = "stuck"

    def apply(self, n: int) -> None:
        pass

    def read(self) -> dict[str, int]:
        return {"stuck": 4}


def test_a_pool_that_does_not_take_the_count_is_refused() -> None:
    with pytest.raises(ThreadMismatch, match="stuck"):
        configure(_case(threads=2, minide_pools=[_Stuck()], baseline_pools=[PyArrow()]))


def test_pyarrow_and_duckdb_pools_are_set_and_read_back() -> None:
    import duckdb

    con = duckdb.connect()
    arg = Arg()
    old = pa.cpu_count(), pa.io_thread_count()
    try:
        for n in (1, 3):
            readings, env = configure(
                _case(threads=n, minide_pools=[arg], baseline_pools=[PyArrow(), DuckDB(con)])
            )
            assert not env and arg.n == n
            assert readings["baseline"] == {
                "pyarrow.cpu_count": n,
                "pyarrow.io_thread_count": n,
                "duckdb.threads": n,
            }
            assert con.execute("SELECT current_setting('threads')").fetchall() == [(n,)]
            assert con.sql("SELECT 42 AS x").to_arrow_table().column("x").to_pylist() == [42]
    finally:
        pa.set_cpu_count(old[0])
        pa.set_io_thread_count(old[1])


def test_an_arg_pool_cannot_be_read_before_the_harness_sets_it() -> None:
    with pytest.raises(RuntimeError, match="before the harness"):
        _ = Arg().n


def test_polars_pool_of_another_size_asks_for_a_fresh_process() -> None:
    import polars as pl

    other = pl.thread_pool_size() + 1
    _, env = configure(_case(threads=other, baseline_pools=[Polars()], minide_pools=[Arg()]))
    assert env == {"POLARS_MAX_THREADS": str(other)}


def test_a_case_that_resizes_a_pool_while_timed_is_refused(tmp_path: Path) -> None:
    root = _toy(
        tmp_path,
        """
        import pyarrow as pa
        from minide.bench import Case
        from minide.bench.pools import Arg, PyArrow

        def cases(size):
            arg = Arg()
            return [Case(name="sneaky", threads=1, repeat=1, minide=lambda: arg.n,
                         baseline=lambda: pa.set_cpu_count(2), baseline_name="b",
                         minide_pools=[arg], baseline_pools=[PyArrow()])]
        """,
    )
    old = pa.cpu_count()
    try:
        with pytest.raises(ThreadMismatch, match="changed while timing"):
            bench_main(["toy"], size="tiny", bench_dir=str(root), out_dir=str(tmp_path / "out"))
    finally:
        pa.set_cpu_count(old)


def test_polars_cases_run_in_a_process_with_their_pool_size(tmp_path: Path) -> None:
    import polars as pl

    here = pl.thread_pool_size()
    other = 1 if here != 1 else 2
    root = _toy(
        tmp_path,
        f"""
        import polars as pl
        from minide.bench import Case
        from minide.bench.pools import Arg, Polars

        def cases(size):
            df = pl.DataFrame({{"a": list(range(1000))}})
            out = []
            for n in ({here}, {other}):
                arg = Arg()
                out.append(Case(name=f"sum {{n}}", threads=n, repeat=1,
                                minide=lambda arg=arg: arg.n, baseline=lambda: df.sum(),
                                baseline_name="polars", minide_pools=[arg],
                                baseline_pools=[Polars()]))
            return out
        """,
    )
    r = _run("toy", "--size", "tiny", "--dir", str(root), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    (result,) = (tmp_path / "out").glob("bench-toy-tiny-*.json")
    doc = json.loads(result.read_text())
    by_case = {c["case"]: c for c in doc["results"]}
    assert [c["case"] for c in doc["results"]] == [f"sum {here}", f"sum {other}"]
    assert by_case[f"sum {here}"]["env"] == {}
    assert by_case[f"sum {other}"]["env"] == {"POLARS_MAX_THREADS": str(other)}
    for n in (here, other):
        assert by_case[f"sum {n}"]["pools"]["baseline"] == {"polars.thread_pool_size": n}
        c = by_case[f"sum {n}"]
        assert c["minide_cpu_s"] >= 0 and c["baseline_cpu_s"] > 0
    assert doc["machine"]["load_avg"] and doc["when"].endswith("Z")


def test_case_without_pools_fails_the_run_with_a_clear_error(tmp_path: Path) -> None:
    root = _toy(
        tmp_path,
        """
        from minide.bench import Case

        def cases(size):
            return [Case(name="forgot", minide=lambda: 1, baseline=lambda: 1, baseline_name="b")]
        """,
    )
    r = _run("toy", "--size", "tiny", "--dir", str(root), "--out", str(tmp_path / "out"))
    assert r.returncode == 1
    assert "'forgot' declares no thread pools for its minide side" in r.stderr


# -- minide bench --report ----------------------------------------------------------------------
def _result_file(out: Path, bench: str, stamp: str, cases: list[tuple[str, float]]) -> Path:
    doc = {
        "size": "small",
        "when": stamp,
        "machine": {"load_avg": [2.5, 2.0, 1.0]},
        "results": [
            {
                "bench": bench,
                "case": c,
                "baseline_name": "base",
                "threads": 1,
                "minide_s": 0.01,
                "baseline_s": 0.01 * ratio,
                "ratio": ratio,
            }
            for c, ratio in cases
        ],
    }
    path = out / f"bench-{bench}-small-{stamp.replace(':', '')}.json"
    path.write_text(json.dumps(doc))
    return path


def test_report_prints_the_newest_result_of_every_bench(tmp_path: Path) -> None:
    old = _result_file(tmp_path, "kv", "2026-01-01T00:00:00Z", [("old case", 0.5)])
    os.utime(old, (time.time() - 100, time.time() - 100))
    _result_file(tmp_path, "kv", "2026-01-02T00:00:00Z", [("get", 1.25), ("scan", 2.0)])
    _result_file(tmp_path, "sql", "2026-01-01T10:00:00Z", [("q01", 0.8)])
    (tmp_path / "replication-loopback-x.json").write_text("{}")  # not a harness result: skipped
    assert {b: p.name for b, (p, _) in latest(tmp_path).items()} == {
        "kv": "bench-kv-small-2026-01-02T000000Z.json",
        "sql": "bench-sql-small-2026-01-01T100000Z.json",
    }
    r = _run("--report", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "old case" not in r.stdout
    for text in ("get", "scan", "q01", "1.25x", "2.00x", "0.80x", "2026-01-02 00:00"):
        assert text in r.stdout, text
    assert "kv, 1 thread(s): geometric mean ratio 1.581" in r.stdout
    assert "kv: size small, 2026-01-02 00:00 UTC, load average 2.5" in r.stdout
    r = _run("sql", "--report", "--out", str(tmp_path))
    assert r.returncode == 0 and "q01" in r.stdout and "scan" not in r.stdout
    r = _run("nope", "--report", "--out", str(tmp_path))
    assert r.returncode == 1 and "no results for nope" in r.stderr
