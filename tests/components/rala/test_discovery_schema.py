"""The edge agent's device discovery payload passes Home Assistant's own MQTT schemas.

The payload is processed the way Home Assistant's MQTT discovery processes a message on
``homeassistant/device/<id>/config``: abbreviations expanded, the device schema checked,
then each component merged with the shared options and checked against its platform's
discovery schema. Runs only where Home Assistant is installed (Python 3.14).

The integration's names of a node (``custom_components/rala/node_protocol.py``: topics,
sensor unique ids, the node-id rule) are checked here against the agent's, so the two
sides cannot drift.
"""

from collections.abc import Callable
import copy
import json
from pathlib import Path
from typing import Any

from homeassistant.components.mqtt import discovery as mqtt_discovery
from homeassistant.components.mqtt.schemas import DEVICE_DISCOVERY_SCHEMA
from homeassistant.components.mqtt.sensor import DISCOVERY_SCHEMA as SENSOR_SCHEMA
from homeassistant.components.mqtt.switch import DISCOVERY_SCHEMA as SWITCH_SCHEMA
from homeassistant.core import HomeAssistant
from paho.mqtt.client import topic_matches_sub
import probatio
import pytest

from custom_components.rala import node_protocol
from custom_components.rala.announcement import parse_announcement
from custom_components.rala.backfill import QUANTITIES
from edge_agent import discovery
from edge_agent.config import ConfigError, parse_config
from edge_agent.discovery import build_discovery_payload, encode, stale_components

PLATFORM_SCHEMAS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "sensor": SENSOR_SCHEMA,
    "switch": SWITCH_SCHEMA,
}


MANIFEST = Path(__file__).parents[3] / "custom_components" / "rala" / "manifest.json"


def _config(tmp_path: Path, **overrides: Any) -> Any:
    raw: dict[str, Any] = {
        "node_id": "tent-pi",
        "name": "Tent Pi",
        "broker": {"host": "127.0.0.1"},
        "sensors": [
            {"key": "canopy", "name": "Canopy"},
            {"key": "root", "name": "Root zone", "address": 0x77},
        ],
        "actuators": [
            {"key": "heater", "kind": "heater", "pin": "D17"},
            {"key": "humidifier", "kind": "humidifier", "pin": "D27"},
            {"key": "light", "kind": "light", "pin": "D24", "active_low": True},
        ],
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
    }
    raw.update(overrides)
    return parse_config(raw, environ={})


def _process_like_home_assistant(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return platform-validated component configs keyed by component id."""
    # Through JSON, as it travels over MQTT.
    document: dict[str, Any] = json.loads(encode(payload))
    mqtt_discovery._replace_all_abbreviations(document)
    DEVICE_DISCOVERY_SCHEMA(document)
    validated: dict[str, dict[str, Any]] = {}
    for component_id, raw_component in document["components"].items():
        component = copy.deepcopy(raw_component)
        platform = component.pop("platform")
        if not component:  # removal of one component: nothing else to validate
            validated[component_id] = {"platform": platform}
            continue
        component["device"] = document["device"]
        component["origin"] = document["origin"]
        mqtt_discovery._merge_common_device_options(component, document)
        validated[component_id] = {
            "platform": platform,
            **PLATFORM_SCHEMAS[platform](component),
        }
    return validated


async def test_payload_passes_home_assistant_schemas(hass: HomeAssistant, tmp_path: Path) -> None:
    """Every component is valid for its platform, with the options HA will really use."""
    components = _process_like_home_assistant(
        build_discovery_payload(_config(tmp_path), sample_interval=30)
    )
    temperature = components["canopy_temperature"]
    assert temperature["platform"] == "sensor"
    assert temperature["unique_id"] == "rala_tent-pi_canopy_temperature"
    assert temperature["default_entity_id"] == "sensor.tent_pi_canopy_temperature"
    assert temperature["device_class"] == "temperature"
    assert temperature["state_class"] == "measurement"
    assert temperature["expire_after"] == 90
    # Shared options of the device reach every component.
    assert temperature["availability_topic"] == "rala/tent-pi/availability"
    assert temperature["qos"] == 1
    assert temperature["device"]["identifiers"] == ["rala_tent-pi"]
    heater = components["heater"]
    assert heater["platform"] == "switch"
    assert heater["command_topic"] == "rala/tent-pi/actuator/heater/set"
    assert heater["retain"] is False
    assert str(components["node_uptime"]["entity_category"]) == "diagnostic"
    assert len(components) == 2 * 3 + 3 + 7


async def test_removal_payload_passes_home_assistant_schemas(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Dropping a sensor and a relay yields platform-only components HA accepts."""
    before = build_discovery_payload(_config(tmp_path), sample_interval=30)
    smaller = _config(
        tmp_path,
        sensors=[{"key": "canopy", "name": "Canopy"}],
        actuators=[{"key": "heater", "kind": "heater", "pin": "D17"}],
    )
    current = build_discovery_payload(smaller, sample_interval=30)
    removed = stale_components(encode(before), current["cmps"], node_id="tent-pi")
    components = _process_like_home_assistant(
        build_discovery_payload(smaller, sample_interval=30, removed=removed)
    )
    assert components["light"] == {"platform": "switch"}
    assert components["root_pressure"] == {"platform": "sensor"}
    assert "unique_id" in components["canopy_pressure"]


async def test_schema_rejects_a_broken_component(hass: HomeAssistant, tmp_path: Path) -> None:
    """The check above can fail: a wrong unit for the device class is refused by HA."""
    payload = build_discovery_payload(_config(tmp_path), sample_interval=30)
    payload["cmps"]["canopy_pressure"]["unit_of_measurement"] = "°C"
    with pytest.raises(probatio.Invalid):
        _process_like_home_assistant(payload)


async def test_integration_names_the_node_as_the_agent_does(tmp_path: Path) -> None:
    """The integration's topics and unique ids of a node are the agent's (node_protocol)."""
    config = _config(tmp_path)
    agent = discovery.Topics(config.node_id, config.discovery_prefix)
    ours = node_protocol.Topics(config.node_id)
    assert (ours.base, ours.backfill, ours.replay) == (agent.base, agent.backfill, agent.replay)
    assert node_protocol.node_id_from_announcement_topic(agent.node) == config.node_id
    assert json.loads(MANIFEST.read_text(encoding="utf-8"))["mqtt"] == [
        node_protocol.ANNOUNCEMENT_FILTER
    ]
    assert topic_matches_sub(node_protocol.ANNOUNCEMENT_FILTER, agent.node)
    for sensor in config.sensors:
        state_topic = agent.sensor_state(sensor.key)
        assert ours.sensor_state(sensor.key) == state_topic
        assert topic_matches_sub(ours.sensor_state_filter, state_topic)
        assert node_protocol.sensor_from_state_topic(state_topic) == sensor.key
        for quantity in QUANTITIES:
            assert node_protocol.sensor_unique_id(
                config.node_id, sensor.key, quantity
            ) == discovery.sensor_unique_id(config.node_id, sensor.key, quantity)
    # What the agent announces is what the integration reads, unique ids included.
    announced = parse_announcement(
        encode(discovery.build_node_announcement(config, sample_interval=30)), agent.node
    )
    for sensor in announced.sensors:
        assert sensor.state_topic == ours.sensor_state(sensor.key)
        for quantity, unique_id in sensor.unique_ids.items():
            assert unique_id == node_protocol.sensor_unique_id(config.node_id, sensor.key, quantity)


NODE_ID_CANDIDATES = (
    "tent-pi", "tent_2", "a", "0", "-", "Tent", "tent pi", "tent/pi", "tent+", "tent#",
    "tent.pi", "tënt", "tent\n", "",
)  # fmt: skip


@pytest.mark.parametrize("node_id", NODE_ID_CANDIDATES)
async def test_node_id_rule_is_the_agents(tmp_path: Path, node_id: str) -> None:
    """The integration takes exactly the node ids the agent's configuration accepts."""
    try:
        _config(tmp_path, node_id=node_id)
    except ConfigError:
        accepted_by_agent = False
    else:
        accepted_by_agent = True
    assert bool(node_protocol.NODE_ID_PATTERN.fullmatch(node_id)) is accepted_by_agent


@pytest.mark.parametrize(
    ("key", "agent_accepts"),
    [("canopy", True), ("root_2", True), ("Canopy", False), ("canopy zone", False), ("", False)],
)
async def test_every_key_the_agent_accepts_is_a_key(
    tmp_path: Path, key: str, agent_accepts: bool
) -> None:
    """A sensor key the agent accepts is one the integration reads (which also takes '-')."""
    try:
        _config(tmp_path, sensors=[{"key": key, "name": "Canopy"}])
    except ConfigError:
        accepted_by_agent = False
    else:
        accepted_by_agent = True
    assert accepted_by_agent is agent_accepts
    if accepted_by_agent:
        assert node_protocol.KEY_PATTERN.fullmatch(key)
