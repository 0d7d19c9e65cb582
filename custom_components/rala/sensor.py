"""Sensors of a grow zone: VPD, dew point, absolute humidity, VPD band and VPD status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfDensity, UnitOfPressure, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .calendar_sensors import calendar_sensors
from .entity import GrowZoneEntity, shown_value
from .metric_sensors import metric_sensors
from .models import RalaConfigEntry
from .zone import GrowZone, VpdStatus

# Entities only write state when the zone notifies them; nothing to poll.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class GrowZoneSensorDescription(SensorEntityDescription):
    """A zone sensor and how its value is read from the zone."""

    value_fn: Callable[[GrowZone], float | str | None]
    needs_readings: bool = True
    """Unavailable while the zone's readings are (the derived values); else always there."""


SENSORS: tuple[GrowZoneSensorDescription, ...] = (
    GrowZoneSensorDescription(
        key="air_vpd",
        translation_key="air_vpd",
        device_class=SensorDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.KPA,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda zone: zone.derived.air_vpd if zone.derived else None,
    ),
    GrowZoneSensorDescription(
        key="leaf_vpd",
        translation_key="leaf_vpd",
        device_class=SensorDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.KPA,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda zone: zone.derived.leaf_vpd if zone.derived else None,
    ),
    GrowZoneSensorDescription(
        key="dew_point",
        translation_key="dew_point",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda zone: zone.derived.dew_point if zone.derived else None,
    ),
    GrowZoneSensorDescription(
        key="absolute_humidity",
        translation_key="absolute_humidity",
        device_class=SensorDeviceClass.ABSOLUTE_HUMIDITY,
        native_unit_of_measurement=UnitOfDensity.GRAMS_PER_CUBIC_METER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda zone: zone.derived.absolute_humidity if zone.derived else None,
    ),
    # The band the VPD is kept in (the current period's), for a graph next to the VPD:
    # no statistics, it is a target, not a measurement.
    GrowZoneSensorDescription(
        key="vpd_band_low",
        translation_key="vpd_band_low",
        device_class=SensorDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.KPA,
        suggested_display_precision=2,
        value_fn=lambda zone: zone.vpd_band[0],
        needs_readings=False,
    ),
    GrowZoneSensorDescription(
        key="vpd_band_high",
        translation_key="vpd_band_high",
        device_class=SensorDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.KPA,
        suggested_display_precision=2,
        value_fn=lambda zone: zone.vpd_band[1],
        needs_readings=False,
    ),
    GrowZoneSensorDescription(
        key="vpd_status",
        translation_key="vpd_status",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in VpdStatus],
        value_fn=lambda zone: zone.vpd_status.value if zone.vpd_status else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RalaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the derived sensors of a zone."""
    zone = entry.runtime_data.zone
    async_add_entities(GrowZoneSensor(zone, description) for description in SENSORS)
    # How well the climate is kept, and switchings per actuator (see metric_sensors.py).
    async_add_entities(metric_sensors(entry))
    # Days in stage and since the grow started (see grow_calendar.py).
    async_add_entities(calendar_sensors(entry))


class GrowZoneSensor(GrowZoneEntity, SensorEntity):
    """A value of the zone: derived from its inputs (unavailable with them), or a target."""

    entity_description: GrowZoneSensorDescription

    @property
    @override
    def available(self) -> bool:
        """Available while all inputs of the zone are valid and fresh, if it needs them."""
        return self.zone.available or not self.entity_description.needs_readings

    @property
    @override
    def native_value(self) -> float | str | None:
        """The current value."""
        return self.entity_description.value_fn(self.zone)

    @override
    def _shown(self) -> tuple[object, ...]:
        return (self.available, shown_value(self.native_value, self.entity_description))
