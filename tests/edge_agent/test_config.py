"""The agent's YAML configuration: valid files, broken files, secrets from the environment."""

from __future__ import annotations

import configparser
from importlib import resources
from pathlib import Path
import textwrap
from typing import Any

import pytest

from edge_agent.config import (
    ActuatorConfig,
    ActuatorKind,
    AgentConfig,
    ConfigError,
    LinkLossAction,
    load_config,
    parse_config,
)

MINIMAL = """
node_id: tent-pi
broker:
  host: broker.local
sensors:
  - key: canopy
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    """Write a dedented YAML file into ``tmp_path``."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def minimal(**changes: Any) -> dict[str, Any]:
    """A valid raw configuration with top-level ``changes`` applied."""
    raw: dict[str, Any] = {
        "node_id": "tent-pi",
        "broker": {"host": "broker.local"},
        "sensors": [{"key": "canopy"}],
    }
    raw.update(changes)
    return raw


def errors_of(raw: Any, environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The error lines parse_config reports for ``raw``."""
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ or {})
    return caught.value.errors


def actuator(**fields: Any) -> dict[str, Any]:
    """A valid raw actuator with ``fields`` applied."""
    return {"key": "heater", "kind": "heater", "pin": "D17", **fields}


# --------------------------------------------------------------------------- valid files


def test_the_shipped_example_config_is_valid() -> None:
    """The documented example in the package loads, with every section filled in."""
    example = resources.files("edge_agent") / "example-config.yaml"
    with resources.as_file(example) as path:
        environ = {"RALA_MQTT_PASSWORD": "from-the-environment"}
        config = load_config(path, environ=environ)
    assert config.node_id == "tent-pi"
    assert config.broker.password == environ["RALA_MQTT_PASSWORD"]
    assert [sensor.key for sensor in config.sensors] == ["canopy", "roots"]
    assert config.sensors[1].mux_address == 0x70
    assert config.sensors[1].mux_channel == 2
    kinds = {item.key: item.kind for item in config.actuators}
    assert kinds["heater"] is ActuatorKind.HEATER
    heater = config.actuators[0]
    assert heater.max_on == 30 * 60
    assert heater.active_low
    assert heater.link_loss is LinkLossAction.OFF
    assert config.actuators[-1].boot_state
    assert config.actuators[-1].link_loss is LinkLossAction.ON
    assert config.outbox.max_bytes == 256 * 1024 * 1024


def test_every_key_of_the_example_is_commented() -> None:
    """Every key of the example is documented by a comment right above one of its uses."""
    text = (resources.files("edge_agent") / "example-config.yaml").read_text(encoding="utf-8")
    documented: set[str] = set()
    previous = ""
    for line in text.splitlines():
        stripped = line.strip().removeprefix("- ")
        if stripped and not stripped.startswith("#") and ":" in stripped:
            key = stripped.split(":", 1)[0]
            if previous.startswith("#"):
                documented.add(key)
        previous = line.strip()
    keys_in_file = {
        line.strip().removeprefix("- ").split(":", 1)[0]
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#") and ":" in line
    }
    assert keys_in_file - documented == set()
    assert {"node_id", "broker", "sensors", "actuators", "outbox", "link_loss"} <= documented


def test_minimal_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    """Leaving keys out gives the defaults the example documents."""
    config = load_config(write(tmp_path, MINIMAL), environ={})
    assert config == AgentConfig(
        node_id="tent-pi",
        name="tent-pi",
        broker=config.broker,
        sensors=config.sensors,
        actuators=(),
        outbox=config.outbox,
    )
    assert config.broker.port == 1883
    assert config.broker.keepalive == 60
    assert config.broker.username is None
    assert config.sample_interval == 30.0
    assert config.link_loss_timeout == 120.0
    assert config.discovery_prefix == "homeassistant"
    assert config.i2c_bus == 1
    assert dict(config.simulation) == {}
    sensor = config.sensors[0]
    assert (sensor.name, sensor.zone, sensor.address) == ("Canopy", "tent-pi", 0x76)
    assert sensor.mux_address is None
    assert config.outbox.path == Path("/var/lib/rala-edge/outbox.sqlite")
    assert config.outbox.retention_days == 14.0


def test_outbox_defaults_to_the_systemd_state_directory() -> None:
    """With StateDirectory= systemd sets $STATE_DIRECTORY: the outbox goes there."""
    config = parse_config(minimal(), {"STATE_DIRECTORY": "/var/lib/rala-edge-test"})
    assert config.outbox.path == Path("/var/lib/rala-edge-test/outbox.sqlite")


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    """ca_file and the outbox path are found next to the config, wherever it is started."""
    text = MINIMAL.replace(
        "  host: broker.local", "  host: broker.local\n  tls: true\n  ca_file: certs/ca.crt"
    )
    path = write(tmp_path, text + "outbox:\n  path: data/outbox.sqlite\n")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs/ca.crt").write_text("a CA certificate\n", encoding="utf-8")
    config = load_config(path, environ={})
    assert config.broker.ca_file == tmp_path / "certs/ca.crt"
    assert config.broker.port == 8883  # the TLS default
    assert config.outbox.path == tmp_path / "data/outbox.sqlite"
    absolute = parse_config(minimal(outbox={"path": "/srv/outbox.sqlite"}), {})
    assert absolute.outbox.path == Path("/srv/outbox.sqlite")


def test_link_loss_defaults_per_kind() -> None:
    """Heater and humidifier go off when the link is lost; everything else keeps its state."""
    kinds = list(ActuatorKind)
    raw = minimal(
        actuators=[
            {"key": kind.value, "kind": kind.value, "pin": f"D{10 + index}"}
            for index, kind in enumerate(kinds)
        ]
    )
    config = parse_config(raw, {})
    actions = {item.kind: item.link_loss for item in config.actuators}
    assert actions == {
        kind: LinkLossAction.OFF
        if kind in {ActuatorKind.HEATER, ActuatorKind.HUMIDIFIER}
        else LinkLossAction.KEEP
        for kind in kinds
    }
    # The dataclass fills in the same default when built directly.
    direct = ActuatorConfig(key="h", name="H", kind=ActuatorKind.HUMIDIFIER, zone="z", pin="D5")
    assert direct.link_loss is LinkLossAction.OFF
    fan = ActuatorConfig(key="f", name="F", kind=ActuatorKind.EXHAUST_FAN, zone="z", pin="D6")
    assert fan.link_loss is LinkLossAction.KEEP


def test_yaml_on_off_words_and_friendly_values(tmp_path: Path) -> None:
    """Bare on/off (YAML booleans), hex or decimal addresses, pin spellings, units."""
    path = write(
        tmp_path,
        """
        node_id: tent-pi
        broker: {host: broker.local}
        sensors:
          - {key: a, address: 0x77, mux_address: "0x71", mux_channel: 7}
        actuators:
          - {key: fan, kind: exhaust_fan, pin: GPIO5, boot_state: on, link_loss: on}
          - {key: heat, kind: heater, pin: 6, min_on: 2m, min_off: "90s", max_on: 1h,
             link_loss: off, active_low: "yes"}
        outbox: {max_bytes: 2 GB, retention_days: 7}
        sample_interval: 1m
        """,
    )
    config = load_config(path, environ={})
    assert config.sensors[0].address == 0x77
    assert config.sensors[0].mux_address == 0x71
    fan, heat = config.actuators
    assert (fan.pin, fan.boot_state, fan.link_loss) == ("D5", True, LinkLossAction.ON)
    assert (heat.pin, heat.min_on, heat.min_off, heat.max_on) == ("D6", 120.0, 90.0, 3600.0)
    assert heat.link_loss is LinkLossAction.OFF
    assert heat.active_low
    assert config.outbox.max_bytes == 2_000_000_000
    assert config.sample_interval == 60.0


# --------------------------------------------------------------------------- secrets


def test_secrets_come_from_the_environment() -> None:
    """${VAR} anywhere in a string; ${VAR:-default} when unset; overrides win."""
    raw = minimal(
        broker={
            "host": "${BROKER_HOST:-broker.local}",
            "username": "grower",
            "password": "${MQTT_SECRET}",
        },
        name="Tent ${TENT_NUMBER}",
    )
    environ = {"MQTT_SECRET": "s3cret", "TENT_NUMBER": "2"}
    config = parse_config(raw, environ)
    assert config.broker.host == "broker.local"
    assert config.broker.password == environ["MQTT_SECRET"]
    assert config.name == "Tent 2"

    overridden = parse_config(
        raw,
        {
            "MQTT_SECRET": "s3cret",
            "TENT_NUMBER": "2",
            "RALA_MQTT_USERNAME": "agent",
            "RALA_MQTT_PASSWORD": "from-env",
        },
    )
    assert (overridden.broker.username, overridden.broker.password) == ("agent", "from-env")


def test_environment_port_is_converted() -> None:
    """A number from the environment arrives as text and is validated like a number."""
    config = parse_config(minimal(broker={"host": "b", "port": "${PORT}"}), {"PORT": "8884"})
    assert config.broker.port == 8884


def test_unset_environment_variable_is_an_error_naming_the_key() -> None:
    """A missing secret stops the agent with the key and the variable named."""
    raw = minimal(broker={"host": "b", "username": "u", "password": "${MQTT_SECRET}"})
    assert errors_of(raw) == ("broker.password: environment variable MQTT_SECRET is not set",)


def test_empty_environment_variable_means_not_given() -> None:
    """A variable that is set but empty gives an empty value: no password."""
    raw = minimal(broker={"host": "b", "username": "u", "password": "${MQTT_SECRET}"})
    assert parse_config(raw, {"MQTT_SECRET": ""}).broker.password is None


def test_offsets_from_the_environment_are_numbers() -> None:
    """Numbers substituted from the environment are converted."""
    raw = minimal(sensors=[{"key": "canopy", "temperature_offset": "${OFFSET}"}])
    assert parse_config(raw, {"OFFSET": "-0.75"}).sensors[0].temperature_offset == -0.75


def test_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit environ, os.environ is used."""
    monkeypatch.setenv("RALA_TEST_BROKER", "from-process")
    config = parse_config(minimal(broker={"host": "${RALA_TEST_BROKER}"}))
    assert config.broker.host == "from-process"


# --------------------------------------------------------------------------- broken files


def load_errors(tmp_path: Path, text: str) -> str:
    """The message of the ConfigError that loading ``text`` raises."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(path) in str(caught.value)
    return str(caught.value)


def test_bad_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    """A syntax error says it is not YAML and where."""
    message = load_errors(tmp_path, "node_id: tent-pi\nbroker: {host: [unclosed\n")
    assert "not valid YAML" in message
    assert "line 2" in message


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    """YAML would silently keep the last of two equal keys; the agent refuses them."""
    message = load_errors(tmp_path, MINIMAL + "node_id: other\n")
    assert "duplicate key 'node_id'" in message
    assert "first defined on line 2" in message


def test_duplicate_sensor_and_actuator_keys(tmp_path: Path) -> None:
    """Keys identify entities: two sensors or two relays with one key are refused."""
    raw = minimal(
        sensors=[{"key": "canopy"}, {"key": "canopy", "address": 0x77}],
        actuators=[actuator(), actuator(pin="D18")],
    )
    assert errors_of(raw) == (
        "sensors[1].key: duplicate sensor key 'canopy' (already used by sensors[0])",
        "actuators[1].key: duplicate actuator key 'heater' (already used by actuators[0])",
    )


def test_unhashable_yaml_key(tmp_path: Path) -> None:
    """A YAML key that is a list is not valid YAML for the agent."""
    message = load_errors(tmp_path, MINIMAL + "? [a, b]\n: 1\n")
    assert "not valid YAML" in message
    assert "unhashable" in message


def test_yaml_nested_thousands_of_levels_deep_is_a_config_error(tmp_path: Path) -> None:
    """PyYAML builds nested YAML recursively: the depth is bounded before it is built."""
    flow = MINIMAL + "simulation: " + "[" * 5000 + "]" * 5000 + "\n"
    assert "line 7, column 76: nested deeper than 64 levels" in load_errors(tmp_path, flow)
    block = (
        MINIMAL
        + "simulation:\n"
        + "".join("  " * level + f"k{level}:\n" for level in range(1, 3000))
    )
    assert "nested deeper than 64 levels" in load_errors(tmp_path, block)
    # Nesting a configuration could sensibly use is fine.
    config = load_config(write(tmp_path, MINIMAL + "simulation: " + "{a: " * 20 + "1" + "}" * 20))
    assert "a" in config.simulation


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("123456", "got a number"),
        ("0x1f", "got a number"),
        ("1.5e+3", "got a number"),
        ("[hunter2, more]", "got a list"),
        ("{secret: hunter2}", "got a mapping"),
        ("yes", "got true or false"),
    ],
)
def test_a_password_is_never_shown_in_an_error(tmp_path: Path, written: str, expected: str) -> None:
    text = MINIMAL.replace(
        "  host: broker.local", f"  host: broker.local\n  username: u\n  password: {written}"
    )
    message = load_errors(tmp_path, text)
    assert "broker.password: expected a non-empty string" in message
    assert expected in message
    for secret in ("123456", "31", "0x1f", "1500", "1.5e+3", "hunter2", "True"):
        assert secret not in message.replace(str(tmp_path), "")


def test_missing_tls_files_fail_validation_naming_the_key(tmp_path: Path) -> None:
    """A CA, certificate or key that is not there is a config error, not a crash later."""
    (tmp_path / "client.crt").write_text("certificate\n", encoding="utf-8")
    (tmp_path / "certs").mkdir()
    text = MINIMAL.replace(
        "  host: broker.local",
        "  host: broker.local\n  tls: true\n  ca_file: ca.crt\n"
        "  cert_file: client.crt\n  key_file: certs",
    )
    message = load_errors(tmp_path, text)
    assert f"broker.ca_file: no such file: {tmp_path / 'ca.crt'}" in message
    assert f"broker.key_file: not a file: {tmp_path / 'certs'}" in message
    assert "cert_file" not in message


def test_missing_node_id(tmp_path: Path) -> None:
    """The node id is required."""
    message = load_errors(tmp_path, MINIMAL.replace("node_id: tent-pi\n", ""))
    assert "node_id: required key is missing" in message


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    """An empty file, a file that is not a mapping, a missing file: clear errors."""
    assert "the file is empty" in load_errors(tmp_path, "")
    assert "expected a mapping of keys" in load_errors(tmp_path, "- just\n- a list\n")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.yaml", environ={})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            {"node_id": "Tent Pi"},
            "node_id: expected a node id of lower-case letters, digits, '_' and '-', got 'Tent Pi'",
            id="node-id-with-spaces",
        ),
        pytest.param(
            {"bogus": 1},
            "bogus: unknown key (expected one of: node_id, name, broker, sample_interval, "
            "link_loss_timeout, discovery_prefix, i2c_bus, sensors, actuators, outbox, "
            "simulation)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "address": 0x99}]},
            "sensors[0].address: expected the BME280 address (0x76, 0x77), got 0x99",
            id="address-0x99",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "mux_address": 0x70, "mux_channel": 9}]},
            "sensors[0].mux_channel: expected a mux channel from 0 to 7, got 9",
            id="mux-channel-9",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "mux_address": 0x68, "mux_channel": 1}]},
            "sensors[0].mux_address: expected the TCA9548A address (0x70, 0x71, 0x72, 0x73, "
            "0x74, 0x75, 0x76, 0x77), got 0x68",
            id="mux-address",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "mux_channel": 1}]},
            "sensors[0].mux_address: a sensor behind a mux needs both mux_address and mux_channel",
            id="mux-channel-without-mux",
        ),
        pytest.param(
            {"sensors": [{"key": "Canopy!"}]},
            "sensors[0].key: expected a key of lower-case letters, digits and '_', got 'Canopy!'",
            id="sensor-key",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "humidity_offset": 40}]},
            "sensors[0].humidity_offset: expected a number from -20 to 20 % RH, got 40",
            id="humidity-offset",
        ),
        pytest.param(
            {"actuators": [actuator(pin="D40")]},
            "actuators[0].pin: expected a GPIO pin name from D0 to D27 (Blinka board pin, "
            "e.g. 'D17'), got 'D40'",
            id="bad-pin",
        ),
        pytest.param(
            {"actuators": [actuator(pin="SDA")]},
            "actuators[0].pin: expected a GPIO pin name from D0 to D27 (Blinka board pin, "
            "e.g. 'D17'), got 'SDA'",
            id="pin-name",
        ),
        pytest.param(
            {"actuators": [actuator(pin="D2")]},
            "actuators[0].pin: D2 is a pin of I2C bus 1, used by the sensors",
            id="pin-of-the-i2c-bus",
        ),
        pytest.param(
            {"actuators": [actuator(min_on=-5)]},
            "actuators[0].min_on: expected a duration of at least 0 s and at most 86400 s "
            "(a number of seconds, or e.g. '90s', '5m', '1h'), got -5",
            id="negative-min-on",
        ),
        pytest.param(
            {"actuators": [actuator(min_off="25h")]},
            "actuators[0].min_off: expected a duration of at least 0 s and at most 86400 s "
            "(a number of seconds, or e.g. '90s', '5m', '1h'), got '25h'",
            id="min-off-over-a-day",
        ),
        pytest.param(
            {"actuators": [actuator(max_on=7 * 86400 + 1)]},
            "actuators[0].max_on: expected a duration greater than 0 s and at most 604800 s "
            "(a number of seconds, or e.g. '90s', '5m', '1h'), got 604801",
            id="max-on-over-a-week",
        ),
        pytest.param(
            {"actuators": [actuator(max_on=0)]},
            "actuators[0].max_on: expected a duration greater than 0 s and at most 604800 s "
            "(a number of seconds, or e.g. '90s', '5m', '1h'), got 0",
            id="zero-max-on",
        ),
        pytest.param(
            {"actuators": [actuator(min_on=120, max_on=60)]},
            "actuators[0].max_on: expected at least min_on (120 s), got 60 s",
            id="max-on-below-min-on",
        ),
        pytest.param(
            {"actuators": [actuator(kind="toaster")]},
            "actuators[0].kind: expected one of heater, cooler, humidifier, dehumidifier, "
            "exhaust_fan, circulation_fan, light, pump, got 'toaster'",
            id="unknown-actuator-kind",
        ),
        pytest.param(
            {"actuators": [actuator(link_loss="maybe")]},
            "actuators[0].link_loss: expected one of off, on, keep, got 'maybe'",
            id="link-loss",
        ),
        pytest.param(
            {"actuators": [actuator(active_low="sometimes")]},
            "actuators[0].active_low: expected true or false, got 'sometimes'",
            id="boolean",
        ),
        pytest.param(
            {"actuators": [actuator(kind=None)]},
            "actuators[0].kind: expected one of heater, cooler, humidifier, dehumidifier, "
            "exhaust_fan, circulation_fan, light, pump, got None",
            id="kind-null",
        ),
        pytest.param(
            {"actuators": [{"kind": "heater", "pin": "D17"}]},
            "actuators[0].key: required key is missing",
            id="actuator-without-key",
        ),
        pytest.param(
            {"actuators": "heater"},
            "actuators: expected a list of actuators, got 'heater'",
            id="actuators-not-a-list",
        ),
        pytest.param(
            {"sensors": ["canopy"]},
            "sensors[0]: expected a mapping of keys, got 'canopy'",
            id="sensor-not-a-mapping",
        ),
        pytest.param(
            {"broker": {"host": "b", "port": 70000}},
            "broker.port: expected a TCP port from 1 to 65535, got 70000",
            id="port",
        ),
        pytest.param(
            {"broker": {"host": "b", "port": "http"}},
            "broker.port: expected a TCP port from 1 to 65535, got 'http'",
            id="port-text",
        ),
        pytest.param(
            {"broker": {"port": 1883}},
            "broker.host: required key is missing",
            id="broker-host",
        ),
        pytest.param(
            {"broker": {"host": "b", "tls": True, "cert_file": __file__}},
            "broker.key_file: a client certificate needs both cert_file and key_file",
            id="cert-without-key",
        ),
        pytest.param(
            {"broker": {"host": "b", "ca_file": "/ca.crt"}},
            "broker.ca_file: only used with tls: true",
            id="ca-without-tls",
        ),
        pytest.param(
            {"broker": {"host": "b", "password": "p"}},
            "broker.password: a password needs broker.username too",
            id="password-without-username",
        ),
        pytest.param(
            {"broker": {"host": "b", "ca_file": 5}},
            "broker.ca_file: expected a file path, got 5",
            id="path",
        ),
        pytest.param(
            {"broker": "broker.local"},
            "broker: expected a mapping of keys",
            id="broker-not-a-mapping",
        ),
        pytest.param(
            {"sample_interval": 0.5},
            "sample_interval: expected a duration of at least 1 s and at most 3600 s "
            "(a number of seconds, or e.g. '90s', '5m', '1h'), got 0.5",
            id="sample-interval",
        ),
        pytest.param(
            {"sample_interval": "61m"},
            "sample_interval: expected a duration of at least 1 s and at most 3600 s "
            "(a number of seconds, or e.g. '90s', '5m', '1h'), got '61m'",
            id="sample-interval-over-an-hour",
        ),
        pytest.param(
            {"sample_interval": "soon"},
            "sample_interval: expected a duration of at least 1 s and at most 3600 s "
            "(a number of seconds, or e.g. '90s', '5m', '1h'), got 'soon'",
            id="sample-interval-text",
        ),
        pytest.param(
            {"discovery_prefix": "home/#"},
            "discovery_prefix: expected an MQTT topic prefix without wildcards or "
            "leading/trailing '/', got 'home/#'",
            id="discovery-prefix",
        ),
        pytest.param(
            {"i2c_bus": 3},
            "i2c_bus: expected an I2C bus number from 0 to 1, got 3",
            id="i2c-bus",
        ),
        pytest.param(
            {"outbox": {"max_bytes": "lots"}},
            "outbox.max_bytes: expected a size in bytes of at least 1048576 (a number, or "
            "e.g. '256 MiB'), got 'lots'",
            id="max-bytes",
        ),
        pytest.param(
            {"outbox": {"retention_days": 0}},
            "outbox.retention_days: expected a number greater than 0 and at most 3650 days, got 0",
            id="retention",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "temperature_offset": "warm"}]},
            "sensors[0].temperature_offset: expected a number from -10 to 10 °C, got 'warm'",
            id="offset-text",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "pressure_offset": [1]}]},
            "sensors[0].pressure_offset: expected a number from -50 to 50 hPa, got [1]",
            id="offset-list",
        ),
        pytest.param(
            {"broker": {"host": "b", "port": 1883.5}},
            "broker.port: expected a TCP port from 1 to 65535, got 1883.5",
            id="port-float",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "address": "0xZZ"}]},
            "sensors[0].address: expected the BME280 address (0x76, 0x77), got '0xZZ'",
            id="address-text",
        ),
        pytest.param(
            {"sensors": [{"key": "canopy", "address": 118.0}]},
            "sensors[0].address: expected the BME280 address (0x76, 0x77), got 118.0",
            id="address-float",
        ),
        pytest.param(
            {"sensors": None},
            "sensors: a node needs at least one sensor or actuator",
            id="sensors-null",
        ),
        pytest.param(
            {"broker": {"host": "b", "tls": True, "extra": 1}},
            "broker.extra: unknown key (expected one of: host, port, username, password, tls, "
            "ca_file, cert_file, key_file, keepalive)",
            id="unknown-broker-key",
        ),
        pytest.param(
            {"simulation": [1, 2]},
            "simulation: expected a mapping of simulation parameters, got [1, 2]",
            id="simulation",
        ),
        pytest.param(
            {"sensors": [], "actuators": []},
            "sensors: a node needs at least one sensor or actuator",
            id="nothing-configured",
        ),
        pytest.param(
            {"name": ""},
            "name: expected a non-empty string, got ''",
            id="empty-name",
        ),
    ],
)
def test_broken_configs_name_the_key_and_what_was_expected(
    change: dict[str, Any], expected: str
) -> None:
    """Each mistake gives exactly one error line naming the key path."""
    assert errors_of(minimal(**change)) == (expected,)


def test_all_errors_are_reported_together() -> None:
    """Several mistakes in several list items: all of them at once, in file order."""
    raw = minimal(
        sensors=[{"key": "canopy", "address": 0x99}, {"key": "roots", "extra": 1}],
        actuators=[actuator(min_on=-1), actuator(key="cool", kind="toaster", pin="D99")],
    )
    errors = errors_of(raw)
    assert [error.split(":", 1)[0] for error in errors] == [
        "sensors[0].address",
        "sensors[1].extra",
        "actuators[0].min_on",
        "actuators[1].kind",
        "actuators[1].pin",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, {})
    assert str(caught.value).startswith("invalid configuration (5 errors):\n  - sensors[0]")


def test_not_a_mapping_at_all() -> None:
    """parse_config given something other than a mapping."""
    assert errors_of(["node_id"]) == ("configuration: expected a mapping of keys, got a list",)


def test_sensor_address_conflicts() -> None:
    """Two sensors on one address, and mux wiring that makes devices answer together."""
    same_segment = minimal(sensors=[{"key": "a"}, {"key": "b"}])
    assert errors_of(same_segment) == (
        "sensors[1].address: 0x76 is already used by sensors[0] on the same bus segment",
    )
    behind_mux = minimal(
        sensors=[{"key": "a"}, {"key": "b", "mux_address": 0x70, "mux_channel": 1}]
    )
    assert errors_of(behind_mux) == (
        (
            "sensors[1].address: 0x76 behind a mux collides with sensors[0] directly on the "
            "bus whenever the channel is selected (use the other address)"
        ),
    )
    mux_on_sensor_address = minimal(
        sensors=[{"key": "a"}, {"key": "b", "address": 0x77, "mux_address": 0x76, "mux_channel": 0}]
    )
    assert errors_of(mux_on_sensor_address) == (
        (
            "sensors[1].mux_address: 0x76 is also the address of sensors[0] (set the mux's "
            "A0-A2 pins to another address)"
        ),
    )
    # Same address on different channels of a mux is exactly what a mux is for.
    fine = parse_config(
        minimal(
            sensors=[
                {"key": "a", "mux_address": 0x70, "mux_channel": 0},
                {"key": "b", "mux_address": 0x70, "mux_channel": 1},
            ]
        ),
        {},
    )
    assert [sensor.mux_channel for sensor in fine.sensors] == [0, 1]


def test_actuator_pin_conflicts_and_boot_states() -> None:
    """One pin, one relay; exclusive partners may not both boot on in one zone."""
    raw = minimal(
        actuators=[
            actuator(boot_state=True),
            actuator(key="cooler", kind="cooler", pin="D17", boot_state=True),
            actuator(key="cooler_b", kind="cooler", pin="D18", boot_state=True, zone="Veg"),
        ]
    )
    assert errors_of(raw) == (
        (
            "actuators[1].boot_state: cannot boot on together with actuators[0] (heater): "
            "they are never on together in one zone"
        ),
        "actuators[1].pin: D17 is already used by actuators[0]",
    )
    on_bus_zero = minimal(i2c_bus=0, actuators=[actuator(pin="D0")])
    assert errors_of(on_bus_zero) == (
        "actuators[0].pin: D0 is a pin of I2C bus 0, used by the sensors",
    )
    assert parse_config(minimal(actuators=[actuator(pin="D2")], i2c_bus=0), {}).i2c_bus == 0


def test_simulation_section_is_kept_raw_and_read_only() -> None:
    """The simulation section is passed on unvalidated (sim.py validates it)."""
    config = parse_config(minimal(simulation={"heater_power": 300, "tent": {"width": 1.2}}), {})
    assert config.simulation["heater_power"] == 300
    with pytest.raises(TypeError):
        config.simulation["heater_power"] = 1  # type: ignore[index]
    assert dict(parse_config(minimal(simulation=None), {}).simulation) == {}


# --------------------------------------------------------------------------- service unit


def test_the_shipped_systemd_unit() -> None:
    """Non-root user in i2c/gpio, restart on failure, hardened, pipx-installed command."""
    text = (resources.files("edge_agent") / "rala-edge.service").read_text(encoding="utf-8")
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    service = unit["Service"]
    assert service["User"] == "rala"
    assert set(service["SupplementaryGroups"].split()) == {"i2c", "gpio"}
    assert service["Restart"] == "on-failure"
    assert service["ExecStart"].endswith("rala-edge run --config /etc/rala-edge/config.yaml")
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "rala-edge"
    assert service["NoNewPrivileges"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
