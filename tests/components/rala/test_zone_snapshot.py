"""One node message is one snapshot of the zone, and a reading costs a few state writes.

Real parts: a mosquitto broker, Home Assistant's MQTT integration and the node's own
device discovery document (built by the agent's code), so the node's temperature, humidity
and pressure sensors are written by MQTT exactly as on a grower's installation: all three
from one message, one after the other.
"""

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
import json
from pathlib import Path
import random
import time
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import paho.mqtt.client as paho
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_NODE_ID,
    CONF_NODE_SENSOR,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)
from custom_components.rala.derived import DerivedValues, derive
from custom_components.rala.sensor import SENSORS
from edge_agent.config import parse_config
from edge_agent.discovery import PAYLOAD_ONLINE, Topics, build_discovery_payload, encode
from tests.mosquitto import Mosquitto

from .common import async_set_up_mqtt, set_inputs, zone_entry

pytestmark = [pytest.mark.mqtt]

NODE_ID = "tent-pi"
SENSOR = "canopy"
TEMPERATURE = "sensor.tent_pi_canopy_temperature"
HUMIDITY = "sensor.tent_pi_canopy_humidity"
LEAF_OFFSET = 2.0
DERIVED_KEYS = ("air_vpd", "leaf_vpd", "dew_point", "absolute_humidity")
SENSOR_PRECISION = {
    description.key: description.suggested_display_precision or 0 for description in SENSORS
}
WAIT = 30.0  # seconds; a loaded machine may be slow, a healthy run takes milliseconds
WRITES_PER_READING_BUDGET = 6
"""State writes of all a zone's entities per paired temperature/humidity reading."""


class Broker:
    """A plain MQTT client of the test broker, publishing as the node does."""

    def __init__(self, broker: Mosquitto) -> None:
        """Connect to ``broker``."""
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="node-under-test")
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        self._seq = 0

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish with QoS 1 and wait for the broker's acknowledgement."""
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=5)

    def reading(self, temperature: float, humidity: float) -> None:
        """One live reading of the node's canopy sensor, as the agent sends it."""
        self._seq += 1
        document = {
            "seq": self._seq,
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "temperature": temperature,
            "humidity": humidity,
            "pressure": 1012.4,
        }
        self.publish(Topics(NODE_ID).sensor_state(SENSOR), json.dumps(document))

    def close(self) -> None:
        """Disconnect."""
        self._client.loop_stop()
        self._client.disconnect()


@pytest.fixture
def node(mosquitto: Mosquitto) -> Iterator[Broker]:
    """The node's side of the broker."""
    broker = Broker(mosquitto)
    yield broker
    broker.close()


async def _until(hass: HomeAssistant, what: str, probe: Callable[[], bool]) -> None:
    """Wait (real time: the broker is a real process) until ``probe`` holds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        await hass.async_block_till_done()
        if probe():
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


async def _set_up_node_zone(
    hass: HomeAssistant, mosquitto: Mosquitto, node: Broker, tmp_path: Path
) -> MockConfigEntry:
    """The node discovered by HA's MQTT integration, its first reading, then its zone."""
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    config = parse_config(
        {
            "node_id": NODE_ID,
            "name": "Tent Pi",
            "broker": {"host": "127.0.0.1"},
            "sensors": [{"key": SENSOR, "name": "Canopy"}],
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
        },
        environ={},
    )
    topics = Topics(NODE_ID)
    await hass.async_add_executor_job(
        lambda: node.publish(topics.availability, PAYLOAD_ONLINE, retain=True)
    )
    discovery = encode(build_discovery_payload(config, sample_interval=30.0))
    await hass.async_add_executor_job(
        lambda: node.publish(topics.discovery, discovery, retain=True)
    )
    await _until(hass, "the node's sensors", lambda: hass.states.get(HUMIDITY) is not None)
    # MQTT subscribes to the sensors' topic a moment after it created them: send until then.
    deadline = time.monotonic() + WAIT
    while not hass.states.is_state(HUMIDITY, "70.0"):
        assert time.monotonic() < deadline, "the first reading never arrived"
        await hass.async_add_executor_job(node.reading, 22.0, 70.0)
        for _ in range(20):
            await hass.async_block_till_done()
            await asyncio.sleep(0.01)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Tent",
        unique_id=f"{NODE_ID}_{SENSOR}",
        data={
            CONF_ZONE_NAME: "Tent",
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            CONF_NODE_ID: NODE_ID,
            CONF_NODE_SENSOR: SENSOR,
        },
        options={CONF_LEAF_OFFSET: LEAF_OFFSET},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _zone_entity_ids(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """The zone's entity ids by description key."""
    prefix = f"{entry.entry_id}_"
    return {
        registry_entry.unique_id.removeprefix(prefix): registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }


class Writes:
    """Every state written for a set of entities: changed and reported alike."""

    def __init__(self, hass: HomeAssistant, entity_ids: set[str]) -> None:
        """Start counting."""
        self.changed: list[tuple[str, str]] = []
        self.reported: list[str] = []

        @callback
        def on_changed(event: Event[Any]) -> None:
            if event.data["entity_id"] in entity_ids and event.data["new_state"] is not None:
                self.changed.append((event.data["entity_id"], event.data["new_state"].state))

        @callback
        def ours(data: Any) -> bool:
            return data["entity_id"] in entity_ids

        @callback
        def on_reported(event: Event[Any]) -> None:
            self.reported.append(event.data["entity_id"])

        self._unsubscribe = [
            hass.bus.async_listen(EVENT_STATE_CHANGED, on_changed),
            hass.bus.async_listen(EVENT_STATE_REPORTED, on_reported, event_filter=ours),
        ]

    @property
    def total(self) -> int:
        """All writes so far."""
        return len(self.changed) + len(self.reported)

    def states_of(self, entity_id: str) -> list[str]:
        """The new states written for ``entity_id``, in order."""
        return [state for written, state in self.changed if written == entity_id]

    def stop(self) -> None:
        """Stop counting."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()


def _derived(values: DerivedValues, key: str) -> float:
    value = getattr(values, key)
    assert isinstance(value, float)
    return value


async def test_one_node_message_makes_one_state_of_each_derived_sensor(
    hass: HomeAssistant, mosquitto: Mosquitto, node: Broker, tmp_path: Path
) -> None:
    """Temperature and humidity of one message are derived together, never one by one."""
    entry = await _set_up_node_zone(hass, mosquitto, node, tmp_path)
    entity_ids = _zone_entity_ids(hass, entry)
    writes = Writes(hass, {entity_ids[key] for key in DERIVED_KEYS})
    expected = derive(27.0, 45.0, None, LEAF_OFFSET)

    await hass.async_add_executor_job(node.reading, 27.0, 45.0)
    await _until(hass, "the new humidity", lambda: hass.states.is_state(HUMIDITY, "45.0"))
    writes.stop()

    for key in DERIVED_KEYS:
        states = writes.states_of(entity_ids[key])
        assert len(states) == 1, (key, states)
        assert float(states[0]) == pytest.approx(_derived(expected, key)), key


def _random_walk(seed: int, count: int) -> list[tuple[float, float]]:
    """Readings of a kept tent: a few hundredths of a degree and tenths of % RH apart.

    No two in a row have the same temperature: MQTT writes no state for a repeated value,
    and the test waits for the temperature's state to know a reading arrived.
    """
    rng = random.Random(seed)
    temperature, humidity = 25.0, 60.0
    readings = []
    for _ in range(count):
        step = rng.choice((-1, 1)) * rng.uniform(0.01, 0.05)
        temperature = round(temperature + step, 2)
        humidity = round(humidity + rng.uniform(-0.3, 0.3), 1)
        readings.append((temperature, humidity))
    return readings


def _without_repeats(values: list[float]) -> list[float]:
    return [value for index, value in enumerate(values) if index == 0 or value != values[index - 1]]


async def test_a_node_reading_costs_a_few_state_writes_and_shows_every_change(
    hass: HomeAssistant, mosquitto: Mosquitto, node: Broker, tmp_path: Path
) -> None:
    """Within the budget, and the leaf VPD's history still holds every value it showed."""
    entry = await _set_up_node_zone(hass, mosquitto, node, tmp_path)
    entity_ids = _zone_entity_ids(hass, entry)
    writes = Writes(hass, set(entity_ids.values()))
    readings = _random_walk(seed=3, count=30)

    for temperature, humidity in readings:
        await _send_and_wait(hass, node, temperature, humidity)
    writes.stop()

    assert writes.total / len(readings) <= WRITES_PER_READING_BUDGET, (
        writes.changed,
        writes.reported,
    )
    _assert_history_shows_every_change(writes, entity_ids, (22.0, 70.0), readings)


async def _send_and_wait(
    hass: HomeAssistant, node: Broker, temperature: float, humidity: float
) -> None:
    """Send one reading and wait until MQTT wrote its (new) temperature."""
    before = hass.states.get(TEMPERATURE)
    assert before is not None
    await hass.async_add_executor_job(node.reading, temperature, humidity)

    def written() -> bool:
        state = hass.states.get(TEMPERATURE)
        return state is not None and state.last_changed > before.last_changed

    await _until(hass, f"reading {temperature} °C {humidity} %", written)


def _assert_history_shows_every_change(
    writes: Writes,
    entity_ids: dict[str, str],
    first: tuple[float, float],
    readings: list[tuple[float, float]],
) -> None:
    """Each derived sensor wrote exactly the values it shows, each change once, in order."""
    for key in DERIVED_KEYS:
        precision = SENSOR_PRECISION[key]
        shown = [
            round(_derived(derive(temperature, humidity, None, LEAF_OFFSET), key), precision)
            for temperature, humidity in [first, *readings]
        ]
        written = [round(float(state), precision) for state in writes.states_of(entity_ids[key])]
        assert written == _without_repeats(shown)[1:], key


async def test_a_reading_of_plain_sensors_costs_a_few_state_writes(hass: HomeAssistant) -> None:
    """A zone from existing sensors keeps the same budget, with correct values."""
    entry = zone_entry()
    entry.add_to_hass(hass)
    set_inputs(hass, "25.0", "60")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entity_ids = _zone_entity_ids(hass, entry)
    writes = Writes(hass, set(entity_ids.values()))
    readings = _random_walk(seed=5, count=50)

    for temperature, humidity in readings:
        set_inputs(hass, str(temperature), str(humidity))
        await hass.async_block_till_done()
    writes.stop()

    assert writes.total / len(readings) <= WRITES_PER_READING_BUDGET, writes.changed
    _assert_history_shows_every_change(writes, entity_ids, (25.0, 60.0), readings)
