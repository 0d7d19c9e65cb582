"""The edge agent's device discovery payload passes Home Assistant's own MQTT schemas.

The payload is processed the way Home Assistant's MQTT discovery processes a message on
``homeassistant/device/<id>/config``: abbreviations expanded, the device schema checked,
then each component merged with the shared options and checked against its platform's
discovery schema. Runs only where Home Assistant is installed (Python 3.14).
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
import probatio
import pytest

from edge_agent.config import parse_config
from edge_agent.discovery import build_discovery_payload, encode, stale_components

PLATFORM_SCHEMAS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "sensor": SENSOR_SCHEMA,
    "switch": SWITCH_SCHEMA,
}


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
