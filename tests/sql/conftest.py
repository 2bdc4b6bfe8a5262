import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from collections.abc import Iterator

import minide.sql as driver
import pytest
from dbapi20_base import TABLE


@pytest.fixture
def con() -> Iterator[driver.Connection]:
    """A PEP 249 connection, closed after the test (test modules may define their own)."""
    c = driver.connect()
    yield c
    c.close()


@pytest.fixture
def cur(con: driver.Connection) -> driver.Cursor:
    """A cursor of ``con`` with the PEP 249 suites' table created."""
    c = con.cursor()
    c.execute(f"CREATE TABLE {TABLE} (name VARCHAR)")
    return c
