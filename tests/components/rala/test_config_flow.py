"""The config flow of a grow zone."""

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.rala.const import CONF_HUMIDITY_ENTITY, CONF_TEMPERATURE_ENTITY, DOMAIN

ZONE_INPUT = {
    "name": "Flower tent",
    CONF_TEMPERATURE_ENTITY: "sensor.tent_temperature",
    CONF_HUMIDITY_ENTITY: "sensor.tent_humidity",
}


async def test_user_creates_a_zone_once(hass: HomeAssistant) -> None:
    """A zone is created from existing sensors; the same sensor cannot start a second zone."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], ZONE_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Flower tent"
    assert result["data"] == ZONE_INPUT

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], ZONE_INPUT)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
