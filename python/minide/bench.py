"""The benchmark harness behind ``minide bench`` and ``make bench``.

A bench is a module ``benches/<name>/bench.py`` with a function ``cases(size) -> list[Case]``.
Every :class:`Case` times minide and its baseline **in the same process, on the same data, at the
same thread count**, alternating runs so that neither profits from a warmer machine. The reported
ratio is a speed-up: ``baseline seconds / minide seconds`` (>= 1.0 means minide is at least as
fast). Results are printed as a table and written as JSON to ``benches/results/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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


def time_pair(case: Case) -> tuple[float, float, Any, Any]:
    """Median wall time of each side over ``case.repeat`` alternating runs (after one warm-up)."""
    out_m = case.minide()
    out_b = case.baseline()
    if case.verify is not None:
        case.verify(out_m, out_b)
    tm: list[float] = []
    tb: list[float] = []
    for _ in range(case.repeat):
        t0 = time.perf_counter()
        out_m = case.minide()
        tm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out_b = case.baseline()
        tb.append(time.perf_counter() - t0)
    return statistics.median(tm), statistics.median(tb), out_m, out_b


def run_case(bench: str, case: Case) -> Result:
    m, b, out_m, out_b = time_pair(case)
    extra = case.extra(out_m, out_b) if case.extra else {}
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
    )


def find_bench_dir(explicit: str | None = None) -> Path:
    """The ``benches/`` folder: explicit, $MINIDE_BENCH_DIR, the repo this package lives in, or cwd."""
    candidates = [explicit, os.environ.get("MINIDE_BENCH_DIR")]
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


def _fmt_s(s: float) -> str:
    return f"{s * 1e3:9.2f} ms" if s < 10 else f"{s:9.2f} s "


def print_table(results: list[Result]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="minide vs baselines (ratio = baseline time / minide time; >= 1.0 is a win)"
    )
    for col in ("bench", "case", "threads", "minide", "baseline", "vs", "ratio", "minide items/s"):
        table.add_column(col, justify="right" if col not in ("bench", "case", "vs") else "left")
    for r in results:
        style = "green" if r.ratio >= 1.0 else "red"
        table.add_row(
            r.bench,
            r.case,
            str(r.threads),
            _fmt_s(r.minide_s),
            _fmt_s(r.baseline_s),
            r.baseline_name,
            f"[{style}]{r.ratio:.2f}x[/{style}]",
            f"{r.minide_per_s:,.0f}" if r.minide_per_s else "",
        )
    # Wide enough for the table when stdout is a file or a pipe (CI logs, make bench | tee).
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    groups: dict[tuple[str, int], list[float]] = {}
    for r in results:
        if r.ratio > 0 and r.ratio != float("inf"):
            groups.setdefault((r.bench, r.threads), []).append(r.ratio)
    for (bench, threads), ratios in groups.items():
        if len(ratios) > 1:
            g = statistics.geometric_mean(ratios)
            print(
                f"{bench}, {threads} thread(s): geometric mean ratio {g:.3f} over {len(ratios)} "
                f"cases (baseline/minide; minide/baseline = {1 / g:.3f})"
            )
    for r in results:
        if r.extra:
            extras = ", ".join(f"{k}={v:,.4g}" for k, v in r.extra.items())
            print(f"  {r.bench}/{r.case}: {extras}")


def main(
    names: list[str],
    *,
    size: str = "small",
    bench_dir: str | None = None,
    out_dir: str | None = None,
    list_only: bool = False,
) -> int:
    if size not in SIZES:
        raise InvalidArgumentError(f"size must be one of {SIZES}, got {size!r}")
    root = find_bench_dir(bench_dir)
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
    with Progress(transient=True) as progress:
        for name in selected:
            cases = load_cases(name, available[name], size)
            task = progress.add_task(f"bench {name}", total=len(cases))
            for case in cases:
                progress.update(task, description=f"{name}: {case.name}")
                results.append(run_case(name, case))
                progress.advance(task)
    print_table(results)
    out = Path(out_dir) if out_dir else root / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"bench-{'-'.join(selected)}-{size}-{stamp}.json"
    doc = {
        "size": size,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "results": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(doc, indent=2))
    print(f"wrote {path}")
    return 0
