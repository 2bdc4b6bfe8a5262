"""What an engine's ``minide demo`` chapter gets: the :class:`Context` and the shared console.

Engines list their chapters in ``CHAPTERS`` (``(title, function)`` pairs in
``minide/<engine>/demo*.py``); ``minide/demo.py`` imports those lists by name and runs them in
order. This module is neutral ground: it imports nothing of minide, so an engine's demo module
never imports the face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

#: every chapter prints here (one console, so the tour's output interleaves correctly)
console = Console()


@dataclass
class Context:
    """What a chapter may use: the data size, a seeded RNG and a temporary working directory."""

    rows: int
    seed: int
    workdir: Path
    rng: np.random.Generator


Chapter = Callable[[Context], None]
