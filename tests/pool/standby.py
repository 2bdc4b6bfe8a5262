"""A real PostgreSQL physical streaming standby of the local server, for the router tests.

:func:`create_standby` copies the primary (127.0.0.1:5432) with ``pg_basebackup -R`` into a
fresh directory under /tmp and starts it as a hot standby on a free port; the returned
:class:`Standby` pauses and resumes WAL replay on it (``pg_wal_replay_pause()`` /
``pg_wal_replay_resume()``), so a test decides exactly when the standby lags and when it catches
up. The server binaries run as the ``postgres`` OS user (through ``runuser`` when the tests run
as root). No replication slot is created: ``pg_basebackup -X stream`` uses a temporary one that
goes away with its connection, and the standby streams without one, so a killed test run leaves
nothing on the primary that holds WAL back.

The primary must accept replication connections from 127.0.0.1: if it does not, one line
(``HBA_LINE``) is appended to its pg_hba.conf and the configuration reloaded. The line is left
in place (it only adds a permission; other runs, possibly concurrent, rely on it). Standbys left
running by a killed test run (their owner process is gone) are stopped and removed by the next
:func:`create_standby`.

Every failure raises :class:`StandbyError` with the command's output: the tests that need a
standby fail, they are not skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PRIMARY = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
HBA_LINE = "host replication postgres 127.0.0.1/32 trust"
PREFIX = "minide-standby-"
#: settings a hot standby needs at least as high as the primary's
COPIED = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


class StandbyError(AssertionError):
    """The standby could not be created or did not do what was asked in time."""


def _admin(**kw: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(**{**PRIMARY, **kw}, autocommit=True, connect_timeout=5)


def _lsn(text: str | None) -> int:
    hi, _, lo = (text or "0/0").partition("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def _run_as_postgres(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise StandbyError(f"{' '.join(args)} failed: {e}") from e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Standby:
    """A running standby: ``url`` for pools, ``pause()`` / ``resume()`` / ``catch_up()``."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/test"
        self._conn: psycopg.Connection[Any] | None = None

    def _one(self, sql: str) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = _admin(port=self.port)
        row = self._conn.execute(sql).fetchone()
        return row[0] if row else None

    def replay_lsn(self) -> int:
        return _lsn(self._one("SELECT pg_last_wal_replay_lsn()::text"))

    def pause(self, timeout: float = 10) -> None:
        """Stop replaying WAL (the standby keeps receiving it); returns once replay stopped."""
        self._one("SELECT pg_wal_replay_pause()")
        self._wait(
            lambda: self._one("SELECT pg_get_wal_replay_pause_state()") == "paused",
            timeout,
            "replay to pause",
        )

    def resume(self) -> None:
        self._one("SELECT pg_wal_replay_resume()")

    def catch_up(self, timeout: float = 15) -> int:
        """Wait until the standby replayed everything the primary has written by now."""
        with _admin() as c:
            row = c.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        target = _lsn(row[0] if row else None)
        self._wait(
            lambda: self.replay_lsn() >= target,
            timeout,
            f"replay to reach the primary's LSN {target:#x}",
        )
        return target

    def _wait(self, done: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise StandbyError(f"standby on port {self.port}: waited {timeout} s for {what}")
            time.sleep(0.01)

    def log_tail(self, n: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.root / "log").read_text().splitlines()[-n:])
        return "(no log)"

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        _stop_dir(self.root)


def _stop_dir(root: Path) -> None:
    if (root / "data" / "postmaster.pid").exists():
        _run_as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"]
        )
    shutil.rmtree(root, ignore_errors=True)


def _reap_orphans() -> None:
    """Stop and remove standbys whose owning test process is gone (a killed run)."""
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            _stop_dir(root)
        except PermissionError:
            pass  # alive, someone else's


def _check_primary() -> None:
    try:
        with _admin() as c:
            settings = dict(
                c.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN "
                    "('wal_level', 'max_wal_senders')"
                ).fetchall()
            )
            row = c.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
            senders = row[0] if row else 0
    except psycopg.Error as e:
        raise StandbyError(f"cannot reach the primary PostgreSQL at 127.0.0.1:5432: {e}") from e
    if settings.get("wal_level") not in ("replica", "logical"):
        raise StandbyError(
            f"the primary has wal_level={settings.get('wal_level')}: a standby needs 'replica' "
            "(ALTER SYSTEM SET wal_level = replica, then restart PostgreSQL)"
        )
    if int(settings.get("max_wal_senders", 0)) - senders < 3:
        raise StandbyError(
            f"the primary has max_wal_senders={settings.get('max_wal_senders')} with {senders} "
            "in use: pg_basebackup and the standby need 3 free"
        )
    _allow_replication()


def _replication_refused() -> str | None:
    try:
        psycopg.connect(**PRIMARY, replication="true", connect_timeout=5).close()
    except psycopg.OperationalError as e:
        return str(e)
    return None


def _allow_replication() -> None:
    """Append HBA_LINE to the primary's pg_hba.conf and reload if replication is refused."""
    refused = _replication_refused()
    if refused is None:
        return
    if "pg_hba.conf" not in refused:
        raise StandbyError(f"the primary refuses a replication connection: {refused}")
    with _admin() as c:
        row = c.execute("SHOW hba_file").fetchone()
        hba = Path(row[0] if row else "")
        try:
            with hba.open("r+") as f:
                fcntl.flock(f, fcntl.LOCK_EX)  # concurrent test runs append it once
                text = f.read()
                if HBA_LINE not in text.splitlines():
                    f.write(("" if text.endswith("\n") else "\n") + HBA_LINE + "\n")
        except OSError as e:
            raise StandbyError(
                f"the primary refuses replication from 127.0.0.1 and {hba} cannot be "
                f"updated ({e}); add the line {HBA_LINE!r} and reload PostgreSQL"
            ) from e
        c.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 5
    while (refused := _replication_refused()) is not None:
        if time.monotonic() > deadline:
            raise StandbyError(f"replication still refused after adding {HBA_LINE!r}: {refused}")
        time.sleep(0.05)


def create_standby() -> Standby:
    """Copy the primary and start a hot standby of it on a free port (see the module doc)."""
    if not (PG_BIN / "pg_basebackup").exists():
        raise StandbyError(f"no PostgreSQL 15 binaries in {PG_BIN}")
    _reap_orphans()
    _check_primary()
    with _admin() as c:
        copied = dict(
            c.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(COPIED)]
            ).fetchall()
        )
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    (root / "owner").write_text(str(os.getpid()))
    shutil.chown(root, "postgres", "postgres")
    try:
        return _start(root, copied)
    except BaseException:
        _stop_dir(root)
        raise


def _start(root: Path, copied: dict[str, str]) -> Standby:
    data = root / "data"
    # -c fast: an immediate checkpoint instead of waiting for the next one; -N, --no-manifest:
    # a throwaway copy needs neither fsync nor checksums
    res = _run_as_postgres(
        [
            str(PG_BIN / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-D", str(data)),
            *("-R", "-X", "stream", "-c", "fast", "-N", "--no-manifest"),
        ]
    )
    if res.returncode != 0:
        raise StandbyError(f"pg_basebackup failed ({res.returncode}): {res.stderr.strip()}")
    # Debian keeps the configuration in /etc: the copy has none of its own. Everything that
    # matters is given on the command line, which wins over the copied postgresql.auto.conf.
    for name, text in (
        ("postgresql.conf", ""),
        ("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n"),
        ("pg_ident.conf", ""),
    ):
        if not (data / name).exists():
            (data / name).write_text(text)
            shutil.chown(data / name, "postgres", "postgres")
    for _attempt in range(3):
        port = _free_port()
        opts = {
            "port": port,
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(root),
            "cluster_name": f"{PREFIX}{port}",
            "hot_standby": "on",
            "shared_buffers": "16MB",
            "fsync": "off",
            "ssl": "off",
            "wal_receiver_status_interval": "1s",
            **copied,
        }
        o = " ".join(f"-c {k}={v}" for k, v in opts.items())
        res = _run_as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                *("-D", str(data), "-l", str(root / "log"), "-w", "-t", "30", "-o", o, "start"),
            ]
        )
        sb = Standby(root, port)
        if res.returncode == 0:
            break
        if "already in use" not in sb.log_tail():
            raise StandbyError(
                f"the standby did not start ({res.returncode}): {res.stderr.strip()}\n"
                f"{sb.log_tail()}"
            )
    else:
        raise StandbyError(f"no free port for the standby:\n{sb.log_tail()}")
    if sb._one("SELECT pg_is_in_recovery()") is not True:
        raise StandbyError(f"the server on port {port} is not in recovery")
    sb._wait(
        lambda: sb._one("SELECT status FROM pg_stat_wal_receiver") == "streaming",
        15,
        "streaming from the primary",
    )
    return sb
