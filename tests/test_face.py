"""The package face imports the engines, never the reverse; importing one engine loads no other.

``python -X importtime`` prints one line per module imported (``import time: self | cumulative |
name``) to stderr; each test runs a fresh interpreter so nothing is imported already.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "python" / "minide"
ENGINES = ("columnar", "sql", "kv", "stream", "replication", "pool")
# What an engine may load of the others: its layer below in docs/architecture.md (SQL reads
# files through the columnar scan core). Everything else is off limits.
ALLOWED = {"sql": {"columnar"}}
FACE = ("minide.cli", "minide.demo")


def imported_modules(code: str) -> set[str]:
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    mods = set()
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                mods.add(name)
    assert "minide" in mods, "importtime output not parsed"
    return mods


def engines_in(mods: set[str]) -> set[str]:
    return {m.split(".")[1] for m in mods if m.startswith("minide.") and m.split(".")[1] in ENGINES}


@pytest.mark.parametrize("engine", ENGINES)
def test_importing_an_engine_loads_no_other_engine_nor_lark(engine: str) -> None:
    mods = imported_modules(f"import minide.{engine}")
    assert f"minide.{engine}" in mods
    others = engines_in(mods) - {engine} - ALLOWED.get(engine, set())
    assert not others, f"import minide.{engine} loaded {sorted(others)}"
    assert not {m for m in mods if m.startswith(FACE)}, "an engine imported the package face"
    if engine != "sql":  # the SQL engine's parser is lark
        assert "lark" not in mods, f"import minide.{engine} loaded lark"


def test_importing_the_package_loads_no_engine() -> None:
    mods = imported_modules("import minide")
    assert not engines_in(mods) and "lark" not in mods


def test_connect_is_lazy_at_the_top_level() -> None:
    code = (
        "import sys, minide; assert 'minide.sql' not in sys.modules; "
        "from minide.sql import connect; assert minide.connect is connect; "
        "assert minide.connect().sql('SELECT 1 AS x').fetchall() == [(1,)]"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def _face_imports(path: Path, base: Path = PKG) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            names = [mod] + ([f"minide.{a.name}" for a in node.names] if mod == "minide" else [])
        found += [f"{path.relative_to(base)}:{node.lineno} {n}" for n in names if n in FACE]
    return found


def test_no_engine_module_imports_the_face() -> None:
    files = [f for e in ENGINES for f in sorted((PKG / e).rglob("*.py"))]
    assert len(files) > 20
    bad = [hit for f in files for hit in _face_imports(f)]
    assert not bad, f"engine modules importing the face: {bad}"


def test_the_checker_sees_a_face_import(tmp_path: Path) -> None:
    """The AST check above is not vacuous: it flags both import spellings."""
    f = tmp_path / "probe.py"
    f.write_text("from minide.cli import main\nfrom minide import demo\nimport minide.kv\n")
    assert len(_face_imports(f, tmp_path)) == 2


def test_face_lists_every_engine_command_and_chapter() -> None:
    from minide.cli import build_parser, engine_commands
    from minide.demo import chapters

    names = [c.name for c in engine_commands()]
    assert names == ["csv2parquet", "sql", "kv", "stream", "replication", "pool"]
    help_text = build_parser().format_help()
    assert all(n in help_text for n in ["version", "demo", "bench", *names])
    titles = [t for t, _ in chapters()]
    for engine in ("CSV", "Parquet", "SQL", "kv", "stream", "replication", "pool"):
        assert any(engine in t for t in titles), engine
