"""`minide stream ...` subcommands, listed in COMMANDS for minide.cli.

    minide stream dedup --source redis://127.0.0.1:6379/0 --stream S --group G --sink DIR \\
        --schema event_id:int64,user:string,event_time:int64 --until-idle
        (DIR receives Parquet files, committed with each checkpoint; --sink-format log writes
        a minide log instead)
    minide stream dedup --source nats://127.0.0.1:4222 --stream S --group DURABLE --sink DIR ...
    minide stream dedup --source log:PATH --group G --sink DIR --until-idle
    minide stream lag LOG --group G
    minide stream lag --source redis://127.0.0.1:6379/0 --stream S --group G
"""

from __future__ import annotations

import argparse
import json

import pyarrow as pa

from minide._cmd import Command
from minide.errors import InvalidArgumentError

_TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp_ms": pa.timestamp("ms"),
    "timestamp_us": pa.timestamp("us"),
}


def parse_schema(text: str) -> pa.Schema:
    """``name:type,name:type`` with types from int64, int32, float64, string, bool, timestamp_ms/us."""
    fields = []
    for part in text.split(","):
        name, _, typ = part.strip().partition(":")
        if not name or typ not in _TYPES:
            raise InvalidArgumentError(
                f"--schema: cannot read {part!r}; use name:type with type in {', '.join(_TYPES)}"
            )
        fields.append(pa.field(name, _TYPES[typ]))
    return pa.schema(fields)


def _dedup_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source", required=True, help="redis://host:port/db, nats://host:port or log:PATH"
    )
    p.add_argument("--stream", help="Redis stream or JetStream stream name")
    p.add_argument("--group", required=True, help="consumer group")
    p.add_argument("--consumer", default="minide-1", help="Redis consumer name")
    p.add_argument(
        "--sink", required=True, help="output directory (Parquet files, or a minide log)"
    )
    p.add_argument(
        "--sink-format",
        default="parquet",
        choices=["parquet", "log"],
        help="parquet: part-N.parquet files committed with each checkpoint (default)",
    )
    p.add_argument("--schema", help="message schema: name:type,... (required for redis and nats)")
    p.add_argument("--format", default="json", choices=["json", "msgpack"])
    p.add_argument("--key", default="event_id", help="dedup key column(s), comma separated")
    p.add_argument("--time-column", default="event_time")
    p.add_argument("--window", default="1h")
    p.add_argument("--lateness", default="5m")
    p.add_argument("--checkpoint-interval", default="1s")
    p.add_argument("--until-idle", action="store_true", help="stop when the source is drained")


def _dedup(args: argparse.Namespace) -> int:
    import minide.stream as ms

    source: ms.LogSource | ms.RedisStreamSource | ms.NatsSource
    if args.source.startswith("nats://"):
        if not args.stream or not args.schema:
            raise InvalidArgumentError("nats sources need --stream and --schema")
        source = ms.NatsSource(
            args.source,
            args.stream,
            args.group,
            schema=parse_schema(args.schema),
            format=args.format,
        )
    elif args.source.startswith("redis://"):
        if not args.stream or not args.schema:
            raise InvalidArgumentError("redis sources need --stream and --schema")
        source = ms.RedisStreamSource(
            args.source,
            args.stream,
            args.group,
            args.consumer,
            schema=parse_schema(args.schema),
            format=args.format,
        )
    elif args.source.startswith("log:"):
        src_log = ms.Log(args.source[4:], partitions=_partitions(args.source[4:]))
        source = ms.LogSource(src_log, args.group)
    else:
        raise InvalidArgumentError(
            f"--source must be redis://..., nats://... or log:PATH, got {args.source!r}"
        )
    keys = [k.strip() for k in args.key.split(",")]
    sink: ms.ParquetSink | ms.LogSink
    if args.sink_format == "parquet":
        sink = ms.ParquetSink(args.sink)
    else:
        sink = ms.LogSink(ms.Log(args.sink, partitions=1, sync="none"))
    p = ms.Pipeline(
        source,
        [
            ms.dedup(
                keys,
                time_column=args.time_column,
                window=args.window,
                allowed_lateness=args.lateness,
            )
        ],
        sink,
        checkpoint_dir=f"{args.sink}/_checkpoints",
        checkpoint_interval=args.checkpoint_interval,
    )
    try:
        while True:
            if not p.run(max_records=1_000_000, until_idle=args.until_idle) and args.until_idle:
                break
    finally:
        print(json.dumps(p.metrics(), default=str))
        close = getattr(source, "close", None)
        if close is not None:
            close()
    return 0


def _lag_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("log", nargs="?", help="directory of a minide log")
    p.add_argument("--group", required=True)
    p.add_argument("--source", help="redis://host:port/db: lag of a Redis stream's group instead")
    p.add_argument("--stream", help="Redis stream name (with --source)")


def _lag(args: argparse.Namespace) -> int:
    if args.source:
        return _redis_lag(args)
    if not args.log:
        raise InvalidArgumentError("stream lag needs a LOG directory or --source redis://...")
    from minide.stream import Log

    log = Log(args.log, partitions=_partitions(args.log))
    lag = log.consumer(args.group).lag()
    for p, n in lag.items():
        print(f"partition {p}: lag {n}")
    print(f"total: {sum(lag.values())}")
    return 0


def _redis_lag(args: argparse.Namespace) -> int:
    """Entries of ``--stream`` not yet delivered to the group (lag) and delivered but not
    acknowledged (pending), from XINFO GROUPS."""
    import redis

    if not args.source.startswith("redis://") or not args.stream:
        raise InvalidArgumentError("stream lag --source needs redis://... and --stream")
    r = redis.Redis.from_url(args.source)
    try:
        groups = r.xinfo_groups(args.stream)
    except redis.ResponseError as e:
        raise InvalidArgumentError(f"stream {args.stream!r}: {e}") from e
    for g in groups:
        name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
        if name == args.group:
            print(f"pending: {int(g.get('pending', 0))}")
            print(f"lag: {int(g.get('lag') or 0)}")
            return 0
    raise InvalidArgumentError(f"stream {args.stream!r} has no consumer group {args.group!r}")


def _partitions(path: str) -> int:
    from pathlib import Path

    return max(1, len([d for d in Path(path).glob("p*") if d.is_dir()]))


def _stream_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="stream_command", metavar="SUBCOMMAND", required=True)
    d = sub.add_parser(
        "dedup", help="deduplicate a Redis/NATS stream or a minide log into Parquet files"
    )
    _dedup_args(d)
    d.set_defaults(_stream_run=_dedup)
    lag = sub.add_parser(
        "lag", help="rows not yet committed by a consumer group (a minide log or a Redis stream)"
    )
    _lag_args(lag)
    lag.set_defaults(_stream_run=_lag)


def _stream(args: argparse.Namespace) -> int:
    return int(args._stream_run(args) or 0)


#: this engine's ``minide`` subcommands
COMMANDS: tuple[Command, ...] = (
    Command(
        "stream", "streaming: exactly-once dedup pipelines, log consumer lag", _stream, _stream_args
    ),
)
