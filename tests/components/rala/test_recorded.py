"""What Home Assistant's recorder keeps of a zone's climate entity (a real recorder)."""

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.history import get_significant_states
from homeassistant.core import HomeAssistant, State
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.rala.climate import (
    ATTR_CURRENT_VPD,
    ATTR_PERIOD,
    ATTR_REASON,
    ATTR_TARGET_VPD,
    ATTR_VPD_HIGH,
    ATTR_VPD_LOW,
)

from .common import set_inputs, zone_entry

CLIMATE = "climate.tent"


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass`` (autouse fixtures request it early)."""


async def test_the_vpd_is_not_recorded(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The VPD changes with every reading (its history is the leaf VPD sensor's); the
    reasons, the period and the targets are kept in the history."""
    start = dt_util.utcnow()
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"heater": {}}})
    set_inputs(hass)
    entry = zone_entry(heater="input_boolean.heater")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for temperature, humidity in (("24.0", "55"), ("23.0", "50")):
        freezer.tick(timedelta(seconds=5))
        async_fire_time_changed(hass)
        set_inputs(hass, temperature, humidity)
        await hass.async_block_till_done()
    state = hass.states.get(CLIMATE)
    assert state is not None
    assert state.attributes[ATTR_CURRENT_VPD] is not None
    await async_wait_recording_done(hass)

    history = await hass.async_add_executor_job(
        get_significant_states, hass, start, None, [CLIMATE]
    )
    recorded = history[CLIMATE]
    assert len(recorded) >= 2
    kept = {ATTR_REASON, ATTR_PERIOD, ATTR_TARGET_VPD, ATTR_VPD_LOW, ATTR_VPD_HIGH, "heater"}
    for past in recorded:
        assert isinstance(past, State)
        assert ATTR_CURRENT_VPD not in past.attributes
        assert kept <= set(past.attributes)
