"""A Hypothesis state machine over the simulator: failures shrink to a short history.

Rules are client writes (read-modify-write or blind), deletes, partitions, heals, lossy partial
delivery and wipes-free anti-entropy; invariants are read-your-writes at the coordinator and,
at teardown, convergence with no acknowledged write lost (the same ledger oracle as simlib).
"""

from __future__ import annotations

import minide.replication as mr
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule
from simlib import Ledger

REGIONS = ["us", "eu", "ap"]
KEYS = [b"a", b"b", b"c"]


class SimMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim = mr.Simulator(REGIONS, seed=0, drop=0.1, duplicate=0.1, trace_limit=0)
        self.ledger = Ledger()
        self.n = 0

    @rule(region=st.sampled_from(REGIONS), key=st.sampled_from(KEYS), rmw=st.booleans())
    def put(self, region: str, key: bytes, rmw: bool) -> None:
        self.n += 1
        value = f"v{self.n}".encode()
        ctx = self.sim.get(region, key).context if rmw else None
        out = self.sim.put(region, key, value, ctx)
        self.ledger.record(self.sim, region, key, value, ctx, out)
        assert value in self.sim.get(region, key).values, "read-your-writes at the coordinator"

    @rule(region=st.sampled_from(REGIONS), key=st.sampled_from(KEYS))
    def delete(self, region: str, key: bytes) -> None:
        ctx = self.sim.get(region, key).context
        out = self.sim.delete(region, key, ctx)
        self.ledger.record(self.sim, region, key, None, ctx, out)
        assert self.sim.get(region, key).values == [], "the coordinator saw everything it deleted"

    @rule(cut=st.sets(st.sampled_from(REGIONS), min_size=1, max_size=2))
    def partition(self, cut: set[str]) -> None:
        self.sim.partition(cut)

    @rule()
    def heal(self) -> None:
        self.sim.heal()

    @rule(n=st.integers(1, 20))
    def deliver(self, n: int) -> None:
        for _ in range(n):
            self.sim.step()

    @rule(a=st.sampled_from(REGIONS), b=st.sampled_from(REGIONS))
    def anti_entropy(self, a: str, b: str) -> None:
        if a != b:
            self.sim.anti_entropy(a, b)

    def teardown(self) -> None:
        self.sim.heal()
        self.sim.settle()
        assert self.sim.divergent_keys() == set()
        assert self.ledger.lost(self.sim) == []


TestSimMachine = SimMachine.TestCase
TestSimMachine.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
