"""A zone's configuration, read once from its config entry into one typed, frozen object.

Pure: the entry's ``data`` and ``options`` are plain mappings here. Every default of a zone
option is applied in this module and nowhere else; the zone, its climate entity and its
history read the result (changing the options reloads the entry, so it never goes stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
import math
from typing import Any

from .announcement import MAX_MIN_TIME, MAX_SAMPLE_INTERVAL
from .const import (
    ACTUATOR_KEYS,
    ACTUATOR_MIN_OFF,
    ACTUATOR_MIN_ON,
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_LEAF_TEMPERATURE_ENTITY,
    CONF_LIGHTS_ON_TIME,
    CONF_MAX_HUMIDITY,
    CONF_MAX_INPUT_AGE,
    CONF_MAX_TEMPERATURE,
    CONF_MIN_OFF_TIME,
    CONF_MIN_ON_TIME,
    CONF_NODE_ACTUATOR_TIMINGS,
    CONF_NODE_AVAILABILITY_TOPIC,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    CONF_NODE_SAMPLE_INTERVAL,
    CONF_NODE_SENSOR,
    CONF_NODE_UNIQUE_IDS,
    CONF_PHOTOPERIOD,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DEFAULT_LEAF_OFFSET,
    DEFAULT_MAX_HUMIDITY,
    DEFAULT_MAX_INPUT_AGE,
    DEFAULT_MAX_TEMPERATURE,
    MIN_MAX_INPUT_AGE,
)
from .control import ControlError, LightSchedule


class ZoneConfigError(ValueError):
    """The entry holds node data outside the protocol's ranges; the message says which."""


@dataclass(frozen=True, slots=True)
class NodeLink:
    """What a zone of an edge node knows of its node (from the node's announcement)."""

    node_id: str
    sensor: str | None
    """The node's sensor the zone reads (its key in the node's configuration)."""
    device_identifier: str | None
    """The identifier of the node's device made by MQTT discovery."""
    availability_topic: str | None
    sample_interval: float | None
    """Seconds between two readings of the node, when announced."""
    unique_ids: Mapping[str, str] = field(default_factory=dict)
    """Unique ids of the node's entities, by role (actuator kinds, sensor quantities)."""
    actuator_timings: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """The minimum on and off time (s) the node enforces, by actuator kind."""


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """A zone's configuration (entry data and options, the options winning)."""

    name: str
    temperature_entity_id: str
    humidity_entity_id: str
    leaf_temperature_entity_id: str | None
    leaf_offset: float
    """°C the leaves are cooler than the air, when no leaf sensor is mapped."""
    actuators: Mapping[str, str]
    """Mapped entity ids by actuator key (:data:`.const.ACTUATOR_KEYS`); mapped keys only."""
    max_input_age: timedelta
    """An input not written for longer is stale."""
    light_schedule: LightSchedule | None
    light_schedule_problem: str | None
    """Why the options' light schedule was ignored, if it was."""
    max_temperature: float
    """°C: the hard limit above which heating stops whatever the targets."""
    max_humidity: float
    """% RH: the hard limit above which humidifying stops whatever the targets."""
    min_on_time: float
    """Seconds a climate actuator stays on at least once switched on."""
    min_off_time: float
    """Seconds a climate actuator stays off at least once switched off."""
    node: NodeLink | None
    """``None`` for a zone from existing sensors."""

    @property
    def input_entity_ids(self) -> list[str]:
        """The entity ids whose states feed the zone."""
        entity_ids = [self.temperature_entity_id, self.humidity_entity_id]
        if self.leaf_temperature_entity_id:
            entity_ids.append(self.leaf_temperature_entity_id)
        return entity_ids


def zone_config(title: str, data: Mapping[str, Any], options: Mapping[str, Any]) -> ZoneConfig:
    """Read a zone's configuration; :class:`ZoneConfigError` for invalid node data.

    The config flow stores only what the announcement's checks let through
    (:mod:`.announcement`); an entry stored before those checks existed may hold other
    numbers, which must fail the setup before any entity exists.
    """
    config: dict[str, Any] = {**data, **options}
    name = title or str(config.get(CONF_ZONE_NAME, ""))
    if (problem := node_data_problem(data)) is not None:
        raise ZoneConfigError(problem)
    try:
        light_schedule, light_problem = light_schedule_from_options(config), None
    except ValueError as err:
        light_schedule, light_problem = None, str(err)
    return ZoneConfig(
        name=name,
        temperature_entity_id=config[CONF_TEMPERATURE_ENTITY],
        humidity_entity_id=config[CONF_HUMIDITY_ENTITY],
        leaf_temperature_entity_id=config.get(CONF_LEAF_TEMPERATURE_ENTITY) or None,
        leaf_offset=float(config.get(CONF_LEAF_OFFSET, DEFAULT_LEAF_OFFSET)),
        actuators={key: config[key] for key in ACTUATOR_KEYS if config.get(key)},
        max_input_age=timedelta(seconds=_max_input_age_seconds(config)),
        light_schedule=light_schedule,
        light_schedule_problem=light_problem,
        max_temperature=_number_or(config.get(CONF_MAX_TEMPERATURE), DEFAULT_MAX_TEMPERATURE),
        max_humidity=_number_or(config.get(CONF_MAX_HUMIDITY), DEFAULT_MAX_HUMIDITY),
        # The options flow validates the range; a negative time would only disable the hold.
        min_on_time=max(0.0, float(config.get(CONF_MIN_ON_TIME, ACTUATOR_MIN_ON))),
        min_off_time=max(0.0, float(config.get(CONF_MIN_OFF_TIME, ACTUATOR_MIN_OFF))),
        node=_node_link(config),
    )


def _node_link(config: Mapping[str, Any]) -> NodeLink | None:
    node_id = config.get(CONF_NODE_ID)
    if not node_id:
        return None
    timings: Mapping[str, list[float]] = config.get(CONF_NODE_ACTUATOR_TIMINGS, {})
    interval = config.get(CONF_NODE_SAMPLE_INTERVAL)
    return NodeLink(
        node_id=str(node_id),
        sensor=config.get(CONF_NODE_SENSOR),
        device_identifier=config.get(CONF_NODE_DEVICE_IDENTIFIER),
        availability_topic=config.get(CONF_NODE_AVAILABILITY_TOPIC),
        sample_interval=float(interval) if interval else None,
        unique_ids=dict(config.get(CONF_NODE_UNIQUE_IDS, {})),
        actuator_timings={
            kind: (float(min_on), float(min_off)) for kind, (min_on, min_off) in timings.items()
        },
    )


def _number_or(value: object, default: float) -> float:
    """A number option, or the default when it is not set (bad values fail in the engine)."""
    if value is None:
        return default
    try:
        return float(value)  # type: ignore[arg-type]
    except TypeError, ValueError:
        return math.nan


def _max_input_age_seconds(config: Mapping[str, Any]) -> float:
    configured = config.get(CONF_MAX_INPUT_AGE)
    if configured:
        return float(configured)
    sample_interval = config.get(CONF_NODE_SAMPLE_INTERVAL)
    if sample_interval:
        # Two missed samples make a node's reading stale, but never sooner than a minute.
        return max(float(MIN_MAX_INPUT_AGE), 2.0 * float(sample_interval))
    return float(DEFAULT_MAX_INPUT_AGE)


def light_schedule_from_options(options: Mapping[str, Any]) -> LightSchedule | None:
    """The light schedule of a zone's options (``None`` without one).

    Raises ValueError when the options hold an invalid schedule.
    """
    on_time, hours = options.get(CONF_LIGHTS_ON_TIME), options.get(CONF_PHOTOPERIOD)
    if not on_time or not hours:
        return None
    parsed = _time_of_day(str(on_time))
    if parsed is None:
        raise ValueError(f"lights-on time {on_time!r} is not a time of day")
    try:
        return LightSchedule(
            on_at=parsed.hour * 3600.0 + parsed.minute * 60.0 + parsed.second,
            on_for=float(hours) * 3600.0,
        )
    except ControlError as err:
        raise ValueError(str(err)) from err


def _time_of_day(text: str) -> time | None:
    """``H:MM`` or ``H:MM:SS`` (what Home Assistant's time selector stores), else ``None``."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        return None
    try:
        hour, minute, second = (int(part) for part in [*parts, "0"][:3])
        return time(hour, minute, second)
    except ValueError:
        return None


def node_data_problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with the node data of a zone's entry, or ``None``."""
    interval = data.get(CONF_NODE_SAMPLE_INTERVAL)
    if interval is not None and not _in_range(interval, 0.0, MAX_SAMPLE_INTERVAL, positive=True):
        return (
            f"sample interval {interval!r} s is not above 0 and at most {MAX_SAMPLE_INTERVAL:g} s"
        )
    timings = data.get(CONF_NODE_ACTUATOR_TIMINGS, {})
    if not isinstance(timings, Mapping):
        return f"actuator timings {timings!r} are not a mapping"
    for kind, pair in timings.items():
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(_in_range(value, 0.0, MAX_MIN_TIME) for value in pair)
        ):
            return (
                f"minimum times {pair!r} of {kind} are not two numbers from 0 to {MAX_MIN_TIME:g} s"
            )
    return None


def _in_range(value: object, low: float, high: float, *, positive: bool = False) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
        and not (positive and value == low)
    )
