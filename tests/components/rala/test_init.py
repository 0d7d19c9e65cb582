"""Setting up and unloading a grow zone."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.rala.const import CONF_HUMIDITY_ENTITY, CONF_TEMPERATURE_ENTITY, DOMAIN


async def test_entry_loads_and_unloads(hass: HomeAssistant) -> None:
    """A zone's config entry sets up and unloads cleanly."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Tent",
        data={
            "name": "Tent",
            CONF_TEMPERATURE_ENTITY: "sensor.tent_temperature",
            CONF_HUMIDITY_ENTITY: "sensor.tent_humidity",
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
