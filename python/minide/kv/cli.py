"""`minide kv PATH get|put|delete|scan|history|inspect ...`, listed in COMMANDS for minide.cli."""

from __future__ import annotations

import argparse
import datetime as dt

from minide._cmd import Command


def _time(s: str | None) -> int | dt.datetime | None:
    """An int, or an ISO-8601 datetime (naive = UTC)."""
    if s is None:
        return None
    try:
        return int(s)
    except ValueError:
        return dt.datetime.fromisoformat(s)


def _show(b: bytes) -> str:
    try:
        text = b.decode()
    except UnicodeDecodeError:
        return "0x" + b.hex()
    return text if text.isprintable() else repr(b)


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="store directory")
    sub = p.add_subparsers(dest="kv_command", metavar="ACTION", required=True)
    g = sub.add_parser("get", help="print the value of KEY (exit 1 if absent)")
    g.add_argument("key")
    pu = sub.add_parser("put", help="write KEY=VALUE (UTF-8); prints the commit timestamp")
    pu.add_argument("key")
    pu.add_argument("value")
    d = sub.add_parser("delete", help="write a tombstone for KEY; prints the commit timestamp")
    d.add_argument("key")
    for q in (pu, d):
        q.add_argument("--valid-from", default=None, help="int or ISO datetime")
        q.add_argument("--valid-to", default=None, help="int or ISO datetime")
        q.add_argument("--sync", default="always", choices=["always", "batch", "none"])
    s = sub.add_parser("scan", help="print KEY<TAB>VALUE lines in key order")
    s.add_argument("--start", default=None)
    s.add_argument("--end", default=None)
    s.add_argument("--prefix", default=None)
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--reverse", action="store_true")
    for q in (g, s):
        q.add_argument("--as-of", default=None, help="commit timestamp or ISO datetime")
        q.add_argument("--valid-at", default=None, help="int or ISO datetime")
    h = sub.add_parser("history", help="every version of KEY with its system and valid intervals")
    h.add_argument("key")
    sub.add_parser("inspect", help="levels, tables, key ranges, sizes, WAL files")


def _kv(args: argparse.Namespace) -> int:
    import minide.kv as kv

    if args.kv_command == "inspect":
        print(kv.inspect(args.path), end="")
        return 0
    from minide._convert import check_sync

    sync = check_sync(getattr(args, "sync", "batch"), "--sync")
    with kv.open(args.path, sync=sync) as db:
        if args.kv_command == "get":
            v = db.get(args.key, as_of=_time(args.as_of), valid_at=_time(args.valid_at))
            if v is None:
                return 1
            print(_show(v))
        elif args.kv_command == "put":
            ts = db.put(
                args.key,
                args.value.encode(),
                valid_from=_time(args.valid_from),
                valid_to=_time(args.valid_to),
            )
            print(f"committed at ts {ts}")
        elif args.kv_command == "delete":
            ts = db.delete(
                args.key, valid_from=_time(args.valid_from), valid_to=_time(args.valid_to)
            )
            print(f"committed at ts {ts}")
        elif args.kv_command == "scan":
            rows = db.scan(
                args.start,
                args.end,
                prefix=args.prefix,
                as_of=_time(args.as_of),
                valid_at=_time(args.valid_at),
                reverse=args.reverse,
            )
            for n, (k, v) in enumerate(rows):
                if args.limit is not None and n >= args.limit:
                    break
                print(f"{_show(k)}\t{_show(v)}")
        elif args.kv_command == "history":
            print("system_from\tsystem_to\tvalid_from\tvalid_to\tvalue")
            for ver in db.history(args.key):
                value = "<deleted>" if ver.value is None else _show(ver.value)
                print(
                    f"{ver.system_from}\t{ver.system_to or '-'}\t"
                    f"{'-' if ver.valid_from is None else ver.valid_from}\t"
                    f"{'-' if ver.valid_to is None else ver.valid_to}\t{value}"
                )
    return 0


#: this engine's ``minide`` subcommands
COMMANDS: tuple[Command, ...] = (
    Command(
        "kv",
        "the bitemporal key-value store: get, put, delete, scan, history, inspect",
        _kv,
        _configure,
    ),
)
