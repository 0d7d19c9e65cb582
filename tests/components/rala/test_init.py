"""Setting up, unloading, reloading and restarting a grow zone."""

import asyncio

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (
    mock_restore_cache_with_extra_data,
)

from custom_components.rala.const import CONF_HEATER, CONF_LIGHT, CONF_TEMPERATURE_ENTITY
from custom_components.rala.growth_stages import GrowthStage

from .common import TEMPERATURE, set_inputs, zone_entry


def _listeners(hass: HomeAssistant) -> dict[str, int]:
    """Bus listener counts, without the final-write hooks of HA's stores.

    Those belong to pending delayed writes of the registries (saved at shutdown in tests);
    the zone registers none of them.
    """
    listeners = hass.bus.async_listeners()
    listeners.pop(EVENT_HOMEASSISTANT_FINAL_WRITE, None)
    return listeners


def _live_timers(hass: HomeAssistant) -> int:
    loop = hass.loop
    assert isinstance(loop, asyncio.BaseEventLoop)
    # Delayed writes of HA's stores are not the zone's.
    return sum(
        1
        for handle in loop._scheduled
        if not handle.cancelled() and "Store._async" not in repr(handle)
    )


async def test_unload_and_reload_leave_no_listeners_or_timers(hass: HomeAssistant) -> None:
    """Every state tracker, bus listener and timer of a zone goes with its unload."""
    set_inputs(hass)
    hass.states.async_set("switch.lamp", "on")
    await hass.async_block_till_done()
    # The first setup also sets up the entity platforms, which keep listeners of their own:
    # measure around a second load of the zone.
    warm_up = zone_entry()
    warm_up.add_to_hass(hass)
    assert await hass.config_entries.async_setup(warm_up.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_remove(warm_up.entry_id)
    await hass.async_block_till_done()
    listeners_before = _listeners(hass)
    timers_before = _live_timers(hass)

    entry = zone_entry(**{CONF_HEATER: "switch.heater", CONF_LIGHT: "switch.lamp"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    zone = entry.runtime_data.zone
    assert zone.available
    assert zone.listener_count > 0
    assert _listeners(hass) != listeners_before
    assert _live_timers(hass) > timers_before  # the staleness deadline

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert zone.listener_count == 0  # the old runtime is detached
    assert entry.runtime_data.zone is not zone

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert _listeners(hass) == listeners_before
    assert _live_timers(hass) == timers_before


async def test_stage_and_targets_restored_after_restart(hass: HomeAssistant) -> None:
    """The growth stage and the four targets come back as they were."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State("select.tent_growth_stage", "late_flower"), {}),
            *(
                (
                    State(f"number.tent_{key}_target", str(value)),
                    {
                        "native_value": value,
                        "native_min_value": 0.0,
                        "native_max_value": 40.0,
                        "native_step": 0.05,
                        "native_unit_of_measurement": unit,
                    },
                )
                for key, value, unit in (
                    ("day_temperature", 27.5, "°C"),
                    ("night_temperature", 19.0, "°C"),
                    ("day_vpd", 1.35, "kPa"),
                    ("night_vpd", 50.0, "kPa"),  # out of range: ignored, default stays
                )
            ),
        ],
    )
    set_inputs(hass)
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    zone = entry.runtime_data.zone
    assert zone.growth_stage is GrowthStage.LATE_FLOWER
    assert zone.targets.day_temperature == 27.5
    assert zone.targets.night_temperature == 19.0
    assert zone.targets.day_vpd == 1.35
    assert zone.targets.night_vpd == 1.0  # the vegetative default, not the bad value
    assert hass.states.get("select.tent_growth_stage").state == "late_flower"
    assert hass.states.get("number.tent_day_temperature_target").state == "27.5"


async def test_renamed_source_entity_is_followed(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """Renaming an input entity rewrites the zone's config and keeps it working."""
    registered = entity_registry.async_get_or_create(
        "sensor", "test", "tent-temperature", suggested_object_id="tent_temperature"
    )
    assert registered.entity_id == TEMPERATURE
    set_inputs(hass)
    entry = zone_entry(**{CONF_HEATER: "switch.heater"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    entity_registry.async_update_entity(TEMPERATURE, new_entity_id="sensor.canopy_temperature")
    await hass.async_block_till_done()
    assert entry.data[CONF_TEMPERATURE_ENTITY] == "sensor.canopy_temperature"
    assert entry.options[CONF_HEATER] == "switch.heater"
    zone = entry.runtime_data.zone
    assert zone.temperature_entity_id == "sensor.canopy_temperature"

    set_inputs(hass)  # the old id is gone; the new one feeds the zone
    hass.states.async_set("sensor.canopy_temperature", "30.0", {"unit_of_measurement": "°C"})
    await hass.async_block_till_done()
    assert zone.readings.air_temperature is not None
    assert zone.readings.air_temperature.value == 30.0

    # Other registry updates (no rename) change nothing.
    entity_registry.async_update_entity("sensor.canopy_temperature", name="Canopy")
    await hass.async_block_till_done()
    assert entry.runtime_data.zone is zone
