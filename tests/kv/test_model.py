"""Stateful property test: minide.kv against a dict-of-histories model.

Every rule runs against both the store and the model; reads compare exactly. With a retention
policy ({"versions": N}) compaction may drop old versions, so time-travel reads are compared only
where the policy promises exactness (as_of at or after the key's N-th newest version, or through
a live snapshot), and history only for the versions the policy must keep.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from typing import ClassVar

import minide.kv as kv
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

KEYS = st.sampled_from([b"", b"a", b"a\x00", b"ab", b"b", b"b\xff", "é".encode(), b"zz"])
VALUES = st.binary(max_size=24)
TIMES = st.integers(-5, 25)


@st.composite
def intervals(draw: st.DrawFn) -> tuple[int | None, int | None]:
    lo = draw(st.one_of(st.none(), TIMES))
    hi = draw(st.one_of(st.none(), TIMES))
    if lo is not None and hi is not None and lo >= hi:
        lo, hi = hi, lo + 1 if lo == hi else lo
    return lo, hi


@dataclass
class V:
    ts: int
    value: bytes | None
    vf: int | None
    vt: int | None

    def contains(self, t: int | None) -> bool:
        return t is None or ((self.vf is None or self.vf <= t) and (self.vt is None or t < self.vt))


class KvMachine(RuleBasedStateMachine):
    retention: ClassVar[dict[str, int] | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="minide-kv-model-")
        self.hist: dict[bytes, list[V]] = {}
        self.stamps: list[int] = [0]
        self.snaps: list[tuple[kv.Snapshot, int]] = []
        self.db = self._open()

    def _open(self) -> kv.DB:
        return kv.open(
            self.dir,
            sync="none",
            memtable_size=4096,
            block_size=256,
            retention=self.retention,
        )

    # -- model ----------------------------------------------------------------------------
    def read(self, key: bytes, as_of: int | None, valid_at: int | None) -> bytes | None:
        for v in reversed(self.hist.get(key, [])):
            if (as_of is None or v.ts <= as_of) and v.contains(valid_at):
                return v.value
        return None

    def horizon(self, key: bytes) -> int:
        """Below this as_of, retention may have dropped versions of `key`."""
        hs = self.hist.get(key, [])
        if self.retention is None or len(hs) <= self.retention["versions"]:
            return -1
        return hs[-self.retention["versions"]].ts

    def exact(self, key: bytes, as_of: int | None) -> bool:
        return as_of is None or as_of >= self.horizon(key)

    def record(
        self, ts: int, ops: list[tuple[bytes, bytes | None, int | None, int | None]]
    ) -> None:
        assert ts > self.stamps[-1], "commit timestamps must increase"
        self.stamps.append(ts)
        for k, v, vf, vt in ops:
            self.hist.setdefault(k, []).append(V(ts, v, vf, vt))

    # -- writes ---------------------------------------------------------------------------
    @initialize()
    def start(self) -> None:
        pass

    @rule(k=KEYS, v=VALUES, iv=intervals())
    def put(self, k: bytes, v: bytes, iv: tuple[int | None, int | None]) -> None:
        ts = self.db.put(k, v, valid_from=iv[0], valid_to=iv[1])
        self.record(ts, [(k, v, *iv)])

    @rule(k=KEYS, iv=intervals())
    def delete(self, k: bytes, iv: tuple[int | None, int | None]) -> None:
        ts = self.db.delete(k, valid_from=iv[0], valid_to=iv[1])
        self.record(ts, [(k, None, *iv)])

    @rule(
        ops=st.lists(
            st.tuples(KEYS, st.one_of(st.none(), VALUES), intervals()), min_size=1, max_size=6
        )
    )
    def batch(self, ops: list[tuple[bytes, bytes | None, tuple[int | None, int | None]]]) -> None:
        with self.db.write_batch() as b:
            for k, v, (vf, vt) in ops:
                if v is None:
                    b.delete(k, valid_from=vf, valid_to=vt)
                else:
                    b.put(k, v, valid_from=vf, valid_to=vt)
        assert b.ts is not None
        self.record(b.ts, [(k, v, vf, vt) for k, v, (vf, vt) in ops])

    # -- reads ----------------------------------------------------------------------------
    def pick_as_of(self, i: int | None, back: int) -> int | None:
        if i is None:
            return None
        return max(0, self.stamps[i % len(self.stamps)] - back)

    @rule(
        k=KEYS,
        i=st.one_of(st.none(), st.integers(0, 200)),
        back=st.sampled_from([0, 1]),
        at=st.one_of(st.none(), TIMES),
    )
    def get(self, k: bytes, i: int | None, back: int, at: int | None) -> None:
        as_of = self.pick_as_of(i, back)
        if self.exact(k, as_of):
            assert self.db.get(k, as_of=as_of, valid_at=at) == self.read(k, as_of, at)

    @rule(keys=st.lists(KEYS, max_size=6), at=st.one_of(st.none(), TIMES))
    def get_many(self, keys: list[bytes], at: int | None) -> None:
        assert self.db.get_many(keys, valid_at=at) == [self.read(k, None, at) for k in keys]

    @rule(
        i=st.one_of(st.none(), st.integers(0, 200)),
        at=st.one_of(st.none(), TIMES),
        prefix=st.one_of(st.none(), st.sampled_from([b"a", b"b", b""])),
        reverse=st.booleans(),
    )
    def scan(self, i: int | None, at: int | None, prefix: bytes | None, reverse: bool) -> None:
        as_of = self.pick_as_of(i, 0)
        if not all(self.exact(k, as_of) for k in self.hist):
            return
        want = [
            (k, v)
            for k in sorted(self.hist)
            if (prefix is None or k.startswith(prefix))
            and (v := self.read(k, as_of, at)) is not None
        ]
        if reverse:
            want.reverse()
        got = list(self.db.scan(prefix=prefix, as_of=as_of, valid_at=at, reverse=reverse))
        assert got == want

    @rule(k=KEYS)
    def history(self, k: bytes) -> None:
        got = self.db.history(k)
        hs = self.hist.get(k, [])
        if self.retention is None:
            assert [(g.value, g.system_from, g.valid_from, g.valid_to) for g in got] == [
                (v.value, v.ts, v.vf, v.vt) for v in hs
            ]
            for i, g in enumerate(got):
                assert g.system_to == self.system_to(hs, i)
        else:
            h = self.horizon(k)
            # Versions newer than the horizon are never dropped (at the horizon itself, one batch's
            # earlier writes of the key may be: no read sees them).
            must = [(v.value, v.ts) for v in hs if v.ts > h]
            kept = [(g.value, g.system_from) for g in got]
            assert kept[len(kept) - len(must) :] == must

    @staticmethod
    def system_to(hs: list[V], i: int) -> int | None:
        """First later commit at which newer versions cover all of version i's valid interval."""
        inf = 10**30
        remaining = [
            (-inf if hs[i].vf is None else hs[i].vf, inf if hs[i].vt is None else hs[i].vt)
        ]
        for later in hs[i + 1 :]:
            a = -inf if later.vf is None else later.vf
            b = inf if later.vt is None else later.vt
            pieces = []
            for lo, hi in remaining:
                if lo < min(hi, a):
                    pieces.append((lo, min(hi, a)))
                if max(lo, b) < hi:
                    pieces.append((max(lo, b), hi))
            remaining = pieces
            if not remaining:
                return later.ts
        return None

    # -- snapshots ------------------------------------------------------------------------
    @precondition(lambda self: len(self.snaps) < 3)
    @rule()
    def take_snapshot(self) -> None:
        s = self.db.snapshot()
        self.snaps.append((s, s.ts))

    @precondition(lambda self: bool(self.snaps))
    @rule(k=KEYS, at=st.one_of(st.none(), TIMES), j=st.integers(0, 2))
    def snapshot_get(self, k: bytes, at: int | None, j: int) -> None:
        s, ts = self.snaps[j % len(self.snaps)]
        assert s.get(k, valid_at=at) == self.read(k, ts, at)

    @precondition(lambda self: bool(self.snaps))
    @rule(j=st.integers(0, 2))
    def release_snapshot(self, j: int) -> None:
        s, _ = self.snaps.pop(j % len(self.snaps))
        s.close()

    # -- maintenance ----------------------------------------------------------------------
    @rule()
    def flush(self) -> None:
        self.db.flush()

    @rule()
    def compact(self) -> None:
        self.db.compact()

    @rule()
    def reopen(self) -> None:
        for s, _ in self.snaps:
            s.close()
        self.snaps.clear()
        self.db.close()
        self.db = self._open()
        assert self.db.last_ts >= self.stamps[-1]

    @invariant()
    def latest_matches(self) -> None:
        for k in list(self.hist)[:3]:
            assert self.db.get(k) == self.read(k, None, None)

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class KvRetentionMachine(KvMachine):
    retention: ClassVar[dict[str, int] | None] = {"versions": 2}


TestKvModel = KvMachine.TestCase
TestKvModel.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestKvRetentionModel = KvRetentionMachine.TestCase
TestKvRetentionModel.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
