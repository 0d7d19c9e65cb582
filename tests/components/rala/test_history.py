"""Backfill into Home Assistant's history, with HA's real recorder, MQTT and a real broker.

A paho client plays the edge node: it publishes live readings and backfill batches to a
real mosquitto broker, and listens on the node's replay topic for the integration's
requests. Home Assistant's own MQTT integration is connected to the same broker and its
real recorder (SQLite) stores the statistics the integration imports. Expected statistics
are computed here, independently, from the readings the test sent.
"""

import dataclasses
from datetime import timedelta
import json
import logging
from pathlib import Path
import random
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
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
    CONF_NODE_SENSOR,
    DOMAIN,
)
from custom_components.rala.diagnostics import async_get_config_entry_diagnostics
from tests.mosquitto import Mosquitto

from .common import async_set_up_mqtt
from .node_zone import (
    BACKFILL_TOPIC,
    ENTITIES,
    LIVE_TOPIC,
    NODE,
    QUANTITIES,
    SENSOR,
    WAIT,
    Node,
    Setup,
    assert_statistics,
    backfill_batch,
    compile_statistics,
    expected_hourly,
    full_hour,
    hourly_rows,
    hourly_statistics,
    mock_recorder_before_hass,
    node,
    node_reading,
    set_node_states,
    utc_text,
    wait_recorder,
    wait_until,
    zone,
    zone_entry,
    zone_sensor,
)

__all__ = ["mock_recorder_before_hass", "node", "zone"]  # fixtures, used by name

pytestmark = [pytest.mark.mqtt]


async def test_backfilled_hours_become_statistics_once(zone: Setup) -> None:
    """Readings of past hours become hourly mean/min/max; the same batch again changes nothing."""
    hass = zone.hass
    first = full_hour(-5)
    readings = [
        node_reading(seq, first + timedelta(minutes=7 * index))
        for index, seq in enumerate(range(10, 40))
    ]  # 30 readings over three and a half hours
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(readings))
    await wait_until("the import", lambda: zone.history.state.counters["imported_hours"] == 4)
    await wait_recorder(hass)

    end = full_hour(0)
    imported = {}
    for quantity, entity_id in ENTITIES.items():
        imported[quantity] = hourly_rows(await hourly_statistics(hass, entity_id, first, end))
        assert_statistics(imported[quantity], expected_hourly(readings, quantity))
    assert not zone.history.state.pending_hours
    # The zone's own derived sensors, from the same readings (leaf offset 2 °C by default).
    derived = {
        "air_vpd": psychrometrics.vpd_air,
        "leaf_vpd": lambda t, rh: psychrometrics.vpd_leaf(t, rh, None, leaf_offset_c=2.0),
        "dew_point": psychrometrics.dew_point,
        "absolute_humidity": psychrometrics.absolute_humidity,
    }
    for key, formula in derived.items():
        entity_id = zone_sensor(hass, zone.entry, key)
        values = [{"ts": r["ts"], key: formula(r["temperature"], r["humidity"])} for r in readings]
        imported[key] = hourly_rows(await hourly_statistics(hass, entity_id, first, end))
        assert_statistics(imported[key], expected_hourly(values, key))

    # The node sends the same batch again (say its PUBACK got lost): nothing changes.
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(readings))
    assert zone.history.state.counters["duplicate_readings"] == len(readings)
    assert zone.history.state.counters["imported_hours"] == 4
    assert not zone.history.state.pending_hours
    await wait_recorder(hass)
    for quantity, entity_id in ENTITIES.items():
        assert (
            hourly_rows(await hourly_statistics(hass, entity_id, first, end)) == imported[quantity]
        )
    for key in derived:
        entity_id = zone_sensor(hass, zone.entry, key)
        assert hourly_rows(await hourly_statistics(hass, entity_id, first, end)) == imported[key]


async def test_partly_live_hour_waits_for_compile_and_holds_all_readings(zone: Setup) -> None:
    """An hour seen partly live is imported after the recorder compiled it, from all readings.

    The recorder compiled the hour from HA's live states (30 °C the whole hour); the
    import replaces that with the statistics of every reading, live and backfilled, and
    no compile overwrites it afterwards.
    """
    hass = zone.hass
    hour = full_hour(0)  # the recorder has not compiled this hour yet
    moments = [hour + timedelta(minutes=10 * index) for index in range(6)]
    live = [node_reading(seq, moments[seq - 1], sensor=None) for seq in (1, 2, 5, 6)]
    for reading in live:
        await zone.deliver(LIVE_TOPIC, reading)
    assert zone.history.state.closed.gaps() == [(3, 4)]
    backfilled = [node_reading(seq, moments[seq - 1]) for seq in (3, 4)]
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(backfilled))
    assert zone.history.state.closed.gaps() == []
    await zone.history.async_flush()
    await wait_recorder(hass)
    # Not compiled yet: nothing imported, the hour waits.
    assert zone.history.state.pending_hours == {hour}
    assert (
        await hourly_statistics(hass, ENTITIES["temperature"], hour, hour + timedelta(hours=1))
        == []
    )

    # The recorder's run of hour:55 compiles the hour (from the live states), then the
    # integration imports it.
    await compile_statistics(hass, hour + timedelta(minutes=55))
    await wait_until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await wait_recorder(hass)
    every_reading = [{**r, "sensor": SENSOR} for r in live] + backfilled
    for quantity, entity_id in ENTITIES.items():
        rows = hourly_rows(
            await hourly_statistics(hass, entity_id, hour, hour + timedelta(hours=1))
        )
        assert_statistics(rows, expected_hourly(every_reading, quantity))
    assert rows[hour.timestamp()][0] != 50.0  # not the recorder's compile of the states

    # A later statistics run does not touch the hour again.
    await compile_statistics(hass, hour + timedelta(hours=1))
    rows = hourly_rows(
        await hourly_statistics(hass, ENTITIES["temperature"], hour, hour + timedelta(hours=1))
    )
    assert_statistics(rows, expected_hourly(every_reading, "temperature"))
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
    entry = zone_entry(hass)
    # The grower reconfigured the zone to another humidity sensor.
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        data={**entry.data, CONF_HUMIDITY_ENTITY: "sensor.other_humidity"},
        options={},
    )
    set_node_states(hass, {"temperature": "°F", "humidity": "g/m³"})
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    readings = [node_reading(seq, full_hour(-3) + timedelta(minutes=20 * seq)) for seq in range(3)]
    await setup.deliver(BACKFILL_TOPIC, backfill_batch(readings))
    await wait_until("the import", lambda: setup.history.state.counters["imported_hours"] == 1)
    await wait_recorder(hass)
    fahrenheit = [{**r, "temperature": r["temperature"] * 9 / 5 + 32} for r in readings]
    rows = hourly_rows(
        await hourly_statistics(hass, ENTITIES["temperature"], full_hour(-3), full_hour(-2))
    )
    assert_statistics(rows, expected_hourly(fahrenheit, "temperature"))
    # % RH cannot become g/m³ without the temperature: not imported, and said so.
    assert await hourly_statistics(hass, ENTITIES["humidity"], full_hour(-3), full_hour(-2)) == []
    assert "cannot convert % to g/m³ for sensor.canopy_humidity" in caplog.text
    # The zone's VPD comes from another sensor now: the node's readings are not its history.
    air_vpd = zone_sensor(hass, entry, "air_vpd")
    assert await hourly_statistics(hass, air_vpd, full_hour(-3), full_hour(-2)) == []
    await setup.stop()


async def test_malformed_payloads_change_nothing(
    zone: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad payloads are logged and ignored; one bad reading does not sink its batch."""
    hass = zone.hass
    caplog.set_level(logging.WARNING)
    hour = full_hour(-4)
    good = [node_reading(seq, hour + timedelta(minutes=10 * seq)) for seq in range(1, 4)]
    for payload in (
        "not json",
        json.dumps([1, 2]),
        backfill_batch(good, node_id="other-pi"),
        {**backfill_batch(good), "readings": "nope"},
        backfill_batch(good, oldest_available_seq=-1),
    ):
        await zone.deliver(BACKFILL_TOPIC, payload)
    await zone.deliver(LIVE_TOPIC, {"seq": 1, "ts": "yesterday", "temperature": 20.0})
    await zone.deliver(LIVE_TOPIC, {"seq": 2, "ts": utc_text(hour), "humidity": float("nan")})
    assert zone.history.state.counters["rejected_payloads"] == 7
    assert zone.history.state.seen.ranges == []
    assert not zone.history.state.pending_hours
    assert "ignoring backfill batch: backfill batch is not valid JSON" in caplog.text
    assert "ignoring live reading on" in caplog.text

    bad = {**node_reading(2, hour + timedelta(minutes=20)), "humidity": 140.0}
    await zone.deliver(BACKFILL_TOPIC, backfill_batch([good[0], bad, good[2]]))
    assert "backfill reading left out: reading 2: humidity 140.0 is outside 0..100" in caplog.text
    await wait_until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await wait_recorder(hass)
    kept = [good[0], good[2]]
    for quantity, entity_id in ENTITIES.items():
        rows = hourly_rows(
            await hourly_statistics(hass, entity_id, hour, hour + timedelta(hours=1))
        )
        assert_statistics(rows, expected_hourly(kept, quantity))
    # The left-out reading is a gap: the node is asked for it once.
    assert zone.history.state.closed.gaps() == [(2, 2)]


async def test_live_gap_is_asked_for_once_and_old_part_given_up(
    zone: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """A gap in live seqs triggers exactly one replay request; what the node no longer
    holds (``oldest_available_seq``) is given up, not asked for again."""
    hass = zone.hass
    hour = full_hour(-3)
    for seq in (10, 11, 20):
        await zone.deliver(
            LIVE_TOPIC, node_reading(seq, hour + timedelta(minutes=seq), sensor=None)
        )
    await zone.sync()
    assert zone.node.requests == []  # the grace period first
    await zone.advance(31)
    await wait_until("the replay request", lambda: zone.node.requests)
    (request,) = zone.node.requests
    assert (request["from_seq"], request["to_seq"]) == (12, 19)
    assert isinstance(request["request_id"], str)
    diagnostics = await async_get_config_entry_diagnostics(hass, zone.entry)
    assert diagnostics["backfill"]["replay_request"] == {"from_seq": 12, "to_seq": 19}
    assert diagnostics["backfill"]["open_gaps"] == [[12, 19]]
    # The same live reading again (a QoS 1 resend) changes nothing.
    await zone.deliver(LIVE_TOPIC, node_reading(20, hour + timedelta(minutes=20), sensor=None))
    assert zone.history.state.counters["duplicate_readings"] == 1
    # More time passes, the request is still outstanding: no second one.
    await zone.advance(61)
    await zone.sync()
    assert len(zone.node.requests) == 1

    answer = [node_reading(seq, hour + timedelta(minutes=seq)) for seq in range(15, 20)]
    await zone.deliver(
        BACKFILL_TOPIC,
        backfill_batch(answer, request_id=request["request_id"], oldest_available_seq=15),
    )
    assert zone.history.state.closed.gaps() == []
    assert zone.history.state.counters["given_up_seqs"] == 3
    assert "giving up readings 12..14: the node no longer holds them" in caplog.text
    await zone.advance(300)
    await zone.sync()
    assert len(zone.node.requests) == 1
    await wait_until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await wait_recorder(hass)
    rows = hourly_rows(
        await hourly_statistics(hass, ENTITIES["humidity"], hour, hour + timedelta(hours=1))
    )
    live = [node_reading(seq, hour + timedelta(minutes=seq)) for seq in (10, 11, 20)]
    assert_statistics(rows, expected_hourly(live + answer, "humidity"))


async def test_gap_across_restart_is_asked_for(zone: Setup) -> None:
    """Seqs seen before a restart are remembered: the gap to the first one after it is asked
    for, and its hour gets the readings from before and after the restart."""
    hass = zone.hass
    hour = full_hour(-1)
    moments = {seq: hour + timedelta(minutes=seq - 90) for seq in range(100, 106)}
    for seq in (100, 101):
        await zone.deliver(LIVE_TOPIC, node_reading(seq, moments[seq], sensor=None))
    await zone.restart()
    assert zone.history.state.seen.ranges == [[100, 101]]
    await zone.deliver(LIVE_TOPIC, node_reading(105, moments[105], sensor=None))
    # Another restart before the grace ran out: the open gap is remembered too.
    await zone.restart()
    assert zone.history.state.closed.gaps() == [(102, 104)]
    await zone.advance(31)
    await wait_until("the replay request", lambda: zone.node.requests)
    await zone.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in zone.node.requests] == [(102, 104)]

    # The node answers with what it still holds: 104 is not, and is given up.
    request_id = zone.node.requests[0]["request_id"]
    answer = [node_reading(seq, moments[seq]) for seq in (102, 103)]
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(answer, request_id=request_id))
    assert zone.history.state.closed.gaps() == []
    assert zone.history.state.counters["given_up_seqs"] == 1
    await wait_until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await wait_recorder(hass)
    every_reading = [node_reading(seq, moments[seq]) for seq in (100, 101, 102, 103, 105)]
    for quantity, entity_id in ENTITIES.items():
        rows = hourly_rows(
            await hourly_statistics(hass, entity_id, hour, hour + timedelta(hours=1))
        )
        assert_statistics(rows, expected_hourly(every_reading, quantity))


async def test_near_gaps_share_a_request_far_ones_wait_their_turn(zone: Setup) -> None:
    """Gaps one answer batch can span go in one request; the next request waits for the
    answer and the minimum interval."""
    moment = full_hour(-1)
    for seq in (1, 3, 5, 2000):
        await zone.deliver(LIVE_TOPIC, node_reading(seq, moment, sensor=None))
    await zone.advance(31)
    await wait_until("the first request", lambda: zone.node.requests)
    first = zone.node.requests[0]
    assert (first["from_seq"], first["to_seq"]) == (2, 4)
    answer = [node_reading(seq, moment) for seq in (2, 4)]
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(answer, request_id=first["request_id"]))
    assert zone.history.state.closed.gaps() == [(6, 1999)]
    await zone.advance(61)
    await wait_until("the second request", lambda: len(zone.node.requests) == 2)
    second = zone.node.requests[1]
    assert (second["from_seq"], second["to_seq"]) == (6, 1999)
    # A full batch of the answer is not its end: the request stays open.
    full = [node_reading(seq, moment) for seq in range(6, 6 + 500)]
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(full, request_id=second["request_id"]))
    assert zone.history.state.closed.gaps() == [(506, 1999)]
    await zone.advance(61)
    await zone.sync()
    assert len(zone.node.requests) == 2
    rest = [node_reading(seq, moment) for seq in range(506, 1000)]
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(rest, request_id=second["request_id"]))
    assert zone.history.state.closed.gaps() == []  # 1000..1999 are not held: given up
    assert zone.history.state.counters["given_up_seqs"] == 1000


async def test_unanswered_requests_are_retried_then_given_up(
    zone: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """No answer: the request is repeated a few times, spaced out, then the gap is given up."""
    moment = full_hour(-1)
    for seq in (1, 5):
        await zone.deliver(LIVE_TOPIC, node_reading(seq, moment, sensor=None))
    for attempt in range(1, 4):
        await zone.advance(61)
        await wait_until(f"request {attempt}", lambda n=attempt: len(zone.node.requests) == n)
        await zone.advance(121)  # no answer within the timeout
    await zone.advance(300)
    await zone.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in zone.node.requests] == [(2, 4)] * 3
    assert len({r["request_id"] for r in zone.node.requests}) == 3
    assert zone.history.state.closed.gaps() == []
    assert "giving up readings 2..4: no answer to 3 replay requests" in caplog.text
    # A reading of the given-up range that turns up later is still taken.
    await zone.deliver(BACKFILL_TOPIC, backfill_batch([node_reading(3, moment)]))
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
        (LIVE_TOPIC, node_reading(7, full_hour(-1), sensor=None)),
        (BACKFILL_TOPIC, backfill_batch([node_reading(8, full_hour(-1))])),
    ):
        await hass.async_add_executor_job(
            lambda t=topic, p=payload: node.client.publish(
                t, json.dumps(p), qos=1, retain=True
            ).wait_for_publish(WAIT)
        )
    entry = zone_entry(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        data={**entry.data, CONF_LEAF_TEMPERATURE_ENTITY: "sensor.leaf"},
        options={},
    )
    set_node_states(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()  # the broker sends the retained messages, flagged, on subscribing
    await setup.deliver(
        f"rala/{NODE}/sensor/root/state", node_reading(9, full_hour(-1), sensor=None)
    )
    assert setup.history.state.seen.ranges == [[9, 9]]
    assert len(setup.history.state.buffer) == 0  # not the zone's sensor
    assert setup.history.as_dict()["highest_seq"] == 9

    hour = full_hour(-3)
    readings = [
        node_reading(10, hour),
        {**node_reading(11, hour + timedelta(minutes=10)), "temperature": 95.0},  # too hot for VPD
        {**node_reading(12, hour + timedelta(minutes=20)), "humidity": None},
    ]
    await setup.deliver(BACKFILL_TOPIC, backfill_batch(readings))
    await wait_until("the import", lambda: setup.history.state.counters["imported_hours"] == 1)
    await wait_recorder(hass)
    end = hour + timedelta(hours=1)
    rows = hourly_rows(await hourly_statistics(hass, ENTITIES["temperature"], hour, end))
    assert_statistics(rows, expected_hourly(readings, "temperature"))
    rows = hourly_rows(
        await hourly_statistics(hass, zone_sensor(hass, entry, "air_vpd"), hour, end)
    )
    first = readings[0]
    vpd = psychrometrics.vpd_air(first["temperature"], first["humidity"])
    assert rows == {hour.timestamp(): pytest.approx((vpd, vpd, vpd), rel=1e-9)}
    assert await hourly_statistics(hass, zone_sensor(hass, entry, "leaf_vpd"), hour, end) == []
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
    entry = zone_entry(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    for seq in (1, 2):
        await setup.deliver(BACKFILL_TOPIC, backfill_batch([node_reading(seq, full_hour(-3))]))
    assert setup.history.state.counters["backfilled_readings"] == 2
    assert setup.history.state.pending_hours == {full_hour(-3)}
    assert caplog.text.count("the recorder is not running") == 1
    await setup.stop()


async def test_unusable_store_and_no_mqtt(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged stored state starts afresh; without MQTT the zone works, without backfill."""
    entry = zone_entry(hass)
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
    entry = zone_entry(hass)
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
    hour = full_hour(-4)
    good = [node_reading(seq, hour + timedelta(minutes=8 * seq)) for seq in (1, 3, 6)]
    dry = {**node_reading(7, hour + timedelta(minutes=50)), "humidity": 1e-322}
    text = json.dumps(
        backfill_batch([good[0], {"seq": 2}, good[1], {"seq": 4}, {"seq": 5}, good[2], dry])
    )
    for seq, hostile in (
        (2, '"temperature": 1' + "0" * 400),
        (4, f'"ts": "0001-01-01T00:00:00+01:00", "humidity": {"9" * 5000}'),
        (5, '"ts": "9999-12-31T23:59:59-01:00", "temperature": 20.0'),
    ):
        base = {
            key: value for key, value in node_reading(seq, hour).items() if key != "temperature"
        }
        if "ts" in hostile:
            del base["ts"]
        text = text.replace(f'{{"seq": {seq}}}', json.dumps(base)[:-1] + ", " + hostile + "}")
    await zone.deliver(BACKFILL_TOPIC, text)
    counters = zone.history.state.counters
    assert counters["rejected_readings"] == 3
    assert counters["outside_time_window"] == 2
    assert counters["backfilled_readings"] == 4
    for payload in (
        f'{{"seq": 8, "ts": "{utc_text(hour)}", "temperature": {"1" * 400}}}',
        '{"seq": 8, "ts": "0001-01-01T00:30:00+01:00", "temperature": 20}',
        "[" * 300 + "]" * 300,
    ):
        await zone.deliver(LIVE_TOPIC, payload)
    await zone.deliver(BACKFILL_TOPIC, '{"readings": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert counters["rejected_payloads"] == 4
    assert "Traceback" not in caplog.text
    await wait_until("the import", lambda: zone.history.state.counters["imported_hours"] == 1)
    await wait_recorder(hass)
    kept = [*good, dry]
    for quantity, entity_id in ENTITIES.items():
        rows = hourly_rows(
            await hourly_statistics(hass, entity_id, hour, hour + timedelta(hours=1))
        )
        assert_statistics(rows, expected_hourly(kept, quantity))
    dew_points = [
        {"ts": r["ts"], "dew_point": psychrometrics.dew_point(r["temperature"], r["humidity"])}
        for r in good
    ]
    rows = hourly_rows(
        await hourly_statistics(
            hass, zone_sensor(hass, zone.entry, "dew_point"), hour, full_hour(-3)
        )
    )
    assert_statistics(rows, expected_hourly(dew_points, "dew_point"))


async def test_a_wild_seq_opens_no_gap(zone: Setup) -> None:
    """One live reading with seq 2^63-1 asks for no replay of 9e18 readings and leaves gap
    detection on: the next gap of the node's own seqs is asked for."""
    moment = full_hour(-1)
    for seq in (10, 11, 2**63 - 1, 12, 14):
        await zone.deliver(LIVE_TOPIC, node_reading(seq, moment, sensor=None))
    assert zone.history.state.counters["seq_jumps"] == 1
    assert zone.history.state.counters["live_readings"] == 5  # the reading itself is used
    assert zone.history.state.closed.gaps() == [(13, 13)]
    await zone.advance(31)
    await wait_until("the replay request", lambda: zone.node.requests)
    await zone.sync()
    assert [(r["from_seq"], r["to_seq"]) for r in zone.node.requests] == [(13, 13)]
    diagnostics = await async_get_config_entry_diagnostics(zone.hass, zone.entry)
    assert diagnostics["backfill"]["highest_seq"] == 14
    # The wild seq again (a resend) is a duplicate, and still no gap.
    await zone.deliver(LIVE_TOPIC, node_reading(2**63 - 1, moment, sensor=None))
    assert zone.history.state.counters["duplicate_readings"] == 1


async def test_node_that_really_moved_its_seqs_is_followed(zone: Setup) -> None:
    """A node whose seqs go on far above (its outbox was replaced, or Home Assistant was
    away for months) is followed after a few live readings; gaps there are asked for."""
    moment = full_hour(-1)
    await zone.deliver(LIVE_TOPIC, node_reading(10, moment, sensor=None))
    start = 10 + 3 * MAX_SEQ_JUMP
    run = [start + step for step in range(TRACK_CONFIRMATIONS)]
    for seq in run:
        await zone.deliver(LIVE_TOPIC, node_reading(seq, moment, sensor=None))
    assert zone.history.state.counters["track_moves"] == 1
    assert zone.history.state.closed.gaps() == []
    await zone.deliver(LIVE_TOPIC, node_reading(run[-1] + 3, moment, sensor=None))
    assert zone.history.state.closed.gaps() == [(run[-1] + 1, run[-1] + 2)]
    await zone.advance(31)
    await wait_until("the replay request", lambda: zone.node.requests)
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
    entry = zone_entry(hass)
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
    set_node_states(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    moment = full_hour(-1)
    for seq in range(12, 12 + TRACK_CONFIRMATIONS):
        await setup.deliver(LIVE_TOPIC, node_reading(seq, moment, sensor=None))
    assert setup.history.state.counters["track_moves"] == 1
    last = 12 + TRACK_CONFIRMATIONS - 1
    await setup.deliver(LIVE_TOPIC, node_reading(last + 2, moment, sensor=None))
    assert setup.history.state.closed.gaps() == [(last + 1, last + 1)]
    await setup.advance(31)
    await wait_until("the replay request", lambda: node.requests)
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
    entry = zone_entry(hass)
    entry.add_to_hass(hass)
    setup = Setup(hass, node, entry)
    await setup.start()
    readings = _hostile_readings(25_000, seed=11)
    for first in range(0, len(readings), 500):
        batch = sorted(readings[first : first + 500], key=lambda reading: reading["seq"])
        await setup.deliver(BACKFILL_TOPIC, backfill_batch(batch))
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
