"""The ``minide`` command line: ``minide --help`` lists the subcommands.

Each engine adds its subcommand with :func:`command`; the parser is built from that registry, so
this file never needs to know every engine.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int | None]
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = []


def command(
    name: str, help: str, configure: Callable[[argparse.ArgumentParser], None] | None = None
):
    """Register ``minide NAME``: ``configure`` adds its arguments, the decorated function runs it."""

    def deco(fn: Handler) -> Handler:
        _COMMANDS.append((name, help, configure or (lambda p: None), fn))
        return fn

    return deco


@command("version", "print minide's version and build")
def _version(args: argparse.Namespace) -> int:
    from minide import _core

    print(f"minide {_core.__version__} ({_core.BUILD_PROFILE} build)")
    return 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of generated data per chapter")
    p.add_argument("--seed", type=int, default=42)


@command("demo", "a guided tour of every engine on generated data", _demo_args)
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


@command("bench", "run benchmarks against their baselines; print ratios, write JSON", _bench_args)
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


# Engine packages register their subcommands when imported; order = order in `minide --help`.
ENGINE_CLIS = (
    "minide.columnar.cli",
    "minide.sql.cli",
    "minide.kv.cli",
    "minide.stream.cli",
    "minide.replication.cli",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from minide import _core

    for mod in ENGINE_CLIS:
        importlib.import_module(mod)

    parser = argparse.ArgumentParser(
        prog="minide",
        description="minide: from-scratch data engines (Parquet, SQL, kv, stream, replication).",
    )
    parser.add_argument("--version", action="version", version=f"minide {_core.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, configure, fn in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure(p)
        p.set_defaults(_handler=fn)
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
    # Under `python -m minide.cli` this file runs as `__main__`, a second copy of the module;
    # engine packages register their commands on the importable `minide.cli`, so dispatch there.
    from minide.cli import main as _main

    sys.exit(_main())
