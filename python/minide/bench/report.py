"""Tables of bench results: the one printed after a run, and ``minide bench --report``, which
reads the newest JSON result of every bench in ``benches/results/``."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from minide.errors import InvalidArgumentError


def _fmt_s(s: float) -> str:
    return f"{s * 1e3:9.2f} ms" if s < 10 else f"{s:9.2f} s "


def _console() -> Any:
    from rich.console import Console

    # Wide enough for the table when stdout is a file or a pipe (CI logs, make bench | tee).
    return Console(width=None if sys.stdout.isatty() else 160)


def _ratio(r: float) -> str:
    style = "green" if r >= 1.0 else "red"
    return f"[{style}]{r:.2f}x[/{style}]"


def geomeans(rows: list[dict[str, Any]]) -> list[str]:
    """One line per (bench, threads) group of more than one case: geometric mean ratio."""
    groups: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        if r["ratio"] > 0 and r["ratio"] != float("inf"):
            groups.setdefault((r["bench"], r["threads"]), []).append(r["ratio"])
    out = []
    for (bench, threads), ratios in groups.items():
        if len(ratios) > 1:
            g = statistics.geometric_mean(ratios)
            out.append(
                f"{bench}, {threads} thread(s): geometric mean ratio {g:.3f} over {len(ratios)} "
                f"cases (baseline/minide; minide/baseline = {1 / g:.3f})"
            )
    return out


def print_table(results: list[Any]) -> None:
    """The table printed after ``minide bench`` runs (``results``: ``Result`` objects)."""
    from rich.table import Table

    table = Table(
        title="minide vs baselines (ratio = baseline time / minide time; >= 1.0 is a win; "
        "cpu ratio: the same for process CPU seconds, all threads)"
    )
    cols = ("bench", "case", "threads", "minide", "baseline", "vs", "ratio", "cpu ratio", "items/s")
    for col in cols:
        table.add_column(col, justify="right" if col not in ("bench", "case", "vs") else "left")
    for r in results:
        table.add_row(
            r.bench,
            r.case,
            str(r.threads) + (" *" if r.env else ""),
            _fmt_s(r.minide_s),
            _fmt_s(r.baseline_s),
            r.baseline_name,
            _ratio(r.ratio),
            f"{r.cpu_ratio:.2f}x" if r.cpu_ratio else "",
            f"{r.minide_per_s:,.0f}" if r.minide_per_s else "",
        )
    _console().print(table)
    if any(r.env for r in results):
        envs = sorted({", ".join(f"{k}={v}" for k, v in r.env.items()) for r in results if r.env})
        print(f"* run in a fresh process started with {' / '.join(envs)}")
    for line in geomeans([vars(r) for r in results]):
        print(line)
    for r in results:
        if r.extra:
            extras = ", ".join(f"{k}={v:,.4g}" for k, v in r.extra.items())
            print(f"  {r.bench}/{r.case}: {extras}")


def _when(doc: dict[str, Any], path: Path) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of a result file: its ``when``, else its modification time."""
    if doc.get("when"):
        return str(doc["when"]).replace("T", " ")[:16]
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M")


def latest(results_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """For every bench, the newest result file holding it and that file's parsed JSON."""
    newest: dict[str, tuple[float, Path, dict[str, Any]]] = {}
    for path in sorted(results_dir.glob("bench-*.json")):
        try:
            doc = json.loads(path.read_text())
            benches = {r["bench"] for r in doc["results"]}
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a harness result (a loopback run, a half-written file)
        mtime = path.stat().st_mtime
        for b in benches:
            if b not in newest or mtime >= newest[b][0]:
                newest[b] = (mtime, path, doc)
    return {b: (p, d) for b, (_, p, d) in sorted(newest.items())}


def print_report(results_dir: Path, names: list[str] | None = None) -> int:
    """Print case | minide | baseline | ratio | threads | when for the newest result of every
    bench (or of ``names``)."""
    from rich.table import Table

    found = latest(results_dir) if results_dir.is_dir() else {}
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise InvalidArgumentError(f"no results for {', '.join(missing)} in {results_dir}")
        found = {n: found[n] for n in names}
    if not found:
        print(f"no bench results in {results_dir} (run `minide bench NAME` first)")
        return 0
    table = Table(title=f"latest bench results ({results_dir})")
    for col in ("bench", "case", "minide", "baseline", "ratio", "cpu ratio", "threads", "when"):
        table.add_column(col, justify="left" if col in ("bench", "case", "when") else "right")
    rows: list[dict[str, Any]] = []
    notes = []
    for bench, (path, doc) in found.items():
        when = _when(doc, path)
        load = doc.get("machine", {}).get("load_avg")
        notes.append(
            f"{bench}: size {doc.get('size', '?')}, {when} UTC"
            + (f", load average {load[0]:.1f}" if load else "")
            + f" ({path.name})"
        )
        for r in doc["results"]:
            if r["bench"] != bench:
                continue
            rows.append(r)
            table.add_row(
                bench,
                r["case"],
                _fmt_s(r["minide_s"]),
                f"{_fmt_s(r['baseline_s'])} {r['baseline_name']}",
                _ratio(r["ratio"]),
                f"{r['cpu_ratio']:.2f}x" if r.get("cpu_ratio") else "",
                str(r["threads"]),
                when,
            )
    _console().print(table)
    for line in notes + geomeans(rows):
        print(line)
    return 0
