"""A node's own minimum on and off times hold its actuators in the zone's climate entity.

The node refuses commands inside the minimum times it announced; the climate entity must
not plan with shorter ones. Real MQTT: the heater is an MQTT switch discovered from the
test broker, as a node's relay is.
"""

import asyncio
from datetime import timedelta
import json
from pathlib import Path
import time

from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.climate import (
    DOMAIN as CLIMATE_DOMAIN,
    SERVICE_SET_HVAC_MODE,
    HVACMode,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import paho.mqtt.client as paho
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.rala.const import (
    CONF_HEATER,
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_NODE_ACTUATOR_TIMINGS,
    CONF_NODE_ID,
    CONF_NODE_SENSOR,
    CONF_NODE_UNIQUE_IDS,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)
from custom_components.rala.models import RalaConfigEntry
from tests.mosquitto import Mosquitto

from .common import HUMIDITY, TEMPERATURE, async_set_up_mqtt, set_inputs

pytestmark = [pytest.mark.mqtt]

HEATER_UNIQUE_ID = "rala_tent-pi_heater"
HEATER = "switch.heater"
STATE_TOPIC = "rala/tent-pi/actuator/heater/state"
CLIMATE = "climate.tent"


def _announce_heater_switch(broker: Mosquitto) -> None:
    """What the node's MQTT discovery does for its heater relay, which reports OFF.

    Retained, as discovery configs and relay states are: Home Assistant may subscribe after
    they are sent. Optimistic: nothing here plays the relay answering a command.
    """
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="node-under-test")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        config = {
            "name": "Heater",
            "unique_id": HEATER_UNIQUE_ID,
            "command_topic": "rala/tent-pi/actuator/heater/set",
            "state_topic": STATE_TOPIC,
            "optimistic": True,
        }
        client.publish(STATE_TOPIC, "OFF", qos=1, retain=True).wait_for_publish(timeout=5)
        client.publish(
            f"homeassistant/switch/{HEATER_UNIQUE_ID}/config",
            json.dumps(config),
            qos=1,
            retain=True,
        ).wait_for_publish(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()


async def _until_off(hass: HomeAssistant, entity_id: str) -> None:
    """Wait for the entity to exist and report off."""
    for _ in range(200):
        await hass.async_block_till_done()
        if hass.states.is_state(entity_id, "off"):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"{entity_id} never appeared off")


async def _set_up_node_zone(
    hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path, *, heater: str
) -> RalaConfigEntry:
    """The node's heater switch through real MQTT, then a zone of the node mapping ``heater``.

    The node announced 300 s minimum on and off times for its heater.
    """
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    await hass.async_add_executor_job(_announce_heater_switch, mosquitto)
    await _until_off(hass, HEATER)
    assert er.async_get(hass).async_get_entity_id("switch", "mqtt", HEATER_UNIQUE_ID) == HEATER
    entry: RalaConfigEntry = _node_zone(heater, [300.0, 300.0])  # type: ignore[assignment]
    entry.add_to_hass(hass)
    set_inputs(hass, "20.0", "50")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _node_zone(heater: str, timings: list[float]) -> MockConfigEntry:
    """A zone of the node (not yet added), its heater role mapped to ``heater``."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Tent",
        unique_id="tent-pi_tent",
        data={
            CONF_ZONE_NAME: "Tent",
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            CONF_NODE_ID: "tent-pi",
            CONF_NODE_SENSOR: "canopy",
            CONF_NODE_UNIQUE_IDS: {CONF_HEATER: HEATER_UNIQUE_ID},
            CONF_NODE_ACTUATOR_TIMINGS: {CONF_HEATER: timings},
        },
        options={CONF_LEAF_OFFSET: 2.0, CONF_HEATER: heater},
    )


async def _pass(hass: HomeAssistant, frozen: FrozenDateTimeFactory, seconds: float) -> None:
    """Let frozen time pass in steps, giving the MQTT client real time to keep alive."""
    for _ in range(round(seconds / 5)):
        frozen.tick(timedelta(seconds=5))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        await hass.async_add_executor_job(time.sleep, 0.005)


async def test_the_nodes_minimum_off_time_holds_its_heater(
    hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Node minimum 300 s against the zone's default 60 s: the heater waits 300 s."""
    entry = await _set_up_node_zone(hass, mosquitto, tmp_path, heater=HEATER)
    assert entry.runtime_data.zone.node_minimum_times() == {HEATER: (300.0, 300.0)}
    # Frozen only now: MQTT's own timers had to run for the switch to appear.
    with freeze_time(dt_util.utcnow()) as frozen:
        await hass.services.async_call(
            CLIMATE_DOMAIN,
            SERVICE_SET_HVAC_MODE,
            {ATTR_ENTITY_ID: CLIMATE, "hvac_mode": HVACMode.HEAT},
            blocking=True,
        )
        await _pass(hass, frozen, 65)
        set_inputs(hass, "20.0", "50")
        await hass.async_block_till_done()
        state = hass.states.get(CLIMATE)
        assert state is not None
        assert state.attributes["heater"] == "min_off"
        assert not hass.states.is_state(HEATER, STATE_ON)

        await _pass(hass, frozen, 240)
        assert hass.states.is_state(HEATER, STATE_ON)


async def test_only_the_nodes_own_actuator_gets_its_times(
    hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """A zone mapping another switch for the heater keeps the zone's own minimum times."""
    hass.states.async_set("switch.other_heater", "off")
    entry = await _set_up_node_zone(hass, mosquitto, tmp_path, heater="switch.other_heater")
    assert entry.runtime_data.zone.node_minimum_times() == {}
