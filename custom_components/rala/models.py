"""Typed config entry of a grow zone, and what it holds while it is loaded."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .grow_calendar import GrowCalendar
from .history import NodeHistory
from .repairs import ZoneIssueTracker
from .zone import GrowZone


@dataclass(slots=True)
class RalaRuntimeData:
    """A loaded grow zone: its runtime, repair issues, grow calendar and a node zone's backfill."""

    zone: GrowZone
    issues: ZoneIssueTracker
    calendar: GrowCalendar
    """The days the zone has been in its stage and growing (kept across restarts)."""
    history: NodeHistory | None = None
    """The backfill of a node zone's buffered readings into the recorder, else ``None``."""


type RalaConfigEntry = ConfigEntry[RalaRuntimeData]
"""A grow zone's config entry; ``entry.runtime_data`` is its :class:`RalaRuntimeData`."""
