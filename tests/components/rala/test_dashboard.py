"""The dashboard: the strategy module served to the frontend, and ``rala/zones``."""

import hashlib
from typing import Any

from homeassistant.components.onboarding.const import STEPS
from homeassistant.config_entries import ConfigEntryDisabler
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.rala.const import (
    CONF_HEATER,
    CONF_LIGHT,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    DOMAIN,
)
from custom_components.rala.dashboard import STRATEGY_FILE, STRATEGY_URL
from custom_components.rala.growth_stages import GrowthStage

from .common import HUMIDITY, TEMPERATURE, set_inputs, zone_entry


async def _zones(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> list[dict[str, object]]:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "rala/zones"})
    response = await client.receive_json()
    assert response["success"], response
    zones: list[dict[str, object]] = response["result"]["zones"]
    return zones


async def test_zones_name_every_entity_by_its_part(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """Each zone's entities by description key, its inputs, actuators, VPD and band."""
    set_inputs(hass)
    entry = zone_entry(**{CONF_LIGHT: "light.lamp", CONF_HEATER: "switch.heater"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    [zone] = await _zones(hass, hass_ws_client)

    registry = er.async_get(hass)
    own = {
        registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(registry, entry.entry_id)
    }
    entities = zone["entities"]
    assert isinstance(entities, dict)
    assert set(entities.values()) == own
    assert entities["climate"] == "climate.tent"
    assert entities["leaf_vpd"] == "sensor.tent_leaf_vpd"
    assert entities["growth_stage"] == "select.tent_growth_stage"
    assert zone["name"] == "Tent"
    assert zone["entry_id"] == entry.entry_id
    assert zone["inputs"] == {
        "temperature": TEMPERATURE,
        "humidity": HUMIDITY,
        "leaf_temperature": None,
    }
    # In the integration's order of kinds, which the dashboard keeps.
    assert list(zone["actuators"].items()) == [("heater", "switch.heater"), ("light", "light.lamp")]
    assert zone["vpd_entity"] == "sensor.tent_leaf_vpd"
    low, high = entry.runtime_data.zone.vpd_band
    assert zone["vpd_band"] == [round(low, 2), round(high, 2)]
    assert zone["node"] is None


async def test_zones_follow_the_stage_and_leave_out_disabled_entities(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """While drying the targets are air VPD; a disabled entity is not offered to cards."""
    set_inputs(hass)
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entry.runtime_data.zone.async_set_growth_stage(GrowthStage.DRYING)
    er.async_get(hass).async_update_entity(
        "sensor.tent_dew_point", disabled_by=er.RegistryEntryDisabler.USER
    )

    [zone] = await _zones(hass, hass_ws_client)

    assert zone["vpd_entity"] == "sensor.tent_air_vpd"
    low, high = entry.runtime_data.zone.vpd_band
    assert zone["vpd_band"] == [round(low, 2), round(high, 2)]
    entities = zone["entities"]
    assert isinstance(entities, dict)
    assert "dew_point" not in entities


async def test_zones_name_the_node_and_its_health(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """A node zone names its node (as the grower named it) and the node's diagnostics."""
    mqtt_entry = MockConfigEntry(domain="mqtt")
    mqtt_entry.add_to_hass(hass)
    node = dr.async_get(hass).async_get_or_create(
        config_entry_id=mqtt_entry.entry_id,
        identifiers={("mqtt", "rala_tent-pi")},
        name="tent-pi",
    )
    dr.async_get(hass).async_update_device(node.id, name_by_user="Tent Pi")
    registry = er.async_get(hass)
    for unique_id, category in (
        ("rala_tent-pi_outbox_depth", EntityCategory.DIAGNOSTIC),
        ("rala_tent-pi_wifi_signal", EntityCategory.DIAGNOSTIC),
        ("rala_tent-pi_canopy_temperature", None),
    ):
        registry.async_get_or_create(
            "sensor",
            "mqtt",
            unique_id,
            config_entry=mqtt_entry,
            device_id=node.id,
            entity_category=category,
            suggested_object_id=unique_id,
        )
    set_inputs(hass)
    entry = zone_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_NODE_ID: "tent-pi",
            CONF_NODE_DEVICE_IDENTIFIER: "rala_tent-pi",
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    [zone] = await _zones(hass, hass_ws_client)

    assert zone["node"] == {
        "device_id": node.id,
        "name": "Tent Pi",
        "diagnostics": ["sensor.rala_tent_pi_outbox_depth", "sensor.rala_tent_pi_wifi_signal"],
    }


async def test_only_loaded_zones_in_name_order(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """Zones come sorted by name; one that is not loaded is left out."""
    set_inputs(hass)
    hass.states.async_set("sensor.veg_temperature", "24", {"unit_of_measurement": "°C"})
    hass.states.async_set("sensor.veg_humidity", "60", {"unit_of_measurement": "%"})
    tent = zone_entry()
    veg = MockConfigEntry(
        domain=DOMAIN,
        title="Bloom room",
        unique_id="zone_bloom",
        data={
            "name": "Bloom room",
            "temperature_entity": "sensor.veg_temperature",
            "humidity_entity": "sensor.veg_humidity",
        },
    )
    unloaded = MockConfigEntry(
        domain=DOMAIN,
        title="Attic",
        unique_id="zone_attic",
        data={},
        disabled_by=ConfigEntryDisabler.USER,
    )
    for entry in (tent, veg, unloaded):
        entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    zones = await _zones(hass, hass_ws_client)

    assert [zone["name"] for zone in zones] == ["Bloom room", "Tent"]


async def test_the_frontend_loads_the_strategy_module(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, hass_storage: dict[str, Any]
) -> None:
    """With a frontend, every page loads the module, whose URL changes with its content."""
    # An onboarded instance: before onboarding, the frontend serves only the onboarding page.
    hass_storage["onboarding"] = {"version": 4, "key": "onboarding", "data": {"done": STEPS}}
    assert await async_setup_component(hass, "frontend", {})
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    client = await hass_client()

    module = await client.get(STRATEGY_URL)
    assert module.status == 200
    assert await module.text() == STRATEGY_FILE.read_text(encoding="utf-8")

    page = await (await client.get("/")).text()
    digest = hashlib.sha256(STRATEGY_FILE.read_bytes()).hexdigest()[:12]
    assert f"{STRATEGY_URL}?v={digest}" in page


async def test_without_a_frontend_only_the_command_is_offered(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, hass_client: ClientSessionGenerator
) -> None:
    """A Home Assistant without a frontend serves no module, and the command still answers."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    assert await _zones(hass, hass_ws_client) == []
    client = await hass_client()
    assert (await client.get(STRATEGY_URL)).status == 404
