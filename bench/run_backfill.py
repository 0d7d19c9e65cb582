"""The backfill benchmark's pytest entry: a node's buffered readings into HA's statistics.

Not collected by the project's test suite (it lives outside ``tests/``); ``backfill_bench.py``
runs it through ``pytest.main`` with a :class:`~bench.backfill_bench.BackfillSession` plugin
that supplies the ``backfill_session`` fixture and receives the results.

Everything is real but the sensor: a mosquitto broker, Home Assistant's MQTT integration
and recorder on an SQLite file, a zone made by the node's discovery flow, and a
``rala-edge simulate`` process whose outbox holds the readings of the outage, unsent.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

import asyncio
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
import logging
import math
import os
from pathlib import Path
import random
import time
from typing import Any

from homeassistant.components.mqtt.const import MQTT_PROCESSED_SUBSCRIPTIONS
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    STATISTIC_UNIT_TO_UNIT_CONVERTER,
    async_import_statistics,
    statistics_during_period,
)
from homeassistant.components.recorder.tasks import StatisticsTask
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
)

from bench.backfill_bench import BackfillSession, PathResult
from custom_components.rala import psychrometrics
from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_TEMPERATURE_ENTITY,
    DEFAULT_LEAF_OFFSET,
    DOMAIN,
)
from edge_agent.config import parse_config
from edge_agent.discovery import (
    Topics,
    build_discovery_payload,
    build_node_announcement,
    encode,
)
from edge_agent.outbox import Outbox
from edge_agent.sensors import Reading
from edge_agent.simulated import default_simulation_raw_config
from tests.conftest import mosquitto, sockets_allowed
from tests.edge_agent.agent_process import AgentProcess, simulate_args
from tests.edge_agent.mqtt_probe import MqttProbe
from tests.mosquitto import Mosquitto

__all__ = ["mosquitto", "sockets_allowed"]  # fixtures, used by name

NODE = "bench-pi"
SENSOR = "canopy"
AGENT_INTERVAL = 30.0
"""The agent's own sample interval while it sends the backlog (its live readings)."""
SET_UP_WAIT = 60.0
"""Seconds a step of the set-up may take (discovery, subscriptions, a process start)."""
HOUR = timedelta(hours=1)
STATISTIC_UNITS = {
    "temperature": "°C",
    "humidity": "%",
    "pressure": "hPa",
    "air_vpd": "kPa",
    "leaf_vpd": "kPa",
    "dew_point": "°C",
    "absolute_humidity": "g/m³",
}
"""The series RALA's backfill imports: the node's quantities and the zone's derived values."""
ANCHOR_PREFIX = "sensor.bench_direct_import_"

Stats = tuple[float, float, float]


@pytest.fixture
def persistent_database() -> bool:
    """The recorder on an SQLite file, as an installation runs it."""
    return True


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass``."""


@pytest.fixture(autouse=True)
def installation_log_levels() -> Iterator[None]:
    """Log as an installation does (warnings and up): the harness logs at INFO, the
    recorder's every SQL statement included, which would be most of what is measured."""
    loggers = [logging.getLogger(), logging.getLogger("sqlalchemy.engine")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The run ends at an arbitrary instant: the zone's save and replay timers may be due."""
    return True


@pytest.mark.usefixtures("recorder_mock", "enable_custom_integrations")
async def test_backfill(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    tmp_path: Path,
    backfill_session: BackfillSession,
) -> None:
    """The node's backlog through the broker into the statistics, then the direct import."""
    await async_measure(hass, mosquitto, tmp_path, backfill_session)


# --- the readings ---------------------------------------------------------------------------


def full_hour(offset: int = 0) -> datetime:
    """The full hour ``offset`` hours from the current one (UTC)."""
    return dt_util.utcnow().replace(minute=0, second=0, microsecond=0) + offset * HOUR


def backlog(session: BackfillSession, end: datetime) -> list[Reading]:
    """The readings of the outage, ``session.interval`` apart, the last one before ``end``.

    A kept tent at BME280 resolution (0.01 °C, 0.1 % RH, 0.1 hPa), as a random walk.
    """
    count = round(session.days * 86400 / session.interval)
    first = end - timedelta(seconds=session.interval * count)
    rng = random.Random(session.seed)
    temperature, humidity, pressure = 25.0, 60.0, 1013.0
    readings = []
    for index in range(count):
        temperature = round(min(28.0, max(22.0, temperature + rng.gauss(0, 0.05))), 2)
        humidity = round(min(70.0, max(50.0, humidity + rng.gauss(0, 0.3))), 1)
        pressure = round(min(1030.0, max(995.0, pressure + rng.gauss(0, 0.2))), 1)
        moment = first + timedelta(seconds=session.interval * index)
        readings.append(Reading(SENSOR, temperature, humidity, pressure, moment))
    return readings


def fill_outbox(path: Path, readings: Sequence[Reading]) -> None:
    """The agent's outbox as the outage left it: every reading stored, none sent."""
    with Outbox(path) as outbox:
        for reading in readings:
            outbox.append(reading)
        _require(outbox.depth() == len(readings), "every reading unsent in the outbox")


def by_hour(readings: Sequence[Reading]) -> dict[float, list[Reading]]:
    """The readings of each hour (start, epoch), in the order they were measured."""
    hours: dict[float, list[Reading]] = {}
    for reading in readings:
        start = reading.measured_at.replace(minute=0, second=0, microsecond=0).timestamp()
        hours.setdefault(start, []).append(reading)
    return hours


def stats(values: Sequence[float]) -> Stats:
    """Mean, min and max."""
    return (math.fsum(values) / len(values), min(values), max(values))


def derived(reading: Reading, key: str) -> float:
    """A derived value of a reading, as the zone derives it live (default leaf offset)."""
    t, rh = reading.temperature, reading.humidity
    match key:
        case "air_vpd":
            return psychrometrics.vpd_air(t, rh)
        case "leaf_vpd":
            return psychrometrics.vpd_leaf(t, rh, None, leaf_offset_c=DEFAULT_LEAF_OFFSET)
        case "dew_point":
            return psychrometrics.dew_point(t, rh)
        case "absolute_humidity":
            return psychrometrics.absolute_humidity(t, rh)
    value: float = getattr(reading, key)
    return value


# --- Home Assistant's side ------------------------------------------------------------------


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"benchmark failed: {what}")


async def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    """Poll ``probe`` on real time (a real broker and process) until it returns a value."""
    deadline = time.monotonic() + SET_UP_WAIT
    while not (value := probe()):
        _require(time.monotonic() < deadline, f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return value


async def wait_recorder(hass: HomeAssistant) -> None:
    """Let the recorder finish every task queued so far (imports, statistics runs)."""
    await hass.async_block_till_done()
    await hass.async_add_executor_job(get_instance(hass).block_till_done)
    await hass.async_block_till_done()


async def set_up_mqtt(hass: HomeAssistant, broker: Mosquitto, tmp_path: Path) -> None:
    """Home Assistant's real MQTT integration on the broker (an empty configuration.yaml)."""
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
    _require(await hass.config_entries.async_setup(entry.entry_id), "MQTT set up")
    await hass.async_block_till_done()
    _require(entry.state is ConfigEntryState.LOADED, "MQTT loaded")


def announce_node(probe: MqttProbe, broker: Mosquitto) -> None:
    """The node's retained discovery and announcement, as the agent publishes them.

    The zone existed before the outage: it is created from these through the discovery
    flow, and the agent's own announcement when it reconnects changes nothing.
    """
    config = parse_config(
        default_simulation_raw_config(
            node_id=NODE, host=broker.host, port=broker.port, sample_interval=AGENT_INTERVAL
        ),
        environ={},
    )
    topics = Topics(config.node_id, config.discovery_prefix)
    discovery = build_discovery_payload(config, sample_interval=AGENT_INTERVAL)
    probe.publish(topics.discovery, encode(discovery), retain=True)
    announcement = build_node_announcement(config, sample_interval=AGENT_INTERVAL)
    probe.publish(topics.node, encode(announcement), retain=True)


async def create_zone(hass: HomeAssistant) -> ConfigEntry:
    """Confirm the node's discovery flow and wait until the zone listens to its backfill."""
    subscribed: set[str] = set()

    @callback
    def processed(subscriptions: list[tuple[str, int]]) -> None:
        subscribed.update(topic for topic, _qos in subscriptions)

    unsubscribe = async_dispatcher_connect(hass, MQTT_PROCESSED_SUBSCRIPTIONS, processed)
    try:
        flows = await wait_for(
            "the discovery flow", lambda: hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        )
        flow_id = flows[0]["flow_id"]
        result = await hass.config_entries.flow.async_configure(flow_id, {})
        deadline = time.monotonic() + SET_UP_WAIT
        while result["type"] is not FlowResultType.CREATE_ENTRY:
            _require(
                result["type"] in (FlowResultType.SHOW_PROGRESS, FlowResultType.SHOW_PROGRESS_DONE),
                f"the discovery flow goes on, not {result}",
            )
            _require(time.monotonic() < deadline, "timed out waiting for the zone's entry")
            await asyncio.sleep(0.05)
            result = await hass.config_entries.flow.async_configure(flow_id)
        entry: ConfigEntry = result["result"]
        await hass.async_block_till_done()
        await wait_for("the zone's subscriptions", lambda: Topics(NODE).backfill in subscribed)
    finally:
        unsubscribe()
    return entry


async def compile_hour(hass: HomeAssistant, hour: datetime) -> None:
    """The recorder's statistics run that compiles ``hour`` (the run of its 5 minutes at :55).

    Backfilled hours are imported once the recorder compiled them; the harness runs no
    periodic statistics, so the last full hour is compiled here, as an installation's
    recorder does every hour.
    """
    get_instance(hass).queue_task(StatisticsTask(hour + timedelta(minutes=55), True))
    await wait_recorder(hass)


async def hourly_rows(
    hass: HomeAssistant, statistic_id: str, start: datetime, end: datetime
) -> dict[float, Stats]:
    """Hour start (epoch) → the recorder's (mean, min, max) of ``statistic_id``."""
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        end,
        {statistic_id},
        "hour",
        None,
        {"mean", "min", "max"},
    )
    rows: dict[float, Stats] = {}
    for row in result.get(statistic_id, []):
        mean, low, high = row.get("mean"), row.get("min"), row.get("max")
        if mean is not None and low is not None and high is not None:
            rows[row["start"]] = (mean, low, high)
    return rows


# --- what arrived ---------------------------------------------------------------------------


def _same(actual: Stats | None, expected: Stats) -> bool:
    return actual is not None and all(
        math.isclose(a, e, rel_tol=1e-9) for a, e in zip(actual, expected, strict=True)
    )


def account_hour(
    readings: list[Reading], rows: tuple[Stats | None, Stats | None]
) -> tuple[int, int]:
    """(lost, duplicated) readings of one hour, from its rows of temperature and humidity.

    The rows must be the mean, min and max of exactly the hour's readings. Otherwise the
    failures a backfill can have are tried: readings of a batch missing or counted twice
    (a batch covers the start or the end of an hour). What explains nothing counts every
    reading of the hour as lost.
    """
    temperature_row, humidity_row = rows
    if temperature_row is None or humidity_row is None:
        return len(readings), 0

    def matches(candidate: list[Reading]) -> bool:
        return bool(candidate) and (
            _same(temperature_row, stats([r.temperature for r in candidate]))
            and _same(humidity_row, stats([r.humidity for r in candidate]))
        )

    if matches(readings):
        return 0, 0
    count = len(readings)
    for k in range(1, count):
        if matches(readings[k:]) or matches(readings[:-k]):
            return k, 0
        if matches(readings + readings[:k]) or matches(readings + readings[-k:]):
            return 0, k
    if matches(readings + readings):
        return 0, count
    return count, 0


async def account(
    hass: HomeAssistant, path: str, wall_s: float, ids: tuple[str, str], readings: list[Reading]
) -> PathResult:
    """What the recorder holds for the hours of ``readings`` under ``ids`` (temperature and
    humidity), against the readings."""
    hours = by_hour(readings)
    first = dt_util.utc_from_timestamp(min(hours))
    end = dt_util.utc_from_timestamp(max(hours)) + HOUR
    temperature, humidity = [await hourly_rows(hass, i, first, end) for i in ids]
    lost = duplicated = imported = 0
    for start, hour_readings in hours.items():
        rows = (temperature.get(start), humidity.get(start))
        imported += rows[0] is not None and rows[1] is not None
        hour_lost, hour_duplicated = account_hour(hour_readings, rows)
        lost += hour_lost
        duplicated += hour_duplicated
    return PathResult(path, wall_s, lost, duplicated, imported)


# --- the measurement ------------------------------------------------------------------------


async def async_measure(
    hass: HomeAssistant, broker: Mosquitto, tmp_path: Path, session: BackfillSession
) -> None:
    """Every figure of the benchmark, into ``session`` (the recorder must be running).

    The harness runs the event loop in asyncio's debug mode, which records a traceback for
    every task and times every callback: a cost no installation pays. It is off while
    measuring.
    """
    readings = backlog(session, full_hour())
    state = tmp_path / "agent"
    await hass.async_add_executor_job(fill_outbox, state / "outbox.sqlite", readings)
    session.readings = len(readings)
    session.hours = len(by_hour(readings))
    session.cpu_count = os.cpu_count() or 1

    await set_up_mqtt(hass, broker, tmp_path)
    probe = await hass.async_add_executor_job(
        partial(MqttProbe, broker.host, broker.port, [Topics(NODE).backfill])
    )
    try:
        await hass.async_add_executor_job(announce_node, probe, broker)
        entry = await create_zone(hass)
        await compile_hour(hass, full_hour(-1))
        debug = hass.loop.get_debug()
        hass.loop.set_debug(False)
        try:
            session.rala = await _measure_backfill(
                hass,
                broker,
                state=state,
                entry=entry,
                readings=readings,
                probe=probe,
                limit_s=session.timeout,
            )
            session.batches = len(probe.on(Topics(NODE).backfill))
            session.anchor = await _measure_direct_import(hass, readings)
        finally:
            hass.loop.set_debug(debug)
    finally:
        await hass.async_add_executor_job(probe.close)
    counters = entry.runtime_data.history.state.counters
    session.replay_requests = counters["replay_requests"]
    session.refused_duplicates = counters["duplicate_readings"]


async def _measure_backfill(
    hass: HomeAssistant,
    broker: Mosquitto,
    *,
    state: Path,
    entry: ConfigEntry,
    readings: list[Reading],
    probe: MqttProbe,
    limit_s: float,
) -> PathResult:
    """Start the agent on its outbox; from its first batch to the last hour imported."""
    history = entry.runtime_data.history
    hours = {dt_util.utc_from_timestamp(start) for start in by_hour(readings)}
    count = len(readings)

    def all_imported() -> bool:
        backfill = history.state
        return any(low <= 1 and high >= count for low, high in backfill.seen.ranges) and not (
            backfill.pending_hours & hours
        )

    args = simulate_args(broker, state, NODE, "--interval", f"{AGENT_INTERVAL:g}", speed=1)
    agent = AgentProcess(args, state.parent / "agent.log")
    try:
        deadline = time.monotonic() + SET_UP_WAIT + limit_s
        while not all_imported():
            _require(agent.process.poll() is None, f"the agent exited:\n{agent.log[-3000:]}")
            _require(
                time.monotonic() < deadline,
                f"the backfill did not finish: {history.state.as_dict()['counters']}",
            )
            await asyncio.sleep(0.01)
        await wait_recorder(hass)
        finished = time.monotonic()
        _require(await hass.async_add_executor_job(agent.terminate) == 0, "a clean stop")
    finally:
        agent.ensure_stopped()
    _require("Traceback" not in agent.log, f"an agent without errors:\n{agent.log[-3000:]}")
    started = probe.on(Topics(NODE).backfill)[0].at
    ids = (entry.data[CONF_TEMPERATURE_ENTITY], entry.data[CONF_HUMIDITY_ENTITY])
    return await account(hass, "RALA backfill", finished - started, ids, readings)


async def _measure_direct_import(hass: HomeAssistant, readings: list[Reading]) -> PathResult:
    """The same hourly statistics, imported straight into the recorder: the floor."""
    hours = by_hour(readings)
    series: list[tuple[StatisticMetaData, list[StatisticData]]] = []
    for key, unit in STATISTIC_UNITS.items():
        converter = STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)
        metadata: StatisticMetaData = {
            "mean_type": StatisticMeanType.ARITHMETIC,
            "has_sum": False,
            "name": None,
            "source": "recorder",
            "statistic_id": ANCHOR_PREFIX + key,
            "unit_class": converter.UNIT_CLASS if converter else None,
            "unit_of_measurement": unit,
        }
        rows: list[StatisticData] = []
        for start, hour_readings in hours.items():
            mean, low, high = stats([derived(reading, key) for reading in hour_readings])
            rows.append(
                {"start": dt_util.utc_from_timestamp(start), "mean": mean, "min": low, "max": high}
            )
        series.append((metadata, rows))
    await wait_recorder(hass)
    started = time.monotonic()
    for metadata, rows in series:
        async_import_statistics(hass, metadata, rows)
    await wait_recorder(hass)
    finished = time.monotonic()
    ids = (ANCHOR_PREFIX + "temperature", ANCHOR_PREFIX + "humidity")
    return await account(hass, "direct recorder import", finished - started, ids, readings)
