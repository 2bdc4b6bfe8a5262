"""``minide sql``: run SQL from the command line or an interactive shell.

    minide sql --file data.parquet AS t -c "SELECT count(*) FROM t"
    minide sql --file lineitem.parquet          # shell; the table is called "lineitem"

Shell commands: ``.explain <query>`` (``.explain analyze <query>``), ``.timer on|off``,
``.tables``, ``.quit``. Statements end with ``;``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from minide._cmd import Command
from minide.errors import MinideError


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--file",
        nargs="+",
        action="append",
        default=[],
        metavar="PATH [AS NAME]",
        help="register a .parquet/.csv file or Hive dataset directory (repeatable)",
    )
    p.add_argument("-c", dest="sql_command", default=None, help="run this SQL and exit")
    p.add_argument(
        "--threads", type=int, default=None, help="executor threads (default: all cores)"
    )


def _register_files(con: object, specs: list[list[str]]) -> None:
    for spec in specs:
        path = spec[0]
        name = Path(path).stem
        if len(spec) == 3 and spec[1].lower() == "as":
            name = spec[2]
        elif len(spec) != 1:
            raise MinideError(f"--file expects PATH or PATH AS NAME, got {' '.join(spec)}")
        con.register(name, path)  # type: ignore[attr-defined]


def _run(con: object, sql: str, timer: bool, out: object = None) -> None:
    from minide.sql.format import format_table

    out = out or sys.stdout
    t0 = time.perf_counter()
    rel = con.sql(sql)  # type: ignore[attr-defined]
    if rel is not None:
        table = rel.to_arrow()
        print(format_table(table), file=out)  # type: ignore[call-overload]
    if timer:
        print(f"Run Time: {(time.perf_counter() - t0) * 1e3:.2f} ms", file=out)  # type: ignore[call-overload]


def shell(con: object, inp: object = sys.stdin) -> int:
    timer = False
    buf: list[str] = []
    interactive = hasattr(inp, "isatty") and inp.isatty()  # type: ignore[attr-defined]
    while True:
        if interactive:
            try:
                line = input("minide> " if not buf else "   ...> ")
            except EOFError:
                break
        else:
            raw = inp.readline()  # type: ignore[attr-defined]
            if not raw:
                break
            line = raw.rstrip("\n")
        stripped = line.strip()
        if not buf and stripped.startswith("."):
            cmd, _, rest = stripped.partition(" ")
            try:
                if cmd in (".quit", ".exit"):
                    break
                if cmd == ".timer":
                    timer = rest.strip().lower() != "off"
                    print(f"timer {'on' if timer else 'off'}")
                elif cmd == ".tables":
                    print("\n".join(con.tables()))  # type: ignore[attr-defined]
                elif cmd == ".explain":
                    analyze = rest.lower().startswith("analyze ")
                    q = rest[len("analyze ") :] if analyze else rest
                    print(con.explain(q.rstrip(";"), analyze=analyze))  # type: ignore[attr-defined]
                else:
                    print("commands: .explain [analyze] <query>, .timer on|off, .tables, .quit")
            except MinideError as e:
                print(f"Error: {e}")
            continue
        buf.append(line)
        if stripped.endswith(";"):
            sql = "\n".join(buf)
            buf = []
            try:
                _run(con, sql, timer)
            except MinideError as e:
                print(f"Error: {e}")
    return 0


def main(args: argparse.Namespace) -> int:
    from minide._convert import resolve_threads
    from minide.sql import connect

    con = connect()
    con.set("threads", resolve_threads(args.threads, "--threads"))
    try:
        _register_files(con, args.file)
        if args.sql_command is not None:
            _run(con, args.sql_command, timer=False)
            return 0
    except MinideError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return shell(con)


#: this engine's ``minide`` subcommands
COMMANDS: tuple[Command, ...] = (
    Command(
        "sql",
        "run SQL over Parquet/CSV files: -c 'SELECT ...' or an interactive shell",
        main,
        _configure,
    ),
)
