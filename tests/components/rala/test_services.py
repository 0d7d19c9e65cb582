"""The integration's actions: rala.set_growth_stage and rala.set_targets."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.rala.const import DOMAIN
from custom_components.rala.growth_stages import STAGE_TARGETS, GrowthStage
from custom_components.rala.services import SERVICE_SET_GROWTH_STAGE, SERVICE_SET_TARGETS
from custom_components.rala.zone import GrowZone

from .common import set_inputs, zone_entry


@pytest.fixture
async def entry(hass: HomeAssistant) -> MockConfigEntry:
    """A loaded zone."""
    set_inputs(hass)
    config_entry = zone_entry()
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


async def _call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


def _zone(entry: MockConfigEntry) -> GrowZone:
    zone: GrowZone = entry.runtime_data.zone
    return zone


async def test_services_are_registered_without_a_zone(hass: HomeAssistant) -> None:
    """The actions exist as soon as the integration is set up (action-setup rule)."""
    assert await async_setup_component(hass, DOMAIN, {})
    assert hass.services.has_service(DOMAIN, SERVICE_SET_GROWTH_STAGE)
    assert hass.services.has_service(DOMAIN, SERVICE_SET_TARGETS)


async def test_set_growth_stage_applies_targets(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """A stage with its literature targets."""
    await _call(
        hass, SERVICE_SET_GROWTH_STAGE, config_entry_id=entry.entry_id, stage="early_flower"
    )
    zone = _zone(entry)
    early = STAGE_TARGETS[GrowthStage.EARLY_FLOWER]
    assert zone.growth_stage is GrowthStage.EARLY_FLOWER
    assert zone.targets.day_temperature == early.day_temperature_c
    assert zone.targets.night_vpd == early.vpd_target_kpa


async def test_set_growth_stage_can_keep_targets(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """apply_targets=false changes only the stage."""
    before = _zone(entry).targets
    await _call(
        hass,
        SERVICE_SET_GROWTH_STAGE,
        config_entry_id=entry.entry_id,
        stage="drying",
        apply_targets=False,
    )
    assert _zone(entry).growth_stage is GrowthStage.DRYING
    assert _zone(entry).targets == before


async def test_set_growth_stage_bad_stage(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """An unknown stage: translated error, nothing changes."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SET_GROWTH_STAGE, config_entry_id=entry.entry_id, stage="bloom")
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "invalid_stage"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["stage"] == "bloom"
    assert _zone(entry).growth_stage is GrowthStage.VEGETATIVE


async def test_set_targets_changes_only_what_is_given(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Any subset of the four targets."""
    before = _zone(entry).targets
    await _call(
        hass, SERVICE_SET_TARGETS, config_entry_id=entry.entry_id, day_temperature=24, night_vpd=0.7
    )
    after = _zone(entry).targets
    assert (after.day_temperature, after.night_vpd) == (24.0, 0.7)
    assert (after.night_temperature, after.day_vpd) == (before.night_temperature, before.day_vpd)


@pytest.mark.parametrize(
    ("data", "translation_key"),
    [
        ({}, "no_targets"),
        ({"day_temperature": 50}, "invalid_targets"),
        ({"day_vpd": 0.1, "night_vpd": 1.0}, "invalid_targets"),
    ],
)
async def test_set_targets_bad_input(
    hass: HomeAssistant, entry: MockConfigEntry, data: dict[str, float], translation_key: str
) -> None:
    """Nothing, or out of range: translated error, no target changes (not even the valid one)."""
    before = _zone(entry).targets
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SET_TARGETS, config_entry_id=entry.entry_id, **data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == translation_key
    assert _zone(entry).targets == before


async def test_unknown_or_unloaded_zone(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """A config entry id that is not a loaded zone: Home Assistant's translated errors."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SET_TARGETS, config_entry_id="nope", day_vpd=1.0)
    assert err.value.translation_key == "service_config_entry_not_found"
    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SET_GROWTH_STAGE, config_entry_id=entry.entry_id, stage="drying")
    assert err.value.translation_key == "service_config_entry_not_loaded"
