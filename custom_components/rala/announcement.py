"""The node announcement of a RALA edge node (``rala/<node>/node``): parsing and validation.

Pure module (standard library only). The wire format is defined in ``docs/protocol.md``.
:func:`parse_announcement` is strict: anything that is not a well-formed announcement of
a known schema raises :class:`AnnouncementError` whose ``reason`` is a short code the
config flow turns into a translated abort reason. Unknown extra keys are accepted, so a
node with a newer *minor* addition still works. Every number has a range (the
``MAX_*`` constants, documented in the protocol) and is refused outside it, before it
reaches a config entry; the JSON is bounded in size and depth before it is decoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import math
import re
from typing import Any, Final

from .bounded_json import BoundedJsonError, load_bounded
from .const import NODE_ACTUATOR_KINDS, PUMP
from .node_protocol import (
    KEY_PATTERN,
    MAX_TOPIC_LENGTH,
    NODE_ID_PATTERN,
    is_node_topic,
    node_id_from_announcement_topic,
)

SUPPORTED_SCHEMA: Final = 1
"""The announcement schema version this integration understands."""
MAX_PAYLOAD_BYTES: Final = 65536
"""An announcement larger than this is refused unread."""
MAX_JSON_DEPTH: Final = 8
"""Deepest nesting of arrays and objects accepted (an announcement needs 4)."""
MAX_SCHEMA: Final = 999
"""The highest schema number taken for a schema at all (a newer one is reported as such)."""
MAX_SAMPLE_INTERVAL: Final = 3600.0
"""Seconds; ``sample_interval`` must be above 0 and at most this (twice it is the zone's
default input age, which is at most a day)."""
MAX_MIN_TIME: Final = 86400.0
"""Seconds; ``min_on`` and ``min_off`` lie between 0 and this (a day)."""
MAX_MAX_ON: Final = 7 * 86400.0
"""Seconds; ``max_on`` lies between 0 and this (a week), or is ``null``."""
ACTUATOR_KINDS: Final = NODE_ACTUATOR_KINDS

REASON_EMPTY: Final = "node_withdrawn"
REASON_INVALID_JSON: Final = "invalid_json"
REASON_INVALID: Final = "invalid_announcement"
REASON_UNSUPPORTED_SCHEMA: Final = "unsupported_schema"


class AnnouncementError(ValueError):
    """The payload is not a usable announcement; ``reason`` says which way."""

    def __init__(self, reason: str, message: str, *, schema: int | None = None) -> None:
        """Keep a machine-readable reason and, for unknown schemas, the announced version."""
        super().__init__(message)
        self.reason = reason
        self.schema = schema


@dataclass(frozen=True, slots=True)
class AnnouncedSensor:
    """A sensor of the node and the MQTT unique_ids of its quantities."""

    key: str
    name: str
    zone: str
    model: str | None
    state_topic: str
    unique_ids: Mapping[str, str]

    @property
    def has_climate(self) -> bool:
        """Whether it measures both temperature and humidity (what a zone needs)."""
        return "temperature" in self.unique_ids and "humidity" in self.unique_ids


@dataclass(frozen=True, slots=True)
class AnnouncedActuator:
    """A relay of the node."""

    key: str
    name: str
    kind: str
    zone: str
    unique_id: str
    min_on: float | None
    min_off: float | None
    max_on: float | None


@dataclass(frozen=True, slots=True)
class ZoneBinding:
    """What one zone of a node is bound to: a climate sensor and actuators by kind."""

    zone: str
    sensor: AnnouncedSensor
    actuators: Mapping[str, AnnouncedActuator] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Announcement:
    """A validated node announcement."""

    schema: int
    node_id: str
    name: str
    sw_version: str | None
    sample_interval: float
    availability_topic: str
    device_identifier: str
    sensors: tuple[AnnouncedSensor, ...]
    actuators: tuple[AnnouncedActuator, ...]

    def zones(self) -> list[ZoneBinding]:
        """The zones of the node that can become grow zones, in announcement order.

        A zone needs a sensor with temperature and humidity; the first such sensor of the
        zone is used. Actuators are assigned by kind (the first of a kind wins; pumps are
        not part of climate control).
        """
        bindings: dict[str, ZoneBinding] = {}
        for sensor in self.sensors:
            if sensor.has_climate and sensor.zone not in bindings:
                bindings[sensor.zone] = ZoneBinding(sensor.zone, sensor, {})
        result = []
        for zone, binding in bindings.items():
            actuators: dict[str, AnnouncedActuator] = {}
            for actuator in self.actuators:
                if actuator.zone == zone and actuator.kind != PUMP:
                    actuators.setdefault(actuator.kind, actuator)
            result.append(ZoneBinding(zone, binding.sensor, actuators))
        return result


def parse_announcement(payload: str | bytes | bytearray, topic: str | None = None) -> Announcement:
    """Validate an announcement payload (and, if given, that it came on its node's topic)."""
    if isinstance(payload, bytes | bytearray):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise AnnouncementError(REASON_INVALID, "announcement is too large")
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as err:
            raise AnnouncementError(REASON_INVALID_JSON, f"not UTF-8: {err}") from err
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise AnnouncementError(REASON_INVALID, "announcement is too large")
    if not payload.strip():
        raise AnnouncementError(REASON_EMPTY, "empty payload: the node was withdrawn")
    try:
        # Bounded in depth before decoding; over-long integers come back as no number.
        document = load_bounded(payload, max_bytes=4 * MAX_PAYLOAD_BYTES, max_depth=MAX_JSON_DEPTH)
    except BoundedJsonError as err:
        raise AnnouncementError(REASON_INVALID_JSON, f"not JSON: {err}") from err
    if not isinstance(document, dict):
        raise AnnouncementError(REASON_INVALID, "announcement is not a JSON object")

    schema = document.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= MAX_SCHEMA:
        raise AnnouncementError(
            REASON_INVALID, f"schema must be an integer from 1 to {MAX_SCHEMA}: {schema!r}"
        )
    if schema > SUPPORTED_SCHEMA:
        raise AnnouncementError(
            REASON_UNSUPPORTED_SCHEMA,
            f"schema {schema} is newer than the supported {SUPPORTED_SCHEMA}",
            schema=schema,
        )

    node_id = _string(document, "node_id", pattern=NODE_ID_PATTERN)
    if topic is not None and node_id_from_announcement_topic(topic) != node_id:
        raise AnnouncementError(REASON_INVALID, f"node_id {node_id!r} does not match {topic!r}")
    name = _string(document, "name")
    sensors_raw = _list(document, "sensors")
    actuators_raw = _list(document, "actuators")
    sensors = tuple(_sensor(item, name, node_id) for item in sensors_raw)
    actuators = tuple(_actuator(item, name) for item in actuators_raw)
    _unique_keys("sensor", [sensor.key for sensor in sensors])
    _unique_keys("actuator", [actuator.key for actuator in actuators])
    return Announcement(
        schema=schema,
        node_id=node_id,
        name=name,
        sw_version=_optional_string(document, "sw_version"),
        sample_interval=_number(document, "sample_interval", MAX_SAMPLE_INTERVAL, positive=True),
        availability_topic=_node_topic(document, "availability_topic", node_id),
        device_identifier=_string(document, "device_identifier"),
        sensors=sensors,
        actuators=actuators,
    )


def _sensor(item: Any, node_name: str, node_id: str) -> AnnouncedSensor:
    if not isinstance(item, dict):
        raise AnnouncementError(REASON_INVALID, f"sensor is not an object: {item!r}")
    unique_ids = item.get("unique_ids")
    if (
        not isinstance(unique_ids, dict)
        or not unique_ids
        or not all(
            isinstance(key, str) and isinstance(value, str) and value
            for key, value in unique_ids.items()
        )
    ):
        raise AnnouncementError(
            REASON_INVALID, f"sensor unique_ids must map quantities to ids: {unique_ids!r}"
        )
    return AnnouncedSensor(
        key=_string(item, "key", pattern=KEY_PATTERN),
        name=_string(item, "name"),
        zone=_optional_string(item, "zone") or node_name,
        model=_optional_string(item, "model"),
        state_topic=_node_topic(item, "state_topic", node_id),
        unique_ids=dict(unique_ids),
    )


def _actuator(item: Any, node_name: str) -> AnnouncedActuator:
    if not isinstance(item, dict):
        raise AnnouncementError(REASON_INVALID, f"actuator is not an object: {item!r}")
    kind = _string(item, "kind")
    if kind not in ACTUATOR_KINDS:
        raise AnnouncementError(REASON_INVALID, f"unknown actuator kind {kind!r}")
    return AnnouncedActuator(
        key=_string(item, "key", pattern=KEY_PATTERN),
        name=_string(item, "name"),
        kind=kind,
        zone=_optional_string(item, "zone") or node_name,
        unique_id=_string(item, "unique_id"),
        min_on=_optional_number(item, "min_on", MAX_MIN_TIME),
        min_off=_optional_number(item, "min_off", MAX_MIN_TIME),
        max_on=_optional_number(item, "max_on", MAX_MAX_ON),
    )


def _unique_keys(what: str, keys: list[str]) -> None:
    if len(set(keys)) != len(keys):
        raise AnnouncementError(REASON_INVALID, f"duplicate {what} keys: {keys!r}")


def _string(
    document: Mapping[str, Any], key: str, *, pattern: re.Pattern[str] | None = None
) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AnnouncementError(REASON_INVALID, f"{key} must be a non-empty string: {value!r}")
    if pattern is not None and not pattern.fullmatch(value):
        raise AnnouncementError(REASON_INVALID, f"{key} {value!r} has invalid characters")
    return value


def _node_topic(document: Mapping[str, Any], key: str, node_id: str) -> str:
    """A topic of the node that the integration may subscribe to as it is."""
    value = _string(document, key)
    if not is_node_topic(node_id, value):
        raise AnnouncementError(
            REASON_INVALID,
            f"{key} must be a topic under rala/{node_id}/ without wildcards, control "
            f"characters or empty levels, of at most {MAX_TOPIC_LENGTH} characters: {value!r}",
        )
    return value


def _optional_string(document: Mapping[str, Any], key: str) -> str | None:
    if document.get(key) is None:
        return None
    return _string(document, key)


def _list(document: Mapping[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list):
        raise AnnouncementError(REASON_INVALID, f"{key} must be a list: {value!r}")
    return value


def _number(
    document: Mapping[str, Any], key: str, maximum: float, *, positive: bool = False
) -> float:
    """A number from 0 (excluded if ``positive``) to ``maximum``.

    An integer too long for a float arrives as :class:`.bounded_json.LongInteger`, which is
    no ``int``: refused as a wrong type, before anything converts it.
    """
    value = document.get(key)
    low = "above 0" if positive else "from 0"
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 <= value <= maximum
        or (positive and value == 0)
    ):
        raise AnnouncementError(
            REASON_INVALID, f"{key} must be a number {low} to {maximum:g}: {value!r}"
        )
    return float(value)


def _optional_number(document: Mapping[str, Any], key: str, maximum: float) -> float | None:
    if document.get(key) is None:
        return None
    return _number(document, key, maximum)
