"""How well a zone keeps its band: time in band over a window, and the current streak.

Pure module, standard library only: the Home Assistant side records a state change
(in band, out of band, or unknown) whenever the zone updates, and asks for shares.
Unknown time (inputs unavailable, before the first reading) counts neither way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_HISTORY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class _Change:
    at: datetime
    in_band: bool | None


class BandClock:
    """The in-band/out-of-band history of one quantity, kept for ``history``."""

    def __init__(self, history: timedelta = DEFAULT_HISTORY) -> None:
        """Start with no history (everything unknown)."""
        if history <= timedelta(0):
            raise ValueError(f"history must be positive, got {history}")
        self._history = history
        self._changes: list[_Change] = []

    def record(self, at: datetime, in_band: bool | None) -> None:
        """From ``at`` on the quantity is in band (True), out of band (False) or unknown."""
        if self._changes and at < self._changes[-1].at:
            raise ValueError(f"time went backwards: {at} < {self._changes[-1].at}")
        if self._changes and self._changes[-1].in_band == in_band:
            return
        self._changes.append(_Change(at, in_band))
        self._prune(at)

    def _prune(self, now: datetime) -> None:
        """Forget changes that ended before the history window (keep the one that spans it)."""
        cutoff = now - self._history
        while len(self._changes) > 1 and self._changes[1].at <= cutoff:
            self._changes.pop(0)

    def share(self, since: datetime, until: datetime) -> float | None:
        """Percentage of the known time between ``since`` and ``until`` spent in band."""
        in_band = known = 0.0
        for index, change in enumerate(self._changes):
            end = self._changes[index + 1].at if index + 1 < len(self._changes) else until
            start, stop = max(change.at, since), min(end, until)
            if stop <= start or change.in_band is None:
                continue
            seconds = (stop - start).total_seconds()
            known += seconds
            if change.in_band:
                in_band += seconds
        if known == 0:
            return None
        return 100.0 * in_band / known

    def out_of_band_since(self) -> datetime | None:
        """When the current out-of-band streak began, or None when not out of band."""
        if not self._changes or self._changes[-1].in_band is not False:
            return None
        return self._changes[-1].at
