"""Repair issues of a grow zone: raised by its state, cleared by themselves."""

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.rala.const import (
    CONF_HEATER,
    CONF_HUMIDITY_ENTITY,
    CONF_MAX_INPUT_AGE,
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


def _node_entry() -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Flower tent",
        unique_id="tent-pi_flower_tent",
        data={
            CONF_ZONE_NAME: "Flower tent",
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            CONF_NODE_ID: "tent-pi",
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
    assert issue.translation_placeholders == {"zone": "Flower tent", "node": "tent-pi"}

    set_inputs(hass)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


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
    """A stale input raises an issue for any zone; a fresh reading clears it."""
    set_inputs(hass)
    entry = zone_entry(**{CONF_MAX_INPUT_AGE: 60})
    await _set_up(hass, entry)
    issue_id = f"input_stale_{entry.entry_id}"
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert "sensor.tent_temperature not updated since" in issue.translation_placeholders["detail"]

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
