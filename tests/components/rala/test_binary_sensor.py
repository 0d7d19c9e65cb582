"""The node's connectivity: its retained availability topic, through real MQTT."""

import asyncio
from pathlib import Path

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import paho.mqtt.client as paho
import pytest

from custom_components.rala.const import CONF_NODE_AVAILABILITY_TOPIC, CONF_NODE_ID
from tests.mosquitto import Mosquitto

from .common import async_set_up_mqtt, set_inputs, zone_entry

pytestmark = [pytest.mark.mqtt]

TOPIC = "rala/tent-pi/availability"
CONNECTIVITY = "binary_sensor.tent_connectivity"


def _publish(broker: Mosquitto, payload: str) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="node-under-test")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(TOPIC, payload, qos=1, retain=True).wait_for_publish(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()


async def _until(hass: HomeAssistant, entity_id: str, state: str) -> None:
    for _ in range(300):
        await hass.async_block_till_done()
        if hass.states.is_state(entity_id, state):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"{entity_id} is {hass.states.get(entity_id)}, never {state}")


async def _node_zone(hass: HomeAssistant) -> None:
    set_inputs(hass)
    entry = zone_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_NODE_ID: "tent-pi", CONF_NODE_AVAILABILITY_TOPIC: TOPIC}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_connectivity_follows_the_availability_topic(
    hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Retained "online" shows at once; "offline" turns it off; anything else changes nothing."""
    await hass.async_add_executor_job(_publish, mosquitto, "online")
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    await _node_zone(hass)

    await _until(hass, CONNECTIVITY, STATE_ON)
    registry_entry = er.async_get(hass).async_get(CONNECTIVITY)
    assert registry_entry is not None
    assert registry_entry.entity_category is EntityCategory.DIAGNOSTIC

    await hass.async_add_executor_job(_publish, mosquitto, "offline")
    await _until(hass, CONNECTIVITY, STATE_OFF)

    for hostile in ("ONLINE", "", "x" * 10_000, '{"online": true}'):
        await hass.async_add_executor_job(_publish, mosquitto, hostile)
    await hass.async_add_executor_job(_publish, mosquitto, "online")
    await _until(hass, CONNECTIVITY, STATE_ON)
    await hass.async_add_executor_job(_publish, mosquitto, "0nline")
    await asyncio.sleep(0.2)
    await hass.async_block_till_done()
    assert hass.states.is_state(CONNECTIVITY, STATE_ON)


async def test_unknown_until_the_node_said_anything(
    hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Without a retained availability the node's connectivity is unknown, not "off"."""
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    await _node_zone(hass)
    await asyncio.sleep(0.2)
    await hass.async_block_till_done()
    assert hass.states.is_state(CONNECTIVITY, STATE_UNKNOWN)


async def test_a_zone_of_plain_sensors_has_no_node_connectivity(hass: HomeAssistant) -> None:
    """Only zones that came from a node have the entity."""
    set_inputs(hass)
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert not [
        registry_entry
        for registry_entry in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if registry_entry.domain == "binary_sensor"
    ]
