"""Run every sqllogictest file under tests/sql/slt with a fresh connection."""

from pathlib import Path

import minide
import pytest
from slt_runner import run_file

FILES = sorted((Path(__file__).parent / "slt").glob("*.slt"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_slt_file(path: Path) -> None:
    run_file(path, minide.connect())


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_slt_file_unoptimized(path: Path) -> None:
    """Same answers with every optional optimizer pass switched off."""
    con = minide.connect()
    for name in minide.sql.PASS_NAMES:
        if name != "decorrelate":
            con.disable_optimizer(name)
    run_file(path, con)
