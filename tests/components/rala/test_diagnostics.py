"""Diagnostics of a grow zone."""

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.rala.const import CONF_HEATER

from .common import CELSIUS, HUMIDITY, PERCENT, TEMPERATURE, zone_entry


async def test_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, snapshot: SnapshotAssertion
) -> None:
    """Configuration and live state, with location-like attributes redacted."""
    hass.states.async_set(TEMPERATURE, "25.0", {**CELSIUS, "latitude": 52.1, "longitude": 5.1})
    hass.states.async_set(HUMIDITY, "60", PERCENT)
    entry = zone_entry(**{CONF_HEATER: "switch.heater"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    attributes = diagnostics["entities"][TEMPERATURE]["attributes"]
    assert attributes["latitude"] == "**REDACTED**"
    assert attributes["longitude"] == "**REDACTED**"
    assert diagnostics["entities"]["switch.heater"] is None
    # How many entities listen depends on the platforms; that there are some is what counts.
    assert diagnostics["zone"]["listeners"] > 0
    assert diagnostics == snapshot(exclude=props("updated", "last_reported", "listeners"))
