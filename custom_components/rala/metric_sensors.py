"""Metric sensors of a grow zone: how well its climate is kept, and how often relays switch.

- VPD in band and temperature in band, today (since local midnight) and over the last 24 h,
  in % of the time the zone's values were known. The history lives in memory: after a
  restart the shares cover the time since the start until 24 h have passed.
- The current out-of-band streak (minutes since VPD or temperature left its band).
- Switchings per mapped actuator (``total_increasing``, restored after a restart).

All have a state class, so the recorder keeps long-term statistics of them. They are added
by the sensor platform (:func:`metric_sensors`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, STATE_OFF, STATE_ON, UnitOfTime
from homeassistant.core import Event, EventStateChangedData, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util

from .const import TEMPERATURE_TOLERANCE
from .entity import GrowZoneEntity
from .metrics import BandClock
from .models import RalaConfigEntry
from .zone import GrowZone, VpdStatus


class ZoneMetrics:
    """Records, on every zone update, whether VPD and temperature are in their bands."""

    def __init__(self, zone: GrowZone) -> None:
        """Start recording right away."""
        self.zone = zone
        self.vpd = BandClock()
        self.temperature = BandClock()
        self.async_update()

    @callback
    def async_update(self) -> None:
        """Record the zone's current state (registered as a zone listener)."""
        now = dt_util.utcnow()
        zone = self.zone
        status = zone.vpd_status
        self.vpd.record(now, None if status is None else status is VpdStatus.IN_RANGE)
        air = zone.readings.air_temperature
        self.temperature.record(
            now,
            None
            if not zone.available or air is None
            else abs(air.value - zone.target_temperature) <= TEMPERATURE_TOLERANCE,
        )

    def out_of_band_minutes(self, now: datetime) -> float | None:
        """Minutes since VPD or temperature left its band; 0 in band; None when unknown."""
        if self.zone.vpd_status is None:
            return None
        starts = [
            since
            for since in (self.vpd.out_of_band_since(), self.temperature.out_of_band_since())
            if since is not None
        ]
        if not starts:
            return 0.0
        return (now - min(starts)).total_seconds() / 60.0


@dataclass(frozen=True, kw_only=True)
class MetricSensorDescription(SensorEntityDescription):
    """A metric and how it is computed at a given time."""

    value_fn: Callable[[ZoneMetrics, datetime], float | None]


def _today(
    clock: Callable[[ZoneMetrics], BandClock],
) -> Callable[[ZoneMetrics, datetime], float | None]:
    return lambda metrics, now: clock(metrics).share(dt_util.start_of_local_day(), now)


def _rolling(
    clock: Callable[[ZoneMetrics], BandClock],
) -> Callable[[ZoneMetrics, datetime], float | None]:
    return lambda metrics, now: clock(metrics).share(now - timedelta(hours=24), now)


def _share(
    key: str, value_fn: Callable[[ZoneMetrics, datetime], float | None]
) -> MetricSensorDescription:
    return MetricSensorDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=value_fn,
    )


METRICS: tuple[MetricSensorDescription, ...] = (
    _share("vpd_in_band_today", _today(lambda m: m.vpd)),
    _share("vpd_in_band_24h", _rolling(lambda m: m.vpd)),
    _share("temperature_in_band_today", _today(lambda m: m.temperature)),
    _share("temperature_in_band_24h", _rolling(lambda m: m.temperature)),
    MetricSensorDescription(
        key="out_of_band_streak",
        translation_key="out_of_band_streak",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda metrics, now: metrics.out_of_band_minutes(now),
    ),
)


def metric_sensors(entry: RalaConfigEntry) -> list[Entity]:
    """The metric sensors of a zone (its recorder stops with the entry)."""
    zone = entry.runtime_data
    metrics = ZoneMetrics(zone)
    entry.async_on_unload(zone.async_add_listener(metrics.async_update))
    entities: list[Entity] = [MetricSensor(zone, metrics, d) for d in METRICS]
    entities.extend(
        SwitchCountSensor(
            zone,
            entity_id,
            SensorEntityDescription(
                key=f"{kind}_switchings",
                translation_key=f"{kind}_switchings",
                state_class=SensorStateClass.TOTAL_INCREASING,
            ),
        )
        for kind, entity_id in zone.actuators.items()
    )
    return entities


class MetricSensor(GrowZoneEntity, SensorEntity):
    """A share of time in band, or the out-of-band streak."""

    entity_description: MetricSensorDescription

    def __init__(
        self, zone: GrowZone, metrics: ZoneMetrics, description: MetricSensorDescription
    ) -> None:
        """Read from ``metrics``, updated with the zone."""
        super().__init__(zone, description)
        self._metrics = metrics

    @property
    @override
    def native_value(self) -> float | None:
        """The metric now."""
        return self.entity_description.value_fn(self._metrics, dt_util.utcnow())


class SwitchCountSensor(GrowZoneEntity, RestoreSensor):
    """How often an actuator switched between on and off (whoever switched it)."""

    def __init__(
        self, zone: GrowZone, actuator_entity_id: str, description: SensorEntityDescription
    ) -> None:
        """Count the switchings of ``actuator_entity_id``."""
        super().__init__(zone, description)
        self._actuator = actuator_entity_id
        self._count = 0

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the count and follow the actuator."""
        await super().async_added_to_hass()
        last = await self.async_get_last_sensor_data()
        if last is not None and isinstance(last.native_value, int | float):
            self._count = int(last.native_value)
        self.async_on_remove(
            async_track_state_change_event(self.hass, self._actuator, self._async_changed)
        )

    @callback
    def _async_changed(self, event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        switched = (
            old is not None and new is not None and {old.state, new.state} == {STATE_ON, STATE_OFF}
        )
        if switched:
            self._count += 1
            self.async_write_ha_state()

    @property
    @override
    def native_value(self) -> int:
        """Switchings so far."""
        return self._count
