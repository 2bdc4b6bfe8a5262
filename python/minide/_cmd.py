"""What an engine hands the package face for ``minide NAME``: a plain :class:`Command` record.

Engines list their commands in ``COMMANDS`` (in ``minide/<engine>/cli.py``); ``minide/cli.py``
imports those lists by name. This module is neutral ground: it imports nothing of minide, so an
engine's CLI module never imports the face.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NamedTuple

Handler = Callable[[argparse.Namespace], int | None]
Configure = Callable[[argparse.ArgumentParser], None]


def _no_args(p: argparse.ArgumentParser) -> None:
    return None


class Command(NamedTuple):
    """``minide NAME``: ``configure`` adds its arguments, ``run`` runs it (returns the exit code)."""

    name: str
    help: str
    run: Handler
    configure: Configure = _no_args
