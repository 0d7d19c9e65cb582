"""Shared helpers of the integration's tests: node announcements and zone entries."""

import asyncio
from collections.abc import Awaitable, Callable
import json
from pathlib import Path
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)
from tests.mosquitto import Mosquitto

TEMPERATURE = "sensor.tent_temperature"
HUMIDITY = "sensor.tent_humidity"
CELSIUS = {ATTR_UNIT_OF_MEASUREMENT: "°C", "device_class": "temperature"}
FAHRENHEIT = {ATTR_UNIT_OF_MEASUREMENT: "°F", "device_class": "temperature"}
PERCENT = {ATTR_UNIT_OF_MEASUREMENT: "%", "device_class": "humidity"}


def announcement(node_id: str = "tent-pi", **changes: Any) -> dict[str, Any]:
    """A node announcement as in docs/protocol.md, with ``changes`` applied on top."""
    document: dict[str, Any] = {
        "schema": 1,
        "node_id": node_id,
        "name": "Tent Pi",
        "sw_version": "0.1.0",
        "sample_interval": 30,
        "availability_topic": f"rala/{node_id}/availability",
        "backfill_topic": f"rala/{node_id}/backfill",
        "replay_topic": f"rala/{node_id}/replay",
        "device_identifier": f"rala_{node_id}",
        "sensors": [
            {
                "key": "canopy",
                "name": "Canopy",
                "zone": "Flower tent",
                "model": "BME280",
                "state_topic": f"rala/{node_id}/sensor/canopy/state",
                "unique_ids": {
                    "temperature": f"rala_{node_id}_canopy_temperature",
                    "humidity": f"rala_{node_id}_canopy_humidity",
                    "pressure": f"rala_{node_id}_canopy_pressure",
                },
            }
        ],
        "actuators": [
            {
                "key": "heater",
                "name": "Heater",
                "kind": "heater",
                "zone": "Flower tent",
                "unique_id": f"rala_{node_id}_heater",
                "min_on": 60,
                "min_off": 60,
                "max_on": None,
            }
        ],
    }
    document.update(changes)
    return document


def service_info(payload: dict[str, Any] | str, node_id: str = "tent-pi") -> MqttServiceInfo:
    """What HA's MQTT integration hands the flow for a retained announcement."""
    return MqttServiceInfo(
        topic=f"rala/{node_id}/node",
        payload=payload if isinstance(payload, str) else json.dumps(payload),
        qos=1,
        retain=True,
        subscribed_topic="rala/+/node",
        timestamp=0.0,
    )


def register_node_entities(hass: HomeAssistant, document: dict[str, Any]) -> dict[str, str]:
    """Register the MQTT entities the node's HA discovery would create: unique_id → entity_id."""
    registry = er.async_get(hass)
    created = {}
    for sensor in document["sensors"]:
        for quantity, unique_id in sensor["unique_ids"].items():
            entry = registry.async_get_or_create(
                "sensor", "mqtt", unique_id, suggested_object_id=f"{sensor['key']}_{quantity}"
            )
            created[unique_id] = entry.entity_id
    for actuator in document["actuators"]:
        entry = registry.async_get_or_create(
            "switch", "mqtt", actuator["unique_id"], suggested_object_id=actuator["key"]
        )
        created[actuator["unique_id"]] = entry.entity_id
    return created


def zone_entry(**options: Any) -> MockConfigEntry:
    """A zone from existing sensors, not yet added to hass."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Tent",
        unique_id="zone_tent",
        data={
            CONF_ZONE_NAME: "Tent",
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
        },
        options={CONF_LEAF_OFFSET: 2.0, **options},
    )


def set_inputs(hass: HomeAssistant, temperature: str = "25.0", humidity: str = "60") -> None:
    """Write the zone's input states."""
    hass.states.async_set(TEMPERATURE, temperature, CELSIUS)
    hass.states.async_set(HUMIDITY, humidity, PERCENT)


async def async_set_up_mqtt(hass: HomeAssistant, broker: Mosquitto, tmp_path: Path) -> ConfigEntry:
    """Home Assistant's real MQTT integration, connected to the test broker.

    The MQTT integration reads configuration.yaml for YAML-configured items: Home
    Assistant's configuration folder becomes ``tmp_path / "config"``, with an empty one.
    """
    config_dir = tmp_path / "config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "configuration.yaml").write_text("{}\n", encoding="utf-8")
    hass.config.config_dir = str(config_dir)
    entry = MockConfigEntry(
        domain="mqtt",
        version=2,
        minor_version=1,
        data={"broker": broker.host, "port": broker.port},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


REAL_WAIT = 60.0
"""Seconds a test waits for a real process or broker; a loaded CI machine may be slow."""


async def poll_until[T](
    what: str, probe: Callable[[], T | None] | Callable[[], Awaitable[T | None]]
) -> T:
    """Poll ``probe`` (on real time: the agent is a real process) until it returns a value."""
    deadline = time.monotonic() + REAL_WAIT
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value is not None and value is not False:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def create_zone_through_discovery(hass: HomeAssistant, unique_id: str) -> ConfigEntry:
    """Wait for the discovery flow of the zone ``unique_id``, confirm it, let it finish."""

    def discovered() -> dict[str, Any] | None:
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        return dict(flows[0]) if flows else None

    flow = await poll_until("the node announcement to start a flow", discovered)
    assert flow["step_id"] == "mqtt_confirm"
    assert flow["context"]["unique_id"] == unique_id

    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})

    async def finished() -> ConfigEntry | None:
        nonlocal result
        if result["type"] is FlowResultType.SHOW_PROGRESS:
            result = await hass.config_entries.flow.async_configure(flow["flow_id"])
        if result["type"] is FlowResultType.CREATE_ENTRY:
            entry: ConfigEntry = result["result"]
            return entry
        assert result["type"] in (FlowResultType.SHOW_PROGRESS, FlowResultType.SHOW_PROGRESS_DONE)
        return None

    return await poll_until("the zone's config entry", finished)
