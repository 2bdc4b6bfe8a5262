"""`minide replication ...` subcommands, listed in COMMANDS for minide.cli.

``minide replication demo`` starts 3 region processes on loopback (LocalCluster), partitions
them, writes on both sides, heals and prints siblings and convergence time.
``minide replication sim`` tells the same story in the deterministic simulator, with its trace.
"""

from __future__ import annotations

import argparse

from minide._cmd import Command


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["demo", "sim"], help="demo: real processes; sim: simulator")
    p.add_argument("--seed", type=int, default=42, help="simulator seed (same seed, same run)")
    p.add_argument("--keys", type=int, default=2_000, help="keys written before the partition")


def _replication(args: argparse.Namespace) -> int:
    if args.what == "sim":
        from minide.replication.demo import tour

        tour(seed=args.seed, keys=args.keys)
    else:
        from minide.replication.demo import cluster_tour

        cluster_tour(keys=args.keys)
    return 0


#: this engine's ``minide`` subcommands
COMMANDS: tuple[Command, ...] = (
    Command(
        "replication",
        "replication: `demo` (3 local processes) or `sim` (simulator)",
        _replication,
        _args,
    ),
)
