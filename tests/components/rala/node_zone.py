"""A node's zone with HA's real recorder and MQTT on a real broker, for the history tests.

A paho client plays the edge node: it publishes live readings and backfill batches to a
real mosquitto broker and records the integration's replay requests. The backfill's
tests on SQLite, on the production databases and under hostile input share it.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import statistics as stats
import threading
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.components.mqtt.const import MQTT_PROCESSED_SUBSCRIPTIONS
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.components.recorder.tasks import StatisticsTask
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import paho.mqtt.client as paho
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_NODE_AVAILABILITY_TOPIC,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    CONF_NODE_SAMPLE_INTERVAL,
    CONF_NODE_SENSOR,
    CONF_NODE_UNIQUE_IDS,
    CONF_NODE_ZONE,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)
from custom_components.rala.history import NodeHistory
from tests.mosquitto import Mosquitto

from .common import announcement, async_set_up_mqtt, register_node_entities

NODE = "tent-pi"
SENSOR = "canopy"
LIVE_TOPIC = f"rala/{NODE}/sensor/{SENSOR}/state"
BACKFILL_TOPIC = f"rala/{NODE}/backfill"
REPLAY_TOPIC = f"rala/{NODE}/replay"
WAIT = 30.0  # seconds; only a bound for a broken test, a healthy step takes milliseconds
QUANTITIES = ("temperature", "humidity", "pressure")


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass`` (autouse fixtures request it early)."""


# --- helpers ------------------------------------------------------------------------------------


async def wait_until[T](what: str, probe: Callable[[], T | None]) -> T:
    """Poll ``probe`` until it returns a value (MQTT goes through a real broker)."""
    deadline = time.monotonic() + WAIT
    while True:
        if value := probe():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_recorder(hass: HomeAssistant) -> None:
    """Let the recorder finish every queued task (imports, statistics runs)."""
    await hass.async_block_till_done()
    await hass.async_add_executor_job(get_instance(hass).block_till_done)
    await hass.async_block_till_done()


async def compile_statistics(hass: HomeAssistant, start: datetime) -> None:
    """One statistics run of the recorder for the 5-minute period at ``start``, as it
    runs every 5 minutes (with its event)."""
    get_instance(hass).queue_task(StatisticsTask(start, True))
    await wait_recorder(hass)


async def hourly_statistics(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime
) -> list[Any]:
    """The hourly statistics rows of ``entity_id`` between ``start`` and ``end``."""
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        end,
        {entity_id},
        "hour",
        None,
        {"mean", "min", "max"},
    )
    return list(result.get(entity_id, []))


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def node_reading(seq: int, moment: datetime, sensor: str | None = SENSOR) -> dict[str, Any]:
    """A reading whose values vary with ``seq`` (in a way not aligned to hours)."""
    reading: dict[str, Any] = {
        "seq": seq,
        "ts": utc_text(moment),
        "temperature": round(20.0 + (seq * 7 % 13) * 0.37, 2),
        "humidity": round(45.0 + (seq * 5 % 11) * 1.9, 1),
        "pressure": round(1000.0 + (seq * 3 % 7) * 1.3, 1),
    }
    if sensor is not None:
        reading["sensor"] = sensor
    return reading


def backfill_batch(readings: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    document = {
        "node_id": NODE,
        "request_id": None,
        "readings": readings,
        "first_seq": readings[0]["seq"] if readings else None,
        "last_seq": readings[-1]["seq"] if readings else None,
        "oldest_available_seq": 1,
    }
    document.update(changes)
    return document


def expected_hourly(
    readings: list[dict[str, Any]], quantity: str
) -> dict[float, tuple[float, ...]]:
    """Hour start (epoch) → (mean, min, max) of ``quantity``, computed here independently."""
    hours: dict[float, list[float]] = {}
    for reading in readings:
        moment = datetime.fromisoformat(reading["ts"])
        start = moment.replace(minute=0, second=0, microsecond=0).timestamp()
        hours.setdefault(start, []).append(reading[quantity])
    return {
        start: (stats.fmean(values), min(values), max(values)) for start, values in hours.items()
    }


def hourly_rows(rows: list[Any]) -> dict[float, tuple[float, ...]]:
    return {row["start"]: (row["mean"], row["min"], row["max"]) for row in rows}


def assert_statistics(
    actual: dict[float, tuple[float, ...]], expected: dict[float, tuple[float, ...]]
) -> None:
    assert actual.keys() == expected.keys()
    for start, values in expected.items():
        assert actual[start] == pytest.approx(values, rel=1e-9)


class Node:
    """The edge node's side of the wire: a paho client on the real broker."""

    def __init__(self, broker: Mosquitto) -> None:
        """Connect, and record every replay request (and marker) that arrives."""
        self.requests: list[dict[str, Any]] = []
        self.markers: set[str] = set()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-node")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(REPLAY_TOPIC, qos=1)
        if not self._subscribed.wait(WAIT):
            raise AssertionError("test node could not subscribe")

    def _on_message(self, _client: Any, _userdata: Any, message: paho.MQTTMessage) -> None:
        document = json.loads(message.payload)
        with self._lock:
            if "marker" in document:
                self.markers.add(document["marker"])
            else:
                self.requests.append(document)

    def publish(self, topic: str, payload: dict[str, Any] | str | bytes) -> None:
        """Publish with QoS 1 and wait for the broker's PUBACK."""
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        self.client.publish(topic, data, qos=1).wait_for_publish(WAIT)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def node(mosquitto: Mosquitto) -> Iterator[Node]:
    """The test's edge node."""
    client = Node(mosquitto)
    try:
        yield client
    finally:
        client.close()


class Setup:
    """The zone of the node under test, and a way to sync with HA's MQTT client."""

    def __init__(self, hass: HomeAssistant, node: Node, entry: ConfigEntry) -> None:
        """Remember the pieces; follow HA's MQTT subscriptions (before the zone starts)."""
        self.hass = hass
        self.node = node
        self.entry = entry
        self._markers = 0
        self.subscribed: set[str] = set()

        @callback
        def processed(subscriptions: list[tuple[str, int]]) -> None:
            self.subscribed.update(topic for topic, _qos in subscriptions)

        self._unsubscribe_processed = async_dispatcher_connect(
            hass, MQTT_PROCESSED_SUBSCRIPTIONS, processed
        )

    async def start(self) -> None:
        """Set up the zone and wait until the broker has its subscriptions (SUBACK)."""
        self.subscribed.clear()
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        await self.hass.async_block_till_done()
        await wait_until(
            "HA's subscriptions",
            lambda: {f"rala/{NODE}/sensor/+/state", BACKFILL_TOPIC} <= self.subscribed,
        )

    async def stop(self) -> None:
        """Unload the zone."""
        if self.entry.state is ConfigEntryState.LOADED:
            assert await self.hass.config_entries.async_unload(self.entry.entry_id)
            await self.hass.async_block_till_done()
        self._unsubscribe_processed()

    @property
    def history(self) -> NodeHistory:
        """The running backfill of the zone."""
        history = self.entry.runtime_data.history
        assert history is not None
        return history

    async def sync(self) -> None:
        """Wait until everything HA's MQTT client published before has reached the node.

        HA publishes a marker on the replay topic after whatever it published there; the
        broker keeps one client's QoS 1 messages in order.
        """
        self._markers += 1
        marker = f"m{self._markers}"
        await mqtt.async_publish(self.hass, REPLAY_TOPIC, json.dumps({"marker": marker}), qos=1)
        await wait_until("the marker", lambda: marker in self.node.markers)
        await self.hass.async_block_till_done()

    async def deliver(self, topic: str, payload: dict[str, Any] | str | bytes) -> None:
        """Publish as the node and wait until HA has handled it (a marker through HA)."""
        handled = self.history.state.counters.copy()
        await self.hass.async_add_executor_job(self.node.publish, topic, payload)

        def changed() -> bool:
            return self.history.state.counters != handled

        # Every delivered payload changes a counter (accepted, duplicate or rejected).
        await wait_until(f"HA to handle a message on {topic}", changed)
        await self.hass.async_block_till_done()

    async def advance(self, seconds: float) -> None:
        """Let the zone's timers (replay grace, interval, timeout) run as if time passed."""
        async_fire_time_changed(self.hass, dt_util.utcnow() + timedelta(seconds=seconds))
        await self.hass.async_block_till_done()

    async def restart(self) -> None:
        """Unload and set up the zone again, as after a restart of Home Assistant."""
        assert await self.hass.config_entries.async_unload(self.entry.entry_id)
        await self.hass.async_block_till_done()
        await self.start()


def zone_entry(hass: HomeAssistant) -> MockConfigEntry:
    document = announcement(NODE)
    created = register_node_entities(hass, document)
    unique_ids = document["sensors"][0]["unique_ids"]
    return MockConfigEntry(
        domain=DOMAIN,
        title="Flower tent",
        unique_id=f"{NODE}_flower_tent",
        data={
            CONF_ZONE_NAME: "Flower tent",
            CONF_NODE_ID: NODE,
            CONF_NODE_DEVICE_IDENTIFIER: f"rala_{NODE}",
            CONF_NODE_ZONE: "Flower tent",
            CONF_NODE_SENSOR: SENSOR,
            CONF_NODE_AVAILABILITY_TOPIC: f"rala/{NODE}/availability",
            CONF_NODE_SAMPLE_INTERVAL: 30,
            CONF_NODE_UNIQUE_IDS: {
                "temperature": unique_ids["temperature"],
                "humidity": unique_ids["humidity"],
            },
            CONF_TEMPERATURE_ENTITY: created[unique_ids["temperature"]],
            CONF_HUMIDITY_ENTITY: created[unique_ids["humidity"]],
        },
        options={},
    )


ENTITIES = {
    "temperature": "sensor.canopy_temperature",
    "humidity": "sensor.canopy_humidity",
    "pressure": "sensor.canopy_pressure",
}
UNITS = {
    "temperature": ("°C", "temperature"),
    "humidity": ("%", "humidity"),
    "pressure": ("hPa", "pressure"),
}


def set_node_states(hass: HomeAssistant, unit_overrides: dict[str, str] | None = None) -> None:
    """Live states of the node's sensor entities, as HA's MQTT sensors would write them."""
    for quantity, entity_id in ENTITIES.items():
        unit, device_class = UNITS[quantity]
        unit = (unit_overrides or {}).get(quantity, unit)
        hass.states.async_set(
            entity_id,
            "30.0" if quantity == "temperature" else "50",
            {
                "unit_of_measurement": unit,
                "device_class": device_class,
                "state_class": "measurement",
            },
        )


@pytest.fixture
async def zone(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    node: Node,
    tmp_path: Path,
) -> AsyncIterator[Setup]:
    """A zone of the node, with HA's recorder and MQTT connected to the test broker."""
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    entry = zone_entry(hass)
    set_node_states(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    yield setup
    await setup.stop()


def zone_sensor(hass: HomeAssistant, entry: ConfigEntry, key: str) -> str:
    """The entity id of one of the zone's own sensors."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_{key}")
    assert entity_id is not None
    return entity_id


def full_hour(offset: int) -> datetime:
    """The full hour ``offset`` hours from the current one."""
    return dt_util.utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=offset)


# --- tests --------------------------------------------------------------------------------------
