"""What a build did (``BuildReport``, shown at the end and written to ``build-info.json``)
and the clock that times its stages.

Its own module, below ``build`` and ``status``: the status page reads a report, and the
build fills one, so neither has to import the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class BuildReport:
    """What a build did: shown at the end, written to ``build-info.json``."""

    fibery_url: str
    space: str
    databases: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    files: int = 0
    rendered: int = 0
    """Pages rendered by this build (the others were unchanged)."""
    written: int = 0
    """Files written by this build (0 when nothing changed)."""
    deleted: int = 0
    requests: int = 0
    retries: int = 0
    fetched: int = 0
    """Entities read from Fibery with all their fields (the rest came from the fetch cache)."""
    unpublished_links: int = 0
    durations: dict[str, float] = field(default_factory=dict)
    content_hash: str = ""
    built_at: str = ""

    @property
    def entities(self) -> int:
        return sum(self.databases.values())

    def summary(self) -> str:
        """One line for the terminal."""
        seconds = sum(self.durations.values())
        return (
            f"{len(self.databases)} databases, {self.entities} entities, {self.pages} pages, "
            f"{self.requests} requests in {seconds:.1f} s; {self.written} files written"
        )


class Clock:
    """Time the stages of a build."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Add the time since the last lap to ``stage`` (stages may recur, page after page)."""
        now = time.perf_counter()
        self._seconds[stage] = self._seconds.get(stage, 0.0) + now - self._last
        self._last = now

    @property
    def durations(self) -> dict[str, float]:
        return {stage: round(seconds, 3) for stage, seconds in self._seconds.items()}
