"""Metrics: time in band (pure clock and sensors), out-of-band streak, switch counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, State
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import mock_restore_cache_with_extra_data

from custom_components.rala import psychrometrics
from custom_components.rala.metrics import BandClock

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


def test_repeated_states_and_pruning() -> None:
    """Same state twice is one segment; history older than the window is forgotten."""
    clock = BandClock(history=timedelta(hours=1))
    clock.record(_at(0), False)
    clock.record(_at(10), False)
    assert clock.out_of_band_since() == _at(0)
    clock.record(_at(20), True)
    clock.record(_at(200), False)
    # Only the segment that spans the cutoff (in band since 20) and later ones remain.
    assert clock.share(_at(0), _at(20)) is None
    assert clock.share(_at(100), _at(260)) == pytest.approx(100 * 100 / 160)


def test_bad_use_is_refused() -> None:
    """Time running backwards and an empty history are errors."""
    clock = BandClock()
    clock.record(_at(10), True)
    with pytest.raises(ValueError, match="backwards"):
        clock.record(_at(5), False)
    with pytest.raises(ValueError, match="positive"):
        BandClock(history=timedelta(0))


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
