"""Sensors of the grow calendar: days in the current stage and days since the grow started."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import UnitOfTime

from .entity import GrowZoneEntity
from .grow_calendar import GrowCalendar
from .models import RalaConfigEntry
from .zone import GrowZone


@dataclass(frozen=True, kw_only=True)
class CalendarSensorDescription(SensorEntityDescription):
    """A count of days, read from the zone's calendar."""

    days_fn: Callable[[GrowCalendar], int | None]


CALENDAR_SENSORS: tuple[CalendarSensorDescription, ...] = (
    CalendarSensorDescription(
        key="days_in_stage",
        translation_key="days_in_stage",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=0,
        days_fn=GrowCalendar.days_in_stage,
    ),
    CalendarSensorDescription(
        key="days_since_start",
        translation_key="days_since_start",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=0,
        days_fn=GrowCalendar.days_since_start,
    ),
)


def calendar_sensors(entry: RalaConfigEntry) -> list[GrowCalendarSensor]:
    """The calendar sensors of a loaded zone."""
    runtime = entry.runtime_data
    return [
        GrowCalendarSensor(runtime.zone, runtime.calendar, description)
        for description in CALENDAR_SENSORS
    ]


class GrowCalendarSensor(GrowZoneEntity, SensorEntity):
    """Days counted by the zone's calendar; the count changes at local midnight."""

    entity_description: CalendarSensorDescription
    # The calendar tells when the count changes; the zone's readings do not matter to it.
    _follows_zone = False

    def __init__(
        self, zone: GrowZone, calendar: GrowCalendar, description: CalendarSensorDescription
    ) -> None:
        """Count the days of ``calendar``."""
        super().__init__(zone, description)
        self._calendar = calendar

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the calendar."""
        await super().async_added_to_hass()
        self.async_on_remove(self._calendar.async_add_listener(self.async_write_ha_state))

    @property
    @override
    def native_value(self) -> int | None:
        """The number of days (0 on the first day)."""
        return self.entity_description.days_fn(self._calendar)
