"""Run some cases of a bench in a fresh process started with a given environment.

Polars sizes its pool when it is imported and rayon its global pool when it is first used, both
from an environment variable (``POLARS_MAX_THREADS``, ``RAYON_NUM_THREADS``); neither can be
resized afterwards. A case whose such pool reads another count than the case's is therefore run
here: ``python -m minide.bench.child NAME PATH SIZE INDICES OUT`` loads the bench module afresh
(same data, same seeds), runs the cases at ``INDICES`` (comma-separated positions in
``cases(size)``) through the same harness checks, and writes their results as JSON to ``OUT``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from minide.errors import InvalidArgumentError


def _child(
    args: list[str], name: str, path: Path, size: str, indices: list[int], env: dict[str, str]
) -> Any:
    with tempfile.TemporaryDirectory(prefix="minide-bench-child-") as tmp:
        out = Path(tmp) / "results.json"
        proc = subprocess.run(
            [
                # env(1) starts the child with this process's environment plus the pool sizes
                # it must start with; nothing here reads the environment
                "env",
                *(f"{k}={v}" for k, v in env.items()),
                sys.executable,
                "-m",
                "minide.bench.child",
                *args,
                name,
                str(path),
                size,
                ",".join(map(str, indices)),
                str(out),
                json.dumps(env),
            ],
            capture_output=True,
            text=True,
        )
        if proc.stdout.strip():
            print(proc.stdout.rstrip())
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise InvalidArgumentError(
                f"bench {name}: cases {indices} in a fresh process with {env} failed:\n{tail}"
            )
        return json.loads(out.read_text())


def run_in_child(
    name: str, path: Path, size: str, indices: list[int], env: dict[str, str]
) -> list[Any]:
    """Results of the cases at ``indices`` run in a fresh process with ``env`` added."""
    from minide.bench import Result

    return [Result(**r) for r in _child([], name, path, size, indices, env)]


def configure_in_child(
    name: str, path: Path, size: str, indices: list[int], env: dict[str, str]
) -> list[dict[str, dict[str, int]]]:
    """The pool readings of the cases at ``indices`` configured (not run) in a fresh process
    with ``env`` added; raises as the harness would if one still reads another count."""
    return list(_child(["--check"], name, path, size, indices, env))


def main(argv: list[str]) -> int:
    from minide.bench import ThreadMismatch, configure, load_cases, run_case

    check = argv[:1] == ["--check"]
    name, path, size, raw, out, env_json = argv[1:] if check else argv
    env: dict[str, str] = json.loads(env_json)  # what the parent started this process with
    cases = load_cases(name, Path(path), size)
    if check:
        readings = []
        for i in raw.split(","):
            got, need = configure(cases[int(i)])
            if need:
                raise ThreadMismatch(f"case {cases[int(i)].name!r} still reads {got}")
            readings.append(got)
        Path(out).write_text(json.dumps(readings))
        return 0
    results = []
    for i in raw.split(","):
        results.append(run_case(name, cases[int(i)], env))
    Path(out).write_text(json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
