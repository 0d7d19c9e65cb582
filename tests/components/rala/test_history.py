"""Backfill into Home Assistant's history, with HA's real recorder, MQTT and a real broker.

A paho client plays the edge node: it publishes live readings and backfill batches to a
real mosquitto broker, and listens on the node's replay topic for the integration's
requests. Home Assistant's own MQTT integration is connected to the same broker and its
real recorder (SQLite) stores the statistics the integration imports. Expected statistics
are computed here, independently, from the readings the test sent.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import dataclasses
from datetime import UTC, datetime, timedelta
import json
import logging
from pathlib import Path
import random
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

from custom_components.rala import psychrometrics
from custom_components.rala.backfill import (
    MAX_HELD_READINGS,
    MAX_PENDING_HOURS,
    MAX_SEQ_JUMP,
    MAX_SEQ_RANGES,
    MAX_STORED_BYTES,
    TRACK_CONFIRMATIONS,
    NodeHistoryConfig,
)
from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_TEMPERATURE_ENTITY,
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
from custom_components.rala.diagnostics import async_get_config_entry_diagnostics
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

pytestmark = [pytest.mark.mqtt]


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass`` (autouse fixtures request it early)."""


# --- helpers ------------------------------------------------------------------------------------


async def _until[T](what: str, probe: Callable[[], T | None]) -> T:
    """Poll ``probe`` until it returns a value (MQTT goes through a real broker)."""
    deadline = time.monotonic() + WAIT
    while True:
        if value := probe():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _wait_recorder(hass: HomeAssistant) -> None:
    """Let the recorder finish every queued task (imports, statistics runs)."""
    await hass.async_block_till_done()
    await hass.async_add_executor_job(get_instance(hass).block_till_done)
    await hass.async_block_till_done()


async def _compile_statistics(hass: HomeAssistant, start: datetime) -> None:
    """One statistics run of the recorder for the 5-minute period at ``start``, as it
    runs every 5 minutes (with its event)."""
    get_instance(hass).queue_task(StatisticsTask(start, True))
    await _wait_recorder(hass)


async def _hourly(hass: HomeAssistant, entity_id: str, start: datetime, end: datetime) -> list[Any]:
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


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reading(seq: int, moment: datetime, sensor: str | None = SENSOR) -> dict[str, Any]:
    """A reading whose values vary with ``seq`` (in a way not aligned to hours)."""
    reading: dict[str, Any] = {
        "seq": seq,
        "ts": _ts(moment),
        "temperature": round(20.0 + (seq * 7 % 13) * 0.37, 2),
        "humidity": round(45.0 + (seq * 5 % 11) * 1.9, 1),
        "pressure": round(1000.0 + (seq * 3 % 7) * 1.3, 1),
    }
    if sensor is not None:
        reading["sensor"] = sensor
    return reading


def _batch(readings: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
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


def _expected(readings: list[dict[str, Any]], quantity: str) -> dict[float, tuple[float, ...]]:
    """Hour start (epoch) → (mean, min, max) of ``quantity``, computed here independently."""
    hours: dict[float, list[float]] = {}
    for reading in readings:
        moment = datetime.fromisoformat(reading["ts"])
        start = moment.replace(minute=0, second=0, microsecond=0).timestamp()
        hours.setdefault(start, []).append(reading[quantity])
    return {
        start: (stats.fmean(values), min(values), max(values)) for start, values in hours.items()
    }


def _rows(rows: list[Any]) -> dict[float, tuple[float, ...]]:
    return {row["start"]: (row["mean"], row["min"], row["max"]) for row in rows}


def _assert_statistics(
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
        await _until(
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
        await _until("the marker", lambda: marker in self.node.markers)
        await self.hass.async_block_till_done()

    async def deliver(self, topic: str, payload: dict[str, Any] | str | bytes) -> None:
        """Publish as the node and wait until HA has handled it (a marker through HA)."""
        handled = self.history.state.counters.copy()
        await self.hass.async_add_executor_job(self.node.publish, topic, payload)

        def changed() -> bool:
            return self.history.state.counters != handled

        # Every delivered payload changes a counter (accepted, duplicate or rejected).
        await _until(f"HA to handle a message on {topic}", changed)
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


def _zone_entry(hass: HomeAssistant) -> MockConfigEntry:
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


def _set_states(hass: HomeAssistant, unit_overrides: dict[str, str] | None = None) -> None:
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
    entry = _zone_entry(hass)
    _set_states(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    yield setup
    await setup.stop()


def _zone_sensor(hass: HomeAssistant, entry: ConfigEntry, key: str) -> str:
    """The entity id of one of the zone's own sensors."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_{key}")
    assert entity_id is not None
    return entity_id


def _hour(offset: int) -> datetime:
    """The full hour ``offset`` hours from the current one."""
    return dt_util.utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=offset)


# --- tests --------------------------------------------------------------------------------------


async def test_backfilled_hours_become_statistics_once(zone: Setup) -> None:
    """Readings of past hours become hourly mean/min/max; the same batch again changes nothing."""
    hass = zone.hass
    first = _hour(-5)
    readings = [
        _reading(seq, first + timedelta(minutes=7 * index))
        for index, seq in enumerate(range(10, 40))
    ]  # 30 readings over three and a half hours
    await zone.deliver(BACKFILL_TOPIC, _batch(readings))
    await _until("the import", lambda: zone.history.state.counters["imported_hours"] == 4)
    await _wait_recorder(hass)

    end = _hour(0)
    imported = {}
    for quantity, entity_id in ENTITIES.items():
        imported[quantity] = _rows(await _hourly(hass, entity_id, first, end))
        _assert_statistics(imported[quantity], _expected(readings, quantity))
    assert not zone.history.state.pending_hours
    # The zone's own derived sensors, from the same readings (leaf offset 2 °C by default).
    derived = {
        "air_vpd": psychrometrics.vpd_air,
        "leaf_vpd": lambda t, rh: psychrometrics.vpd_leaf(t, rh, None, leaf_offset_c=2.0),
        "dew_point": psychrometrics.dew_point,
        "absolute_humidity": psychrometrics.absolute_humidity,
    }
    for key, formula in derived.items():
        entity_id = _zone_sensor(hass, zone.entry, key)
        values = [{"ts": r["ts"], key: formula(r["temperature"], r["humidity"])} for r in readings]
        imported[key] = _rows(await _hourly(hass, entity_id, first, end))
        _assert_statistics(imported[key], _expected(values, key))

    # The node sends the same batch again (say its PUBACK got lost): nothing changes.
    await zone.deliver(BACKFILL_TOPIC, _batch(readings))
    assert zone.history.state.counters["duplicate_readings"] == len(readings)
    assert zone.history.state.counters["imported_hours"] == 4
    assert not zone.history.state.pending_hours
    await _wait_recorder(hass)
    for quantity, entity_id in ENTITIES.items():
        assert _rows(await _hourly(hass, entity_id, first, end)) == imported[quantity]
    for key in derived:
        entity_id = _zone_sensor(hass, zone.entry, key)
        assert _rows(await _hourly(hass, entity_id, first, end)) == imported[key]


async def test_partly_live_hour_waits_for_compile_and_holds_all_readings(zone: Setup) -> None:
    """An hour seen partly live is imported after the recorder compiled it, from all readings.

    The recorder compiled the hour from HA's live states (30 °C the whole hour); the
    import replaces that with the statistics of every reading, live and backfilled, and
    no compile overwrites it afterwards.
    """
    hass = zone.hass
    hour = _hour(0)  # the recorder has not compiled this hour yet
    moments = [hour + timedelta(minutes=10 * index) for index in range(6)]
    live = [_reading(seq, moments[seq - 1], sensor=None) for seq in (1, 2, 5, 6)]
    for reading in live:
        await zone.deliver(LIVE_TOPIC, reading)
    assert zone.history.state.closed.gaps() == [(3, 4)]
    backfilled = [_reading(seq, moments[seq - 1]) for seq in (3, 4)]
    await zone.deliver(BACKFILL_TOPIC, _batch(backfilled))
    assert zone.history.state.closed.gaps() == []
    await zone.history.async_flush()
    await _wait_recorder(hass)
    # Not compiled yet: nothing imported, the hour waits.
    assert zone.history.state.pending_hours == {hour}
    assert await _hourly(hass, ENTITIES["temperature"], hour, hour + timedelta(hours=1)) == []

    # The recorder's run of hour:55 compiles the hour (from the live states), then the
    # integration imports it.
    await _compile_statistics(hass, hour + timedelta(minutes=55))
    await _until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await _wait_recorder(hass)
    every_reading = [{**r, "sensor": SENSOR} for r in live] + backfilled
    for quantity, entity_id in ENTITIES.items():
        rows = _rows(await _hourly(hass, entity_id, hour, hour + timedelta(hours=1)))
        _assert_statistics(rows, _expected(every_reading, quantity))
    assert rows[hour.timestamp()][0] != 50.0  # not the recorder's compile of the states

    # A later statistics run does not touch the hour again.
    await _compile_statistics(hass, hour + timedelta(hours=1))
    rows = _rows(await _hourly(hass, ENTITIES["temperature"], hour, hour + timedelta(hours=1)))
    _assert_statistics(rows, _expected(every_reading, "temperature"))
    # The gap was filled by the node's own backfill before the grace ran out: no replay.
    await zone.advance(200)
    await zone.sync()
    assert zone.node.requests == []


async def test_statistics_in_the_entity_unit(
    *,
    recorder_mock: Recorder,
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    node: Node,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A temperature sensor shown in °F gets its statistics in °F."""
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    entry = _zone_entry(hass)
    # The grower reconfigured the zone to another humidity sensor.
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        data={**entry.data, CONF_HUMIDITY_ENTITY: "sensor.other_humidity"},
        options={},
    )
    _set_states(hass, {"temperature": "°F", "humidity": "g/m³"})
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    readings = [_reading(seq, _hour(-3) + timedelta(minutes=20 * seq)) for seq in range(3)]
    await setup.deliver(BACKFILL_TOPIC, _batch(readings))
    await _until("the import", lambda: setup.history.state.counters["imported_hours"] == 1)
    await _wait_recorder(hass)
    fahrenheit = [{**r, "temperature": r["temperature"] * 9 / 5 + 32} for r in readings]
    rows = _rows(await _hourly(hass, ENTITIES["temperature"], _hour(-3), _hour(-2)))
    _assert_statistics(rows, _expected(fahrenheit, "temperature"))
    # % RH cannot become g/m³ without the temperature: not imported, and said so.
    assert await _hourly(hass, ENTITIES["humidity"], _hour(-3), _hour(-2)) == []
    assert "cannot convert % to g/m³ for sensor.canopy_humidity" in caplog.text
    # The zone's VPD comes from another sensor now: the node's readings are not its history.
    air_vpd = _zone_sensor(hass, entry, "air_vpd")
    assert await _hourly(hass, air_vpd, _hour(-3), _hour(-2)) == []
    await setup.stop()


async def test_malformed_payloads_change_nothing(
    zone: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad payloads are logged and ignored; one bad reading does not sink its batch."""
    hass = zone.hass
    caplog.set_level(logging.WARNING)
    hour = _hour(-4)
    good = [_reading(seq, hour + timedelta(minutes=10 * seq)) for seq in range(1, 4)]
    for payload in (
        "not json",
        json.dumps([1, 2]),
        _batch(good, node_id="other-pi"),
        {**_batch(good), "readings": "nope"},
        _batch(good, oldest_available_seq=-1),
    ):
        await zone.deliver(BACKFILL_TOPIC, payload)
    await zone.deliver(LIVE_TOPIC, {"seq": 1, "ts": "yesterday", "temperature": 20.0})
    await zone.deliver(LIVE_TOPIC, {"seq": 2, "ts": _ts(hour), "humidity": float("nan")})
    assert zone.history.state.counters["rejected_payloads"] == 7
    assert zone.history.state.seen.ranges == []
    assert not zone.history.state.pending_hours
    assert "ignoring backfill batch: backfill batch is not valid JSON" in caplog.text
    assert "ignoring live reading on" in caplog.text

    bad = {**_reading(2, hour + timedelta(minutes=20)), "humidity": 140.0}
    await zone.deliver(BACKFILL_TOPIC, _batch([good[0], bad, good[2]]))
    assert "backfill reading left out: reading 2: humidity 140.0 is outside 0..100" in caplog.text
    await _until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await _wait_recorder(hass)
    kept = [good[0], good[2]]
    for quantity, entity_id in ENTITIES.items():
        rows = _rows(await _hourly(hass, entity_id, hour, hour + timedelta(hours=1)))
        _assert_statistics(rows, _expected(kept, quantity))
    # The left-out reading is a gap: the node is asked for it once.
    assert zone.history.state.closed.gaps() == [(2, 2)]


async def test_live_gap_is_asked_for_once_and_old_part_given_up(
    zone: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """A gap in live seqs triggers exactly one replay request; what the node no longer
    holds (``oldest_available_seq``) is given up, not asked for again."""
    hass = zone.hass
    hour = _hour(-3)
    for seq in (10, 11, 20):
        await zone.deliver(LIVE_TOPIC, _reading(seq, hour + timedelta(minutes=seq), sensor=None))
    await zone.sync()
    assert zone.node.requests == []  # the grace period first
    await zone.advance(31)
    await _until("the replay request", lambda: zone.node.requests)
    (request,) = zone.node.requests
    assert (request["from_seq"], request["to_seq"]) == (12, 19)
    assert isinstance(request["request_id"], str)
    diagnostics = await async_get_config_entry_diagnostics(hass, zone.entry)
    assert diagnostics["backfill"]["replay_request"] == {"from_seq": 12, "to_seq": 19}
    assert diagnostics["backfill"]["open_gaps"] == [[12, 19]]
    # The same live reading again (a QoS 1 resend) changes nothing.
    await zone.deliver(LIVE_TOPIC, _reading(20, hour + timedelta(minutes=20), sensor=None))
    assert zone.history.state.counters["duplicate_readings"] == 1
    # More time passes, the request is still outstanding: no second one.
    await zone.advance(61)
    await zone.sync()
    assert len(zone.node.requests) == 1

    answer = [_reading(seq, hour + timedelta(minutes=seq)) for seq in range(15, 20)]
    await zone.deliver(
        BACKFILL_TOPIC,
        _batch(answer, request_id=request["request_id"], oldest_available_seq=15),
    )
    assert zone.history.state.closed.gaps() == []
    assert zone.history.state.counters["given_up_seqs"] == 3
    assert "giving up readings 12..14: the node no longer holds them" in caplog.text
    await zone.advance(300)
    await zone.sync()
    assert len(zone.node.requests) == 1
    await _until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await _wait_recorder(hass)
    rows = _rows(await _hourly(hass, ENTITIES["humidity"], hour, hour + timedelta(hours=1)))
    live = [_reading(seq, hour + timedelta(minutes=seq)) for seq in (10, 11, 20)]
    _assert_statistics(rows, _expected(live + answer, "humidity"))


async def test_gap_across_restart_is_asked_for(zone: Setup) -> None:
    """Seqs seen before a restart are remembered: the gap to the first one after it is asked
    for, and its hour gets the readings from before and after the restart."""
    hass = zone.hass
    hour = _hour(-1)
    moments = {seq: hour + timedelta(minutes=seq - 90) for seq in range(100, 106)}
    for seq in (100, 101):
        await zone.deliver(LIVE_TOPIC, _reading(seq, moments[seq], sensor=None))
    await zone.restart()
    assert zone.history.state.seen.ranges == [[100, 101]]
    await zone.deliver(LIVE_TOPIC, _reading(105, moments[105], sensor=None))
    # Another restart before the grace ran out: the open gap is remembered too.
    await zone.restart()
    assert zone.history.state.closed.gaps() == [(102, 104)]
    await zone.advance(31)
    await _until("the replay request", lambda: zone.node.requests)
    await zone.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in zone.node.requests] == [(102, 104)]

    # The node answers with what it still holds: 104 is not, and is given up.
    request_id = zone.node.requests[0]["request_id"]
    answer = [_reading(seq, moments[seq]) for seq in (102, 103)]
    await zone.deliver(BACKFILL_TOPIC, _batch(answer, request_id=request_id))
    assert zone.history.state.closed.gaps() == []
    assert zone.history.state.counters["given_up_seqs"] == 1
    await _until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await _wait_recorder(hass)
    every_reading = [_reading(seq, moments[seq]) for seq in (100, 101, 102, 103, 105)]
    for quantity, entity_id in ENTITIES.items():
        rows = _rows(await _hourly(hass, entity_id, hour, hour + timedelta(hours=1)))
        _assert_statistics(rows, _expected(every_reading, quantity))


async def test_near_gaps_share_a_request_far_ones_wait_their_turn(zone: Setup) -> None:
    """Gaps one answer batch can span go in one request; the next request waits for the
    answer and the minimum interval."""
    moment = _hour(-1)
    for seq in (1, 3, 5, 2000):
        await zone.deliver(LIVE_TOPIC, _reading(seq, moment, sensor=None))
    await zone.advance(31)
    await _until("the first request", lambda: zone.node.requests)
    first = zone.node.requests[0]
    assert (first["from_seq"], first["to_seq"]) == (2, 4)
    answer = [_reading(seq, moment) for seq in (2, 4)]
    await zone.deliver(BACKFILL_TOPIC, _batch(answer, request_id=first["request_id"]))
    assert zone.history.state.closed.gaps() == [(6, 1999)]
    await zone.advance(61)
    await _until("the second request", lambda: len(zone.node.requests) == 2)
    second = zone.node.requests[1]
    assert (second["from_seq"], second["to_seq"]) == (6, 1999)
    # A full batch of the answer is not its end: the request stays open.
    full = [_reading(seq, moment) for seq in range(6, 6 + 500)]
    await zone.deliver(BACKFILL_TOPIC, _batch(full, request_id=second["request_id"]))
    assert zone.history.state.closed.gaps() == [(506, 1999)]
    await zone.advance(61)
    await zone.sync()
    assert len(zone.node.requests) == 2
    rest = [_reading(seq, moment) for seq in range(506, 1000)]
    await zone.deliver(BACKFILL_TOPIC, _batch(rest, request_id=second["request_id"]))
    assert zone.history.state.closed.gaps() == []  # 1000..1999 are not held: given up
    assert zone.history.state.counters["given_up_seqs"] == 1000


async def test_unanswered_requests_are_retried_then_given_up(
    zone: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """No answer: the request is repeated a few times, spaced out, then the gap is given up."""
    moment = _hour(-1)
    for seq in (1, 5):
        await zone.deliver(LIVE_TOPIC, _reading(seq, moment, sensor=None))
    for attempt in range(1, 4):
        await zone.advance(61)
        await _until(f"request {attempt}", lambda n=attempt: len(zone.node.requests) == n)
        await zone.advance(121)  # no answer within the timeout
    await zone.advance(300)
    await zone.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in zone.node.requests] == [(2, 4)] * 3
    assert len({r["request_id"] for r in zone.node.requests}) == 3
    assert zone.history.state.closed.gaps() == []
    assert "giving up readings 2..4: no answer to 3 replay requests" in caplog.text
    # A reading of the given-up range that turns up later is still taken.
    await zone.deliver(BACKFILL_TOPIC, _batch([_reading(3, moment)]))
    assert zone.history.state.counters["backfilled_readings"] == 1


async def test_retained_and_other_sensors(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    node: Node,
    tmp_path: Path,
) -> None:
    """Retained readings are stale and ignored; another sensor's seqs count for the node.

    Derived statistics: with a leaf temperature sensor the leaf VPD is not backfilled; a
    reading the psychrometrics cannot use, or without humidity, adds nothing to them.
    """
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    for topic, payload in (
        (LIVE_TOPIC, _reading(7, _hour(-1), sensor=None)),
        (BACKFILL_TOPIC, _batch([_reading(8, _hour(-1))])),
    ):
        await hass.async_add_executor_job(
            lambda t=topic, p=payload: node.client.publish(
                t, json.dumps(p), qos=1, retain=True
            ).wait_for_publish(WAIT)
        )
    entry = _zone_entry(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        data={**entry.data, CONF_LEAF_TEMPERATURE_ENTITY: "sensor.leaf"},
        options={},
    )
    _set_states(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()  # the broker sends the retained messages, flagged, on subscribing
    await setup.deliver(f"rala/{NODE}/sensor/root/state", _reading(9, _hour(-1), sensor=None))
    assert setup.history.state.seen.ranges == [[9, 9]]
    assert len(setup.history.state.buffer) == 0  # not the zone's sensor
    assert setup.history.as_dict()["highest_seq"] == 9

    hour = _hour(-3)
    readings = [
        _reading(10, hour),
        {**_reading(11, hour + timedelta(minutes=10)), "temperature": 95.0},  # too hot for VPD
        {**_reading(12, hour + timedelta(minutes=20)), "humidity": None},
    ]
    await setup.deliver(BACKFILL_TOPIC, _batch(readings))
    await _until("the import", lambda: setup.history.state.counters["imported_hours"] == 1)
    await _wait_recorder(hass)
    end = hour + timedelta(hours=1)
    rows = _rows(await _hourly(hass, ENTITIES["temperature"], hour, end))
    _assert_statistics(rows, _expected(readings, "temperature"))
    rows = _rows(await _hourly(hass, _zone_sensor(hass, entry, "air_vpd"), hour, end))
    first = readings[0]
    vpd = psychrometrics.vpd_air(first["temperature"], first["humidity"])
    assert rows == {hour.timestamp(): pytest.approx((vpd, vpd, vpd), rel=1e-9)}
    assert await _hourly(hass, _zone_sensor(hass, entry, "leaf_vpd"), hour, end) == []
    await setup.stop()


async def test_without_recorder(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    node: Node,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without the recorder, backfill is tracked but not imported, and that is logged once."""
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    entry = _zone_entry(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    for seq in (1, 2):
        await setup.deliver(BACKFILL_TOPIC, _batch([_reading(seq, _hour(-3))]))
    assert setup.history.state.counters["backfilled_readings"] == 2
    assert setup.history.state.pending_hours == {_hour(-3)}
    assert caplog.text.count("the recorder is not running") == 1
    await setup.stop()


async def test_unusable_store_and_no_mqtt(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged stored state starts afresh; without MQTT the zone works, without backfill."""
    entry = _zone_entry(hass)
    hass_storage[f"{DOMAIN}.history.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.history.{entry.entry_id}",
        "data": {"seen": "garbage"},
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert "stored backfill state is unusable" in caplog.text
    assert "MQTT is not available" in caplog.text
    history = entry.runtime_data.history
    assert history is not None
    assert history.state.seen.ranges == []
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.history.{entry.entry_id}" not in hass_storage


async def test_zone_without_node_sensor_has_no_backfill(hass: HomeAssistant) -> None:
    """A node zone that does not name its sensor (an older entry) works without backfill."""
    entry = _zone_entry(hass)
    data = dict(entry.data)
    del data[CONF_NODE_SENSOR]
    bare = MockConfigEntry(domain=DOMAIN, title=entry.title, data=data, options={})
    bare.add_to_hass(hass)
    assert await hass.config_entries.async_setup(bare.entry_id)
    await hass.async_block_till_done()
    assert bare.state is ConfigEntryState.LOADED
    assert bare.runtime_data.history is None
    assert await hass.config_entries.async_unload(bare.entry_id)


async def test_zone_hands_its_backfill_one_frozen_configuration(zone: Setup) -> None:
    """The backfill works on what the zone read from its entry, and cannot change it."""
    config = zone.history.config
    assert config == NodeHistoryConfig(
        entry_id=zone.entry.entry_id,
        node_id=NODE,
        sensor_key=SENSOR,
        sensor_unique_ids={quantity: f"rala_{NODE}_{SENSOR}_{quantity}" for quantity in QUANTITIES},
        temperature_entity_id=ENTITIES["temperature"],
        humidity_entity_id=ENTITIES["humidity"],
        leaf_offset=2.0,
        leaf_temperature_measured=False,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.leaf_offset = 5.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.sensor_unique_ids["pressure"] = "another"  # type: ignore[index]


async def test_hostile_values_leave_out_only_their_reading(
    zone: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Integers too large for a float, timestamps at the ends of the calendar, nesting too
    deep and air a hair above 0 % RH: no exception, only the bad reading is left out (a
    payload nested too deep as a whole), and the good readings of the hour are imported
    with their dew point where it has one."""
    hass = zone.hass
    hour = _hour(-4)
    good = [_reading(seq, hour + timedelta(minutes=8 * seq)) for seq in (1, 3, 6)]
    dry = {**_reading(7, hour + timedelta(minutes=50)), "humidity": 1e-322}
    text = json.dumps(_batch([good[0], {"seq": 2}, good[1], {"seq": 4}, {"seq": 5}, good[2], dry]))
    for seq, hostile in (
        (2, '"temperature": 1' + "0" * 400),
        (4, f'"ts": "0001-01-01T00:00:00+01:00", "humidity": {"9" * 5000}'),
        (5, '"ts": "9999-12-31T23:59:59-01:00", "temperature": 20.0'),
    ):
        base = {key: value for key, value in _reading(seq, hour).items() if key != "temperature"}
        if "ts" in hostile:
            del base["ts"]
        text = text.replace(f'{{"seq": {seq}}}', json.dumps(base)[:-1] + ", " + hostile + "}")
    await zone.deliver(BACKFILL_TOPIC, text)
    counters = zone.history.state.counters
    assert counters["rejected_readings"] == 3
    assert counters["outside_time_window"] == 2
    assert counters["backfilled_readings"] == 4
    for payload in (
        f'{{"seq": 8, "ts": "{_ts(hour)}", "temperature": {"1" * 400}}}',
        '{"seq": 8, "ts": "0001-01-01T00:30:00+01:00", "temperature": 20}',
        "[" * 300 + "]" * 300,
    ):
        await zone.deliver(LIVE_TOPIC, payload)
    await zone.deliver(BACKFILL_TOPIC, '{"readings": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert counters["rejected_payloads"] == 4
    assert "Traceback" not in caplog.text
    await _until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await _wait_recorder(hass)
    kept = [*good, dry]
    for quantity, entity_id in ENTITIES.items():
        rows = _rows(await _hourly(hass, entity_id, hour, hour + timedelta(hours=1)))
        _assert_statistics(rows, _expected(kept, quantity))
    dew_points = [
        {"ts": r["ts"], "dew_point": psychrometrics.dew_point(r["temperature"], r["humidity"])}
        for r in good
    ]
    rows = _rows(await _hourly(hass, _zone_sensor(hass, zone.entry, "dew_point"), hour, _hour(-3)))
    _assert_statistics(rows, _expected(dew_points, "dew_point"))


async def test_a_wild_seq_opens_no_gap(zone: Setup) -> None:
    """One live reading with seq 2^63-1 asks for no replay of 9e18 readings and leaves gap
    detection on: the next gap of the node's own seqs is asked for."""
    moment = _hour(-1)
    for seq in (10, 11, 2**63 - 1, 12, 14):
        await zone.deliver(LIVE_TOPIC, _reading(seq, moment, sensor=None))
    assert zone.history.state.counters["seq_jumps"] == 1
    assert zone.history.state.counters["live_readings"] == 5  # the reading itself is used
    assert zone.history.state.closed.gaps() == [(13, 13)]
    await zone.advance(31)
    await _until("the replay request", lambda: zone.node.requests)
    await zone.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in zone.node.requests] == [(13, 13)]
    diagnostics = await async_get_config_entry_diagnostics(zone.hass, zone.entry)
    assert diagnostics["backfill"]["highest_seq"] == 14
    # The wild seq again (a resend) is a duplicate, and still no gap.
    await zone.deliver(LIVE_TOPIC, _reading(2**63 - 1, moment, sensor=None))
    assert zone.history.state.counters["duplicate_readings"] == 1


async def test_node_that_really_moved_its_seqs_is_followed(zone: Setup) -> None:
    """A node whose seqs go on far above (its outbox was replaced, or Home Assistant was
    away for months) is followed after a few live readings; gaps there are asked for."""
    moment = _hour(-1)
    await zone.deliver(LIVE_TOPIC, _reading(10, moment, sensor=None))
    start = 10 + 3 * MAX_SEQ_JUMP
    run = [start + step for step in range(TRACK_CONFIRMATIONS)]
    for seq in run:
        await zone.deliver(LIVE_TOPIC, _reading(seq, moment, sensor=None))
    assert zone.history.state.counters["track_moves"] == 1
    assert zone.history.state.closed.gaps() == []
    await zone.deliver(LIVE_TOPIC, _reading(run[-1] + 3, moment, sensor=None))
    assert zone.history.state.closed.gaps() == [(run[-1] + 1, run[-1] + 2)]
    await zone.advance(31)
    await _until("the replay request", lambda: zone.node.requests)
    await zone.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in zone.node.requests] == [
        (run[-1] + 1, run[-1] + 2)
    ]


async def test_stored_state_with_a_wild_seq_recovers(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mosquitto: Mosquitto,
    node: Node,
    tmp_path: Path,
) -> None:
    """A state stored before seqs were bounded (seq 2^63-1 received, 12..2^63-2 given up)
    turned gap detection off for good; now the node's live readings bring it back."""
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    entry = _zone_entry(hass)
    hass_storage[f"{DOMAIN}.history.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.history.{entry.entry_id}",
        "data": {
            "seen": [[10, 11], [2**63 - 1, 2**63 - 1]],
            "closed": [[10, 2**63 - 1]],
            "pending_hours": [],
            "readings": [],
        },
    }
    _set_states(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    moment = _hour(-1)
    for seq in range(12, 12 + TRACK_CONFIRMATIONS):
        await setup.deliver(LIVE_TOPIC, _reading(seq, moment, sensor=None))
    assert setup.history.state.counters["track_moves"] == 1
    last = 12 + TRACK_CONFIRMATIONS - 1
    await setup.deliver(LIVE_TOPIC, _reading(last + 2, moment, sensor=None))
    assert setup.history.state.closed.gaps() == [(last + 1, last + 1)]
    await setup.advance(31)
    await _until("the replay request", lambda: node.requests)
    await setup.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in node.requests] == [(last + 1, last + 1)]
    await setup.stop()


def _hostile_readings(count: int, seed: int) -> list[dict[str, Any]]:
    """Readings made to grow the stored state: far-future (one in ten) and past hours,
    seqs scattered over the whole range, values of 17 digits, the zone's own sensor."""
    rng = random.Random(seed)
    now = dt_util.utcnow()
    readings = []
    for index in range(count):
        if index % 10 == 0:
            moment = now + timedelta(days=rng.randint(1, 2_000_000))  # never compiled
        else:
            moment = now - timedelta(hours=rng.randint(2, 24 * 365), microseconds=rng.random())
        readings.append(
            {
                "seq": rng.randint(0, 2**63 - 1),
                "ts": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "sensor": SENSOR,
                "temperature": 20.0 + rng.random(),
                "humidity": 40.0 + rng.random(),
                "pressure": 1000.0 + rng.random(),
            }
        )
    return readings


async def test_stored_state_is_bounded_whatever_is_received(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mosquitto: Mosquitto,
    node: Node,
    tmp_path: Path,
) -> None:
    """25,000 hostile readings in 50 batches (without a recorder, so that no hour is ever
    imported): the stored state stays under MAX_STORED_BYTES, and every part of it under
    its own bound."""
    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    entry = _zone_entry(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    readings = _hostile_readings(25_000, seed=11)
    for first in range(0, len(readings), 500):
        batch = sorted(readings[first : first + 500], key=lambda reading: reading["seq"])
        await setup.deliver(BACKFILL_TOPIC, _batch(batch))
    history = setup.history
    assert history.state.counters["outside_time_window"] == 2_500
    assert history.state.counters["backfilled_readings"] == 22_500
    assert history.state.counters["dropped_pending_hours"] > 0
    assert len(history.state.pending_hours) == MAX_PENDING_HOURS
    assert len(history.state.buffer) == MAX_HELD_READINGS
    await setup.stop()
    stored = hass_storage[f"{DOMAIN}.history.{entry.entry_id}"]["data"]
    assert len(stored["seen"]) <= MAX_SEQ_RANGES
    assert len(stored["closed"]) <= MAX_SEQ_RANGES
    assert len(stored["pending_hours"]) <= MAX_PENDING_HOURS
    assert len(stored["readings"]) <= MAX_HELD_READINGS
    assert len(json.dumps(stored)) < MAX_STORED_BYTES
