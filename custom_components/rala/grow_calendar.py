"""The grow calendar of a zone: the day the grow and the current stage started.

Days count in Home Assistant's time zone: a day in stage begins at local midnight, not
at midnight UTC. The dates are kept in Home Assistant's storage (one small file per
zone), so a restart keeps them; a stage restored at startup is the same stage, not a
new one. Choosing a different stage starts it today; choosing *seedling* also starts a
new grow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
import logging
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .growth_stages import GrowthStage
from .zone import GrowZone

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
"""The calendar of each loaded zone, by config entry id."""


@dataclass(frozen=True, slots=True)
class CalendarDates:
    """What the calendar remembers; dates are local calendar days."""

    stage: GrowthStage
    stage_started: date
    grow_started: date

    def as_dict(self) -> dict[str, str]:
        """The stored form."""
        return {
            "stage": self.stage.value,
            "stage_started": self.stage_started.isoformat(),
            "grow_started": self.grow_started.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> CalendarDates:
        """Read the stored form; ``ValueError`` when it is not one."""
        try:
            return cls(
                stage=GrowthStage(data["stage"]),
                stage_started=date.fromisoformat(data["stage_started"]),
                grow_started=date.fromisoformat(data["grow_started"]),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a grow calendar: {data!r}") from err


def next_stage(stage: GrowthStage) -> GrowthStage | None:
    """The stage after ``stage`` in a grow (the order of :class:`GrowthStage`), or ``None``."""
    stages = list(GrowthStage)
    position = stages.index(stage) + 1
    return stages[position] if position < len(stages) else None


def days_between(start: date, today: date) -> int:
    """Whole days from ``start`` to ``today``; the first day is day 0."""
    return (today - start).days


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, str]]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.grow_calendar.{entry_id}")


class GrowCalendar:
    """Days in stage and days since the grow started, for one zone."""

    def __init__(
        self, hass: HomeAssistant, store: Store[dict[str, str]], dates: CalendarDates | None
    ) -> None:
        """Use :func:`async_load_calendar`."""
        self._hass = hass
        self._store = store
        self._dates = dates
        self._listeners: list[CALLBACK_TYPE] = []

    @property
    def dates(self) -> CalendarDates | None:
        """The remembered dates; ``None`` until the zone started."""
        return self._dates

    def days_in_stage(self) -> int | None:
        """Days since the current stage started (0 on its first day)."""
        if self._dates is None:
            return None
        return days_between(self._dates.stage_started, dt_util.now().date())

    def days_since_start(self) -> int | None:
        """Days since the grow started (0 on its first day)."""
        if self._dates is None:
            return None
        return days_between(self._dates.grow_started, dt_util.now().date())

    @callback
    def async_add_listener(self, update_callback: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update_callback`` when a date or the day changes."""
        self._listeners.append(update_callback)
        return lambda: self._listeners.remove(update_callback)

    @callback
    def async_start(self, zone: GrowZone) -> CALLBACK_TYPE:
        """Follow the zone's stage and the local midnight; returns the function that stops."""

        @callback
        def zone_changed() -> None:
            self._follow_stage(zone.growth_stage)

        self._follow_stage(zone.growth_stage)
        remove_listener = zone.async_add_listener(zone_changed)
        # Local midnight: async_track_time_change matches in Home Assistant's time zone.
        remove_midnight = async_track_time_change(
            self._hass, self._new_day, hour=0, minute=0, second=0
        )

        @callback
        def stop() -> None:
            remove_listener()
            remove_midnight()

        return stop

    @callback
    def _follow_stage(self, stage: GrowthStage) -> None:
        if self._dates is not None and self._dates.stage is stage:
            return
        today = dt_util.now().date()
        if self._dates is None or stage is GrowthStage.SEEDLING:
            self._dates = CalendarDates(stage=stage, stage_started=today, grow_started=today)
        else:
            self._dates = replace(self._dates, stage=stage, stage_started=today)
        dates = self._dates
        self._hass.async_create_task(self._store.async_save(dates.as_dict()))
        self._notify()

    @callback
    def _new_day(self, _now: datetime) -> None:
        self._notify()

    @callback
    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


async def async_load_calendar(hass: HomeAssistant, entry_id: str) -> GrowCalendar:
    """The zone's calendar with its stored dates; unreadable dates start a new calendar."""
    store = _store(hass, entry_id)
    stored = await store.async_load()
    dates: CalendarDates | None = None
    if stored is not None:
        try:
            dates = CalendarDates.from_dict(stored)
        except ValueError as err:
            _LOGGER.warning("The grow calendar of %s starts anew: %s", entry_id, err)
    return GrowCalendar(hass, store, dates)


async def async_remove_calendar(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the stored dates of a deleted zone."""
    await _store(hass, entry_id).async_remove()
