"""The node protocol's wire format: topics, discovery, announcement, readings, replays.

Pure module (no MQTT client, no Home Assistant): it builds every JSON document described
in ``docs/protocol.md`` (device discovery, node announcement, live readings, backfill
batches, diagnostics) and parses what arrives from the outside (switch commands, replay
requests, the node's own retained discovery) into values or a clear error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
import json
import math
import re
from typing import Any, Final

from . import __version__
from .config import (
    DEFAULT_DISCOVERY_PREFIX,
    ActuatorKind,
    AgentConfig,
    ConfigError,
    SensorConfig,
)
from .outbox import StoredReading

ORIGIN_NAME: Final = "rala-edge"
ORIGIN_URL: Final = "https://github.com/rala-grow/rala"
MANUFACTURER: Final = "RALA"
MODEL: Final = "RALA edge node"
SENSOR_MODEL: Final = "BME280"
ANNOUNCEMENT_SCHEMA: Final = 1

PAYLOAD_ONLINE: Final = "online"
PAYLOAD_OFFLINE: Final = "offline"
PAYLOAD_ON: Final = "ON"
PAYLOAD_OFF: Final = "OFF"

MAX_COMMAND_BYTES: Final = 256
MAX_COMMAND_AGE: Final = 30.0
MAX_REPLAY_REQUEST_BYTES: Final = 1024
MAX_REQUEST_ID_LENGTH: Final = 128
#: Sequence numbers are SQLite integers (the outbox's ``INTEGER PRIMARY KEY``): 0..2**63-1.
MAX_SEQ: Final = 2**63 - 1
#: Incoming JSON nested deeper than this is refused before it is parsed (the parser
#: recurses once per level, so depth is what could exhaust the stack).
MAX_JSON_DEPTH: Final = 16
#: A message on the node's own discovery topic larger than this is not read.
MAX_DISCOVERY_BYTES: Final = 256 * 1024
#: The integration refuses a larger node announcement unread.
MAX_ANNOUNCEMENT_BYTES: Final = 64 * 1024
#: At most this many components are removed from Home Assistant per run of the agent.
MAX_REMOVED_COMPONENTS: Final = 64
#: Components of the node's own discovery document that it may remove: what it publishes.
MAX_COMPONENT_ID_LENGTH: Final = 255
_COMPONENT_ID: Final = re.compile(r"[a-z0-9_]+")
_OWN_PLATFORMS: Final = frozenset({"sensor", "switch"})
#: Command timestamps outside this range are refused (and never converted, which could
#: overflow datetime's range at its edges).
EARLIEST_TIMESTAMP: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP: Final = datetime(9999, 12, 30, tzinfo=UTC)
BACKFILL_BATCH_SIZE: Final = 500
#: The command topic ``rala-edge check`` publishes on to test the node's ACL: no
#: actuator can have this key (keys are ``[a-z0-9_]+``), and the agent ignores it.
CHECK_PROBE_ACTUATOR: Final = "rala-check"
STATE_MAX_LENGTH: Final = 255

ACTUATOR_ICONS: Final[Mapping[ActuatorKind, str]] = {
    ActuatorKind.HEATER: "mdi:radiator",
    ActuatorKind.COOLER: "mdi:snowflake",
    ActuatorKind.HUMIDIFIER: "mdi:air-humidifier",
    ActuatorKind.DEHUMIDIFIER: "mdi:air-humidifier-off",
    ActuatorKind.EXHAUST_FAN: "mdi:fan",
    ActuatorKind.CIRCULATION_FAN: "mdi:fan-chevron-up",
    ActuatorKind.LIGHT: "mdi:lightbulb",
    ActuatorKind.PUMP: "mdi:water-pump",
}


@dataclass(frozen=True, slots=True)
class Topics:
    """Every MQTT topic of one node (see the table in ``docs/protocol.md``)."""

    node_id: str
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX

    @property
    def base(self) -> str:
        """``rala/<node>``."""
        return f"rala/{self.node_id}"

    @property
    def discovery(self) -> str:
        """Home Assistant device discovery topic."""
        return f"{self.discovery_prefix}/device/{self.node_id}/config"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth and will topic."""
        return f"{self.discovery_prefix}/status"

    @property
    def availability(self) -> str:
        """The agent's birth, will and clean-exit topic."""
        return f"{self.base}/availability"

    @property
    def node(self) -> str:
        """Retained node announcement."""
        return f"{self.base}/node"

    @property
    def diagnostics(self) -> str:
        """Node health."""
        return f"{self.base}/diagnostics"

    @property
    def backfill(self) -> str:
        """Batches of buffered readings."""
        return f"{self.base}/backfill"

    @property
    def replay(self) -> str:
        """Replay requests from the integration."""
        return f"{self.base}/replay"

    @property
    def probe(self) -> str:
        """Never subscribed: the link's liveness probe unsubscribes it (see link.Liveness)."""
        return f"{self.base}/probe"

    @property
    def command_filter(self) -> str:
        """Subscription filter matching every actuator's command topic."""
        return f"{self.base}/actuator/+/set"

    def sensor_state(self, sensor: str) -> str:
        """Live readings of one sensor."""
        return f"{self.base}/sensor/{sensor}/state"

    def actuator_state(self, actuator: str) -> str:
        """Retained read-back state of one relay."""
        return f"{self.base}/actuator/{actuator}/state"

    def actuator_command(self, actuator: str) -> str:
        """Command topic of one relay."""
        return f"{self.base}/actuator/{actuator}/set"

    def actuator_from_command_topic(self, topic: str) -> str | None:
        """The actuator key of a command topic, or None when the topic is not one."""
        prefix = f"{self.base}/actuator/"
        if not topic.startswith(prefix) or not topic.endswith("/set"):
            return None
        key = topic[len(prefix) : -len("/set")]
        return key if key and "/" not in key else None


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z`` suffix.

    The milliseconds are truncated, not rounded: rounding could carry into the next second.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware (UTC), got naive {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with an offset or ``Z``; naive timestamps are refused.

    Only moments from 1970-01-01 to 9999-12-30 UTC are accepted (ValueError otherwise):
    converting a moment at the edge of datetime's range to UTC could overflow it.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {text[:40]!r} has no time zone")
    # Comparing aware datetimes does not convert them, so this cannot overflow.
    if not EARLIEST_TIMESTAMP <= moment <= LATEST_TIMESTAMP:
        raise ValueError(f"timestamp {text[:40]!r} is outside 1970-01-01..9999-12-30 UTC")
    return moment.astimezone(UTC)


def entity_slug(text: str) -> str:
    """A Home Assistant object id fragment: lowercase, ``[a-z0-9_]``."""
    return "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in text.lower())


def device_identifier(node_id: str) -> str:
    """The device identifier shared by discovery and the node announcement."""
    return f"rala_{node_id}"


def sensor_unique_id(node_id: str, sensor: str, quantity: str) -> str:
    """unique_id of one quantity (temperature, humidity, pressure) of one sensor."""
    return f"rala_{node_id}_{sensor}_{quantity}"


def actuator_unique_id(node_id: str, actuator: str) -> str:
    """unique_id of one relay switch."""
    return f"rala_{node_id}_{actuator}"


def diagnostic_unique_id(node_id: str, name: str) -> str:
    """unique_id of one node-health sensor."""
    return f"rala_{node_id}_{name}"


@dataclass(frozen=True, slots=True)
class _Quantity:
    key: str
    label: str
    device_class: str
    unit: str
    precision: int


CLIMATE_QUANTITIES: Final = (
    _Quantity("temperature", "temperature", "temperature", "°C", 1),
    _Quantity("humidity", "humidity", "humidity", "%", 1),
    _Quantity("pressure", "pressure", "atmospheric_pressure", "hPa", 1),
)


@dataclass(frozen=True, slots=True)
class _Diagnostic:
    key: str
    name: str
    device_class: str | None
    unit: str | None
    precision: int | None
    state_class: str | None = "measurement"  # None: not a number
    #: Key of the diagnostics document whose object becomes the entity's attributes.
    attributes: str | None = None


#: Key of the per-reason counts of refused messages in the diagnostics document.
REFUSED_BY_REASON: Final = "refused_by_reason"

DIAGNOSTICS: Final = (
    _Diagnostic("cpu_temperature", "CPU temperature", "temperature", "°C", 1),
    _Diagnostic("disk_free", "Free disk", "data_size", "GB", 1),
    _Diagnostic("uptime", "Uptime", "duration", "s", 0),
    _Diagnostic("wifi_signal", "Wi-Fi signal", "signal_strength", "dBm", 0),
    _Diagnostic("outbox_depth", "Outbox depth", None, None, 0),
    _Diagnostic("last_error", "Last error", None, None, None, state_class=None),
    # Counted since the agent started: a restart starts again from 0.
    _Diagnostic(
        "refused_messages",
        "Refused messages",
        None,
        None,
        0,
        state_class="total_increasing",
        attributes=REFUSED_BY_REASON,
    ),
)


def expire_after_seconds(sample_interval: float) -> int:
    """``expire_after`` for live sensors: about three sample intervals, at least 1 s."""
    return max(1, math.ceil(3 * sample_interval))


def _sensor_components(
    config: AgentConfig, sensor: SensorConfig, topics: Topics, expire_after: int
) -> dict[str, dict[str, Any]]:
    node_slug = entity_slug(config.node_id)
    components: dict[str, dict[str, Any]] = {}
    for quantity in CLIMATE_QUANTITIES:
        component_id = f"{sensor.key}_{quantity.key}"
        components[component_id] = {
            "p": "sensor",
            "unique_id": sensor_unique_id(config.node_id, sensor.key, quantity.key),
            "default_entity_id": f"sensor.{node_slug}_{sensor.key}_{quantity.key}",
            "name": f"{sensor.name} {quantity.label}",
            "device_class": quantity.device_class,
            "unit_of_measurement": quantity.unit,
            "state_class": "measurement",
            "suggested_display_precision": quantity.precision,
            "expire_after": expire_after,
            "state_topic": topics.sensor_state(sensor.key),
            "value_template": f"{{{{ value_json.{quantity.key} }}}}",
        }
    return components


def _diagnostic_components(
    config: AgentConfig, topics: Topics, expire_after: int
) -> dict[str, dict[str, Any]]:
    node_slug = entity_slug(config.node_id)
    components: dict[str, dict[str, Any]] = {}
    for diagnostic in DIAGNOSTICS:
        component: dict[str, Any] = {
            "p": "sensor",
            "unique_id": diagnostic_unique_id(config.node_id, diagnostic.key),
            "default_entity_id": f"sensor.{node_slug}_{diagnostic.key}",
            "name": diagnostic.name,
            "entity_category": "diagnostic",
            "state_topic": topics.diagnostics,
            # A value the node cannot read is null; "None" is MQTT sensor's "unknown".
            "value_template": f"{{{{ value_json.{diagnostic.key} }}}}",
            "expire_after": expire_after,
        }
        if diagnostic.state_class is not None:
            component["state_class"] = diagnostic.state_class
        if diagnostic.attributes is not None:
            component["json_attributes_topic"] = topics.diagnostics
            component["json_attributes_template"] = (
                f"{{{{ value_json.{diagnostic.attributes} | tojson }}}}"
            )
        if diagnostic.device_class is not None:
            component["device_class"] = diagnostic.device_class
        if diagnostic.unit is not None:
            component["unit_of_measurement"] = diagnostic.unit
        if diagnostic.precision is not None:
            component["suggested_display_precision"] = diagnostic.precision
        components[f"node_{diagnostic.key}"] = component
    return components


def discovery_components(config: AgentConfig, *, sample_interval: float) -> dict[str, Any]:
    """The ``cmps`` of the device discovery payload, keyed by component id."""
    topics = Topics(config.node_id, config.discovery_prefix)
    expire_after = expire_after_seconds(sample_interval)
    node_slug = entity_slug(config.node_id)
    components: dict[str, Any] = {}
    for sensor in config.sensors:
        components.update(_sensor_components(config, sensor, topics, expire_after))
    for actuator in config.actuators:
        components[actuator.key] = {
            "p": "switch",
            "unique_id": actuator_unique_id(config.node_id, actuator.key),
            "default_entity_id": f"switch.{node_slug}_{actuator.key}",
            "name": actuator.name,
            "command_topic": topics.actuator_command(actuator.key),
            "state_topic": topics.actuator_state(actuator.key),
            "payload_on": PAYLOAD_ON,
            "payload_off": PAYLOAD_OFF,
            "retain": False,
            "optimistic": False,
            "icon": ACTUATOR_ICONS[actuator.kind],
        }
    components.update(_diagnostic_components(config, topics, expire_after))
    return components


def build_discovery_payload(
    config: AgentConfig,
    *,
    sample_interval: float,
    removed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Home Assistant device-based discovery for ``<prefix>/device/<node>/config``.

    ``sample_interval`` is the real time between readings (it sets ``expire_after``).
    ``removed`` maps component ids that are no longer configured to their platform: each
    is sent as ``{"p": platform}``, Home Assistant's documented way of removing one
    component of a device.
    """
    topics = Topics(config.node_id, config.discovery_prefix)
    components = discovery_components(config, sample_interval=sample_interval)
    for component_id, platform in (removed or {}).items():
        if component_id not in components:
            components[component_id] = {"p": platform}
    return {
        "dev": {
            "identifiers": [device_identifier(config.node_id)],
            "name": config.name,
            "manufacturer": MANUFACTURER,
            "model": MODEL,
            "sw_version": __version__,
        },
        "o": {"name": ORIGIN_NAME, "sw": __version__, "url": ORIGIN_URL},
        "cmps": components,
        "availability_topic": topics.availability,
        "payload_available": PAYLOAD_ONLINE,
        "payload_not_available": PAYLOAD_OFFLINE,
        "qos": 1,
    }


def stale_components(
    previous_payload: bytes, current: Iterable[str], *, node_id: str | None = None
) -> dict[str, str]:
    """Components of a previously published discovery document that are not current.

    ``previous_payload`` is what arrived on the node's own discovery topic (normally the
    broker's retained copy of what the node published). Returns component id → platform
    for every component there that is missing from ``current`` and that this node could
    have published itself: a full ``sensor`` or ``switch`` component whose id is made of
    ``[a-z0-9_]`` and whose ``unique_id`` is ``rala_<node>_...`` (without ``node_id``:
    ``rala_...``, any RALA node; the agent always gives its own). Removal stubs
    (``{"p": ...}`` alone) are not learned again, so a removal does not outlive the next
    start of the agent, and nothing a stranger publishes there is kept for ever.

    An empty payload (no retained document) gives an empty result; anything that is not a
    discovery document raises PayloadError.
    """
    if not previous_payload:
        return {}
    if len(previous_payload) > MAX_DISCOVERY_BYTES:
        raise PayloadError(
            f"discovery document of {len(previous_payload)} bytes exceeds {MAX_DISCOVERY_BYTES}",
            Refusal.DISCOVERY_INVALID,
        )
    document = load_json(previous_payload, "discovery document", refusal=Refusal.DISCOVERY_INVALID)
    if not isinstance(document, dict) or not isinstance(document.get("cmps"), dict):
        raise PayloadError("discovery document has no cmps object", Refusal.DISCOVERY_INVALID)
    wanted = set(current)
    own_prefix = "rala_" if node_id is None else f"rala_{node_id}_"
    stale: dict[str, str] = {}
    for component_id, component in document["cmps"].items():
        if component_id in wanted or not isinstance(component, dict):
            continue
        if len(component_id) > MAX_COMPONENT_ID_LENGTH or not _COMPONENT_ID.fullmatch(component_id):
            continue
        platform = component.get("p", component.get("platform"))
        unique_id = component.get("unique_id")
        if (
            platform in _OWN_PLATFORMS
            and isinstance(unique_id, str)
            and unique_id.startswith(own_prefix)
        ):
            stale[component_id] = platform
    return stale


def build_node_announcement(config: AgentConfig, *, sample_interval: float) -> dict[str, Any]:
    """The retained node announcement the integration's config flow discovers."""
    topics = Topics(config.node_id, config.discovery_prefix)
    return {
        "schema": ANNOUNCEMENT_SCHEMA,
        "node_id": config.node_id,
        "name": config.name,
        "sw_version": __version__,
        "sample_interval": sample_interval,
        "availability_topic": topics.availability,
        "backfill_topic": topics.backfill,
        "replay_topic": topics.replay,
        "device_identifier": device_identifier(config.node_id),
        "sensors": [
            {
                "key": sensor.key,
                "name": sensor.name,
                "zone": sensor.zone,
                "model": SENSOR_MODEL,
                "state_topic": topics.sensor_state(sensor.key),
                "unique_ids": {
                    quantity.key: sensor_unique_id(config.node_id, sensor.key, quantity.key)
                    for quantity in CLIMATE_QUANTITIES
                },
            }
            for sensor in config.sensors
        ],
        "actuators": [
            {
                "key": actuator.key,
                "name": actuator.name,
                "kind": str(actuator.kind.value),
                "zone": actuator.zone,
                "unique_id": actuator_unique_id(config.node_id, actuator.key),
                "state_topic": topics.actuator_state(actuator.key),
                "command_topic": topics.actuator_command(actuator.key),
                "min_on": actuator.min_on,
                "min_off": actuator.min_off,
                "max_on": actuator.max_on,
            }
            for actuator in config.actuators
        ],
    }


def live_reading_payload(stored: StoredReading) -> dict[str, Any]:
    """A reading as published live on its sensor's state topic (the topic names the sensor)."""
    reading = stored.reading
    return {
        "seq": stored.seq,
        "ts": format_timestamp(reading.measured_at),
        "temperature": reading.temperature,
        "humidity": reading.humidity,
        "pressure": reading.pressure,
    }


def backfill_reading_payload(stored: StoredReading) -> dict[str, Any]:
    """A reading as it appears in a backfill batch: with the key of its sensor."""
    reading = stored.reading
    return {
        "seq": stored.seq,
        "ts": format_timestamp(reading.measured_at),
        "sensor": reading.sensor,
        "temperature": reading.temperature,
        "humidity": reading.humidity,
        "pressure": reading.pressure,
    }


def check_announceable(config: AgentConfig, *, sample_interval: float) -> None:
    """Raise ConfigError when the node's documents would be too large to be read.

    Home Assistant's RALA integration refuses a node announcement over
    MAX_ANNOUNCEMENT_BYTES, and the agent itself does not read back a discovery document
    over MAX_DISCOVERY_BYTES; long names on many sensors could reach either.
    """
    errors = []
    documents = (
        ("node announcement", build_node_announcement, MAX_ANNOUNCEMENT_BYTES),
        ("discovery document", build_discovery_payload, MAX_DISCOVERY_BYTES),
    )
    for what, build, limit in documents:
        size = len(encode(build(config, sample_interval=sample_interval)))
        if size > limit:
            errors.append(
                f"configuration: the {what} would be {size} bytes, more than the {limit} "
                "that can be read (shorten the names, or use fewer sensors or actuators)"
            )
    if errors:
        raise ConfigError(errors)


def build_backfill_payload(
    node_id: str,
    readings: Sequence[Mapping[str, Any]],
    *,
    request_id: str | None,
    oldest_available_seq: int | None,
) -> dict[str, Any]:
    """A backfill batch; ``readings`` are backfill entries in seq order."""
    return {
        "node_id": node_id,
        "request_id": request_id,
        "readings": list(readings),
        "first_seq": readings[0]["seq"] if readings else None,
        "last_seq": readings[-1]["seq"] if readings else None,
        "oldest_available_seq": oldest_available_seq,
    }


def build_diagnostics_payload(
    *,
    cpu_temperature: float | None,
    disk_free: float | None,
    uptime: float,
    wifi_signal: int | None,
    outbox_depth: int,
    last_error: str | None,
    refused: Mapping[Refusal, int],
) -> dict[str, Any]:
    """Node health as published on ``rala/<node>/diagnostics``."""
    return {
        "cpu_temperature": None if cpu_temperature is None else round(cpu_temperature, 1),
        "disk_free": None if disk_free is None else round(disk_free, 2),
        "uptime": round(uptime),
        "wifi_signal": wifi_signal,
        "outbox_depth": outbox_depth,
        "last_error": None if last_error is None else last_error[:STATE_MAX_LENGTH],
        "refused_messages": sum(refused.values()),
        REFUSED_BY_REASON: {str(refusal): count for refusal, count in refused.items()},
    }


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class Refusal(StrEnum):
    """Why the agent refused an incoming message: the keys of its refused-messages counts."""

    COMMAND_MALFORMED = "command_malformed"
    COMMAND_RETAINED = "command_retained"
    COMMAND_STALE = "command_stale"
    COMMAND_UNKNOWN_ACTUATOR = "command_unknown_actuator"
    #: Well-formed, but the relay's interlocks said no (minimum times, exclusive partner,
    #: link lost): counted so a controller that fights the node shows up.
    COMMAND_NOT_ALLOWED = "command_not_allowed"
    REPLAY_MALFORMED = "replay_malformed"
    REPLAY_RETAINED = "replay_retained"
    REPLAY_QUEUE_FULL = "replay_queue_full"
    DISCOVERY_INVALID = "discovery_invalid"
    DISCOVERY_TOO_MANY_REMOVALS = "discovery_too_many_removals"
    HA_STATUS_UNKNOWN = "ha_status_unknown"


class PayloadError(ValueError):
    """An incoming payload was refused; the message says why, ``refusal`` how to count it."""

    def __init__(self, message: str, refusal: Refusal) -> None:
        """Keep the reason with the message."""
        super().__init__(message)
        self.refusal = refusal


# Outside strings, only brackets and braces change the nesting depth. The closing quote
# is optional, so an unterminated string ends the scan instead of being tried again from
# every later quote: the scan stays linear in the payload's length.
_JSON_NESTING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
# A \uD800-\uDFFF escape: JSON may pair two into one character, but a lone one decodes to
# a str that cannot be encoded again, so echoing it (a replay's request_id) would fail.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def holds_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a string (or key) that is no Unicode text."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def load_json(
    payload: bytes, what: str, *, refusal: Refusal, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse incoming JSON, refusing (PayloadError) anything nested deeper than ``max_depth``.

    The depth is measured before parsing: json's parser recurses once per level and would
    otherwise run out of stack on a few kilobytes of ``[[[[...``.
    """
    depth = 0
    for match in _JSON_NESTING.finditer(payload):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise PayloadError(f"{what} is nested deeper than {max_depth} levels", refusal)
        elif token in (b"]", b"}"):
            depth -= 1
    try:
        value = json.loads(payload)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise PayloadError(f"{what} is not valid JSON: {err}", refusal) from err
    if _SURROGATE_ESCAPE.search(payload) and holds_lone_surrogate(value):
        raise PayloadError(f"{what} holds a lone UTF-16 surrogate, which is no text", refusal)
    return value


def parse_command(
    payload: bytes, *, retained: bool, now: datetime, max_age: float = MAX_COMMAND_AGE
) -> bool:
    """Parse a switch command: ``ON``/``OFF`` or ``{"state": "ON", "ts": "..."}``.

    Returns the requested state (True = on). Raises PayloadError for a retained, oversized,
    malformed, unknown or stale command (a ``ts`` more than ``max_age`` seconds away from
    ``now`` in either direction: a command from the future means a wrong clock).
    """
    if retained:
        raise PayloadError(
            "retained command ignored (commands are never retained)", Refusal.COMMAND_RETAINED
        )
    if len(payload) > MAX_COMMAND_BYTES:
        raise PayloadError(
            f"command of {len(payload)} bytes exceeds {MAX_COMMAND_BYTES}",
            Refusal.COMMAND_MALFORMED,
        )
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise PayloadError("command is not UTF-8", Refusal.COMMAND_MALFORMED) from err
    if text in (PAYLOAD_ON, PAYLOAD_OFF):
        return text == PAYLOAD_ON
    if not text.startswith("{"):
        raise PayloadError(
            f"unknown command {text[:40]!r}: expected ON, OFF or a JSON object",
            Refusal.COMMAND_MALFORMED,
        )
    document = load_json(text.encode(), "command", refusal=Refusal.COMMAND_MALFORMED)
    if not isinstance(document, dict):
        raise PayloadError("command JSON must be an object", Refusal.COMMAND_MALFORMED)
    unknown = set(document) - {"state", "ts"}
    if unknown:
        raise PayloadError(
            f"unknown command keys: {', '.join(sorted(unknown))}", Refusal.COMMAND_MALFORMED
        )
    state = document.get("state")
    if state not in (PAYLOAD_ON, PAYLOAD_OFF):
        raise PayloadError(
            f"command state must be 'ON' or 'OFF', got {state!r}", Refusal.COMMAND_MALFORMED
        )
    if "ts" in document:
        stamp = document["ts"]
        if not isinstance(stamp, str):
            raise PayloadError("command ts must be an ISO 8601 string", Refusal.COMMAND_MALFORMED)
        try:
            sent_at = parse_timestamp(stamp)
        except ValueError as err:
            raise PayloadError(
                f"command ts {stamp!r} is not an ISO 8601 time: {err}", Refusal.COMMAND_MALFORMED
            ) from err
        age = (now - sent_at).total_seconds()
        if abs(age) > max_age:
            raise PayloadError(
                f"stale command: ts is {age:.0f} s from now (limit {max_age:.0f} s)",
                Refusal.COMMAND_STALE,
            )
    return bool(state == PAYLOAD_ON)


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """A request to resend the readings ``from_seq..to_seq`` (inclusive)."""

    request_id: str | None
    from_seq: int
    to_seq: int


def _sequence_number(document: Mapping[str, Any], key: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:40] + "..."
        raise PayloadError(
            f"replay request {key} must be an integer from 0 to {MAX_SEQ}, got {shown}",
            Refusal.REPLAY_MALFORMED,
        )
    return value


def parse_replay_request(payload: bytes) -> ReplayRequest:
    """Parse ``{"request_id": "...", "from_seq": N, "to_seq": M}``; PayloadError if invalid."""
    if len(payload) > MAX_REPLAY_REQUEST_BYTES:
        raise PayloadError(
            f"replay request of {len(payload)} bytes exceeds {MAX_REPLAY_REQUEST_BYTES}",
            Refusal.REPLAY_MALFORMED,
        )
    document = load_json(payload, "replay request", refusal=Refusal.REPLAY_MALFORMED)
    if not isinstance(document, dict):
        raise PayloadError("replay request must be a JSON object", Refusal.REPLAY_MALFORMED)
    request_id = document.get("request_id")
    if request_id is not None and (
        not isinstance(request_id, str) or len(request_id) > MAX_REQUEST_ID_LENGTH
    ):
        raise PayloadError(
            f"replay request_id must be a string of at most {MAX_REQUEST_ID_LENGTH} characters",
            Refusal.REPLAY_MALFORMED,
        )
    from_seq = _sequence_number(document, "from_seq")
    to_seq = _sequence_number(document, "to_seq")
    if to_seq < from_seq:
        raise PayloadError(
            f"replay request to_seq {to_seq} is before from_seq {from_seq}",
            Refusal.REPLAY_MALFORMED,
        )
    return ReplayRequest(request_id, from_seq, to_seq)
