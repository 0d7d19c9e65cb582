"""The state-cost benchmark's pytest entry: what one reading costs Home Assistant.

Not collected by the project's test suite (it lives outside ``tests/``); ``state_cost.py``
runs it through ``pytest.main`` with a :class:`~bench.state_cost.StateCostSession` plugin
that supplies the ``state_cost_session`` fixture and receives the results.

One Home Assistant of the test harness, with its real recorder on an SQLite file. Three
sides read their own pair of input sensors, one after the other, with the same readings:

- ``inputs``: the two sensors and nobody reading them (what any installation pays);
- ``template``: one template sensor computing the leaf VPD in Jinja from them (what growers
  write by hand today);
- ``rala``: a RALA zone from the two sensors, its climate entity in auto with four helper
  actuators.

A side's own cost is its figure minus the ``inputs`` side's.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
import logging
import os
from pathlib import Path
import random
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    PERCENTAGE,
    UnitOfTemperature,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (  # type: ignore[import-untyped]
    async_wait_recording_done,
)

from bench.state_cost import SideCost, StateCostSession
from custom_components.rala.const import (
    CONF_DEHUMIDIFIER,
    CONF_HEATER,
    CONF_HUMIDIFIER,
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DEFAULT_LEAF_OFFSET,
    DOMAIN,
)

SAMPLE_INTERVAL = timedelta(seconds=30)
"""Between two readings of a side (the edge agent's default sample interval)."""
READINGS_PER_DAY = round(timedelta(days=1) / SAMPLE_INTERVAL)
ACTUATOR_KINDS = (CONF_HEATER, CONF_HUMIDIFIER, CONF_DEHUMIDIFIER, "exhaust_fan")
TEMPLATE_VPD = (
    "{% set t = states('sensor.template_temperature') | float(none) %}"
    "{% set rh = states('sensor.template_humidity') | float(none) %}"
    "{% if t is none or rh is none %}{{ none }}{% else %}"
    "{% set leaf = t - " + str(DEFAULT_LEAF_OFFSET) + " %}"
    "{% set es_leaf = 0.61078 * e ** (17.27 * leaf / (leaf + 237.3)) %}"
    "{% set ea = 0.61078 * e ** (17.27 * t / (t + 237.3)) * rh / 100 %}"
    "{{ (es_leaf - ea) | round(3) }}{% endif %}"
)


@pytest.fixture
def persistent_database() -> bool:
    """The recorder on an SQLite file, so the database's growth can be measured."""
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
    """The run ends at an arbitrary instant: the climate entity's timers may be due."""
    return True


@dataclass(frozen=True, slots=True)
class Writes:
    """State writes (changed and reported) of some entities, counted from the event bus."""

    changed: int
    reported: int


class WriteCounter:
    """Counts every state written for entities that ``ours`` accepts."""

    def __init__(self, hass: HomeAssistant, ours: Callable[[str], bool]) -> None:
        """Start counting."""
        self.changed = self.reported = 0

        @callback
        def accepted(data: Any) -> bool:
            return ours(data["entity_id"])

        @callback
        def on_changed(_event: Event[Any]) -> None:
            self.changed += 1

        @callback
        def on_reported(_event: Event[Any]) -> None:
            self.reported += 1

        self._unsubscribe = [
            hass.bus.async_listen(EVENT_STATE_CHANGED, on_changed, event_filter=accepted),
            hass.bus.async_listen(EVENT_STATE_REPORTED, on_reported, event_filter=accepted),
        ]

    def stop(self) -> Writes:
        """Stop counting; what was counted."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        return Writes(self.changed, self.reported)


def _readings(seed: int, count: int) -> list[tuple[float, float]]:
    """A kept tent's readings at BME280 resolution: 0.01 °C and 0.1 % RH steps."""
    rng = random.Random(seed)
    temperature, humidity = 25.0, 60.0
    readings = []
    for _ in range(count):
        temperature = round(min(28.0, max(22.0, temperature + rng.gauss(0, 0.05))), 2)
        humidity = round(min(70.0, max(50.0, humidity + rng.gauss(0, 0.3))), 1)
        readings.append((temperature, humidity))
    return readings


def _write_inputs(hass: HomeAssistant, prefix: str, temperature: float, humidity: float) -> None:
    """Both states of one reading in one turn, as MQTT writes the states of one message."""
    hass.states.async_set(
        f"sensor.{prefix}_temperature",
        str(temperature),
        {ATTR_UNIT_OF_MEASUREMENT: UnitOfTemperature.CELSIUS, "state_class": "measurement"},
    )
    hass.states.async_set(
        f"sensor.{prefix}_humidity",
        str(humidity),
        {ATTR_UNIT_OF_MEASUREMENT: PERCENTAGE, "state_class": "measurement"},
    )


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"benchmark set-up failed: {what}")


async def _set_up_template(hass: HomeAssistant) -> None:
    loaded = await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "sensor": [
                        {
                            "name": "Template leaf VPD",
                            "unique_id": "template_leaf_vpd",
                            "unit_of_measurement": "kPa",
                            "device_class": "pressure",
                            "state_class": "measurement",
                            "state": TEMPLATE_VPD,
                        }
                    ]
                }
            ]
        },
    )
    _require(loaded, "the template sensor")


def _zone_entry(prefix: str) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=prefix,
        unique_id=f"zone_{prefix}",
        data={
            CONF_ZONE_NAME: prefix,
            CONF_TEMPERATURE_ENTITY: f"sensor.{prefix}_temperature",
            CONF_HUMIDITY_ENTITY: f"sensor.{prefix}_humidity",
        },
        options={
            CONF_LEAF_OFFSET: DEFAULT_LEAF_OFFSET,
            **{kind: f"input_boolean.{prefix}_{kind}" for kind in ACTUATOR_KINDS},
        },
    )


async def _set_up_actuators(hass: HomeAssistant, prefixes: list[str]) -> None:
    """The helper actuators of every zone (the component is set up once, with all of them)."""
    loaded = await async_setup_component(
        hass,
        "input_boolean",
        {
            "input_boolean": {
                f"{prefix}_{kind}": {"name": f"{prefix} {kind}"}
                for prefix in prefixes
                for kind in ACTUATOR_KINDS
            }
        },
    )
    _require(loaded, "the helper actuators")


async def _set_up_zones(hass: HomeAssistant, prefixes: list[str]) -> set[str]:
    """RALA zones, each from its two sensors, climate in auto; their entity ids."""
    entity_ids: set[str] = set()
    for prefix in prefixes:
        _write_inputs(hass, prefix, 25.0, 60.0)
        entry = _zone_entry(prefix)
        entry.add_to_hass(hass)
        _require(await hass.config_entries.async_setup(entry.entry_id), f"zone {prefix}")
        await hass.async_block_till_done()
        await hass.services.async_call(
            "climate",
            "set_hvac_mode",
            {"entity_id": f"climate.{prefix}", "hvac_mode": "auto"},
            blocking=True,
        )
        registry = er.async_get(hass)
        entity_ids |= {
            registry_entry.entity_id
            for registry_entry in er.async_entries_for_config_entry(registry, entry.entry_id)
        }
    return entity_ids


async def _async_step(hass: HomeAssistant, freezer: FrozenDateTimeFactory, step: timedelta) -> None:
    freezer.tick(step)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the comparison: its name (the prefix of its inputs) and its entities."""

    name: str
    ours: Callable[[str], bool]


async def _measure_side(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    side: Side,
    session: StateCostSession,
    database: Path,
) -> SideCost:
    """Feed the session's readings to the side's sensors; cost per reading.

    CPU is the event loop's (``thread_time`` of this thread) while a reading is written and
    everything it sets off runs: the state machine, the side's entities, the event bus.
    The recorder's share is in its rows and the database's growth.
    """
    readings = _readings(session.seed, session.readings + session.warm_up)
    for temperature, humidity in readings[: session.warm_up]:
        await _async_step(hass, freezer, SAMPLE_INTERVAL)
        _write_inputs(hass, side.name, temperature, humidity)
    await async_wait_recording_done(hass)
    measured = readings[session.warm_up :]
    counter = WriteCounter(hass, side.ours)
    size_before = (await hass.async_add_executor_job(database.stat)).st_size
    cpu_seconds = 0.0
    for temperature, humidity in measured:
        await _async_step(hass, freezer, SAMPLE_INTERVAL)
        cpu_before = time.thread_time()
        _write_inputs(hass, side.name, temperature, humidity)
        await hass.async_block_till_done()
        cpu_seconds += time.thread_time() - cpu_before
    await async_wait_recording_done(hass)
    writes = counter.stop()
    size_after = (await hass.async_add_executor_job(database.stat)).st_size
    return SideCost(
        side=side.name,
        readings=len(measured),
        cpu_ms_per_reading=1000.0 * cpu_seconds / len(measured),
        writes_per_reading=(writes.changed + writes.reported) / len(measured),
        rows_per_reading=writes.changed / len(measured),
        database_bytes_per_day=(size_after - size_before) / len(measured) * READINGS_PER_DAY,
    )


def _database_file(recorder_db_url: str) -> Path:
    _require(recorder_db_url.startswith("sqlite:///"), f"an SQLite file, not {recorder_db_url}")
    return Path(recorder_db_url.removeprefix("sqlite:///"))


@pytest.mark.usefixtures("recorder_mock", "enable_custom_integrations")
async def test_state_cost(
    recorder_db_url: str,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    state_cost_session: StateCostSession,
) -> None:
    """Inputs alone, the template sensor and a RALA zone, then many zones at 1 Hz."""
    await async_measure(hass, freezer, recorder_db_url, state_cost_session)


async def async_measure(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recorder_db_url: str,
    session: StateCostSession,
) -> None:
    """Every figure of the benchmark, into ``session`` (the recorder must be running).

    The harness runs the event loop in asyncio's debug mode, which records a traceback for
    every task created and times every callback: a cost no installation pays, and one that
    would fall on whoever creates more tasks. It is off while measuring.
    """
    debug = hass.loop.get_debug()
    hass.loop.set_debug(False)
    try:
        await _async_measure(hass, freezer, recorder_db_url, session)
    finally:
        hass.loop.set_debug(debug)


async def _async_measure(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    recorder_db_url: str,
    session: StateCostSession,
) -> None:
    database = _database_file(recorder_db_url)
    many = [f"many_{index}" for index in range(session.zones)]
    await _set_up_actuators(hass, ["rala", *many])
    await _set_up_template(hass)
    rala_entities = await _set_up_zones(hass, ["rala"])
    sides = (
        Side("inputs", {"sensor.inputs_temperature", "sensor.inputs_humidity"}.__contains__),
        Side("template", {"sensor.template_leaf_vpd"}.__contains__),
        Side("rala", rala_entities.__contains__),
    )
    for side in sides:
        session.sides.append(await _measure_side(hass, freezer, side, session, database))
    await _measure_many_zones(hass, freezer, session, many)


async def _measure_many_zones(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    session: StateCostSession,
    prefixes: list[str],
) -> None:
    """Many zones, each with a new reading every second, for ``session.seconds``."""
    await _set_up_zones(hass, prefixes)
    recorder = get_instance(hass)
    rng = random.Random(session.seed)
    await async_wait_recording_done(hass)
    largest_backlog = 0
    cpu_before, wall_before = time.process_time(), time.monotonic()
    for _ in range(session.seconds):
        await _async_step(hass, freezer, timedelta(seconds=1))
        for prefix in prefixes:
            _write_inputs(
                hass,
                prefix,
                round(25.0 + rng.gauss(0, 0.2), 2),
                round(60.0 + rng.gauss(0, 1.0), 1),
            )
        await hass.async_block_till_done()
        largest_backlog = max(largest_backlog, recorder.backlog)
    cpu_seconds = time.process_time() - cpu_before
    wall_seconds = time.monotonic() - wall_before
    await async_wait_recording_done(hass)
    session.many_zones_core_share = cpu_seconds / session.seconds
    session.many_zones_wall_share = wall_seconds / session.seconds
    session.many_zones_largest_backlog = largest_backlog
    session.cpu_count = os.cpu_count() or 1
