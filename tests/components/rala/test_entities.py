"""The entities of a grow zone: registry entries and states (syrupy snapshots), behaviour."""

from unittest.mock import patch

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)
from custom_components.rala.growth_stages import STAGE_TARGETS, GrowthStage

from .common import HUMIDITY, PERCENT, TEMPERATURE, set_inputs, zone_entry


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.SELECT, Platform.NUMBER])
async def test_entities_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Every entity of every platform, registry entry and state, at 25 °C and 60 % RH."""
    set_inputs(hass, "25.0", "60")
    entry = zone_entry()
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="01ZONEENTRY0000000000000000",
        title=entry.title,
        unique_id=entry.unique_id,
        data=entry.data,
        options=entry.options,
    )
    with patch("custom_components.rala.PLATFORMS", [platform]):
        await _set_up(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_sensors_follow_inputs_and_go_unavailable(hass: HomeAssistant) -> None:
    """Derived sensors change with the inputs and are unavailable without them."""
    set_inputs(hass, "25.0", "60")
    await _set_up(hass, zone_entry())
    # FAO-56: e°(25 °C) = 3.168 kPa; VPD = 3.168 * (1 - 0.60).
    assert float(hass.states.get("sensor.tent_air_vpd").state) == pytest.approx(1.2675, abs=1e-3)
    assert hass.states.get("sensor.tent_vpd_status").state == "in_range"

    hass.states.async_set(HUMIDITY, "90", PERCENT)
    await hass.async_block_till_done()
    assert float(hass.states.get("sensor.tent_air_vpd").state) == pytest.approx(0.3169, abs=1e-3)
    assert hass.states.get("sensor.tent_vpd_status").state == "too_low"

    hass.states.async_set(HUMIDITY, "20", PERCENT)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.tent_vpd_status").state == "too_high"

    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    for key in ("air_vpd", "leaf_vpd", "dew_point", "absolute_humidity", "vpd_status"):
        assert hass.states.get(f"sensor.tent_{key}").state == STATE_UNAVAILABLE


async def test_vpd_band_sensors_follow_the_targets_without_readings(hass: HomeAssistant) -> None:
    """The band of the current period and stage, there even while the sensors are not."""
    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    await _set_up(hass, zone_entry())
    vegetative = STAGE_TARGETS[GrowthStage.VEGETATIVE]
    low, high = (float(hass.states.get(f"sensor.tent_vpd_band_{e}").state) for e in ("low", "high"))
    assert (low, high) == pytest.approx(vegetative.vpd_band_kpa)
    assert hass.states.get("sensor.tent_leaf_vpd").state == STATE_UNAVAILABLE

    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.tent_day_vpd_target", ATTR_VALUE: 1.3},
        blocking=True,
    )
    half_width = (vegetative.vpd_high_kpa - vegetative.vpd_low_kpa) / 2
    assert float(hass.states.get("sensor.tent_vpd_band_low").state) == pytest.approx(
        1.3 - half_width
    )
    assert float(hass.states.get("sensor.tent_vpd_band_high").state) == pytest.approx(
        1.3 + half_width
    )


async def test_select_applies_stage_targets(hass: HomeAssistant) -> None:
    """Choosing a growth stage applies its literature targets to the numbers."""
    set_inputs(hass)
    await _set_up(hass, zone_entry())
    assert hass.states.get("select.tent_growth_stage").state == "vegetative"
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: "select.tent_growth_stage", ATTR_OPTION: "late_flower"},
        blocking=True,
    )
    late_flower = STAGE_TARGETS[GrowthStage.LATE_FLOWER]
    assert hass.states.get("select.tent_growth_stage").state == "late_flower"
    assert float(hass.states.get("number.tent_day_temperature_target").state) == (
        late_flower.day_temperature_c
    )
    assert float(hass.states.get("number.tent_night_vpd_target").state) == (
        late_flower.vpd_target_kpa
    )


async def test_number_sets_target(hass: HomeAssistant) -> None:
    """A target number changes the zone's target (and the VPD status with it)."""
    set_inputs(hass, "25.0", "60")
    entry = zone_entry()
    await _set_up(hass, entry)
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.tent_day_vpd_target", ATTR_VALUE: 0.6},
        blocking=True,
    )
    assert entry.runtime_data.zone.targets.day_vpd == 0.6
    assert hass.states.get("sensor.tent_vpd_status").state == "too_high"


async def test_zone_device_is_linked_to_node_device(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry
) -> None:
    """A zone from a node hangs below the node's MQTT device."""
    # The node's device belongs to HA's MQTT integration; any entry can hold it here.
    node_entry = MockConfigEntry(domain="test")
    node_entry.add_to_hass(hass)
    node_device = device_registry.async_get_or_create(
        config_entry_id=node_entry.entry_id,
        identifiers={("mqtt", "rala_tent-pi")},
        name="Tent Pi",
    )
    set_inputs(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Flower tent",
        unique_id="tent-pi_flower_tent",
        data={
            CONF_ZONE_NAME: "Flower tent",
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            CONF_NODE_ID: "tent-pi",
            CONF_NODE_DEVICE_IDENTIFIER: "rala_tent-pi",
        },
    )
    await _set_up(hass, entry)
    zone_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert zone_device is not None
    assert zone_device.name == "Flower tent"
    assert zone_device.via_device_id == node_device.id
