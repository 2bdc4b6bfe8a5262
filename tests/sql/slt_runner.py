"""A small sqllogictest runner (https://www.sqlite.org/sqllogictest/doc/trunk/about.wiki).

Records, separated by blank lines::

    statement ok | statement error [substring]
    <sql>

    query <types: I integer, R real, T text, B bool> [nosort | rowsort]
    <sql>
    ----
    <expected rows, values separated by tabs; NULL for null; reals with 3 decimals>
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Record:
    kind: str
    sql: str
    line: int
    types: str = ""
    sort: str = "nosort"
    expected: list[str] | None = None
    error: str = ""


def parse_file(path: Path) -> list[Record]:
    lines = path.read_text().splitlines()
    out: list[Record] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line or line.startswith("#"):
            i += 1
            continue
        head = line.split()
        start = i + 1
        i += 1
        sql: list[str] = []
        while i < len(lines) and lines[i].strip() and lines[i].strip() != "----":
            sql.append(lines[i])
            i += 1
        rec = Record(head[0], "\n".join(sql), start)
        if head[0] == "statement":
            rec.kind = "statement_" + head[1]
            rec.error = " ".join(head[2:])
        elif head[0] == "query":
            rec.types = head[1]
            rec.sort = head[2] if len(head) > 2 else "nosort"
            rec.expected = []
            if i < len(lines) and lines[i].strip() == "----":
                i += 1
                while i < len(lines) and lines[i].strip():
                    rec.expected.append(lines[i].rstrip("\n"))
                    i += 1
        else:
            raise ValueError(f"{path}:{start}: unknown record {head[0]!r}")
        out.append(rec)
    return out


def render(v: Any, t: str) -> str:
    if v is None:
        return "NULL"
    if t == "R":
        return f"{float(v):.3f}"
    if t == "I":
        return str(int(v))
    if t == "B" or isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, decimal.Decimal):
        return format(v, "f")  # 0E-8 -> 0.00000000, as SQL prints it
    return str(v)


def _run(con: Any, sql: str) -> None:
    rel = con.sql(sql)
    if rel is not None:
        rel.to_arrow()  # relations are lazy: execute to see run-time errors


def run_file(path: Path, con: Any) -> None:
    for rec in parse_file(path):
        where = f"{path.name}:{rec.line}"
        if rec.kind == "statement_ok":
            _run(con, rec.sql)
        elif rec.kind == "statement_error":
            try:
                _run(con, rec.sql)
            except Exception as e:
                if rec.error and rec.error not in str(e):
                    raise AssertionError(
                        f"{where}: error {e!r} does not mention {rec.error!r}"
                    ) from e
            else:
                raise AssertionError(f"{where}: expected an error from\n{rec.sql}")
        else:
            rel = con.sql(rec.sql)
            rows = rel.fetchall()
            got = ["\t".join(render(v, t) for v, t in zip(r, rec.types, strict=True)) for r in rows]
            exp = list(rec.expected or [])
            if rec.sort == "rowsort":
                got, exp = sorted(got), sorted(exp)
            if got != exp:
                raise AssertionError(
                    f"{where}: query\n{rec.sql}\n got:\n"
                    + "\n".join(got)
                    + "\n expected:\n"
                    + "\n".join(exp)
                )
