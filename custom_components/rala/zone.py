"""The runtime of one grow zone: inputs, derived climate values, growth stage and targets.

One :class:`GrowZone` exists per config entry, held by its runtime data
(``entry.runtime_data.zone``, see :mod:`.models`). Everything else in the
integration (sensor, select and number entities, the climate entity, services, metrics)
reads from it and subscribes to it; nothing polls.

API for the other modules
-------------------------
Configuration (read-only, from the config entry; changing it reloads the entry):

- ``zone.config``: the :class:`.zone_config.ZoneConfig` read once from the entry (every
  option's default is applied there); the attributes below are its values.
- ``zone.entry`` / ``zone.name`` / ``zone.node_id`` (``None`` for a zone from existing
  sensors) / ``zone.device_info`` (the "Grow zone" device of the entities).
- ``zone.node_device``: the node's device (made by MQTT discovery) or ``None``;
  ``zone.node_name``: its name as the user sees it (``name_by_user`` or ``name``), else
  the node id, ``None`` for a zone from existing sensors.
- ``zone.temperature_entity_id``, ``zone.humidity_entity_id``,
  ``zone.leaf_temperature_entity_id`` (optional), ``zone.leaf_offset`` (°C).
- ``zone.actuators``: ``Mapping[str, str]`` from the actuator keys of
  :data:`.const.ACTUATOR_KEYS` (heater, cooler, humidifier, dehumidifier, exhaust_fan,
  circulation_fan, light) to the entity id mapped in the options. Only mapped keys appear.
- ``zone.max_input_age``: a ``timedelta``; an input not written for longer is stale.
- ``zone.history_config()``: what the backfill of a node zone works on
  (:class:`.backfill.NodeHistoryConfig`), ``None`` for other zones.

Live state (updated from state events of the input entities):

- ``zone.snapshot``: one frozen :class:`ZoneSnapshot` (readings, derived values,
  availability), formed once per event-loop turn in which inputs were written, so that all
  states one node message writes make one snapshot; ``zone.readings``, ``zone.derived``,
  ``zone.unavailable_reason``, ``zone.unavailable_detail`` and ``zone.stale_reading`` are
  the snapshot's.
- ``zone.readings``: :class:`ZoneReadings` with ``air_temperature`` (°C), ``humidity``
  (% RH) and ``leaf_temperature`` (°C), each a :class:`Reading` (``value``,
  ``updated`` = when the source last wrote its state, ``entity_id``) or ``None`` while
  that input has no valid value. Values are converted to °C whatever the source unit.
- ``zone.derived``: :class:`DerivedValues` (air and leaf VPD in kPa, leaf temperature used,
  dew point °C, absolute humidity g/m³) or ``None`` while unavailable.
- ``zone.available`` is ``zone.derived is not None``; ``zone.unavailable_reason`` says why
  not (an :class:`UnavailableReason`). Stale inputs count as unavailable: a timer fires
  exactly when the oldest reading becomes stale (no polling); ``zone.stale_reading`` is
  then the stale input's :class:`Reading` (the oldest), else ``None``.
- ``zone.current_vpd``: the VPD the targets refer to (leaf VPD; air VPD in the drying stage,
  see ``zone.vpd_is_leaf``), kPa, or ``None``; ``zone.vpd_status``: :class:`VpdStatus` of it
  against ``zone.vpd_band``, or ``None`` while unavailable.
- ``zone.is_day``: day or night period. Follows the mapped light entity (on = day) when
  there is one, else the light schedule of the options (lights-on time and photoperiod)
  when there is one, else day; ``zone.async_set_is_day(bool)`` overrides it until the light
  or the schedule switches.
- ``zone.light_schedule``: the :class:`.control.LightSchedule` of the options, or ``None``;
  ``zone.light_phase(now)``: the :class:`.control.LightPhase` for the control engine (day or
  night, and the seconds to the next switch while the schedule agrees with the period).
- ``zone.growth_stage`` (:class:`.growth_stages.GrowthStage`) and ``zone.targets``
  (:class:`ZoneTargets`: day/night temperature in °C and day/night leaf VPD in kPa);
  ``zone.target_temperature`` / ``zone.target_vpd`` / ``zone.vpd_band`` for the current
  period.

Changing things (all validate; bad input raises :class:`ValueError` and changes nothing):

- ``zone.async_set_growth_stage(stage, apply_targets=True)``: choosing a stage applies its
  literature temperatures and VPD (``apply_targets=False`` only restores the stage).
- ``zone.async_set_targets(day_temperature=..., night_vpd=..., ...)``: any subset.

Listening: ``unsubscribe = zone.async_add_listener(callback)``. The callback (a plain
``@callback`` function without arguments) runs in the event loop after every change of
readings, derived values, availability, period, stage or targets. Entities use
``self.async_on_remove(zone.async_add_listener(...))``; :mod:`.entity` writes a state only
when what it shows changed.
``zone.async_start()`` / ``zone.async_stop()`` are called by ``__init__`` on setup and
unload; stop removes every state tracker and timer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
import logging
import math
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    PERCENTAGE,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    EventStateReportedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import (
    async_call_later,
    async_track_entity_registry_updated_event,
    async_track_state_change_event,
    async_track_state_report_event,
)
from homeassistant.util import dt as dt_util

from . import psychrometrics
from .backfill import QUANTITIES, NodeHistoryConfig
from .bands import Band
from .const import (
    ACTUATOR_DOMAINS,
    CONF_LIGHT,
    CONF_ZONE_NAME,
    DOMAIN,
    MAX_TARGET_TEMPERATURE,
    MAX_TARGET_VPD,
    MIN_TARGET_TEMPERATURE,
    MIN_TARGET_VPD,
    MQTT_PLATFORM,
)
from .control import LightPhase, LightSchedule
from .derived import DerivedValues, derive
from .growth_stages import STAGE_TARGETS, GrowthStage
from .node_protocol import sensor_unique_id
from .zone_config import ZoneConfigError, zone_config

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

_LOGGER = logging.getLogger(__name__)

DEFAULT_GROWTH_STAGE = GrowthStage.VEGETATIVE


class UnavailableReason(StrEnum):
    """Why the derived values of a zone are unavailable."""

    INPUT_UNAVAILABLE = "input_unavailable"
    """An input entity does not exist, is unavailable or unknown."""
    INPUT_INVALID = "input_invalid"
    """An input state is not a number, has an unsupported unit or is out of range."""
    INPUT_STALE = "input_stale"
    """An input was not written for longer than the zone's maximum input age."""


class VpdStatus(StrEnum):
    """Where the leaf VPD is relative to the target band."""

    TOO_LOW = "too_low"
    IN_RANGE = "in_range"
    TOO_HIGH = "too_high"


@dataclass(frozen=True, slots=True)
class Reading:
    """A valid value of one input entity, in °C or % RH."""

    entity_id: str
    value: float
    updated: datetime
    """When the source last wrote its state (``State.last_reported``), in UTC."""


@dataclass(frozen=True, slots=True)
class ZoneReadings:
    """The latest valid value of each input; ``None`` while an input has none."""

    air_temperature: Reading | None = None
    humidity: Reading | None = None
    leaf_temperature: Reading | None = None


@dataclass(frozen=True, slots=True)
class ZoneSnapshot:
    """One consistent view of a zone's inputs and what was derived from them.

    Formed once per event-loop turn in which inputs were written, so the three states one
    node message writes (temperature, humidity, pressure) make one snapshot, never one with
    the new temperature and the previous humidity. Every consumer reads the same one.
    """

    readings: ZoneReadings
    derived: DerivedValues | None
    """``None`` while unavailable."""
    unavailable_reason: UnavailableReason | None
    unavailable_detail: str | None
    stale_reading: Reading | None = None
    """The input that made the zone stale (the oldest), while it is stale."""


NOT_STARTED = ZoneSnapshot(
    readings=ZoneReadings(),
    derived=None,
    unavailable_reason=UnavailableReason.INPUT_UNAVAILABLE,
    unavailable_detail="not started",
)


@dataclass(frozen=True, slots=True)
class ZoneTargets:
    """Temperature (°C) and leaf VPD (kPa) targets for the light and the dark period."""

    day_temperature: float
    night_temperature: float
    day_vpd: float
    night_vpd: float

    def validate(self) -> None:
        """Raise ValueError when a target is outside what the zone accepts."""
        for name in ("day_temperature", "night_temperature"):
            value = getattr(self, name)
            if not MIN_TARGET_TEMPERATURE <= value <= MAX_TARGET_TEMPERATURE:
                raise ValueError(
                    f"{name} {value!r} °C is outside {MIN_TARGET_TEMPERATURE} "
                    f"to {MAX_TARGET_TEMPERATURE} °C"
                )
        for name in ("day_vpd", "night_vpd"):
            value = getattr(self, name)
            if not MIN_TARGET_VPD <= value <= MAX_TARGET_VPD:
                raise ValueError(
                    f"{name} {value!r} kPa is outside {MIN_TARGET_VPD} to {MAX_TARGET_VPD} kPa"
                )


def targets_for_stage(stage: GrowthStage) -> ZoneTargets:
    """The literature targets of a growth stage."""
    stage_targets = STAGE_TARGETS[stage]
    return ZoneTargets(
        day_temperature=stage_targets.day_temperature_c,
        night_temperature=stage_targets.night_temperature_c,
        day_vpd=stage_targets.vpd_target_kpa,
        night_vpd=stage_targets.vpd_target_kpa,
    )


def vpd_band_half_width(stage: GrowthStage) -> float:
    """Half the width of the literature VPD band of a stage, in kPa."""
    stage_targets = STAGE_TARGETS[stage]
    return (stage_targets.vpd_high_kpa - stage_targets.vpd_low_kpa) / 2


class InvalidInputError(Exception):
    """A state cannot be used as an input; the message says why."""


def temperature_from_state(state: State) -> float:
    """The temperature of a state in °C, converted from its unit."""
    value = _number(state)
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if not isinstance(unit, str):
        raise InvalidInputError(f"{state.entity_id} has no temperature unit")
    try:
        return psychrometrics.to_celsius(value, unit)
    except psychrometrics.PsychrometricsError as err:
        raise InvalidInputError(f"{state.entity_id}: {err}") from err


def humidity_from_state(state: State) -> float:
    """The relative humidity of a state in %."""
    value = _number(state)
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if unit != PERCENTAGE:
        raise InvalidInputError(f"{state.entity_id} has unit {unit!r}, expected {PERCENTAGE!r}")
    return value


def _number(state: State) -> float:
    try:
        value = float(state.state)
    except ValueError:
        raise InvalidInputError(
            f"{state.entity_id} state {state.state!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{state.entity_id} state {state.state!r} is not finite")
    return value


def seconds_of_day(moment: datetime) -> float:
    """Seconds since local midnight (Home Assistant's time zone)."""
    local = dt_util.as_local(moment)
    return local.hour * 3600.0 + local.minute * 60.0 + local.second + local.microsecond / 1e6


def announced_actuator_entity_id(registry: er.EntityRegistry, unique_id: str) -> str | None:
    """The entity id MQTT discovery gave an actuator a node announced, if it exists."""
    for domain in ACTUATOR_DOMAINS:
        if entity_id := registry.async_get_entity_id(domain, MQTT_PLATFORM, unique_id):
            return entity_id
    return None


def _replace_value(mapping: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    return {key: (new if value == old else value) for key, value in mapping.items()}


class GrowZone:
    """The runtime of one grow zone (see the module docstring for the API)."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
        """Read the zone's configuration from its config entry; nothing is tracked yet.

        Raises :class:`ConfigEntryError` for node data outside the protocol's ranges, so
        that the setup fails before any entity is set up.
        """
        self.hass = hass
        self.entry = entry
        try:
            self.config = zone_config(entry.title, entry.data, entry.options)
        except ZoneConfigError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="invalid_node_data",
                translation_placeholders={
                    "zone": entry.title or entry.data.get(CONF_ZONE_NAME, ""),
                    "problem": str(err),
                },
            ) from err
        config = self.config
        self.name: str = config.name
        node = config.node
        self.node_id: str | None = node.node_id if node else None
        self.node_device_identifier: str | None = node.device_identifier if node else None
        self.temperature_entity_id: str = config.temperature_entity_id
        self.humidity_entity_id: str = config.humidity_entity_id
        self.leaf_temperature_entity_id: str | None = config.leaf_temperature_entity_id
        self.leaf_offset: float = config.leaf_offset
        self.actuators: Mapping[str, str] = config.actuators
        self.max_input_age: timedelta = config.max_input_age
        self.light_schedule: LightSchedule | None = config.light_schedule
        if config.light_schedule_problem is not None:
            _LOGGER.warning(
                "Grow zone %s: light schedule ignored: %s", self.name, config.light_schedule_problem
            )

        self.snapshot: ZoneSnapshot = NOT_STARTED
        """The zone's inputs and derived values, replaced as a whole (see ZoneSnapshot)."""
        self.growth_stage: GrowthStage = DEFAULT_GROWTH_STAGE
        self.targets: ZoneTargets = targets_for_stage(DEFAULT_GROWTH_STAGE)
        self.is_day = True
        # Since when the inputs have been unavailable (for the node-offline repair).
        self.unavailable_since: datetime | None = None

        self._listeners: dict[int, CALLBACK_TYPE] = {}
        self._next_listener_id = 0
        self._unsubscribers: list[CALLBACK_TYPE] = []
        self._cancel_stale_timer: CALLBACK_TYPE | None = None
        self._stale_check_due = dt_util.utcnow()
        self._stale_checked_since = dt_util.utcnow()
        self._cancel_schedule_timer: CALLBACK_TYPE | None = None
        self._logged_unavailable = False
        self._started = False
        self._update_pending = False

    # --- configuration-derived properties -----------------------------------------------------

    def history_config(self) -> NodeHistoryConfig | None:
        """What the backfill of this zone works on; ``None`` unless it names a node's sensor."""
        node = self.config.node
        if node is None or not node.sensor:
            _LOGGER.debug("Zone %s names no node sensor: no backfill", self.name)
            return None
        return NodeHistoryConfig(
            entry_id=self.entry.entry_id,
            node_id=node.node_id,
            sensor_key=node.sensor,
            sensor_unique_ids=MappingProxyType(
                {
                    # Pressure is not bound to the zone, so its entry does not store its id.
                    "pressure": sensor_unique_id(node.node_id, node.sensor, "pressure"),
                    **{key: uid for key, uid in node.unique_ids.items() if key in QUANTITIES},
                }
            ),
            temperature_entity_id=self.temperature_entity_id,
            humidity_entity_id=self.humidity_entity_id,
            leaf_offset=self.leaf_offset,
            leaf_temperature_measured=self.leaf_temperature_entity_id is not None,
        )

    @property
    def input_entity_ids(self) -> list[str]:
        """The entity ids whose states feed the zone."""
        return self.config.input_entity_ids

    @property
    def device_info(self) -> DeviceInfo:
        """The "Grow zone" device, linked to the edge node's device when there is one."""
        info = DeviceInfo(
            identifiers={(DOMAIN, self.entry.entry_id)},
            name=self.name,
            manufacturer="RALA",
            model="Grow zone",
        )
        if (node_device := self.node_device) is not None:
            info["via_device_id"] = node_device.id
        return info

    @property
    def node_device(self) -> dr.DeviceEntry | None:
        """The device MQTT discovery made for the zone's edge node, if there is one."""
        if self.node_device_identifier is None:
            return None
        # Identifiers are unique per config entry only: prefer the MQTT integration's.
        devices = dr.async_get(self.hass).async_get_devices(
            identifiers={(MQTT_PLATFORM, self.node_device_identifier)}
        )
        mqtt_entries = {
            entry.entry_id for entry in self.hass.config_entries.async_entries(MQTT_PLATFORM)
        }
        devices.sort(key=lambda device: device.config_entry_id not in mqtt_entries)
        return devices[0] if devices else None

    @property
    def node_name(self) -> str | None:
        """The node's name as Home Assistant shows it (its device's), else its id."""
        if (device := self.node_device) is not None and (
            name := device.name_by_user or device.name
        ):
            return name
        return self.node_id

    # --- live state ---------------------------------------------------------------------------

    @property
    def readings(self) -> ZoneReadings:
        """The latest valid value of each input (of the current snapshot)."""
        return self.snapshot.readings

    @property
    def derived(self) -> DerivedValues | None:
        """The derived values of the current snapshot, ``None`` while unavailable."""
        return self.snapshot.derived

    @property
    def unavailable_reason(self) -> UnavailableReason | None:
        """Why the derived values are unavailable, ``None`` while they are available."""
        return self.snapshot.unavailable_reason

    @property
    def unavailable_detail(self) -> str | None:
        """What made the derived values unavailable, for the log and diagnostics."""
        return self.snapshot.unavailable_detail

    @property
    def stale_reading(self) -> Reading | None:
        """The input that made the zone stale (the oldest), while it is stale."""
        return self.snapshot.stale_reading

    @property
    def available(self) -> bool:
        """Whether derived values are available (all inputs valid and fresh)."""
        return self.snapshot.derived is not None

    def light_phase(self, now: datetime) -> LightPhase:
        """Day or night, and the seconds to the next switch of the lights when known.

        The time to the switch comes from the light schedule, and only while the schedule
        agrees with the current period: a light that does not follow the schedule (or a
        period set by hand) gives no forecast. The engine never switches the light itself.
        """
        if self.light_schedule is None:
            return LightPhase(is_day=self.is_day)
        scheduled = self.light_schedule.phase_at(seconds_of_day(now))
        if scheduled.is_day != self.is_day:
            return LightPhase(is_day=self.is_day)
        return LightPhase(is_day=self.is_day, seconds_to_switch=scheduled.seconds_to_switch)

    @property
    def target_temperature(self) -> float:
        """The temperature target of the current period, °C."""
        return self.targets.day_temperature if self.is_day else self.targets.night_temperature

    @property
    def target_vpd(self) -> float:
        """The leaf VPD target of the current period, kPa."""
        return self.targets.day_vpd if self.is_day else self.targets.night_vpd

    @property
    def vpd_band(self) -> tuple[float, float]:
        """The accepted leaf VPD band (low, high) of the current period, kPa."""
        band = Band.around(self.target_vpd, vpd_band_half_width(self.growth_stage), floor=0.0)
        return (band.low, band.high)

    @property
    def vpd_is_leaf(self) -> bool:
        """Whether the targets are leaf VPD (living plants) or air VPD (drying)."""
        return STAGE_TARGETS[self.growth_stage].vpd_is_leaf

    @property
    def current_vpd(self) -> float | None:
        """The VPD the targets refer to (leaf VPD, air VPD while drying), kPa, or ``None``."""
        if self.derived is None:
            return None
        return self.derived.leaf_vpd if self.vpd_is_leaf else self.derived.air_vpd

    @property
    def vpd_status(self) -> VpdStatus | None:
        """The current VPD against the band, or ``None`` while unavailable."""
        vpd = self.current_vpd
        if vpd is None:
            return None
        return Band(*self.vpd_band).classify(
            vpd, below=VpdStatus.TOO_LOW, inside=VpdStatus.IN_RANGE, above=VpdStatus.TOO_HIGH
        )

    # --- listeners ----------------------------------------------------------------------------

    @callback
    def async_add_listener(self, update_callback: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update_callback`` after every change; returns the function that unsubscribes."""
        listener_id = self._next_listener_id
        self._next_listener_id += 1
        self._listeners[listener_id] = update_callback

        @callback
        def remove_listener() -> None:
            self._listeners.pop(listener_id, None)

        return remove_listener

    @callback
    def node_minimum_times(self) -> dict[str, tuple[float, float]]:
        """Minimum on and off time (s) the zone's node enforces, by mapped entity id.

        Only for actuators of the node itself that the zone drives: the node refuses
        commands inside these times, so the controller must not plan with shorter ones.
        """
        node = self.config.node
        if node is None:
            return {}
        unique_ids = node.unique_ids
        registry = er.async_get(self.hass)
        minimums: dict[str, tuple[float, float]] = {}
        for kind, (min_on, min_off) in node.actuator_timings.items():
            entity_id = self.actuators.get(kind)
            unique_id = unique_ids.get(kind)
            if (
                entity_id is not None
                and unique_id is not None
                and announced_actuator_entity_id(registry, unique_id) == entity_id
            ):
                minimums[entity_id] = (float(min_on), float(min_off))
        return minimums

    @property
    def listener_count(self) -> int:
        """How many listeners are subscribed (for tests and diagnostics)."""
        return len(self._listeners)

    @callback
    def _notify(self) -> None:
        for update_callback in list(self._listeners.values()):
            update_callback()

    # --- setters ------------------------------------------------------------------------------

    @callback
    def async_set_growth_stage(self, stage: GrowthStage, *, apply_targets: bool = True) -> None:
        """Set the growth stage; by default also apply the stage's targets."""
        stage = GrowthStage(stage)
        self.growth_stage = stage
        if apply_targets:
            self.targets = targets_for_stage(stage)
        self._notify()

    @callback
    def async_set_targets(
        self,
        *,
        day_temperature: float | None = None,
        night_temperature: float | None = None,
        day_vpd: float | None = None,
        night_vpd: float | None = None,
    ) -> None:
        """Change any subset of the targets (°C and kPa); ValueError if out of range."""
        changes = {
            name: float(value)
            for name, value in (
                ("day_temperature", day_temperature),
                ("night_temperature", night_temperature),
                ("day_vpd", day_vpd),
                ("night_vpd", night_vpd),
            )
            if value is not None
        }
        new_targets = replace(self.targets, **changes)
        new_targets.validate()
        if new_targets != self.targets:
            self.targets = new_targets
            self._notify()

    @callback
    def async_set_is_day(self, is_day: bool) -> None:
        """Switch between the day and the night targets."""
        if is_day != self.is_day:
            self.is_day = is_day
            self._notify()

    # --- life cycle ---------------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """Track the input entities (and the light) and compute the first values."""
        if self._started:
            return
        self._started = True
        self._unsubscribers.append(
            async_track_state_change_event(
                self.hass, self.input_entity_ids, self._async_input_changed
            )
        )
        self._unsubscribers.append(
            async_track_state_report_event(
                self.hass, self.input_entity_ids, self._async_input_reported
            )
        )
        tracked = [*self.input_entity_ids, *self.actuators.values()]
        self._unsubscribers.append(
            async_track_entity_registry_updated_event(
                self.hass, tracked, self._async_entity_registry_updated
            )
        )
        if light_entity_id := self.actuators.get(CONF_LIGHT):
            self._unsubscribers.append(
                async_track_state_change_event(
                    self.hass, light_entity_id, self._async_light_changed
                )
            )
            self._update_period_from_light(self.hass.states.get(light_entity_id))
        elif self.light_schedule is not None:
            self._follow_schedule()
        self._update_readings()

    @callback
    def async_stop(self) -> None:
        """Remove every tracker, timer and listener."""
        while self._unsubscribers:
            self._unsubscribers.pop()()
        self._cancel_stale()
        if self._cancel_schedule_timer is not None:
            self._cancel_schedule_timer()
            self._cancel_schedule_timer = None
        self._listeners.clear()
        self._started = False

    # --- event handlers -----------------------------------------------------------------------

    @callback
    def _async_input_changed(self, event: Event[EventStateChangedData]) -> None:
        self._request_update()

    @callback
    def _async_input_reported(self, event: Event[EventStateReportedData]) -> None:
        # The same value written again: only its time moves on, which keeps it fresh.
        self._request_update()

    @callback
    def _request_update(self) -> None:
        """Form one new snapshot after this event-loop turn, however many inputs it wrote.

        MQTT writes the states of all entities fed by one message in one turn: deriving on
        each of them would publish values for a climate that never was.
        """
        if self._update_pending:
            return
        self._update_pending = True
        self.hass.async_create_task(self._async_deferred_update(), eager_start=False)

    async def _async_deferred_update(self) -> None:
        self._update_pending = False
        if self._started:
            self._update_readings()

    @callback
    def _async_light_changed(self, event: Event[EventStateChangedData]) -> None:
        self._update_period_from_light(event.data["new_state"])

    @callback
    def _update_period_from_light(self, state: State | None) -> None:
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return  # keep the period we had: a flaky light entity must not flip targets
        self.async_set_is_day(state.state == STATE_ON)

    @callback
    def _follow_schedule(self) -> None:
        """Take the period from the schedule, and come back at its next switch."""
        assert self.light_schedule is not None  # noqa: S101  # only called with a schedule
        phase = self.light_schedule.phase_at(seconds_of_day(dt_util.utcnow()))
        # A hair after the switch, so that the schedule says the new period.
        self._cancel_schedule_timer = async_call_later(
            self.hass, (phase.seconds_to_switch or 0.0) + 0.01, self._async_schedule_switched
        )
        self.async_set_is_day(phase.is_day)

    @callback
    def _async_schedule_switched(self, _now: datetime) -> None:
        self._cancel_schedule_timer = None
        self._follow_schedule()

    @callback
    def _async_entity_registry_updated(
        self, event: Event[er.EventEntityRegistryUpdatedData]
    ) -> None:
        """Follow a renamed source entity: rewrite the entry, which reloads the zone."""
        data = event.data
        if data["action"] != "update" or "old_entity_id" not in data:
            return
        old_entity_id, new_entity_id = data["old_entity_id"], data["entity_id"]
        new_data = _replace_value(self.entry.data, old_entity_id, new_entity_id)
        new_options = _replace_value(self.entry.options, old_entity_id, new_entity_id)
        _LOGGER.info(
            "Grow zone %s: %s was renamed to %s, following it",
            self.name,
            old_entity_id,
            new_entity_id,
        )
        self.hass.config_entries.async_update_entry(self.entry, data=new_data, options=new_options)
        self.hass.config_entries.async_schedule_reload(self.entry.entry_id)

    # --- readings -----------------------------------------------------------------------------

    def _read(
        self, entity_id: str, convert: Callable[[State], float]
    ) -> tuple[Reading | None, UnavailableReason | None, str | None]:
        state = self.hass.states.get(entity_id)
        if state is None:
            return None, UnavailableReason.INPUT_UNAVAILABLE, f"{entity_id} does not exist"
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None, UnavailableReason.INPUT_UNAVAILABLE, f"{entity_id} is {state.state}"
        try:
            value = convert(state)
        except InvalidInputError as err:
            return None, UnavailableReason.INPUT_INVALID, str(err)
        return Reading(entity_id, value, state.last_reported), None, None

    @callback
    def _update_readings(self) -> None:
        air, air_reason, air_detail = self._read(self.temperature_entity_id, temperature_from_state)
        humidity, rh_reason, rh_detail = self._read(self.humidity_entity_id, humidity_from_state)
        leaf: Reading | None = None
        if self.leaf_temperature_entity_id:
            # Without a valid leaf reading the zone falls back to air minus the offset.
            leaf, _, _ = self._read(self.leaf_temperature_entity_id, temperature_from_state)
        reason = air_reason or rh_reason
        detail = air_detail or rh_detail
        self._evaluate(air, humidity, leaf, reason, detail)

    @callback
    def _evaluate(
        self,
        air: Reading | None,
        humidity: Reading | None,
        leaf: Reading | None,
        reason: UnavailableReason | None,
        detail: str | None,
    ) -> None:
        """Form the new snapshot: derived values and availability from the readings."""
        derived: DerivedValues | None = None
        now = dt_util.utcnow()
        if leaf is not None and now - leaf.updated > self.max_input_age:
            # A stale leaf sensor is ignored: air temperature minus the offset stands in.
            leaf = None
        stale_reading: Reading | None = None
        if reason is None and air is not None and humidity is not None:
            stale = [r for r in (air, humidity) if now - r.updated > self.max_input_age]
            if stale:
                stale_reading = min(stale, key=lambda r: r.updated)
                reason = UnavailableReason.INPUT_STALE
                detail = (
                    f"{stale_reading.entity_id} not updated since "
                    f"{stale_reading.updated.isoformat()}"
                )
            else:
                try:
                    derived = derive(
                        air.value, humidity.value, leaf.value if leaf else None, self.leaf_offset
                    )
                except psychrometrics.PsychrometricsError as err:
                    reason = UnavailableReason.INPUT_INVALID
                    detail = str(err)
        self.snapshot = ZoneSnapshot(
            readings=ZoneReadings(air, humidity, leaf),
            derived=derived,
            unavailable_reason=reason,
            unavailable_detail=detail,
            stale_reading=stale_reading,
        )
        self._schedule_stale_check(now)
        self._log_availability()
        self._notify()

    def _fresh_deadlines(self, since: datetime) -> list[datetime]:
        """When each input that was fresh at ``since`` becomes stale."""
        return [
            reading.updated + self.max_input_age
            for reading in (
                self.readings.air_temperature,
                self.readings.humidity,
                self.readings.leaf_temperature,
            )
            if reading is not None and reading.updated + self.max_input_age >= since
        ]

    @callback
    def _schedule_stale_check(self, now: datetime) -> None:
        """Look again when the oldest fresh reading becomes stale.

        A pending check that comes no later is kept: a new reading only moves the deadline
        on, and rescheduling for every reading would cost a timer per reading. The check
        forms a new snapshot only if an input really went stale (see _async_stale_check).
        """
        self._stale_checked_since = now
        deadlines = self._fresh_deadlines(now)
        if not deadlines:
            self._cancel_stale()
            return
        deadline = min(deadlines)
        if self._cancel_stale_timer is not None and self._stale_check_due <= deadline:
            return
        self._start_stale_timer(deadline, now)

    @callback
    def _start_stale_timer(self, deadline: datetime, now: datetime) -> None:
        self._cancel_stale()
        self._stale_check_due = deadline
        # A hair after the deadline, so that the reading is strictly older than the maximum age.
        self._cancel_stale_timer = async_call_later(
            self.hass, (deadline - now).total_seconds() + 0.001, self._async_stale_check
        )

    @callback
    def _async_stale_check(self, _now: datetime) -> None:
        self._cancel_stale_timer = None
        now = dt_util.utcnow()
        deadlines = self._fresh_deadlines(self._stale_checked_since)
        if deadlines and min(deadlines) > now:
            # Newer readings came in: nothing is stale yet.
            self._start_stale_timer(min(deadlines), now)
            return
        self._update_readings()

    @callback
    def _cancel_stale(self) -> None:
        if self._cancel_stale_timer is not None:
            self._cancel_stale_timer()
            self._cancel_stale_timer = None

    @callback
    def _log_availability(self) -> None:
        """Log once when the zone becomes unavailable and once when it is back."""
        if self.derived is None:
            if self.unavailable_since is None:
                self.unavailable_since = dt_util.utcnow()
            if not self._logged_unavailable:
                self._logged_unavailable = True
                _LOGGER.info(
                    "Grow zone %s is unavailable (%s): %s",
                    self.name,
                    self.unavailable_reason,
                    self.unavailable_detail,
                )
            return
        self.unavailable_since = None
        if self._logged_unavailable:
            self._logged_unavailable = False
            _LOGGER.info("Grow zone %s is available again", self.name)
