"""The ``minide`` command line: ``minide --help`` lists the subcommands.

The face imports the engines, never the reverse: each engine lists its subcommands as plain
:class:`minide._cmd.Command` records in ``minide/<engine>/cli.py`` (``COMMANDS``), and
:func:`engine_commands` imports those lists from the explicit list below.
"""

from __future__ import annotations

import argparse
import sys

from minide._cmd import Command


def _version(args: argparse.Namespace) -> int:
    from minide import _core

    print(f"minide {_core.__version__} ({_core.BUILD_PROFILE} build)")
    return 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of generated data per chapter")
    p.add_argument("--seed", type=int, default=42)


def _demo(args: argparse.Namespace) -> int:
    from minide.demo import run

    return run(rows=args.rows, seed=args.seed)


def _bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", help="bench names (default: all under benches/)")
    p.add_argument(
        "--size",
        default="small",
        choices=["tiny", "small", "large"],
        help="data size per case (tiny is for smoke tests)",
    )
    p.add_argument("--dir", default=None, help="benches directory (default: the repo's benches/)")
    p.add_argument("--out", default=None, help="where to write JSON results")
    p.add_argument("--list", action="store_true", help="list the benches and exit")
    p.add_argument(
        "--report",
        action="store_true",
        help="print the newest results of every bench (or of NAMES) from the results folder",
    )


def _bench(args: argparse.Namespace) -> int:
    from minide.bench import main as bench_main

    return bench_main(
        args.names,
        size=args.size,
        bench_dir=args.dir,
        out_dir=args.out,
        list_only=args.list,
        report=args.report,
    )


#: the face's own subcommands
FACE_COMMANDS: tuple[Command, ...] = (
    Command("version", "print minide's version and build", _version),
    Command("demo", "a guided tour of every engine on generated data", _demo, _demo_args),
    Command(
        "bench",
        "run benchmarks against their baselines; print ratios, write JSON",
        _bench,
        _bench_args,
    ),
)


def engine_commands() -> tuple[Command, ...]:
    """Every engine's subcommands, from this explicit list (its order is `minide --help`'s)."""
    from minide.columnar.cli import COMMANDS as columnar
    from minide.kv.cli import COMMANDS as kv
    from minide.pool.cli import COMMANDS as pool
    from minide.replication.cli import COMMANDS as replication
    from minide.sql.cli import COMMANDS as sql
    from minide.stream.cli import COMMANDS as stream

    return (*columnar, *sql, *kv, *stream, *replication, *pool)


def build_parser() -> argparse.ArgumentParser:
    from minide import _core

    parser = argparse.ArgumentParser(
        prog="minide",
        description=(
            "minide: from-scratch data engines (Parquet, SQL, kv, stream, replication, pool)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"minide {_core.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in (*FACE_COMMANDS, *engine_commands()):
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_handler=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "_handler", None)
    if handler is None:
        parser.print_help()
        return 0
    from minide.errors import MinideError

    try:
        return int(handler(args) or 0)
    except MinideError as e:
        print(f"minide {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
