"""How many incoming messages the agent refused since it started, by reason.

Shown in Home Assistant as the node's "Refused messages" diagnostic sensor (the total,
with the count of every reason as attributes), so that a misbehaving controller, a
stranger on the broker or a wrong clock is visible without reading the node's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .discovery import Refusal


class RefusedMessages:
    """Counts of refused messages; every reason is present, from 0."""

    def __init__(self) -> None:
        """Nothing refused yet."""
        self._counts: dict[Refusal, int] = dict.fromkeys(Refusal, 0)

    def count(self, refusal: Refusal) -> None:
        """One more message refused for ``refusal``."""
        self._counts[refusal] += 1

    @property
    def total(self) -> int:
        """Messages refused for any reason."""
        return sum(self._counts.values())

    def by_reason(self) -> Mapping[Refusal, int]:
        """A read-only view of the counts, in the order reasons are declared."""
        return MappingProxyType(self._counts)
