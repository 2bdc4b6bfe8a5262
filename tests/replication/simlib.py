"""A random workload for the simulator with an independent ledger of acknowledged writes.

The ledger is the oracle: it records, for every acknowledged write and delete, the dot that
names it (the coordinator's actor and its entry in the returned context) and, per key, the
merge of every context a client passed with a write. An acknowledged write may legitimately
disappear only if some later client write saw it (its context covers the dot); anything else
missing is a lost write.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import minide.replication as mr


@dataclass
class Ledger:
    #: (key, dot, value or None for a delete, context the client passed) in acknowledgement order
    acked: list[tuple[bytes, tuple[str, int], bytes | None, mr.VectorClock | None]] = field(
        default_factory=list
    )

    def record(
        self,
        sim: mr.Simulator,
        region: str,
        key: bytes,
        value: bytes | None,
        ctx_in: mr.VectorClock | None,
        ctx_out: mr.VectorClock,
    ) -> None:
        actor = sim.actor(region)
        self.acked.append((key, (actor, ctx_out.get(actor)), value, ctx_in))

    def lost(self, sim: mr.Simulator) -> list[str]:
        """Acknowledged writes missing from some region although no later client write saw them."""
        out = []
        dots = [(k, d) for k, d, _, _ in self.acked]  # dots name events per key
        if len(set(dots)) != len(dots):
            out.append("two acknowledged writes share a dot (an actor id was reused)")
        for region in sim.names:
            for i, (key, (actor, n), value, _) in enumerate(self.acked):
                present = {(a, c): v for a, c, _, v in sim.object(region, key).siblings}
                if (actor, n) in present and present[(actor, n)] == value:
                    continue
                if any(
                    k == key and ctx is not None and ctx.covers(actor, n)
                    for k, _, _, ctx in self.acked[i + 1 :]
                ):
                    continue  # a client read this write and replaced it
                out.append(f"{region}: write {value!r} to {key!r} as ({actor},{n}) lost")
        return out


def random_run(
    seed: int,
    ops: int = 1000,
    regions: int = 5,
    keys: int = 25,
    drop: float = 0.05,
    duplicate: float = 0.05,
    new_epoch_on_wipe: bool = True,
) -> tuple[mr.Simulator, Ledger]:
    """Random reads, read-modify-writes, blind writes, deletes, partitions, heals, anti-entropy,
    disk losses (kv679) and partial delivery; then heal and settle."""
    rng = random.Random(seed)
    sim = mr.Simulator(
        regions,
        seed=seed,
        drop=drop,
        duplicate=duplicate,
        trace_limit=0,
        new_epoch_on_wipe=new_epoch_on_wipe,
    )
    ledger = Ledger()
    names = sim.names
    keyspace = [f"key-{i}".encode() for i in range(keys)]
    for i in range(ops):
        region = rng.choice(names)
        key = rng.choice(keyspace)
        r = rng.random()
        if r < 0.45:  # read-modify-write
            ctx = sim.get(region, key, read_repair=rng.random() < 0.1).context
            value = f"v{i}".encode()
            ledger.record(sim, region, key, value, ctx, sim.put(region, key, value, ctx))
        elif r < 0.65:  # blind write: concurrent with everything
            value = f"b{i}".encode()
            ledger.record(sim, region, key, value, None, sim.put(region, key, value))
        elif r < 0.72:
            ctx = sim.get(region, key).context
            ledger.record(sim, region, key, None, ctx, sim.delete(region, key, ctx))
        elif r < 0.80:
            sim.get(region, key, read_repair=True)
        elif r < 0.84:
            shuffled = names[:]
            rng.shuffle(shuffled)
            cut = rng.randint(1, len(names) - 1)
            sim.partition(set(shuffled[:cut]), set(shuffled[cut:]))
        elif r < 0.88:
            sim.heal()
        elif r < 0.91:
            a, b = rng.sample(names, 2)
            sim.anti_entropy(a, b)
        elif r < 0.93:
            sim.retry_hints()
        elif r < 0.935:
            # a region loses its disk, once everything it acknowledged has replicated (writes
            # only it held would be lost by any design); it restarts under a new epoch
            sim.heal()
            sim.settle()
            sim.wipe(region)
        for _ in range(rng.randint(0, 12)):
            sim.step()
    sim.heal()
    sim.settle()
    return sim, ledger
