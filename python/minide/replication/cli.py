"""`minide replication ...` subcommands, registered with minide.cli.command."""

from __future__ import annotations

import argparse

from minide.cli import command


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=42, help="simulator seed (same seed, same run)")
    p.add_argument("--keys", type=int, default=2_000, help="keys written before the partition")


@command(
    "replication",
    "replication demo: partition 3 simulated regions, write on both sides, heal, converge",
    _demo_args,
)
def _replication(args: argparse.Namespace) -> int:
    from minide.replication.demo import tour

    tour(seed=args.seed, keys=args.keys)
    return 0
