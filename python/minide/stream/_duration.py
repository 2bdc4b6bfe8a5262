"""Moved to :mod:`minide._convert` (the one duration parser of the project); kept as an alias
for modules not yet switched over. Import from ``minide._convert``."""

from minide._convert import Duration, to_nanos

__all__ = ["Duration", "to_nanos"]
