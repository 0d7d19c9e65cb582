"""The latency benchmark's pytest entry: from the node's publish to the zone's leaf VPD state.

Not collected by the project's test suite (it lives outside ``tests/``); ``latency.py`` runs
it through ``pytest.main`` with a :class:`~bench.latency.LatencySession` plugin that
supplies the ``latency_session`` fixture and receives the results.

A real mosquitto broker on 127.0.0.1, Home Assistant's real MQTT integration, and a paho
client playing the edge node with the agent's own documents (``edge_agent.discovery``
built from the simulated node's configuration): HA's MQTT discovery creates the node's
entities and the node announcement the zone (through the discovery flow). Each timed
reading is the agent's live reading on ``rala/<node>/sensor/canopy/state``, QoS 1.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import os
from pathlib import Path
import random
import threading
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
import pytest
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
)

from bench.latency import BROKER, MQTT_SENSOR, RALA, LatencySession
from custom_components.rala import psychrometrics
from custom_components.rala.const import CONF_NODE_ID, CONF_TEMPERATURE_ENTITY, DOMAIN
from custom_components.rala.models import RalaConfigEntry
from edge_agent.config import AgentConfig, parse_config
from edge_agent.discovery import (
    PAYLOAD_OFF,
    PAYLOAD_ONLINE,
    Topics,
    build_discovery_payload,
    build_node_announcement,
    encode,
    live_reading_payload,
)
from edge_agent.outbox import StoredReading
from edge_agent.sensors import Reading
from edge_agent.simulated import DEFAULT_ZONE, default_simulation_raw_config
from tests.mosquitto import Mosquitto

NODE_ID = "bench-tent"
SENSOR = "canopy"
SAMPLE_INTERVAL = 30.0
"""The node's announced sample interval, s (its entities expire after three of them)."""
ECHO_TOPIC = f"rala-bench/{NODE_ID}/echo"
"""The broker anchor's topic: nobody but the publisher subscribes to it."""
WAIT = 10.0
"""Seconds one timed message may take before the run is declared broken."""
SET_UP_WAIT = 60.0
"""Seconds the set-up may wait for the broker and HA's MQTT discovery (a slow machine)."""


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The run ends at an arbitrary instant: the MQTT client's and the zone's timers run."""
    return True


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real mosquitto broker on a free 127.0.0.1 port (sockets allowed for the test)."""
    import pytest_socket  # noqa: PLC0415  # type: ignore[import-untyped]

    pytest_socket.enable_socket()
    mosquitto = Mosquitto(Path(tmp_path_factory.mktemp("mosquitto")))
    mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.stop(kill=True)


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_latency(
    broker: Mosquitto, hass: HomeAssistant, tmp_path: Path, latency_session: LatencySession
) -> None:
    """The broker's round trip, HA's MQTT sensor and the zone's leaf VPD, reading by reading."""
    await async_measure(hass, broker, tmp_path, latency_session)


class Publisher:
    """The node's side of the wire: a paho client with its network thread, QoS 1.

    Timed publishes are made from the event loop's thread (paho only queues them; its
    network thread writes), so that their start and HA's state writes read one clock.
    """

    def __init__(self, broker: Mosquitto, loop: asyncio.AbstractEventLoop) -> None:
        """Connect, start the network thread and subscribe to the echo topic."""
        self._loop = loop
        self._echoes: dict[bytes, asyncio.Future[float]] = {}
        self._count = 0
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{NODE_ID}-bench")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(ECHO_TOPIC, qos=1)
        if not subscribed.wait(WAIT):
            self.close()
            raise RuntimeError("benchmark set-up failed: the publisher could not subscribe")

    def _on_message(self, _client: Any, _userdata: Any, message: paho.MQTTMessage) -> None:
        received = time.perf_counter()  # in paho's network thread, as the message arrives
        self._loop.call_soon_threadsafe(self._echoed, message.payload, received)

    def _echoed(self, token: bytes, received: float) -> None:
        future = self._echoes.pop(token, None)
        if future is not None and not future.done():
            future.set_result(received)

    def publish_and_wait(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        """Publish QoS 1 and wait for the broker's PUBACK (blocking: run it in a thread)."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT)

    def publish(self, topic: str, payload: bytes) -> float:
        """Publish QoS 1 without waiting; ``perf_counter()`` just before the publish."""
        started = time.perf_counter()
        self.client.publish(topic, payload, qos=1)
        return started

    async def round_trip(self) -> float:
        """Publish to the echo topic and wait until it comes back: ms."""
        self._count += 1
        token = str(self._count).encode()
        future = self._loop.create_future()
        self._echoes[token] = future
        started = self.publish(ECHO_TOPIC, token)
        received: float = await asyncio.wait_for(future, WAIT)
        return 1000.0 * (received - started)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


class StateWrites:
    """The moment (``perf_counter()``) and value of the next state write of some entities."""

    def __init__(self, hass: HomeAssistant, entity_ids: set[str]) -> None:
        """Follow the state writes of ``entity_ids``."""
        self._hass = hass
        self._pending: dict[str, asyncio.Future[tuple[float, str]]] = {}

        @callback
        def ours(data: EventStateChangedData) -> bool:
            return data["entity_id"] in entity_ids

        @callback
        def written(event: Event[EventStateChangedData]) -> None:
            moment = time.perf_counter()  # listeners run as the state machine writes
            future = self._pending.pop(event.data["entity_id"], None)
            new_state = event.data["new_state"]
            if future is not None and not future.done():
                future.set_result((moment, new_state.state if new_state else ""))

        self.stop = hass.bus.async_listen(EVENT_STATE_CHANGED, written, event_filter=ours)

    def expect(self, entity_id: str) -> asyncio.Future[tuple[float, str]]:
        """The next state write of ``entity_id``: its moment and its state."""
        future: asyncio.Future[tuple[float, str]] = self._hass.loop.create_future()
        self._pending[entity_id] = future
        return future


@dataclass(frozen=True, slots=True)
class NodeReading:
    """One reading as the node measures it, and the leaf VPD the zone should show."""

    temperature: float
    humidity: float
    pressure: float
    leaf_vpd: float


def readings(seed: int, count: int, leaf_offset: float) -> list[NodeReading]:
    """A tent's readings at BME280 resolution (0.01 °C, 0.1 % RH, 0.1 hPa) in which every
    reading changes the temperature, the humidity and the leaf VPD as shown (0.01 kPa)
    from the one before, so that each writes both the sensor's and the zone's state."""
    rng = random.Random(seed)
    temperature, humidity, pressure = 25.0, 60.0, 1013.0
    shown = round(psychrometrics.vpd_leaf(temperature, humidity, leaf_offset_c=leaf_offset), 2)
    result: list[NodeReading] = []
    while len(result) < count:
        new_temperature = round(min(28.0, max(22.0, temperature + rng.uniform(-0.6, 0.6))), 2)
        new_humidity = round(min(70.0, max(50.0, humidity + rng.uniform(-2.5, 2.5))), 1)
        leaf_vpd = psychrometrics.vpd_leaf(new_temperature, new_humidity, leaf_offset_c=leaf_offset)
        if (
            new_temperature == temperature
            or new_humidity == humidity
            or round(leaf_vpd, 2) == shown
        ):
            continue
        temperature, humidity, shown = new_temperature, new_humidity, round(leaf_vpd, 2)
        pressure = round(min(1030.0, max(990.0, pressure + rng.gauss(0, 0.1))), 1)
        result.append(NodeReading(temperature, humidity, pressure, leaf_vpd))
    return result


def _payload(seq: int, reading: NodeReading) -> bytes:
    """The live reading exactly as the agent publishes it."""
    stored = StoredReading(
        seq=seq,
        reading=Reading(
            sensor=SENSOR,
            temperature=reading.temperature,
            humidity=reading.humidity,
            pressure=reading.pressure,
            measured_at=datetime.now(UTC),
        ),
    )
    return encode(live_reading_payload(stored))


def node_config(broker: Mosquitto) -> AgentConfig:
    """The simulated node's configuration (one BME280, the usual relays of a tent)."""
    raw = default_simulation_raw_config(
        node_id=NODE_ID, host=broker.host, port=broker.port, sample_interval=SAMPLE_INTERVAL
    )
    return parse_config(raw, {})


def announce(publisher: Publisher, config: AgentConfig) -> None:
    """What the agent publishes on connecting: discovery, announcement, availability, relays."""
    topics = Topics(config.node_id, config.discovery_prefix)
    discovery = build_discovery_payload(config, sample_interval=SAMPLE_INTERVAL)
    announcement = build_node_announcement(config, sample_interval=SAMPLE_INTERVAL)
    publisher.publish_and_wait(topics.discovery, encode(discovery), retain=True)
    publisher.publish_and_wait(topics.node, encode(announcement), retain=True)
    publisher.publish_and_wait(topics.availability, PAYLOAD_ONLINE, retain=True)
    for actuator in config.actuators:
        publisher.publish_and_wait(topics.actuator_state(actuator.key), PAYLOAD_OFF, retain=True)


async def async_measure(
    hass: HomeAssistant, broker: Mosquitto, tmp_path: Path, session: LatencySession
) -> None:
    """Every figure of the benchmark, into ``session`` (``broker`` must be running).

    The harness runs the event loop in asyncio's debug mode (a traceback for every task,
    every callback timed) and logs at INFO: costs no installation pays. Both are off.
    """
    debug = hass.loop.get_debug()
    loggers = [logging.getLogger(), logging.getLogger("homeassistant.components.mqtt")]
    levels = [logger.level for logger in loggers]
    hass.loop.set_debug(False)
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    publisher = await hass.async_add_executor_job(Publisher, broker, hass.loop)
    try:
        await _async_measure(hass, broker, tmp_path, publisher, session)
    finally:
        await hass.async_add_executor_job(publisher.close)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        hass.loop.set_debug(debug)


async def _async_set_up_zone(hass: HomeAssistant) -> tuple[ConfigEntry, str, str]:
    """The zone created by the discovery flow: (zone, temperature, leaf VPD entity ids)."""
    zone_entry = await _async_create_zone(hass)
    _require(zone_entry.data.get(CONF_NODE_ID) == NODE_ID, "the zone is the node's")
    temperature_id: str = zone_entry.data[CONF_TEMPERATURE_ENTITY]
    registry = er.async_get(hass)
    temperature_entry = registry.async_get(temperature_id)
    _require(
        temperature_entry is not None and temperature_entry.platform == "mqtt",
        "the zone's temperature is the node's MQTT sensor",
    )
    leaf_vpd_id = registry.async_get_entity_id("sensor", DOMAIN, f"{zone_entry.entry_id}_leaf_vpd")
    if leaf_vpd_id is None:
        raise RuntimeError("benchmark set-up failed: the zone's leaf VPD sensor")
    return zone_entry, temperature_id, leaf_vpd_id


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"benchmark set-up failed: {what}")


async def _async_measure(
    hass: HomeAssistant,
    broker: Mosquitto,
    tmp_path: Path,
    publisher: Publisher,
    session: LatencySession,
) -> None:
    mqtt_entry = await _async_set_up_mqtt(hass, broker, tmp_path, publisher, session)
    try:
        await _async_time_readings(hass, publisher, session)
    finally:
        # While the broker runs: unloaded later, HA's MQTT would log a failed unsubscribe.
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.config_entries.async_unload(mqtt_entry.entry_id)
        await hass.async_block_till_done()
    session.cpu_count = os.cpu_count() or 1


async def _async_set_up_mqtt(
    hass: HomeAssistant,
    broker: Mosquitto,
    tmp_path: Path,
    publisher: Publisher,
    session: LatencySession,
) -> ConfigEntry:
    """The node announced on the broker, then HA's real MQTT integration connected to it.

    The MQTT integration reads configuration.yaml: HA's configuration folder becomes
    ``tmp_path / "config"``, with an empty one.
    """
    await hass.async_add_executor_job(announce, publisher, node_config(broker))
    config_dir = tmp_path / "config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "configuration.yaml").write_text("{}\n", encoding="utf-8")
    hass.config.config_dir = str(config_dir)
    mock_entry = MockConfigEntry(
        domain="mqtt",
        version=2,
        minor_version=1,
        data={"broker": broker.host, "port": broker.port},
    )
    mock_entry.add_to_hass(hass)
    entry: ConfigEntry = mock_entry
    started = time.perf_counter()
    _require(await hass.config_entries.async_setup(entry.entry_id), "HA's MQTT integration")
    await hass.async_block_till_done()
    session.mqtt_setup_ms = 1000.0 * (time.perf_counter() - started)
    _require(entry.state is ConfigEntryState.LOADED, "HA's MQTT integration loaded")
    return entry


async def _poll_until(what: str, probe: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``probe`` on real time until it is true."""
    deadline = time.monotonic() + SET_UP_WAIT
    while not await probe():
        _require(time.monotonic() < deadline, f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _async_create_zone(hass: HomeAssistant) -> ConfigEntry:
    """The zone from the node announcement's discovery flow, confirmed as a grower does."""
    unique_id = f"{NODE_ID}_simulated_tent"

    async def discovered() -> bool:
        return bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN))

    await _poll_until("the node announcement to start a flow", discovered)
    flow = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    _require(flow["context"].get("unique_id") == unique_id, f"a flow for {DEFAULT_ZONE!r}")
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})

    async def finished() -> bool:
        nonlocal result
        if result["type"] is FlowResultType.SHOW_PROGRESS:
            result = await hass.config_entries.flow.async_configure(flow["flow_id"])
        _require(
            result["type"]
            in (
                FlowResultType.SHOW_PROGRESS,
                FlowResultType.SHOW_PROGRESS_DONE,
                FlowResultType.CREATE_ENTRY,
            ),
            f"the discovery flow went on (it showed {result.get('step_id')!r})",
        )
        return result["type"] is FlowResultType.CREATE_ENTRY

    await _poll_until("the zone's config entry", finished)
    entry: ConfigEntry = result["result"]
    await hass.async_block_till_done()
    _require(entry.state is ConfigEntryState.LOADED, "the zone loaded")
    return entry


async def _async_time_readings(
    hass: HomeAssistant, publisher: Publisher, session: LatencySession
) -> None:
    """The zone from the discovery flow, then the timed readings."""
    zone_entry, temperature_id, leaf_vpd_id = await _async_set_up_zone(hass)
    # What a zone adds to Home Assistant's start: its entry set up again, as at a start.
    _require(await hass.config_entries.async_unload(zone_entry.entry_id), "the zone unloaded")
    await hass.async_block_till_done()
    started = time.perf_counter()
    _require(await hass.config_entries.async_setup(zone_entry.entry_id), "the zone set up")
    await hass.async_block_till_done()
    session.zone_setup_ms = 1000.0 * (time.perf_counter() - started)
    entry: RalaConfigEntry = zone_entry
    leaf_offset = entry.runtime_data.zone.leaf_offset
    topic = Topics(NODE_ID).sensor_state(SENSOR)
    sequence = readings(session.seed, session.warm_up + session.readings + 1, leaf_offset)
    interval = session.interval_ms / 1000.0

    # The first reading, until HA's subscriptions are in place (a live reading is not
    # retained: one sent before them is lost): the zone then shows a leaf VPD.
    first = _payload(1, sequence[0])

    async def primed() -> bool:
        await hass.async_add_executor_job(publisher.publish_and_wait, topic, first, False)
        await asyncio.sleep(0.2)
        state = hass.states.get(leaf_vpd_id)
        return state is not None and _number(state.state) is not None

    await _poll_until("the zone's first leaf VPD", primed)
    await hass.async_block_till_done()

    writes = StateWrites(hass, {temperature_id, leaf_vpd_id})
    try:
        for index, reading in enumerate(sequence[1:]):
            measured = index >= session.warm_up
            broker_ms = await publisher.round_trip()
            await asyncio.sleep(interval)
            temperature_written = writes.expect(temperature_id)
            leaf_vpd_written = writes.expect(leaf_vpd_id)
            started = publisher.publish(topic, _payload(index + 2, reading))
            temperature_at, temperature_state = await asyncio.wait_for(temperature_written, WAIT)
            leaf_vpd_at, leaf_vpd_state = await asyncio.wait_for(leaf_vpd_written, WAIT)
            await hass.async_block_till_done()
            if measured:
                session.samples[BROKER].append(broker_ms)
                session.samples[MQTT_SENSOR].append(1000.0 * (temperature_at - started))
                session.samples[RALA].append(1000.0 * (leaf_vpd_at - started))
                session.temperature_states.append(temperature_state)
                session.leaf_vpd_states.append(leaf_vpd_state)
                session.expected_leaf_vpd.append(reading.leaf_vpd)
            await asyncio.sleep(interval)
    finally:
        writes.stop()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
