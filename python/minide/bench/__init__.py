"""The benchmark harness behind ``minide bench`` and ``make bench``.

A bench is a module ``benches/<name>/bench.py`` with a function ``cases(size) -> list[Case]``.
Every :class:`Case` times minide and its baseline **in the same process, on the same data, at the
same thread count**, alternating runs after one warm-up call of each side, so that neither
profits from a warmer machine or a warmer cache. The reported ratio is a speed-up:
``baseline seconds / minide seconds`` (>= 1.0 means minide is at least as fast). Results are
printed as a table and written as JSON to ``benches/results/``; ``minide bench --report``
prints the newest result of every bench.

Thread counts: each case names the thread pools each side runs on (``minide_pools``,
``baseline_pools``; see :mod:`minide.bench.pools`). The harness sets every pool to
``case.threads`` before the case runs, reads each one back (and again after the timed runs),
and refuses to time a case whose pools read another count. Pools sized only at library start
(Polars, minide's global rayon pool) are met by running that case in a fresh process started
with the pool's environment variable set (:mod:`minide.bench.child`).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from minide.bench import pools
from minide.bench.pools import Pool
from minide.errors import InvalidArgumentError

SIZES = ("tiny", "small", "large")


@dataclass
class Case:
    """One measurement: ``minide()`` against ``baseline()`` on the same prepared data."""

    name: str
    minide: Callable[[], Any]
    baseline: Callable[[], Any]
    baseline_name: str
    threads: int = 1
    repeat: int = 5
    #: items processed per call (rows, events, keys) so throughput can be reported
    items: int | None = None
    #: optional check that both sides computed the same thing; raise if not
    verify: Callable[[Any, Any], None] | None = None
    #: called once after timing with the last results; returns extra numbers (file sizes, ...)
    extra: Callable[[Any, Any], dict[str, float]] | None = None
    #: the thread pools minide's side runs on (required: the harness sets and checks them)
    minide_pools: Sequence[Pool] = ()
    #: the thread pools the baseline runs on (required, as ``minide_pools``)
    baseline_pools: Sequence[Pool] = ()


@dataclass
class Result:
    bench: str
    case: str
    baseline_name: str
    threads: int
    minide_s: float
    baseline_s: float
    ratio: float
    items: int | None
    minide_per_s: float | None
    baseline_per_s: float | None
    runs: int
    extra: dict[str, float] = field(default_factory=dict)
    #: median process CPU seconds per call (all threads), and baseline_cpu_s / minide_cpu_s
    minide_cpu_s: float | None = None
    baseline_cpu_s: float | None = None
    cpu_ratio: float | None = None
    #: the pool settings read back before timing: {"minide": {...}, "baseline": {...}}
    pools: dict[str, dict[str, int]] = field(default_factory=dict)
    #: environment the case ran under when it needed a fresh process (else empty)
    env: dict[str, str] = field(default_factory=dict)


class ThreadMismatch(InvalidArgumentError):
    """A case's pools do not run on the case's thread count."""


def configure(case: Case) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """Set every pool of both sides to ``case.threads`` and read them back.

    Returns the readings and the environment a fresh process needs for the pools that read
    another count and can only be sized at start (empty when this process will do). Raises
    :class:`ThreadMismatch` when a side declares no pool or a resizable pool reads another count.
    """
    n = case.threads
    if n < 1:
        raise ThreadMismatch(f"case {case.name!r}: threads must be >= 1, got {n}")
    readings: dict[str, dict[str, int]] = {}
    env: dict[str, str] = {}
    for side, side_pools in (("minide", case.minide_pools), ("baseline", case.baseline_pools)):
        if not side_pools:
            raise ThreadMismatch(
                f"case {case.name!r} declares no thread pools for its {side} side: name them "
                f"({side}_pools=[...], minide.bench.pools) so the harness can set them to {n}"
            )
        readings[side] = {}
        for pool in side_pools:
            pool.apply(n)
            got = pool.read()
            readings[side].update(got)
            wrong = {k: v for k, v in got.items() if v != n}
            if not wrong:
                continue
            if not pool.env:
                raise ThreadMismatch(
                    f"case {case.name!r}: {side} pool {pool!r} reads {wrong} after being set to "
                    f"{n} threads (a case on one thread-bound pool must have threads=1)"
                )
            env.update(dict.fromkeys(pool.env, str(n)))
    if env:
        # every start-sized pool of the case gets the count in the fresh process
        for side_pools in (case.minide_pools, case.baseline_pools):
            for pool in side_pools:
                env.update(dict.fromkeys(pool.env, str(n)))
    return readings, env


def check_still(case: Case, before: dict[str, dict[str, int]]) -> None:
    """The pools still read what they read before timing (a callable did not resize them)."""
    for side, side_pools in (("minide", case.minide_pools), ("baseline", case.baseline_pools)):
        now: dict[str, int] = {}
        for pool in side_pools:
            now.update(pool.read())
        if now != before[side]:
            raise ThreadMismatch(
                f"case {case.name!r}: the {side} pools changed while timing: {before[side]} -> {now}"
            )


@dataclass
class Timing:
    """Medians over the timed runs of one case, and the last result of each side."""

    minide_s: float
    baseline_s: float
    #: process CPU seconds (user + system, every thread) per call: steadier than wall time on a
    #: shared machine, but the total work of a side, not its latency, when it runs threads
    minide_cpu_s: float
    baseline_cpu_s: float
    out_m: Any
    out_b: Any


def time_pair(case: Case) -> Timing:
    """Median wall and CPU time of each side over ``case.repeat`` runs (after one warm-up call
    of each side, so both start the timed runs with the same caches warm). The order alternates
    (minide first, then the baseline first, ...) so that neither side always follows the other,
    and garbage is collected before every timed call so neither pays for the other's."""
    out_m = case.minide()
    out_b = case.baseline()
    if case.verify is not None:
        case.verify(out_m, out_b)
    wall: dict[str, list[float]] = {"m": [], "b": []}
    cpu: dict[str, list[float]] = {"m": [], "b": []}
    outs: dict[str, Any] = {"m": out_m, "b": out_b}
    calls = {"m": case.minide, "b": case.baseline}
    for i in range(case.repeat):
        for side in ("m", "b") if i % 2 == 0 else ("b", "m"):
            outs[side] = None  # the previous result is freed before the call, not during it
            gc.collect()
            c0 = time.process_time()
            t0 = time.perf_counter()
            outs[side] = calls[side]()
            wall[side].append(time.perf_counter() - t0)
            cpu[side].append(time.process_time() - c0)
    med = statistics.median
    return Timing(
        med(wall["m"]), med(wall["b"]), med(cpu["m"]), med(cpu["b"]), outs["m"], outs["b"]
    )


def run_case(bench: str, case: Case, env: dict[str, str] | None = None) -> Result:
    """Configure the case's pools, check them, time the case. ``env``: the environment this
    (fresh) process was started with for the case, recorded in the result."""
    readings, need = configure(case)
    if need:
        raise ThreadMismatch(
            f"case {case.name!r} needs a process started with {need} (its pools read {readings})"
        )
    t = time_pair(case)
    m, b = t.minide_s, t.baseline_s
    check_still(case, readings)
    extra = case.extra(t.out_m, t.out_b) if case.extra else {}
    return Result(
        bench=bench,
        case=case.name,
        baseline_name=case.baseline_name,
        threads=case.threads,
        minide_s=m,
        baseline_s=b,
        ratio=b / m if m > 0 else float("inf"),
        items=case.items,
        minide_per_s=case.items / m if case.items and m > 0 else None,
        baseline_per_s=case.items / b if case.items and b > 0 else None,
        runs=case.repeat,
        extra=extra,
        minide_cpu_s=t.minide_cpu_s,
        baseline_cpu_s=t.baseline_cpu_s,
        cpu_ratio=t.baseline_cpu_s / t.minide_cpu_s if t.minide_cpu_s > 0 else None,
        pools=readings,
        env=dict(env or {}),
    )


def find_bench_dir(explicit: str | None = None) -> Path:
    """The ``benches/`` folder: explicit (``minide bench --dir``), the repo this package lives
    in, or cwd."""
    candidates = [explicit]
    here = Path(__file__).resolve()
    candidates += [str(p / "benches") for p in here.parents]
    candidates += [str(Path.cwd() / "benches")]
    for c in candidates:
        if c and (Path(c) / "run.py").is_file():
            return Path(c)
    raise InvalidArgumentError(
        "cannot find the benches/ folder; run from a minide checkout or pass --dir"
    )


def discover(bench_dir: Path) -> dict[str, Path]:
    return {p.parent.name: p for p in sorted(bench_dir.glob("*/bench.py"))}


def load_cases(name: str, path: Path, size: str) -> list[Case]:
    spec = importlib.util.spec_from_file_location(f"minide_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise InvalidArgumentError(f"cannot load bench module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return list(module.cases(size))


def run_bench(name: str, path: Path, size: str, progress: Any = None) -> list[Result]:
    """Every case of one bench, in order: here when this process's pools can take the case's
    thread count, else in one fresh process per environment needed."""
    from minide.bench.child import run_in_child

    cases = load_cases(name, path, size)
    task = progress.add_task(f"bench {name}", total=len(cases)) if progress else None
    results: dict[int, Result] = {}
    pending: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, case in enumerate(cases):
        _, env = configure(case)
        if env:
            pending.setdefault(tuple(sorted(env.items())), []).append(i)
            continue
        if progress:
            progress.update(task, description=f"{name}: {case.name}")
        results[i] = run_case(name, case)
        if progress:
            progress.advance(task)
    for env_items, indices in pending.items():
        env = dict(env_items)
        if progress:
            progress.update(task, description=f"{name}: {len(indices)} case(s) with {env}")
        for i, r in zip(indices, run_in_child(name, path, size, indices, env), strict=True):
            results[i] = r
        if progress:
            progress.advance(task, len(indices))
    return [results[i] for i in range(len(cases))]


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_avg": [round(x, 2) for x in load],
    }


def main(
    names: list[str],
    *,
    size: str = "small",
    bench_dir: str | None = None,
    out_dir: str | None = None,
    list_only: bool = False,
    report: bool = False,
) -> int:
    from minide.bench.report import print_report, print_table

    if size not in SIZES:
        raise InvalidArgumentError(f"size must be one of {SIZES}, got {size!r}")
    root = find_bench_dir(bench_dir)
    if report:
        return print_report(Path(out_dir) if out_dir else root / "results", names)
    available = discover(root)
    if list_only:
        for n, p in available.items():
            print(f"{n:16} {p}")
        return 0
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InvalidArgumentError(
            f"unknown bench {', '.join(unknown)}; available: {', '.join(available)}"
        )
    from rich.progress import Progress

    results: list[Result] = []
    selected = names or list(available)
    started = machine()
    with Progress(transient=True) as progress:
        for name in selected:
            results += run_bench(name, available[name], size, progress)
    print_table(results)
    out = Path(out_dir) if out_dir else root / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = out / f"bench-{'-'.join(selected)}-{size}-{stamp}.json"
    doc = {
        "size": size,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {**started, "load_avg_end": machine()["load_avg"]},
        "results": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(doc, indent=2))
    print(f"wrote {path}")
    return 0


__all__ = [
    "Case",
    "Result",
    "ThreadMismatch",
    "Timing",
    "configure",
    "main",
    "pools",
    "run_case",
    "time_pair",
]
