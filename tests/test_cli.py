"""The console script and its subcommands, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import minide

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minide.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def test_help_lists_commands() -> None:
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("version", "demo", "bench"):
        assert cmd in r.stdout


def test_version() -> None:
    r = run("version")
    assert r.returncode == 0 and minide.__version__ in r.stdout


def test_demo_runs_on_small_data() -> None:
    r = run("demo", "--rows", "20000")
    assert r.returncode == 0, r.stderr
    assert "hash_column" in r.stdout and "Tour finished" in r.stdout


def test_bench_tiny_writes_json(tmp_path: Path) -> None:
    r = run("bench", "hash", "--size", "tiny", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (result_file,) = tmp_path.glob("bench-hash-tiny-*.json")
    doc = json.loads(result_file.read_text())
    cases = {c["case"]: c for c in doc["results"]}
    assert cases and all(c["minide_s"] > 0 and c["baseline_s"] > 0 for c in cases.values())
    assert all(abs(c["ratio"] - c["baseline_s"] / c["minide_s"]) < 1e-9 for c in cases.values())


def test_unknown_bench_is_a_clear_error() -> None:
    r = run("bench", "nope")
    assert r.returncode == 1
    assert "unknown bench nope" in r.stderr
