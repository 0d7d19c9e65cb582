"""Metrics: time in band (pure clock and sensors), out-of-band streak, switch counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import logging
from typing import Any, cast

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er, restore_state as rs
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.rala import psychrometrics
from custom_components.rala.const import DOMAIN
from custom_components.rala.control import ActuatorKind
from custom_components.rala.metrics import BandClock, InvalidClockDataError

from .common import set_inputs, zone_entry

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_share_counts_only_known_time_in_the_window() -> None:
    """30 min in band, 10 min unknown, 20 min out: 60 % of the known 50 min... per window."""
    clock = BandClock()
    clock.record(_at(0), True)
    clock.record(_at(30), None)
    clock.record(_at(40), False)
    assert clock.share(_at(0), _at(60)) == pytest.approx(100 * 30 / 50)
    assert clock.share(_at(30), _at(40)) is None
    assert clock.share(_at(35), _at(60)) == 0.0
    assert clock.out_of_band_since() == _at(40)
    clock.record(_at(70), True)
    assert clock.out_of_band_since() is None
    assert clock.share(_at(-60), _at(0)) is None
    # A past window is answered from the tallies, the ongoing stretch is not in it.
    assert clock.share(_at(0), _at(60)) == pytest.approx(100 * 30 / 50)


def test_history_is_bounded_and_pruned() -> None:
    """Only buckets within the history are kept, however long the clock runs."""
    clock = BandClock(history=timedelta(hours=1))
    assert clock.max_buckets == 13
    clock.record(_at(0), False)
    clock.record(_at(20), True)
    clock.record(_at(200), False)
    # Everything before 140 min is forgotten; 140..200 in band, 200..260 out.
    assert clock.share(_at(0), _at(100)) is None
    assert clock.share(_at(100), _at(260)) == pytest.approx(50.0)
    days = BandClock()
    for minute in range(0, 3 * 24 * 60, 7):
        days.record(_at(minute), minute % 2 == 0)
    stored = days.to_dict(_at(3 * 24 * 60))
    assert isinstance(stored["buckets"], list)
    assert len(stored["buckets"]) <= days.max_buckets == 301
    json.dumps(stored)


def test_a_long_known_stretch_is_tallied_within_history_only() -> None:
    """Three days in band without a change: the share is 100 %, the tallies stay bounded."""
    clock = BandClock()
    clock.record(_at(0), True)
    clock.record(_at(3 * 24 * 60), True)
    assert clock.share(_at(0), _at(3 * 24 * 60)) == 100.0
    buckets = clock.to_dict(_at(3 * 24 * 60))["buckets"]
    assert isinstance(buckets, list)
    assert len(buckets) == 300


def test_window_edge_inside_a_bucket_takes_a_proportional_part() -> None:
    """An edge in the middle of a 5-minute bucket takes half of that bucket's tallies."""
    clock = BandClock()
    clock.record(_at(0), True)
    clock.record(_at(5), False)
    clock.record(_at(10), False)
    # Half of the in-band bucket 0..5 (150 s) and all of the out-of-band 5..10 (300 s).
    assert clock.share(_at(2.5), _at(10)) == pytest.approx(100 * 150 / 450)
    # Within a bucket the tallies are spread evenly: 2 of 5 minutes in band → 40 %.
    mixed = BandClock()
    mixed.record(_at(0), True)
    mixed.record(_at(2), False)
    mixed.record(_at(5), True)
    assert mixed.share(_at(2.5), _at(5)) == pytest.approx(40.0)


def test_streak_ends_only_in_band() -> None:
    """Unknown stretches neither end nor restart an out-of-band streak."""
    clock = BandClock()
    clock.record(_at(0), False)
    clock.record(_at(10), False)
    assert clock.out_of_band_since() == _at(0)
    clock.record(_at(20), None)
    assert clock.out_of_band_since() is None
    clock.record(_at(30), False)
    assert clock.out_of_band_since() == _at(0)
    clock.record(_at(40), True)
    clock.record(_at(50), False)
    assert clock.out_of_band_since() == _at(50)


def test_round_trip_keeps_the_history_and_downtime_is_unknown() -> None:
    """Stored and loaded, the shares are the same; what follows the snapshot is unknown."""
    clock = BandClock()
    clock.record(_at(-600), None)
    clock.record(_at(0), True)
    clock.record(_at(30), False)
    before = clock.share(_at(-24 * 60), _at(40))
    stored = clock.to_dict(_at(40))
    # Storing does not change the clock.
    assert clock.share(_at(-24 * 60), _at(40)) == before
    loaded = BandClock.from_dict(json.loads(json.dumps(stored)))
    assert loaded.share(_at(-24 * 60), _at(40)) == pytest.approx(before)
    assert before == pytest.approx(75.0)
    # Twenty minutes not running, then out of band for ten: the gap counts neither way.
    assert loaded.share(_at(0), _at(60)) == pytest.approx(75.0)
    loaded.record(_at(60), False)
    assert loaded.share(_at(0), _at(70)) == pytest.approx(100 * 30 / 50)
    # The streak that began before the snapshot goes on.
    assert loaded.out_of_band_since() == _at(30)


def test_loading_drops_buckets_older_than_the_history() -> None:
    """Buckets from before the history window of the stored data are not loaded."""
    clock = BandClock()
    clock.record(_at(0), True)
    stored = clock.to_dict(_at(60))
    assert isinstance(stored["buckets"], list)
    stored["buckets"].insert(0, [int(_at(-26 * 60).timestamp()) // 300, 300, 300])
    loaded = BandClock.from_dict(stored)
    assert loaded.share(_at(-27 * 60), _at(-25 * 60)) is None
    assert loaded.share(_at(0), _at(60)) == 100.0


def _stored() -> dict[str, Any]:
    clock = BandClock()
    clock.record(_at(0), False)
    clock.record(_at(10), True)
    return clock.to_dict(_at(20))


def _with(**changes: Any) -> dict[str, Any]:
    return {**_stored(), **changes}


_LAST = int(_at(20).timestamp()) // 300


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(["not", "a", "mapping"], id="not-a-mapping"),
        pytest.param(_with(version=2), id="future-version"),
        pytest.param(_with(version=True), id="bool-version"),
        pytest.param(_with(bucket_seconds=60), id="other-bucket-size"),
        pytest.param(_with(observed_until=None), id="no-time"),
        pytest.param(_with(observed_until="yesterday"), id="not-a-time"),
        pytest.param(_with(observed_until="2026-11-25T12:20:00"), id="naive-time"),
        pytest.param(_with(streak_start="2026-11-25T13:00:00+00:00"), id="streak-after-data"),
        pytest.param(_with(streak_start=5), id="streak-not-a-time"),
        pytest.param(_with(buckets={"0": [1, 2]}), id="buckets-not-a-list"),
        pytest.param(_with(buckets=[[i, 0, 0] for i in range(302)]), id="too-many-buckets"),
        pytest.param(_with(buckets=[[_LAST, 1]]), id="short-entry"),
        pytest.param(_with(buckets=[(_LAST, 1, 2)]), id="tuple-entry"),
        pytest.param(_with(buckets=[[True, 1, 2]]), id="bool-index"),
        pytest.param(_with(buckets=[[1.5, 1, 2]]), id="float-index"),
        pytest.param(_with(buckets=[[_LAST, "1", 2]]), id="text-seconds"),
        pytest.param(_with(buckets=[[_LAST, False, 2]]), id="bool-seconds"),
        pytest.param(_with(buckets=[[_LAST, 3, 2]]), id="more-in-band-than-known"),
        pytest.param(_with(buckets=[[_LAST, -1, 2]]), id="negative"),
        pytest.param(_with(buckets=[[_LAST, 0, 301]]), id="more-than-a-bucket"),
        pytest.param(_with(buckets=[[_LAST, 0, float("nan")]]), id="nan"),
        pytest.param(_with(buckets=[[_LAST + 1, 0, 1]]), id="bucket-after-data"),
        pytest.param(_with(buckets=[[_LAST, 0, 1], [_LAST, 0, 1]]), id="repeated-bucket"),
    ],
)
def test_corrupt_or_incompatible_data_is_refused(data: object) -> None:
    """Every kind of bad stored data raises the dedicated error (a ValueError)."""
    assert BandClock.from_dict(_stored()).share(_at(0), _at(20)) == 50.0
    with pytest.raises(InvalidClockDataError):
        BandClock.from_dict(data)


def test_a_clock_set_back_forgets_what_came_after() -> None:
    """The wall clock stepping back (NTP, no battery) drops the tallies after the new time."""
    clock = BandClock()
    clock.record(_at(0), True)
    clock.record(_at(10), False)
    clock.record(_at(20), False)
    assert clock.share(_at(0), _at(20)) == pytest.approx(50.0)
    assert clock.out_of_band_since() == _at(10)
    stored_while_behind = clock.to_dict(_at(15))

    clock.record(_at(15), True)  # set back by 5 minutes: 10 in band, 5 out of band remain
    assert clock.share(_at(0), _at(15)) == pytest.approx(100 * 10 / 15)
    assert clock.out_of_band_since() is None
    clock.record(_at(25), False)  # 10 more minutes in band
    assert clock.share(_at(0), _at(25)) == pytest.approx(100 * 20 / 25)

    restored = BandClock.from_dict(stored_while_behind)
    restored.record(_at(15), None)
    assert restored.share(_at(0), _at(15)) == pytest.approx(100 * 10 / 15)
    assert restored.out_of_band_since() is None  # unknown from 15 on


def test_a_streak_begun_after_the_new_time_starts_at_it() -> None:
    """An out-of-band streak that began after the time the clock went back to starts there."""
    clock = BandClock()
    clock.record(_at(0), True)
    clock.record(_at(10), False)
    clock.record(_at(5), False)
    assert clock.out_of_band_since() == _at(5)
    restored = BandClock.from_dict(clock.to_dict(_at(3)))
    restored.record(_at(4), False)
    assert restored.out_of_band_since() == _at(3)


def test_bad_use_is_refused() -> None:
    """Naive times and impossible sizes are errors."""
    clock = BandClock()
    clock.record(_at(10), True)
    with pytest.raises(ValueError, match="no time zone"):
        clock.record(datetime(2026, 11, 25, 13, 0), True)  # noqa: DTZ001
    with pytest.raises(ValueError, match="positive"):
        BandClock(history=timedelta(0))
    with pytest.raises(ValueError, match="divide"):
        BandClock(bucket=timedelta(minutes=7))
    with pytest.raises(ValueError, match="divide"):
        BandClock(bucket=timedelta(0))
    assert issubclass(InvalidClockDataError, ValueError)


def test_an_empty_clock_stores_and_loads() -> None:
    """A clock that never recorded stores an empty history."""
    loaded = BandClock.from_dict(BandClock().to_dict(_at(0)))
    assert loaded.share(_at(-60), _at(0)) is None
    assert loaded.out_of_band_since() is None


def _value(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_time_in_band_and_streak_sensors(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """In band for 30 min, then too humid for 10 min: 75 %, streak 10 min."""
    freezer.move_to(T0)
    in_band_rh = psychrometrics.relative_humidity_for_vpd(1.0, 26.0, leaf_offset_c=2.0)
    set_inputs(hass, "26.0", f"{in_band_rh:.1f}")
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # No time has passed yet: no share, but no streak either.
    assert _value(hass, "sensor.tent_vpd_in_band_24_h") == "unknown"
    assert float(_value(hass, "sensor.tent_out_of_band_streak")) == 0.0
    freezer.tick(timedelta(minutes=30))
    set_inputs(hass, "26.0", "85")
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=10))
    set_inputs(hass, "26.0", "85.5")
    await hass.async_block_till_done()
    assert float(_value(hass, "sensor.tent_vpd_in_band_24_h")) == pytest.approx(75.0)
    assert float(_value(hass, "sensor.tent_vpd_in_band_today")) == pytest.approx(75.0)
    assert float(_value(hass, "sensor.tent_temperature_in_band_24_h")) == 100.0
    assert float(_value(hass, "sensor.tent_out_of_band_streak")) == pytest.approx(10.0)


async def test_switch_counter_counts_and_restores(hass: HomeAssistant) -> None:
    """Every on/off change of the actuator counts, the count survives a restart."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("sensor.tent_heater_switchings", "7"),
                {"native_value": 7, "native_unit_of_measurement": None},
            )
        ],
    )
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"heater": {}}})
    set_inputs(hass)
    entry = zone_entry(heater="input_boolean.heater")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _value(hass, "sensor.tent_heater_switchings") == "7"
    for service in ("turn_on", "turn_off", "turn_on"):
        await hass.services.async_call(
            "input_boolean", service, {"entity_id": "input_boolean.heater"}, blocking=True
        )
    await hass.async_block_till_done()
    assert _value(hass, "sensor.tent_heater_switchings") == "10"
    state = hass.states.get("sensor.tent_heater_switchings")
    assert state is not None
    assert state.attributes["state_class"] == "total_increasing"


async def test_switchings_are_counted_for_the_cycled_actuators_only(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """Heater, cooler, humidifier, dehumidifier and exhaust fan have a diagnostic counter;
    the circulation fan and the light, which RALA does not cycle, have none (a counter an
    older version made is removed)."""
    kinds = [kind.value for kind in ActuatorKind]
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {kind: {} for kind in kinds}}
    )
    set_inputs(hass)
    entry = zone_entry(**{kind: f"input_boolean.{kind}" for kind in kinds})
    entry.add_to_hass(hass)
    old = entity_registry.async_get_or_create(
        "sensor", DOMAIN, f"{entry.entry_id}_light_switchings", config_entry=entry
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    counters = {
        registry_entry.unique_id.removeprefix(f"{entry.entry_id}_"): registry_entry
        for registry_entry in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if registry_entry.unique_id.endswith("_switchings")
    }
    assert set(counters) == {
        "heater_switchings",
        "cooler_switchings",
        "humidifier_switchings",
        "dehumidifier_switchings",
        "exhaust_fan_switchings",
    }
    for counter in counters.values():
        assert counter.entity_category is EntityCategory.DIAGNOSTIC
    assert entity_registry.async_get(old.entity_id) is None


IN_BAND_RH = f"{psychrometrics.relative_humidity_for_vpd(1.0, 26.0, leaf_offset_c=2.0):.1f}"
SHARE_SENSORS = {
    "vpd": ("sensor.tent_vpd_in_band_today", "sensor.tent_vpd_in_band_24_h"),
    "temperature": (
        "sensor.tent_temperature_in_band_today",
        "sensor.tent_temperature_in_band_24_h",
    ),
}
STREAK = "sensor.tent_out_of_band_streak"


async def _set_up_zone(hass: HomeAssistant) -> MockConfigEntry:
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _local(day: int, hour: int) -> datetime:
    """A time in Home Assistant's time zone, in November 2026."""
    return dt_util.as_utc(datetime(2026, 11, day, hour, tzinfo=dt_util.get_default_time_zone()))


def _mock_stored_clocks(
    hass: HomeAssistant, clocks: dict[str, dict[str, Any]], state: str = "50.0"
) -> None:
    """What Home Assistant stored at its last stop: each sensor with its clocks."""
    stored = [
        (State(entity_id, state), {name: clocks[name]})
        for name, entity_ids in SHARE_SENSORS.items()
        for entity_id in entity_ids
    ]
    stored.append((State(STREAK, "0"), clocks))
    mock_restore_cache_with_extra_data(hass, stored)


def _stored_day(snapshot: datetime) -> dict[str, dict[str, Any]]:
    """VPD out of band 22:00-08:00, in band 08:00-11:00, out 11:00-12:00; temperature in band."""
    vpd = BandClock()
    vpd.record(_local(24, 22), False)
    vpd.record(_local(25, 8), True)
    vpd.record(_local(25, 11), False)
    temperature = BandClock()
    temperature.record(_local(24, 22), True)
    return {"vpd": vpd.to_dict(snapshot), "temperature": temperature.to_dict(snapshot)}


async def test_history_survives_a_reload(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """In band 30 min, out 10, 20 min down, out 10 more: 60 %, and the streak goes on."""
    freezer.move_to(T0)
    set_inputs(hass, "26.0", IN_BAND_RH)
    entry = await _set_up_zone(hass)
    freezer.tick(timedelta(minutes=30))
    set_inputs(hass, "26.0", "85")
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=10))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=20))
    set_inputs(hass, "26.1", "85.2")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=10))
    set_inputs(hass, "26.0", "85.5")
    await hass.async_block_till_done()
    # Counting the 20 minutes down as in band would give 71 %, as out of band 43 %.
    assert float(_value(hass, "sensor.tent_vpd_in_band_24_h")) == pytest.approx(60.0)
    assert float(_value(hass, "sensor.tent_vpd_in_band_today")) == pytest.approx(60.0)
    assert float(_value(hass, "sensor.tent_temperature_in_band_24_h")) == 100.0
    assert float(_value(hass, STREAK)) == pytest.approx(40.0)


async def test_restore_on_the_same_day(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Restarted at 13:00 after a stop at 12:00: the morning counts, the hour down does not."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    _mock_stored_clocks(hass, _stored_day(_local(25, 12)))
    freezer.move_to(_local(25, 13))
    set_inputs(hass, "26.0", IN_BAND_RH)
    await _set_up_zone(hass)
    freezer.tick(timedelta(hours=1))
    set_inputs(hass, "26.1", IN_BAND_RH)
    await hass.async_block_till_done()
    # Today: out 8 h, in 3 h, out 1 h, (down 1 h), in 1 h.
    assert float(_value(hass, "sensor.tent_vpd_in_band_today")) == pytest.approx(100 * 4 / 13)
    # 24 h (since 14:00 yesterday): out 10 h, in 3 h, out 1 h, (down), in 1 h.
    assert float(_value(hass, "sensor.tent_vpd_in_band_24_h")) == pytest.approx(100 * 4 / 15)
    assert float(_value(hass, "sensor.tent_temperature_in_band_today")) == 100.0
    assert float(_value(hass, STREAK)) == 0.0


async def test_restore_on_the_next_day(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Stopped at 12:00, restarted at 09:00 the next day: today starts afresh, 24 h keeps."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    _mock_stored_clocks(hass, _stored_day(_local(25, 12)))
    freezer.move_to(_local(26, 9))
    set_inputs(hass, "26.0", "85")
    await _set_up_zone(hass)
    freezer.tick(timedelta(hours=1))
    set_inputs(hass, "26.0", "85.5")
    await hass.async_block_till_done()
    assert float(_value(hass, "sensor.tent_vpd_in_band_today")) == 0.0
    # Since 10:00 yesterday: in 1 h, out 1 h, (down 21 h), out 1 h.
    assert float(_value(hass, "sensor.tent_vpd_in_band_24_h")) == pytest.approx(100 / 3)
    # Temperature: yesterday's 2 h within the window and today's hour, all in band.
    assert float(_value(hass, "sensor.tent_temperature_in_band_today")) == 100.0
    assert float(_value(hass, "sensor.tent_temperature_in_band_24_h")) == 100.0
    # Out of band since 11:00 yesterday and not seen in band since.
    assert float(_value(hass, STREAK)) == pytest.approx(23 * 60)


async def test_corrupt_stored_data_is_ignored(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Unusable stored data is logged at debug level; the zone starts with a fresh history."""
    caplog.set_level(logging.DEBUG, logger="custom_components.rala.metric_sensors")
    freezer.move_to(T0)
    future = BandClock().to_dict(T0 + timedelta(hours=1))
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State("sensor.tent_vpd_in_band_today", "80"), {"vpd": {"version": 99}}),
            (State("sensor.tent_vpd_in_band_24_h", "80"), {"vpd": future}),
            (
                State("sensor.tent_temperature_in_band_today", "80"),
                cast("dict[str, Any]", ["not", "a", "mapping"]),
            ),
            (State("sensor.tent_temperature_in_band_24_h", "80"), {"vpd": "wrong clock"}),
            (State(STREAK, "30"), {"temperature": "garbage"}),
        ],
    )
    set_inputs(hass, "26.0", IN_BAND_RH)
    await _set_up_zone(hass)
    freezer.tick(timedelta(minutes=10))
    set_inputs(hass, "26.1", IN_BAND_RH)
    await hass.async_block_till_done()
    for entity_ids in SHARE_SENSORS.values():
        for entity_id in entity_ids:
            assert float(_value(hass, entity_id)) == 100.0
    assert float(_value(hass, STREAK)) == 0.0
    assert "unsupported version 99" in caplog.text
    assert "expected a mapping, got str" in caplog.text
    assert "Ignoring stored metrics of sensor.tent_temperature_in_band_today" in caplog.text


async def test_restored_history_is_stored_again(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A restored clock is what the sensors store at the next stop (with the new time)."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    _mock_stored_clocks(hass, _stored_day(_local(25, 12)))
    freezer.move_to(_local(25, 13))
    set_inputs(hass, "26.0", IN_BAND_RH)
    await _set_up_zone(hass)
    freezer.tick(timedelta(hours=1))
    stored = {
        stored_state.state.entity_id: stored_state.extra_data
        for stored_state in rs.async_get(hass).async_get_stored_states()
    }
    extra = stored[STREAK]
    assert extra is not None
    clocks = extra.as_dict()
    assert set(clocks) == {"vpd", "temperature"}
    vpd = BandClock.from_dict(json.loads(json.dumps(clocks["vpd"])))
    assert vpd.share(_local(25, 0), _local(25, 14)) == pytest.approx(100 * 4 / 13)


async def test_switch_counter_ignores_other_changes(hass: HomeAssistant) -> None:
    """Nothing stored starts at 0; a change to or from unavailable is not a switching."""
    set_inputs(hass)
    hass.states.async_set("switch.heater", "off")
    entry = zone_entry(heater="switch.heater")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _value(hass, "sensor.tent_heater_switchings") == "0"
    hass.states.async_set("switch.heater", "unavailable")
    hass.states.async_set("switch.heater", "on")
    await hass.async_block_till_done()
    assert _value(hass, "sensor.tent_heater_switchings") == "0"
    hass.states.async_set("switch.heater", "off")
    await hass.async_block_till_done()
    assert _value(hass, "sensor.tent_heater_switchings") == "1"
