"""minide.kv vs RocksDB (rocksdict), LMDB (lmdb) and SQLite (WAL mode), one Case per baseline.

Data: N random 16-byte keys with 100-byte random values (N = 10k tiny, 200k small, 1M large).
- put: N puts in write batches of 1,000 into a fresh store (no fsync per batch on either side:
  minide sync="none", RocksDB default WriteOptions, LMDB sync=False, SQLite synchronous=OFF);
- get: N random point gets one call at a time; get_many: the same keys in calls of 1,000
  (RocksDB multi-get, LMDB Cursor.getmulti, SQLite `IN (...)`);
- scan: a full ordered scan, each side through its fastest iterator of (key, value) pairs
  (minide's chunked scanner, RocksDB ``Rdict.items()``, an LMDB cursor, a SQLite cursor);
- as-of get: N/100 keys x 100 versions; gets at the timestamp of the 10th version. The baselines
  store (key, version) as key || big-endian(~ts) and seek to the first entry at or below it.
Space after full compaction (minide compact() vs RocksDB compact_range) is in the put case's
`extra`.

Threads: one calling thread on every side (no store here takes a thread count for its calls).
In the background, minide runs one flush/compaction thread; RocksDB keeps its default background
jobs (2); LMDB and SQLite have none. The harness records these as one-thread "caller" pools.

Caches: the read cases open every store once, load it, compact it (minide and RocksDB) and keep it
open: after the warm-up call, every side reads with its caches warm (minide's block cache at its
default 64 MiB and RocksDB's set to the same size; LMDB's and SQLite's pages through the OS page
cache, SQLite's own page cache at its default) and the files in the OS page cache. The put cases write into a fresh directory per call, so no
side keeps anything between calls. Every side returns Python bytes (RocksDB in raw mode).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import lmdb
import minide.kv as kv
import numpy as np
import rocksdict
from minide.bench import Case
from minide.bench.pools import Caller

MINIDE = Caller("minide.kv calls; 1 background flush/compaction thread")
ROCKS = Caller("rocksdict calls; RocksDB's default 2 background jobs")
LMDB = Caller("lmdb calls")
SQLITE = Caller("sqlite3 calls")


def _pool(baseline_name: str) -> Caller:
    return {"RocksDB": ROCKS, "LMDB": LMDB, "SQLite": SQLITE}[baseline_name.split()[0]]


N = {"tiny": 10_000, "small": 200_000, "large": 1_000_000}
BATCH = 1000
#: minide.kv's default block cache (KvOptions.block_cache_bytes); RocksDB gets the same
MINIDE_BLOCK_CACHE = 64 << 20
VERSIONS = 100
ROOT = Path(tempfile.mkdtemp(prefix="minide-kv-bench-"))


def _dir(name: str) -> Path:
    d = ROOT / name
    shutil.rmtree(d, ignore_errors=True)
    return d


def dir_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _data(n: int, seed: int = 7) -> tuple[list[bytes], list[bytes]]:
    rng = np.random.default_rng(seed)
    raw = rng.bytes(16 * n)
    keys = list(dict.fromkeys(raw[i : i + 16] for i in range(0, 16 * n, 16)))
    vals = rng.bytes(100 * len(keys))
    return keys, [vals[i * 100 : (i + 1) * 100] for i in range(len(keys))]


def rocks_options() -> rocksdict.Options:
    """RocksDB with raw bytes and a block cache of minide's default size (64 MiB), so both
    stores read from caches of the same size."""
    opts = rocksdict.Options(raw_mode=True)
    table = rocksdict.BlockBasedOptions()
    table.set_block_cache(rocksdict.Cache(MINIDE_BLOCK_CACHE))
    opts.set_block_based_table_factory(table)
    return opts


# -- loaders -----------------------------------------------------------------------------------
def load_minide(path: Path, keys: list[bytes], vals: list[bytes]) -> kv.DB:
    db = kv.open(path, sync="none")
    for s in range(0, len(keys), BATCH):
        with db.write_batch() as b:
            for k, v in zip(keys[s : s + BATCH], vals[s : s + BATCH], strict=True):
                b.put(k, v)
    return db


def load_rocks(path: Path, keys: list[bytes], vals: list[bytes]) -> rocksdict.Rdict:
    db = rocksdict.Rdict(str(path), options=rocks_options())
    for s in range(0, len(keys), BATCH):
        wb = rocksdict.WriteBatch(raw_mode=True)
        for k, v in zip(keys[s : s + BATCH], vals[s : s + BATCH], strict=True):
            wb.put(k, v)
        db.write(wb)
    return db


def load_lmdb(path: Path, keys: list[bytes], vals: list[bytes]) -> lmdb.Environment:
    env = lmdb.open(str(path), map_size=1 << 34, sync=False, metasync=False)
    for s in range(0, len(keys), BATCH):
        with env.begin(write=True) as txn:
            for k, v in zip(keys[s : s + BATCH], vals[s : s + BATCH], strict=True):
                txn.put(k, v)
    return env


def load_sqlite(path: Path, keys: list[bytes], vals: list[bytes]) -> sqlite3.Connection:
    path.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path / "db.sqlite", isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
    for s in range(0, len(keys), BATCH):
        con.execute("BEGIN")
        con.executemany(
            "INSERT OR REPLACE INTO kv VALUES (?, ?)",
            zip(keys[s : s + BATCH], vals[s : s + BATCH], strict=True),
        )
        con.execute("COMMIT")
    return con


def _close(h: Any) -> None:
    if isinstance(h, kv.DB | rocksdict.Rdict | lmdb.Environment | sqlite3.Connection):
        h.close()


# -- cases -------------------------------------------------------------------------------------
def _put_cases(n: int, keys: list[bytes], vals: list[bytes]) -> list[Case]:
    out = []
    loaders = {
        "RocksDB WriteBatch": load_rocks,
        "LMDB txn/batch": load_lmdb,
        "SQLite WAL executemany": load_sqlite,
    }
    for name, loader in loaders.items():

        def run_m() -> Path:
            p = _dir("put-minide")
            _close(load_minide(p, keys, vals))
            return p

        def run_b(loader: Any = loader, name: str = name) -> Path:
            p = _dir("put-" + name.split()[0])
            _close(loader(p, keys, vals))
            return p

        extra = None
        if loader is load_rocks:

            def extra(pm: Path, pb: Path) -> dict[str, float]:
                with kv.open(pm) as db:
                    db.compact()
                r = rocksdict.Rdict(str(pb), options=rocks_options())
                r.compact_range(None, None)
                r.close()
                m, b = dir_bytes(pm), dir_bytes(pb)
                return {"minide_bytes": m, "rocksdb_bytes": b, "space_ratio": m / b}

        out.append(
            Case(
                name=f"put {n:,} in batches of {BATCH}",
                minide=run_m,
                baseline=run_b,
                baseline_name=name,
                items=n,
                repeat=3,
                extra=extra,
                minide_pools=[MINIDE],
                baseline_pools=[_pool(name)],
            )
        )
    return out


def _read_cases(n: int, keys: list[bytes], vals: list[bytes]) -> list[Case]:
    m = load_minide(_dir("read-minide"), keys, vals)
    m.compact()
    r = load_rocks(_dir("read-rocks"), keys, vals)
    r.compact_range(None, None)
    env = load_lmdb(_dir("read-lmdb"), keys, vals)
    con = load_sqlite(_dir("read-sqlite"), keys, vals)
    rng = np.random.default_rng(11)
    probe = [keys[i] for i in rng.integers(0, len(keys), n)]
    want = dict(zip(keys, vals, strict=True))
    expect = [want[k] for k in probe]

    def same(a: list[bytes | None], b: list[bytes | None]) -> None:
        if list(a) != list(b) or list(a) != expect:
            raise AssertionError("stores disagree")

    def m_get() -> list[bytes | None]:
        g = m.get
        return [g(k) for k in probe]

    def m_many() -> list[bytes | None]:
        out: list[bytes | None] = []
        for s in range(0, len(probe), BATCH):
            out.extend(m.get_many(probe[s : s + BATCH]))
        return out

    def r_get() -> list[bytes | None]:
        g = r.get
        return [g(k) for k in probe]

    def r_many() -> list[bytes | None]:
        out: list[bytes | None] = []
        for s in range(0, len(probe), BATCH):
            out.extend(r.get(probe[s : s + BATCH]))
        return out

    def l_get() -> list[bytes | None]:
        with env.begin(buffers=False) as txn:
            g = txn.get
            return [g(k) for k in probe]

    def l_many() -> list[bytes | None]:
        out: list[bytes | None] = []
        with env.begin() as txn, txn.cursor() as cur:
            for s in range(0, len(probe), BATCH):
                chunk = probe[s : s + BATCH]
                found = dict(cur.getmulti(chunk))
                out.extend(found.get(k) for k in chunk)
        return out

    def s_get() -> list[bytes | None]:
        ex = con.execute
        out = []
        for k in probe:
            row = ex("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
            out.append(row[0] if row else None)
        return out

    def s_many() -> list[bytes | None]:
        out: list[bytes | None] = []
        for s in range(0, len(probe), BATCH):
            chunk = probe[s : s + BATCH]
            q = f"SELECT k, v FROM kv WHERE k IN ({','.join('?' * len(chunk))})"
            found = dict(con.execute(q, chunk).fetchall())
            out.extend(found.get(k) for k in chunk)
        return out

    scan_expect = len(keys)

    def count(a: int, b: int) -> None:
        if a != b or a != scan_expect:
            raise AssertionError(f"scan counts differ: {a} vs {b}")

    def m_scan() -> int:
        return sum(1 for _ in m.scan())

    def r_scan() -> int:
        # items() steps the iterator in Rust and returns (key, value): the fastest of rocksdict's
        # scan APIs (200k keys: ~73 ms of thread CPU time against ~149 ms for RdictIter's
        # valid/key/value/next, four Python calls per row; a ReadOptions readahead changed nothing)
        return sum(1 for _ in r.items())

    def l_scan() -> int:
        with env.begin() as txn, txn.cursor() as cur:
            return sum(1 for _ in cur)

    def s_scan() -> int:
        return sum(1 for _ in con.execute("SELECT k, v FROM kv ORDER BY k"))

    out = []
    for op, mf, bases in (
        ("get", m_get, [("LMDB txn.get", l_get), ("RocksDB get", r_get), ("SQLite select", s_get)]),
        (
            f"get_many x{BATCH}",
            m_many,
            [
                ("LMDB cursor.getmulti", l_many),
                ("RocksDB multi-get", r_many),
                ("SQLite IN (...)", s_many),
            ],
        ),
    ):
        for name, bf in bases:
            out.append(
                Case(
                    name=f"{op} {n:,} random keys",
                    minide=mf,
                    baseline=bf,
                    baseline_name=name,
                    items=n,
                    repeat=3,
                    verify=same,
                    minide_pools=[MINIDE],
                    baseline_pools=[_pool(name)],
                )
            )
    for name, bf in (
        ("LMDB cursor", l_scan),
        ("RocksDB Rdict.items()", r_scan),
        ("SQLite ORDER BY", s_scan),
    ):
        out.append(
            Case(
                name=f"full scan {len(keys):,}",
                minide=m_scan,
                baseline=bf,
                baseline_name=name,
                items=len(keys),
                repeat=3,
                verify=count,
                minide_pools=[MINIDE],
                baseline_pools=[_pool(name)],
            )
        )
    return out


def _asof_cases(n: int) -> list[Case]:
    nkeys = max(n // VERSIONS, 100)
    keys, _ = _data(nkeys, seed=3)
    m = kv.open(_dir("asof-minide"), sync="none")
    r = rocksdict.Rdict(str(_dir("asof-rocks")), options=rocks_options())
    env = lmdb.open(str(_dir("asof-lmdb")), map_size=1 << 34, sync=False, metasync=False)
    sp = _dir("asof-sqlite")
    sp.mkdir(parents=True)
    con = sqlite3.connect(sp / "db.sqlite", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TABLE kv (k BLOB, ts INTEGER, v BLOB, PRIMARY KEY (k, ts)) WITHOUT ROWID")
    stamps = []
    for ver in range(VERSIONS):
        val = b"%03d" % ver + b"x" * 97
        for s in range(0, nkeys, BATCH):
            chunk = keys[s : s + BATCH]
            with m.write_batch() as b:
                for k in chunk:
                    b.put(k, val)
            ts = b.ts
            assert ts is not None
            if s == 0:
                stamps.append(ts)
            suffix = (~ts & (2**64 - 1)).to_bytes(8, "big")
            wb = rocksdict.WriteBatch(raw_mode=True)
            for k in chunk:
                wb.put(k + suffix, val)
            r.write(wb)
            with env.begin(write=True) as txn:
                for k in chunk:
                    txn.put(k + suffix, val)
            con.execute("BEGIN")
            con.executemany("INSERT INTO kv VALUES (?, ?, ?)", [(k, ts, val) for k in chunk])
            con.execute("COMMIT")
    m.compact()
    r.compact_range(None, None)
    # Read as of the last batch of the 10th version: every key has exactly 10 versions visible.
    as_of = _last_ts_of_round(m, keys, 10)
    rng = np.random.default_rng(5)
    probe = [keys[i] for i in rng.integers(0, nkeys, n // 10)]
    want = b"010" + b"x" * 97
    seek_suffix = (~as_of & (2**64 - 1)).to_bytes(8, "big")

    def check(a: list[bytes | None], b: list[bytes | None]) -> None:
        if any(x != want for x in a) or list(a) != list(b):
            raise AssertionError("as-of reads disagree")

    def m_asof() -> list[bytes | None]:
        g = m.get
        return [g(k, as_of=as_of) for k in probe]

    def r_asof() -> list[bytes | None]:
        it = r.iter()
        out: list[bytes | None] = []
        for k in probe:
            it.seek(k + seek_suffix)
            out.append(it.value() if it.valid() and it.key()[:16] == k else None)
        return out

    def l_asof() -> list[bytes | None]:
        out: list[bytes | None] = []
        with env.begin() as txn, txn.cursor() as cur:
            for k in probe:
                ok = cur.set_range(k + seek_suffix)
                out.append(cur.value() if ok and cur.key()[:16] == k else None)
        return out

    def s_asof() -> list[bytes | None]:
        ex = con.execute
        q = "SELECT v FROM kv WHERE k = ? AND ts <= ? ORDER BY ts DESC LIMIT 1"
        out = []
        for k in probe:
            row = ex(q, (k, as_of)).fetchone()
            out.append(row[0] if row else None)
        return out

    return [
        Case(
            name=f"as-of get {len(probe):,} ({nkeys:,} keys x {VERSIONS} versions)",
            minide=m_asof,
            baseline=bf,
            baseline_name=name,
            items=len(probe),
            repeat=3,
            verify=check,
            minide_pools=[MINIDE],
            baseline_pools=[_pool(name)],
        )
        for name, bf in (
            ("RocksDB seek key||~ts", r_asof),
            ("LMDB set_range key||~ts", l_asof),
            ("SQLite ts<=? ORDER BY LIMIT 1", s_asof),
        )
    ]


def _last_ts_of_round(db: kv.DB, keys: list[bytes], ver: int) -> int:
    """The commit ts of the last batch of version round `ver` (all keys have `ver`+1 versions)."""
    hist = db.history(keys[-1])
    return hist[ver].system_from


def cases(size: str) -> list[Case]:
    n = N[size]
    keys, vals = _data(n)
    return _put_cases(n, keys, vals) + _read_cases(n, keys, vals) + _asof_cases(n)
