"""Repair issues of a grow zone: raised by its state, cleared by themselves."""

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.rala.const import (
    CONF_HEATER,
    CONF_HUMIDITY_ENTITY,
    CONF_MAX_INPUT_AGE,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)

from .common import CELSIUS, HUMIDITY, PERCENT, TEMPERATURE, set_inputs, zone_entry


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def _node_entry(**data: str) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Flower tent",
        unique_id="tent-pi_flower_tent",
        data={
            CONF_ZONE_NAME: "Flower tent",
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            CONF_NODE_ID: "tent-pi",
            **data,
        },
    )


async def test_node_offline_for_long(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, freezer: FrozenDateTimeFactory
) -> None:
    """A node's inputs unavailable for 15 minutes raise an issue; it clears when back."""
    set_inputs(hass)
    entry = _node_entry()
    await _set_up(hass, entry)
    issue_id = f"node_offline_{entry.entry_id}"

    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    hass.states.async_set(HUMIDITY, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=14))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    freezer.tick(timedelta(minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    # Without a device of the node (no MQTT discovery here), its id names it.
    assert issue.translation_placeholders == {
        "zone": "Flower tent",
        "node": "tent-pi",
        "node_id": "tent-pi",
    }

    set_inputs(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_node_offline_names_the_node_as_its_device(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The node's device name (the user's name for it first), and its id next to it."""
    node_entry = MockConfigEntry(domain="test")  # the MQTT integration's, in Home Assistant
    node_entry.add_to_hass(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=node_entry.entry_id, identifiers={("mqtt", "rala_tent-pi")}, name="Tent Pi"
    )
    set_inputs(hass)
    entry = _node_entry(**{CONF_NODE_DEVICE_IDENTIFIER: "rala_tent-pi"})
    await _set_up(hass, entry)
    issue_id = f"node_offline_{entry.entry_id}"
    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=16))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["node"] == "Tent Pi"
    assert issue.translation_placeholders["node_id"] == "tent-pi"

    # Renamed by the user while it is still offline: the issue follows.
    device_registry.async_update_device(device.id, name_by_user="Flower tent Pi")
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["node"] == "Flower tent Pi"


async def test_short_node_outage_raises_nothing(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, freezer: FrozenDateTimeFactory
) -> None:
    """A node back within the grace period leaves no issue and no timer."""
    set_inputs(hass)
    entry = _node_entry()
    await _set_up(hass, entry)
    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    hass.states.async_set(HUMIDITY, STATE_UNAVAILABLE)  # still offline: one timer only
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=5))
    set_inputs(hass)
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, f"node_offline_{entry.entry_id}") is None


async def test_stale_input_issue(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, freezer: FrozenDateTimeFactory
) -> None:
    """A stale input raises an issue for any zone; a fresh reading clears it.

    It names the sensor that went silent first and when it last reported, in Home
    Assistant's time zone.
    """
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to("2026-12-03 13:05:20+00:00")  # 14:05:20 in Berlin
    hass.states.async_set(TEMPERATURE, "25.0", {**CELSIUS, "friendly_name": "Tent temperature"})
    freezer.tick(timedelta(seconds=10))
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    entry = zone_entry(**{CONF_MAX_INPUT_AGE: 60})
    await _set_up(hass, entry)
    issue_id = f"input_stale_{entry.entry_id}"
    freezer.tick(timedelta(seconds=51))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {
        "zone": "Tent",
        "sensor": "Tent temperature",
        "entity_id": TEMPERATURE,
        "time": "14:05",
        "date": "2026-12-03",
    }

    set_inputs(hass, "25.5", "61")
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    # Unloading the zone removes its issues.
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_missing_entity_issue(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, entity_registry: er.EntityRegistry
) -> None:
    """A bound entity that does not exist raises an issue; it clears when it appears."""
    set_inputs(hass)
    entry = zone_entry(**{CONF_HEATER: "switch.heater"})
    await _set_up(hass, entry)
    issue_id = f"entity_missing_{entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"zone": "Tent", "entities": "switch.heater"}

    entity_registry.async_get_or_create("switch", "test", "heater", suggested_object_id="heater")
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    # Removing the entry removes whatever issue it still had.
    hass.states.async_set(TEMPERATURE, "25", CELSIUS)
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]


async def test_missing_entities_checked_only_once_started(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, entity_registry: er.EntityRegistry
) -> None:
    """While HA starts, entities of other integrations may not exist yet: no false alarm."""
    hass.set_state(CoreState.not_running)
    set_inputs(hass)
    entry = zone_entry(**{CONF_HEATER: "switch.heater"})
    await _set_up(hass, entry)
    issue_id = f"entity_missing_{entry.entry_id}"
    entity_registry.async_get_or_create("switch", "test", "fan", suggested_object_id="fan")
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    await hass.async_start()
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
