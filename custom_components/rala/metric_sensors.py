"""Metric sensors of a grow zone: how well its climate is kept, and how often relays switch.

- VPD in band and temperature in band, today (since local midnight) and over the last 24 h,
  in % of the time the zone's values were known. The tallies are restored after a restart;
  the time Home Assistant was not running counts as unknown (neither in nor out of band).
- The current out-of-band streak (minutes since VPD or temperature left its band; unknown
  stretches, a restart included, do not end it, only an in-band reading does).
- Switchings per mapped actuator that the climate entity switches on and off (heater,
  cooler, humidifier, dehumidifier, exhaust fan; ``total_increasing``, restored after a
  restart, diagnostic entities).

All have a state class, so the recorder keeps long-term statistics of them. They are added
by the sensor platform (:func:`metric_sensors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
from typing import Any, Literal, override

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, STATE_OFF, STATE_ON, EntityCategory, UnitOfTime
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_time_interval,
)
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.util import dt as dt_util

from .bands import Band
from .const import DOMAIN, TEMPERATURE_TOLERANCE, ActuatorKind
from .control import CYCLED_KINDS
from .entity import GrowZoneEntity, shown_value
from .metrics import BandClock
from .models import RalaConfigEntry
from .unique_ids import zone_entity_unique_id
from .zone import GrowZone, VpdStatus

_LOGGER = logging.getLogger(__name__)

type Quantity = Literal["vpd", "temperature"]
QUANTITIES: tuple[Quantity, ...] = ("vpd", "temperature")


METRICS_REFRESH = timedelta(minutes=1)
"""How often the metric sensors write what the time spent in band made of them.

Shares of a day and a streak in minutes move slowly: writing them with every reading would
be a state row per reading for a value that shows the same. They are also written at once
when VPD or temperature enters or leaves its band.
"""


class ZoneMetrics:
    """Records, on every zone update, whether VPD and temperature are in their bands."""

    def __init__(self, zone: GrowZone) -> None:
        """Start recording right away."""
        self.zone = zone
        self.clocks: dict[Quantity, BandClock] = {name: BandClock() for name in QUANTITIES}
        self._restored: set[Quantity] = set()
        self._in_band: dict[Quantity, bool | None] = {}
        self._band_listeners: list[Callable[[], None]] = []
        self.async_update()

    @callback
    def async_add_band_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when VPD or temperature enters or leaves its band (or is unknown)."""
        self._band_listeners.append(listener)
        return lambda: self._band_listeners.remove(listener)

    @property
    def vpd(self) -> BandClock:
        """The VPD's clock."""
        return self.clocks["vpd"]

    @property
    def temperature(self) -> BandClock:
        """The air temperature's clock."""
        return self.clocks["temperature"]

    def _in_band_now(self) -> dict[Quantity, bool | None]:
        zone = self.zone
        status = zone.vpd_status
        air = zone.readings.air_temperature
        return {
            "vpd": None if status is None else status is VpdStatus.IN_RANGE,
            "temperature": None
            if not zone.available or air is None
            else air.value in Band.around(zone.target_temperature, TEMPERATURE_TOLERANCE),
        }

    @callback
    def async_update(self) -> None:
        """Record the zone's current state (registered as a zone listener)."""
        now = dt_util.utcnow()
        in_band_now = self._in_band_now()
        for name, in_band in in_band_now.items():
            self.clocks[name].record(now, in_band)
        if in_band_now != self._in_band:
            self._in_band = in_band_now
            for listener in list(self._band_listeners):
                listener()

    def snapshot(self, names: tuple[Quantity, ...]) -> dict[str, object]:
        """The clocks ``names`` as stored data, up to now."""
        now = dt_util.utcnow()
        return {name: self.clocks[name].to_dict(now) for name in names}

    def restore(self, stored: Mapping[str, object], names: tuple[Quantity, ...]) -> None:
        """Continue the clocks ``names`` from ``stored`` data (each one once, bad data ignored).

        The time since the data was stored counts as unknown.
        """
        now = dt_util.utcnow()
        in_band_now = self._in_band_now()
        for name in names:
            if name in self._restored or name not in stored:
                continue
            try:
                clock = BandClock.from_dict(stored[name])
                clock.record(now, in_band_now[name])
            except ValueError as err:
                _LOGGER.debug("Ignoring stored %s metrics of %s: %s", name, self.zone.name, err)
                continue
            self.clocks[name] = clock
            self._restored.add(name)

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
    # The clocks the value depends on: the sensor stores and restores them.
    clocks: tuple[Quantity, ...]


def _today(
    clock: Callable[[ZoneMetrics], BandClock],
) -> Callable[[ZoneMetrics, datetime], float | None]:
    return lambda metrics, now: clock(metrics).share(dt_util.start_of_local_day(), now)


def _rolling(
    clock: Callable[[ZoneMetrics], BandClock],
) -> Callable[[ZoneMetrics, datetime], float | None]:
    return lambda metrics, now: clock(metrics).share(now - timedelta(hours=24), now)


def _share(
    key: str, clock: Quantity, value_fn: Callable[[ZoneMetrics, datetime], float | None]
) -> MetricSensorDescription:
    return MetricSensorDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=value_fn,
        clocks=(clock,),
    )


METRICS: tuple[MetricSensorDescription, ...] = (
    _share("vpd_in_band_today", "vpd", _today(lambda m: m.vpd)),
    _share("vpd_in_band_24h", "vpd", _rolling(lambda m: m.vpd)),
    _share("temperature_in_band_today", "temperature", _today(lambda m: m.temperature)),
    _share("temperature_in_band_24h", "temperature", _rolling(lambda m: m.temperature)),
    MetricSensorDescription(
        key="out_of_band_streak",
        translation_key="out_of_band_streak",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda metrics, now: metrics.out_of_band_minutes(now),
        clocks=QUANTITIES,
    ),
)


def switch_count_key(kind: str) -> str:
    """The key (and translation key) of the switching counter of an actuator kind."""
    return f"{kind}_switchings"


def metric_sensors(entry: RalaConfigEntry) -> list[Entity]:
    """The metric sensors of a zone (its recorder stops with the entry).

    Switchings are counted for the actuators the climate entity switches on and off
    (:data:`.control.CYCLED_KINDS`); counters of other kinds, from older versions, are
    removed from the entity registry.
    """
    zone = entry.runtime_data.zone
    metrics = ZoneMetrics(zone)
    entry.async_on_unload(zone.async_add_listener(metrics.async_update))
    entities: list[Entity] = [MetricSensor(zone, metrics, d) for d in METRICS]
    entities.extend(
        SwitchCountSensor(
            zone,
            entity_id,
            SensorEntityDescription(
                key=switch_count_key(kind),
                translation_key=switch_count_key(kind),
                entity_category=EntityCategory.DIAGNOSTIC,
                state_class=SensorStateClass.TOTAL_INCREASING,
            ),
        )
        for kind, entity_id in zone.actuators.items()
        if kind in CYCLED_KINDS
    )
    _remove_uncounted(zone.hass, entry.entry_id)
    return entities


def _remove_uncounted(hass: HomeAssistant, entry_id: str) -> None:
    registry = er.async_get(hass)
    for kind in set(ActuatorKind) - CYCLED_KINDS:
        unique_id = zone_entity_unique_id(entry_id, switch_count_key(kind))
        if entity_id := registry.async_get_entity_id(SENSOR_DOMAIN, DOMAIN, unique_id):
            registry.async_remove(entity_id)


@dataclass(frozen=True, slots=True)
class MetricsStoredData(ExtraStoredData):
    """The clocks a metric sensor keeps across restarts, by quantity."""

    clocks: dict[str, object]

    @override
    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (see :meth:`BandClock.to_dict`)."""
        return dict(self.clocks)


class MetricSensor(GrowZoneEntity, SensorEntity, RestoreEntity):
    """A share of time in band, or the out-of-band streak; its history survives restarts."""

    entity_description: MetricSensorDescription
    # Written on its own clock and when a band is entered or left (see METRICS_REFRESH).
    _follows_zone = False

    def __init__(
        self, zone: GrowZone, metrics: ZoneMetrics, description: MetricSensorDescription
    ) -> None:
        """Read from ``metrics``, updated with the zone."""
        super().__init__(zone, description)
        self._metrics = metrics

    @override
    async def async_added_to_hass(self) -> None:
        """Continue the history stored before the restart, if there is a usable one."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._metrics.async_add_band_listener(self.async_write_if_shown_changed)
        )
        self.async_on_remove(
            async_track_time_interval(self.hass, self._async_refresh, METRICS_REFRESH)
        )
        extra = await self.async_get_last_extra_data()
        if extra is None:
            return
        stored: object = extra.as_dict()
        if not isinstance(stored, dict):
            _LOGGER.debug("Ignoring stored metrics of %s: %r", self.entity_id, stored)
            return
        self._metrics.restore(stored, self.entity_description.clocks)

    @property
    @override
    def extra_restore_state_data(self) -> MetricsStoredData:
        """The history of the clocks this sensor depends on, up to now."""
        return MetricsStoredData(self._metrics.snapshot(self.entity_description.clocks))

    @property
    @override
    def native_value(self) -> float | None:
        """The metric now."""
        return self.entity_description.value_fn(self._metrics, dt_util.utcnow())

    @override
    def _shown(self) -> tuple[object, ...]:
        return (self.available, shown_value(self.native_value, self.entity_description))

    @callback
    def _async_refresh(self, _now: datetime) -> None:
        self.async_write_if_shown_changed()


class SwitchCountSensor(GrowZoneEntity, RestoreSensor):
    """How often an actuator switched between on and off (whoever switched it)."""

    # The count changes with the actuator, never with the zone's readings.
    _follows_zone = False

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
