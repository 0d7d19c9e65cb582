"""Faults, Home Assistant side: broker outages with the agent restarted inside them.

A real ``rala-edge simulate`` process, a real mosquitto, Home Assistant's real MQTT
integration and recorder, and a zone made by the node's discovery flow. The broker is
stopped again and again; inside each outage the agent is stopped (cleanly or with
SIGKILL) and started again, and it goes on measuring into its outbox. After the last
outage every reading the agent numbered must be known to the zone's backfill, and once
the recorder compiled the hours, HA's hourly statistics must be those of exactly the
agent's readings: each one counted once, none missing. Expected values come from the
agent's own outbox, not from what HA received.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_NODE_SENSOR,
    CONF_TEMPERATURE_ENTITY,
)
from custom_components.rala.history import REPLAY_MIN_INTERVAL, NodeHistory
from edge_agent.outbox import Outbox
from tests.edge_agent.agent_process import AgentProcess, simulate_args
from tests.mosquitto import Mosquitto
from tests.reliability.figures import record, scaled

from .common import async_set_up_mqtt, create_zone_through_discovery, poll_until
from .node_zone import (
    assert_statistics,
    compile_statistics,
    expected_hourly,
    hourly_rows,
    hourly_statistics,
    mock_recorder_before_hass,
    wait_recorder,
)

__all__ = ["mock_recorder_before_hass"]  # a fixture, used by name

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

NODE = "t-outages"
#: A reading every 0.5 s of real time: simulated interval 5 s at 10x.
AGENT_OPTIONS = ("--interval", "5", "--link-loss-timeout", "100000")
SPEED = 10
BIRTH_SENT = "MQTT client initialized, birth message sent"
OUTAGE_S = 1.5  # each half of an outage, before and after the agent's restart


def _history(entry: ConfigEntry) -> NodeHistory:
    history = entry.runtime_data.history
    assert history is not None
    return history


def _agent_readings(outbox_path: Path, sensor: str) -> tuple[int, list[dict[str, Any]]]:
    """The agent's highest seq, and the zone sensor's readings as the agent stored them."""
    with Outbox(outbox_path) as outbox:
        last = outbox.last_seq()
        assert last is not None
        stored = outbox.replay_range(1, last, limit=10**6)
    assert [item.seq for item in stored] == list(range(1, last + 1))
    return last, [
        {
            "seq": item.seq,
            "ts": item.reading.measured_at.astimezone(UTC).isoformat(),
            "temperature": item.reading.temperature,
            "humidity": item.reading.humidity,
        }
        for item in stored
        if item.reading.sensor == sensor
    ]


def _hours(readings: list[dict[str, Any]]) -> list[datetime]:
    return sorted(
        {
            datetime.fromisoformat(reading["ts"]).replace(minute=0, second=0, microsecond=0)
            for reading in readings
        }
    )


async def test_every_reading_reaches_the_statistics_once_across_outages_and_agent_restarts(
    recorder_mock: Any,
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outages = scaled(2, 6)
    state = tmp_path / "state"
    args = simulate_args(mosquitto, state, NODE, *AGENT_OPTIONS, speed=SPEED)
    started = time.monotonic()
    logs: list[Path] = []

    def start_agent() -> AgentProcess:
        logs.append(tmp_path / f"agent-{len(logs)}.log")
        return AgentProcess(args, logs[-1])

    caplog.set_level(logging.INFO, logger="homeassistant.components.mqtt")

    def births() -> int:
        return sum(BIRTH_SENT in record.getMessage() for record in caplog.records)

    await async_set_up_mqtt(hass, mosquitto, tmp_path)
    agent = start_agent()
    try:
        entry = await create_zone_through_discovery(hass, f"{NODE}_simulated_tent")
        await hass.async_block_till_done()

        def live_readings() -> int:
            return _history(entry).state.counters["live_readings"]

        await poll_until("live readings", lambda: live_readings() >= 5)
        for outage in range(outages):
            # Home Assistant's MQTT client, connected again, publishes its birth message
            # and fails the task when the broker goes away before it is acknowledged.
            await poll_until(
                "Home Assistant's birth message", lambda outage=outage: births() > outage
            )
            await hass.async_add_executor_job(mosquitto.stop)
            await hass.async_add_executor_job(time.sleep, OUTAGE_S)
            if outage % 2:
                await hass.async_add_executor_job(agent.kill)
            else:
                assert await hass.async_add_executor_job(agent.terminate) == 0
            agent = start_agent()
            await hass.async_add_executor_job(agent.wait_for_log, "simulating node")
            await hass.async_add_executor_job(time.sleep, OUTAGE_S)
            await hass.async_add_executor_job(mosquitto.start)
            wanted = live_readings() + 3
            await poll_until(
                "readings after the outage", lambda wanted=wanted: live_readings() >= wanted
            )
        # HA reconnects seconds after the agent: what the agent backfilled before that, HA
        # never saw. It asks for the gaps (after a grace, at most once a minute), and the
        # agent, still running, answers; HA's timers are moved on instead of waited for.
        history = _history(entry)
        for _request in range(10):
            if not history.state.closed.gaps():
                break
            async_fire_time_changed(hass, dt_util.utcnow() + REPLAY_MIN_INTERVAL * (_request + 1))
            await hass.async_block_till_done()
            await hass.async_add_executor_job(time.sleep, 2.0)
        assert await hass.async_add_executor_job(agent.terminate) == 0
    finally:
        agent.ensure_stopped()

    last, readings = _agent_readings(state / "outbox.sqlite", entry.data[CONF_NODE_SENSOR])
    history = _history(entry)
    first = history.state.seen.ranges[0][0]  # the zone's first reading: nothing before it
    await poll_until(
        "the zone's backfill to have every seq",
        lambda: history.state.seen.ranges == [[first, last]],
    )
    readings = [reading for reading in readings if reading["seq"] >= first]
    await history.async_flush()
    hours = _hours(readings)
    for hour in hours:
        await compile_statistics(hass, hour + timedelta(minutes=55))
    await poll_until(
        "the hours' import", lambda: history.state.counters["imported_hours"] >= len(hours)
    )
    await wait_recorder(hass)
    differing = 0
    sources = {"temperature": CONF_TEMPERATURE_ENTITY, "humidity": CONF_HUMIDITY_ENTITY}
    for quantity, key in sources.items():
        rows = hourly_rows(
            await hourly_statistics(hass, entry.data[key], hours[0], hours[-1] + timedelta(hours=1))
        )
        expected = expected_hourly(readings, quantity)
        differing += sum(
            1 for start, values in expected.items() if rows.get(start) != pytest.approx(values)
        )
        assert_statistics(rows, expected)
    counters = dict(history.state.counters)
    agent_logs = [path.read_text(encoding="utf-8") for path in logs]
    record(
        "outages",
        outages=outages,
        restarts=outages,
        readings=last,
        hours_imported=counters["imported_hours"],
        duplicates_refused=counters["duplicate_readings"],
        readings_lost=0,  # asserted above: the backfill knows every seq
        hours_differing=differing,
        tracebacks=sum(log.count("Traceback") for log in agent_logs),
        duration_s=round(time.monotonic() - started, 1),
    )
    assert not any("Traceback" in log for log in agent_logs)
