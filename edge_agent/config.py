"""The agent's configuration: one YAML file, validated before anything touches the hardware.

Every error names the key path that is wrong (``actuators[1].pin``) and what was expected;
all errors of a file are reported together. Validation uses voluptuous.

Secrets come from the environment: any string value may contain ``${NAME}`` (replaced by the
environment variable ``NAME``; an unset variable is an error) or ``${NAME:-default}`` (the
default when ``NAME`` is unset or empty). In addition ``RALA_MQTT_USERNAME`` and
``RALA_MQTT_PASSWORD``, when set and not empty, override ``broker.username`` and
``broker.password``.

Relative file paths (``broker.ca_file``, ``broker.cert_file``, ``broker.key_file``,
``outbox.path``) are resolved against the directory of the configuration file. The TLS
files must exist and be readable when the configuration is loaded.

A password is never shown in an error message, whatever was written for it. YAML nested
deeper than :data:`MAX_YAML_DEPTH` levels is refused (a configuration needs four).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import math
import os
from pathlib import Path
import re
from types import MappingProxyType
from typing import Any, Final, cast

import voluptuous as vol
import yaml

__all__ = [
    "ActuatorConfig",
    "ActuatorKind",
    "AgentConfig",
    "BrokerConfig",
    "ConfigError",
    "LinkLossAction",
    "OutboxConfig",
    "SensorConfig",
    "load_config",
    "parse_config",
]


class ConfigError(Exception):
    """The configuration is unusable; the message lists every problem with its key path."""

    def __init__(self, errors: Sequence[str], *, source: str | None = None) -> None:
        """Collect ``errors`` (each ``"key.path: what was expected"``) from ``source``."""
        self.errors: tuple[str, ...] = tuple(errors)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.errors) == 1:
            message = f"{where}invalid configuration: {self.errors[0]}"
        else:
            lines = "\n".join(f"  - {error}" for error in self.errors)
            message = f"{where}invalid configuration ({len(self.errors)} errors):\n{lines}"
        super().__init__(message)


class ActuatorKind(StrEnum):
    """What an actuator does to the climate; decides interlocks and link-loss defaults."""

    HEATER = "heater"
    COOLER = "cooler"
    HUMIDIFIER = "humidifier"
    DEHUMIDIFIER = "dehumidifier"
    EXHAUST_FAN = "exhaust_fan"
    CIRCULATION_FAN = "circulation_fan"
    LIGHT = "light"
    PUMP = "pump"


class LinkLossAction(StrEnum):
    """State an actuator takes when the link to Home Assistant is lost for too long."""

    OFF = "off"
    ON = "on"
    KEEP = "keep"


# Kinds that must not run unattended: they go off on link loss unless configured otherwise.
FAIL_SAFE_OFF_KINDS: Final = frozenset({ActuatorKind.HEATER, ActuatorKind.HUMIDIFIER})

# Pairs that work against each other; never both on in the same zone.
EXCLUSIVE_KINDS: Final[Mapping[ActuatorKind, ActuatorKind]] = MappingProxyType(
    {
        ActuatorKind.HEATER: ActuatorKind.COOLER,
        ActuatorKind.COOLER: ActuatorKind.HEATER,
        ActuatorKind.HUMIDIFIER: ActuatorKind.DEHUMIDIFIER,
        ActuatorKind.DEHUMIDIFIER: ActuatorKind.HUMIDIFIER,
    }
)

BME280_ADDRESSES: Final = (0x76, 0x77)
MUX_ADDRESSES: Final = tuple(range(0x70, 0x78))
MUX_CHANNELS: Final = tuple(range(8))

# Raspberry Pi header GPIOs reachable as Blinka board pins D0..D27, and the pins each I2C
# bus uses (a relay there would fight the sensors).
GPIO_PINS: Final = tuple(f"D{number}" for number in range(28))
I2C_BUS_PINS: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {0: ("D0", "D1"), 1: ("D2", "D3")}
)

MQTT_PORT: Final = 1883
MQTT_TLS_PORT: Final = 8883
DEFAULT_DISCOVERY_PREFIX: Final = "homeassistant"
DEFAULT_OUTBOX_BYTES: Final = 256 * 1024 * 1024
DEFAULT_RETENTION_DAYS: Final = 14.0
DEFAULT_OUTBOX_DIRECTORY: Final = Path("/var/lib/rala-edge")
OUTBOX_FILE_NAME: Final = "outbox.sqlite"
MIN_OUTBOX_BYTES: Final = 1024 * 1024
#: Deeper YAML is refused before it is built (building it recurses once per level).
MAX_YAML_DEPTH: Final = 64

# What the node announces must be what the integration accepts from an announcement
# (custom_components/rala/announcement.py, docs/protocol.md): a node can never announce
# something its zone rejects. A test compares both sides.
#: Node ids: the ``<node>`` of every topic.
NODE_ID_PATTERN: Final = re.compile(r"[a-z0-9_-]+")
#: Sensor and actuator keys: parts of component ids and entity ids, so no ``-``.
KEY_PATTERN: Final = re.compile(r"[a-z0-9_]+")
MIN_SAMPLE_INTERVAL: Final = 1.0
#: Seconds; the integration's zone derives its default input age from it.
MAX_SAMPLE_INTERVAL: Final = 3600.0
#: Seconds; the bound of ``min_on`` and ``min_off`` (a day).
MAX_MIN_TIME: Final = 86400.0
#: Seconds; the bound of ``max_on`` (a week).
MAX_MAX_ON: Final = 7 * 86400.0


# Placeholder default of BrokerConfig.port, replaced at construction.
_PORT_OF_SCHEME: Final = cast(int, object())


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """How to reach the MQTT broker."""

    host: str
    # When not given, __post_init__ fills in MQTT's port, or MQTT over TLS's with tls.
    port: int = _PORT_OF_SCHEME
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive: int = 60

    def __post_init__(self) -> None:
        """Fill in the default port of the scheme."""
        if self.port is _PORT_OF_SCHEME:
            object.__setattr__(self, "port", MQTT_TLS_PORT if self.tls else MQTT_PORT)


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """One BME280, directly on the bus or behind a TCA9548A mux channel."""

    key: str
    name: str
    zone: str
    address: int = 0x76
    mux_address: int | None = None
    mux_channel: int | None = None
    temperature_offset: float = 0.0
    humidity_offset: float = 0.0
    pressure_offset: float = 0.0


def default_link_loss(kind: ActuatorKind) -> LinkLossAction:
    """Link-loss action of ``kind`` when the config does not say: heat and water go off."""
    return LinkLossAction.OFF if kind in FAIL_SAFE_OFF_KINDS else LinkLossAction.KEEP


# Placeholder default of ActuatorConfig.link_loss, replaced at construction.
_KIND_DEFAULT: Final = cast(LinkLossAction, object())


@dataclass(frozen=True, slots=True)
class ActuatorConfig:
    """One relay driven by a GPIO pin; times in seconds."""

    key: str
    name: str
    kind: ActuatorKind
    zone: str
    pin: str
    active_low: bool = False
    boot_state: bool = False
    min_on: float = 0.0
    min_off: float = 0.0
    max_on: float | None = None
    # When not given, __post_init__ fills in the kind's default (see default_link_loss).
    link_loss: LinkLossAction = _KIND_DEFAULT

    def __post_init__(self) -> None:
        """Fill in the kind's default link-loss action."""
        if self.link_loss is _KIND_DEFAULT:
            object.__setattr__(self, "link_loss", default_link_loss(self.kind))


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    """Where readings wait until the broker has acknowledged them."""

    path: Path
    max_bytes: int = DEFAULT_OUTBOX_BYTES
    retention_days: float = DEFAULT_RETENTION_DAYS


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """The whole configuration of one node."""

    node_id: str
    name: str
    broker: BrokerConfig
    sensors: tuple[SensorConfig, ...]
    actuators: tuple[ActuatorConfig, ...]
    outbox: OutboxConfig
    sample_interval: float = 30.0
    link_loss_timeout: float = 120.0
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
    i2c_bus: int = 1
    # Raw `simulation:` section, validated by sim.TentParameters.from_mapping.
    simulation: Mapping[str, Any] = field(default_factory=_empty_mapping)


# --------------------------------------------------------------------------- validators

_PIN = re.compile(r"^(?:D|GPIO)?(\d+)$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_DURATION_UNITS: Final = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "ki": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "mi": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "gi": 1024**3,
}
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TRUE_WORDS: Final = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS: Final = frozenset({"false", "no", "off", "0"})

Validator = Callable[[Any], Any]


def _text(what: str = "a non-empty string") -> Validator:
    def validate(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise vol.Invalid(f"expected {what}, got {value!r}")
        return value.strip()

    return validate


def _kind_of(value: Any) -> str:
    """What a value is, in words, without showing it (for secrets)."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


def _secret(value: Any) -> str:
    """A password: a non-empty string, never echoed in the error."""
    if not isinstance(value, str) or not value.strip():
        hint = " (put the password in quotes)" if isinstance(value, int | float) else ""
        raise vol.Invalid(f"expected a non-empty string{hint}, got {_kind_of(value)}")
    return value.strip()


def _matching(pattern: re.Pattern[str], what: str) -> Validator:
    def validate(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise vol.Invalid(f"expected {what}, got {value!r}")
        return value

    return validate


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
        return value.strip().lower() in _TRUE_WORDS
    raise vol.Invalid(f"expected true or false, got {value!r}")


def _as_number(value: Any, *, integer: bool = False) -> float | None:
    """The number ``value`` stands for, or None: YAML numbers and numeric strings.

    Strings come from ``${VAR}`` substitution or quoted YAML; integers may be written in
    any base Python accepts (``0x76``). Booleans, infinities and NaN are no numbers.
    """
    if isinstance(value, bool):
        return None
    if integer:
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip(), 0)
            except ValueError:
                return None
        return None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    elif isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float's range
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _integer(minimum: int, maximum: int, what: str = "an integer") -> Validator:
    def validate(value: Any) -> int:
        number = _as_number(value, integer=True)
        if number is None or not minimum <= number <= maximum:
            raise vol.Invalid(f"expected {what} from {minimum} to {maximum}, got {value!r}")
        return int(number)

    return validate


def _number(
    minimum: float, maximum: float, *, exclusive_minimum: bool = False, unit: str
) -> Validator:
    if exclusive_minimum:
        what = f"a number greater than {minimum:g} and at most {maximum:g} {unit}"
    else:
        what = f"a number from {minimum:g} to {maximum:g} {unit}"

    def validate(value: Any) -> float:
        number = _as_number(value)
        if (
            number is None
            or number > maximum
            or number < minimum
            or (exclusive_minimum and number == minimum)
        ):
            raise vol.Invalid(f"expected {what}, got {value!r}")
        return number

    return validate


def _duration(
    minimum: float = 0.0, maximum: float = math.inf, *, allow_zero: bool = True
) -> Validator:
    bound = f"of at least {minimum:g} s" if allow_zero else "greater than 0 s"
    if maximum < math.inf:
        bound += f" and at most {maximum:g} s"
    what = f"a duration {bound} (a number of seconds, or e.g. '90s', '5m', '1h')"

    def validate(value: Any) -> float:
        seconds = _as_number(value)
        if seconds is None and isinstance(value, str) and (match := _DURATION.fullmatch(value)):
            seconds = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "").lower()]
        if seconds is None or not math.isfinite(seconds):
            raise vol.Invalid(f"expected {what}, got {value!r}")
        if seconds < minimum or seconds > maximum or (not allow_zero and seconds == 0):
            raise vol.Invalid(f"expected {what}, got {value!r}")
        return seconds

    return validate


def _byte_size(value: Any) -> int:
    what = f"a size in bytes of at least {MIN_OUTBOX_BYTES} (a number, or e.g. '256 MiB')"
    size = _as_number(value, integer=True)
    if size is None and isinstance(value, str) and (match := _SIZE.fullmatch(value)):
        size = int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()])
    if size is None or size < MIN_OUTBOX_BYTES:
        raise vol.Invalid(f"expected {what}, got {value!r}")
    return int(size)


def _i2c_address(allowed: Sequence[int], what: str) -> Validator:
    choices = ", ".join(f"0x{address:02x}" for address in allowed)

    def validate(value: Any) -> int:
        address = _as_number(value, integer=True)
        if address is None or address not in allowed:
            shown = f"0x{value:02x}" if isinstance(value, int) else repr(value)
            raise vol.Invalid(f"expected the {what} address ({choices}), got {shown}")
        return int(address)

    return validate


def _pin(value: Any) -> str:
    expected = "a GPIO pin name from D0 to D27 (Blinka board pin, e.g. 'D17')"
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and (match := _PIN.fullmatch(text.strip())):
        name = f"D{int(match.group(1))}"
        if name in GPIO_PINS:
            return name
    raise vol.Invalid(f"expected {expected}, got {value!r}")


def _path(value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid(f"expected a file path, got {value!r}")
    return Path(value.strip()).expanduser()


def _kind(value: Any) -> ActuatorKind:
    try:
        return ActuatorKind(value)
    except ValueError:
        choices = ", ".join(kind.value for kind in ActuatorKind)
        raise vol.Invalid(f"expected one of {choices}, got {value!r}") from None


def _link_loss(value: Any) -> LinkLossAction:
    # YAML 1.1 reads a bare `off`/`on` as a boolean.
    if value is True:
        return LinkLossAction.ON
    if value is False:
        return LinkLossAction.OFF
    try:
        return LinkLossAction(value)
    except ValueError:
        raise vol.Invalid(f"expected one of off, on, keep, got {value!r}") from None


def _discovery_prefix(value: Any) -> str:
    expected = "an MQTT topic prefix without wildcards or leading/trailing '/'"
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("/")
        or value.endswith("/")
        or any(character in value for character in "+#\0")
    ):
        raise vol.Invalid(f"expected {expected}, got {value!r}")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise vol.Invalid(f"expected a mapping of simulation parameters, got {value!r}")
    return MappingProxyType(dict(value))


def _optional(validator: Validator) -> Validator:
    def validate(value: Any) -> Any:
        return None if value is None else validator(value)

    return validate


def _require_mapping(item: Any) -> Mapping[Any, Any]:
    if not isinstance(item, Mapping):
        raise vol.Invalid(f"expected a mapping of keys, got {item!r}")
    return item


def _list_of(schema: vol.Schema, what: str) -> Validator:
    """Validate every item (voluptuous' own list check stops at the first bad item)."""

    def validate(value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise vol.Invalid(f"expected a list of {what}, got {value!r}")
        items: list[Any] = []
        errors: list[vol.Invalid] = []
        for index, item in enumerate(value):
            try:
                items.append(schema(_require_mapping(item)))
            except vol.Invalid as error:
                error.prepend([index])
                errors.extend(error.errors if isinstance(error, vol.MultipleInvalid) else [error])
        if errors:
            raise vol.MultipleInvalid(errors)
        return items

    return validate


def _blank_as_none(validator: Validator) -> Validator:
    """Optional text: null or empty (e.g. an unset ``${VAR:-}``) means not given."""

    def validate(value: Any) -> Any:
        return None if value is None or value == "" else validator(value)

    return validate


def _none_as(empty: Callable[[], Any]) -> Validator:
    def validate(value: Any) -> Any:
        return empty() if value is None else value

    return validate


_BROKER_SCHEMA = vol.Schema(
    {
        vol.Required("host"): _text("a host name or IP address"),
        vol.Optional("port"): _integer(1, 65535, "a TCP port"),
        vol.Optional("username"): _blank_as_none(_text()),
        vol.Optional("password"): _blank_as_none(_secret),
        vol.Optional("tls"): _boolean,
        vol.Optional("ca_file"): _optional(_path),
        vol.Optional("cert_file"): _optional(_path),
        vol.Optional("key_file"): _optional(_path),
        vol.Optional("keepalive"): _integer(5, 3600, "a keepalive in seconds"),
    }
)

_SENSOR_SCHEMA = vol.Schema(
    {
        vol.Required("key"): _matching(KEY_PATTERN, "a key of lower-case letters, digits and '_'"),
        vol.Optional("name"): _text(),
        vol.Optional("zone"): _text(),
        vol.Optional("address"): _i2c_address(BME280_ADDRESSES, "BME280"),
        vol.Optional("mux_address"): _optional(_i2c_address(MUX_ADDRESSES, "TCA9548A")),
        vol.Optional("mux_channel"): _optional(_integer(0, 7, "a mux channel")),
        vol.Optional("temperature_offset"): _number(-10.0, 10.0, unit="°C"),
        vol.Optional("humidity_offset"): _number(-20.0, 20.0, unit="% RH"),
        vol.Optional("pressure_offset"): _number(-50.0, 50.0, unit="hPa"),
    }
)

_ACTUATOR_SCHEMA = vol.Schema(
    {
        vol.Required("key"): _matching(KEY_PATTERN, "a key of lower-case letters, digits and '_'"),
        vol.Optional("name"): _text(),
        vol.Required("kind"): _kind,
        vol.Optional("zone"): _text(),
        vol.Required("pin"): _pin,
        vol.Optional("active_low"): _boolean,
        vol.Optional("boot_state"): _boolean,
        vol.Optional("min_on"): _duration(maximum=MAX_MIN_TIME),
        vol.Optional("min_off"): _duration(maximum=MAX_MIN_TIME),
        vol.Optional("max_on"): _optional(_duration(maximum=MAX_MAX_ON, allow_zero=False)),
        vol.Optional("link_loss"): _link_loss,
    }
)

_OUTBOX_SCHEMA = vol.Schema(
    {
        vol.Optional("path"): _path,
        vol.Optional("max_bytes"): _byte_size,
        vol.Optional("retention_days"): _number(0.0, 3650.0, exclusive_minimum=True, unit="days"),
    }
)


_TOP_SCHEMA = vol.Schema(
    {
        vol.Required("node_id"): _matching(
            NODE_ID_PATTERN, "a node id of lower-case letters, digits, '_' and '-'"
        ),
        vol.Optional("name"): _text(),
        vol.Required("broker"): _BROKER_SCHEMA,
        vol.Optional("sample_interval"): _duration(MIN_SAMPLE_INTERVAL, MAX_SAMPLE_INTERVAL),
        vol.Optional("link_loss_timeout"): _duration(1.0),
        vol.Optional("discovery_prefix"): _discovery_prefix,
        vol.Optional("i2c_bus"): _integer(0, 1, "an I2C bus number"),
        vol.Optional("sensors", default=list): _list_of(_SENSOR_SCHEMA, "sensors"),
        vol.Optional("actuators", default=list): _list_of(_ACTUATOR_SCHEMA, "actuators"),
        vol.Optional("outbox", default=dict): vol.All(_none_as(dict), _OUTBOX_SCHEMA),
        vol.Optional("simulation", default=dict): vol.All(_none_as(dict), _mapping),
    }
)


# --------------------------------------------------------------------------- parsing


def _format_path(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "configuration"


# Messages of voluptuous, and of probatio (its API-compatible successor, which Home
# Assistant's environment substitutes for it), in the words of this module.
_FRIENDLY_MESSAGES: Final = {
    "extra keys not allowed": "unknown key",
    "not a valid option": "unknown key",
    "required key not provided": "required key is missing",
    "expected a dictionary": "expected a mapping of keys",
    "expected a mapping": "expected a mapping of keys",
}


def _describe_invalid(error: vol.Invalid) -> str:
    message = error.error_message
    message = _FRIENDLY_MESSAGES.get(message, message)
    if message == "unknown key":
        allowed = ", ".join(_allowed_keys(error.path[:-1]))
        message = f"unknown key (expected one of: {allowed})"
    return f"{_format_path(error.path)}: {message}"


def _allowed_keys(parent: Sequence[Any]) -> list[str]:
    schemas: dict[str, vol.Schema] = {
        "broker": _BROKER_SCHEMA,
        "sensors": _SENSOR_SCHEMA,
        "actuators": _ACTUATOR_SCHEMA,
        "outbox": _OUTBOX_SCHEMA,
    }
    names = [part for part in parent if isinstance(part, str)]
    schema = schemas.get(names[0], _TOP_SCHEMA) if names else _TOP_SCHEMA
    return [str(key) for key in schema.schema]


def _collect_invalid(error: vol.Invalid) -> list[str]:
    if isinstance(error, vol.MultipleInvalid):
        return [message for inner in error.errors for message in _collect_invalid(inner)]
    return [_describe_invalid(error)]


def _substitute_environment(
    value: Any, environ: Mapping[str, str], path: list[Any], errors: list[str]
) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = environ.get(name)
            if found:
                return found
            if default is not None:
                return default
            if found is None:
                errors.append(f"{_format_path(path)}: environment variable {name} is not set")
            return ""

        return _ENV_REFERENCE.sub(replace, value)
    if isinstance(value, Mapping):
        return {
            key: _substitute_environment(item, environ, [*path, key], errors)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _substitute_environment(item, environ, [*path, index], errors)
            for index, item in enumerate(value)
        ]
    return value


def _default_name(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").capitalize()


def _resolve(path: Path | None, base_dir: Path | None) -> Path | None:
    if path is None or base_dir is None or path.is_absolute():
        return path
    return base_dir / path


_TLS_FILE_KEYS: Final = ("ca_file", "cert_file", "key_file")


def _tls_files(broker: BrokerConfig) -> dict[str, Path | None]:
    return {f"broker.{key}": getattr(broker, key) for key in _TLS_FILE_KEYS}


def _check_broker(broker: BrokerConfig, errors: list[str]) -> None:
    if broker.password is not None and broker.username is None:
        errors.append("broker.password: a password needs broker.username too")
    has_cert = broker.cert_file is not None
    has_key = broker.key_file is not None
    if has_cert != has_key:
        missing = "key_file" if has_cert else "cert_file"
        errors.append(f"broker.{missing}: a client certificate needs both cert_file and key_file")
    if not broker.tls:
        errors.extend(
            f"{key}: only used with tls: true"
            for key, path in _tls_files(broker).items()
            if path is not None
        )


def _check_files(paths: Mapping[str, Path | None], errors: list[str]) -> None:
    """Every given file exists and can be read (``paths``: key path → resolved path)."""
    for key, path in paths.items():
        if path is None:
            continue
        if not path.exists():
            errors.append(f"{key}: no such file: {path}")
        elif not path.is_file():
            errors.append(f"{key}: not a file: {path}")
        elif not os.access(path, os.R_OK):
            errors.append(f"{key}: cannot be read by this user: {path}")


def _check_sensors(sensors: Sequence[SensorConfig], errors: list[str]) -> None:
    keys: dict[str, int] = {}
    locations: dict[tuple[int | None, int | None, int], int] = {}
    for index, sensor in enumerate(sensors):
        where = f"sensors[{index}]"
        if sensor.key in keys:
            errors.append(
                f"{where}.key: duplicate sensor key {sensor.key!r} "
                f"(already used by sensors[{keys[sensor.key]}])"
            )
        keys.setdefault(sensor.key, index)
        if (sensor.mux_address is None) != (sensor.mux_channel is None):
            missing = "mux_channel" if sensor.mux_channel is None else "mux_address"
            errors.append(
                f"{where}.{missing}: a sensor behind a mux needs both mux_address and mux_channel"
            )
            continue
        location = (sensor.mux_address, sensor.mux_channel, sensor.address)
        if location in locations:
            errors.append(
                f"{where}.address: 0x{sensor.address:02x} is already used by "
                f"sensors[{locations[location]}] on the same bus segment"
            )
        locations.setdefault(location, index)
    _check_mux_conflicts(sensors, errors)


def _check_mux_conflicts(sensors: Sequence[SensorConfig], errors: list[str]) -> None:
    # A selected mux channel is wired straight through to the main bus: a device behind it
    # answers together with a device of the same address on the main bus.
    direct = {
        sensor.address: index
        for index, sensor in reversed(list(enumerate(sensors)))
        if sensor.mux_address is None
    }
    addresses = {sensor.address: index for index, sensor in reversed(list(enumerate(sensors)))}
    for index, sensor in enumerate(sensors):
        if sensor.mux_address is None:
            continue
        if sensor.address in direct:
            errors.append(
                f"sensors[{index}].address: 0x{sensor.address:02x} behind a mux collides with "
                f"sensors[{direct[sensor.address]}] directly on the bus whenever the channel "
                "is selected (use the other address)"
            )
        if sensor.mux_address in addresses:
            errors.append(
                f"sensors[{index}].mux_address: 0x{sensor.mux_address:02x} is also the address "
                f"of sensors[{addresses[sensor.mux_address]}] (set the mux's A0-A2 pins to "
                "another address)"
            )


def _check_actuators(actuators: Sequence[ActuatorConfig], i2c_bus: int, errors: list[str]) -> None:
    _check_boot_states(actuators, errors)
    keys: dict[str, int] = {}
    pins: dict[str, int] = {}
    reserved = I2C_BUS_PINS[i2c_bus]
    for index, actuator in enumerate(actuators):
        where = f"actuators[{index}]"
        if actuator.key in keys:
            errors.append(
                f"{where}.key: duplicate actuator key {actuator.key!r} "
                f"(already used by actuators[{keys[actuator.key]}])"
            )
        keys.setdefault(actuator.key, index)
        pin = actuator.pin
        if pin in reserved:
            errors.append(f"{where}.pin: {pin} is a pin of I2C bus {i2c_bus}, used by the sensors")
        elif pin in pins:
            errors.append(f"{where}.pin: {pin} is already used by actuators[{pins[pin]}]")
        pins.setdefault(pin, index)
        if actuator.max_on is not None and actuator.max_on < actuator.min_on:
            errors.append(
                f"{where}.max_on: expected at least min_on ({actuator.min_on:g} s), "
                f"got {actuator.max_on:g} s"
            )


def _check_boot_states(actuators: Sequence[ActuatorConfig], errors: list[str]) -> None:
    booting_on: dict[tuple[ActuatorKind, str], int] = {}
    for index, actuator in enumerate(actuators):
        if not actuator.boot_state:
            continue
        partner_kind = EXCLUSIVE_KINDS.get(actuator.kind)
        if partner_kind is not None and (partner_kind, actuator.zone) in booting_on:
            errors.append(
                f"actuators[{index}].boot_state: cannot boot on together with "
                f"actuators[{booting_on[partner_kind, actuator.zone]}] ({partner_kind.value}): "
                "they are never on together in one zone"
            )
        booting_on.setdefault((actuator.kind, actuator.zone), index)


def parse_config(
    raw: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    base_dir: Path | None = None,
) -> AgentConfig:
    """Validate ``raw`` (the parsed YAML) and build the configuration.

    ``environ`` defaults to ``os.environ``; relative paths are resolved against
    ``base_dir`` when given. Raises ConfigError listing every problem.
    """
    environment: Mapping[str, str] = os.environ if environ is None else environ
    if not isinstance(raw, Mapping):
        # Not shown: it could hold a password.
        raise ConfigError([f"configuration: expected a mapping of keys, got {_kind_of(raw)}"])
    errors: list[str] = []
    substituted = _substitute_environment(raw, environment, [], errors)
    if errors:
        raise ConfigError(errors)
    try:
        data: dict[str, Any] = _TOP_SCHEMA(substituted)
    except vol.Invalid as error:
        raise ConfigError(_collect_invalid(error)) from None

    name: str = data.get("name") or data["node_id"]
    broker = _broker_config(data["broker"], environment, base_dir)
    outbox: dict[str, Any] = data["outbox"]
    default_directory = Path(environment.get("STATE_DIRECTORY") or DEFAULT_OUTBOX_DIRECTORY)
    outbox_path = _resolve(outbox.get("path"), base_dir) or default_directory / OUTBOX_FILE_NAME
    config = AgentConfig(
        node_id=data["node_id"],
        name=name,
        broker=broker,
        sensors=tuple(_sensor_config(sensor, name) for sensor in data["sensors"]),
        actuators=tuple(_actuator_config(actuator, name) for actuator in data["actuators"]),
        outbox=OutboxConfig(path=outbox_path, **_given(outbox, "max_bytes", "retention_days")),
        simulation=data["simulation"],
        **_given(data, "sample_interval", "link_loss_timeout", "discovery_prefix", "i2c_bus"),
    )
    _check_broker(broker, errors)
    if broker.tls:
        _check_files(_tls_files(broker), errors)
    _check_sensors(config.sensors, errors)
    _check_actuators(config.actuators, config.i2c_bus, errors)
    if not config.sensors and not config.actuators:
        errors.append("sensors: a node needs at least one sensor or actuator")
    if errors:
        raise ConfigError(errors)
    return config


def _given(validated: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """The ``keys`` the file gave: the dataclasses' own defaults stand for the others."""
    return {key: validated[key] for key in keys if validated.get(key) is not None}


def _broker_config(
    broker: Mapping[str, Any], environment: Mapping[str, str], base_dir: Path | None
) -> BrokerConfig:
    given = dict(broker)
    for override, key in (("RALA_MQTT_USERNAME", "username"), ("RALA_MQTT_PASSWORD", "password")):
        if environment.get(override):
            given[key] = environment[override]
    for key in _TLS_FILE_KEYS:
        given[key] = _resolve(given.get(key), base_dir)
    return BrokerConfig(
        host=given["host"],
        **_given(given, "port", "username", "password", "tls", *_TLS_FILE_KEYS, "keepalive"),
    )


def _sensor_config(sensor: Mapping[str, Any], node_name: str) -> SensorConfig:
    return SensorConfig(
        key=sensor["key"],
        name=sensor.get("name") or _default_name(sensor["key"]),
        zone=sensor.get("zone") or node_name,
        **_given(
            sensor,
            "address",
            "mux_address",
            "mux_channel",
            "temperature_offset",
            "humidity_offset",
            "pressure_offset",
        ),
    )


def _actuator_config(actuator: Mapping[str, Any], node_name: str) -> ActuatorConfig:
    return ActuatorConfig(
        key=actuator["key"],
        name=actuator.get("name") or _default_name(actuator["key"]),
        kind=actuator["kind"],
        zone=actuator.get("zone") or node_name,
        pin=actuator["pin"],
        **_given(actuator, "active_low", "boot_state", "min_on", "min_off", "max_on", "link_loss"),
    )


# --------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one, and
    YAML nested deeper than MAX_YAML_DEPTH (PyYAML composes nodes recursively)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _TooDeepError(mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable key: SafeLoader reports it itself
            if first is not None:
                raise _DuplicateKeyError(key, first, key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(
            f"line {again.line + 1}, column {again.column + 1}: duplicate key {key!r} "
            f"(first defined on line {first.line + 1})"
        )


class _TooDeepError(yaml.YAMLError):
    def __init__(self, where: yaml.Mark) -> None:
        super().__init__(
            f"line {where.line + 1}, column {where.column + 1}: nested deeper than "
            f"{MAX_YAML_DEPTH} levels"
        )


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read and validate the YAML configuration file at ``path``."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError([f"cannot read the file: {reason}"], source=source) from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except (_DuplicateKeyError, _TooDeepError) as error:
        raise ConfigError([str(error)], source=source) from None
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        raise ConfigError([f"not valid YAML: {detail}"], source=source) from None
    if raw is None:
        raise ConfigError(["configuration: the file is empty"], source=source)
    try:
        return parse_config(raw, environ, base_dir=Path(path).resolve().parent)
    except ConfigError as error:
        raise ConfigError(error.errors, source=source) from None
