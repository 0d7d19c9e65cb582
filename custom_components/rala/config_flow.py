"""Config flow of the RALA integration: one config entry per grow zone."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.helpers import selector
import probatio

from .const import CONF_HUMIDITY_ENTITY, CONF_TEMPERATURE_ENTITY, DOMAIN


class RalaConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create a grow zone."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create a zone from temperature and humidity entities the grower already has."""
        if user_input is not None:
            await self.async_set_unique_id(user_input[CONF_TEMPERATURE_ENTITY])
            self._abort_if_unique_id_configured()
            return self.async_create_entry(title=user_input[CONF_NAME], data=user_input)
        schema = probatio.Schema(
            {
                probatio.Required(CONF_NAME): selector.TextSelector(),
                probatio.Required(CONF_TEMPERATURE_ENTITY): selector.EntitySelector(
                    selector.EntitySelectorConfig(
                        domain="sensor", device_class=SensorDeviceClass.TEMPERATURE
                    )
                ),
                probatio.Required(CONF_HUMIDITY_ENTITY): selector.EntitySelector(
                    selector.EntitySelectorConfig(
                        domain="sensor", device_class=SensorDeviceClass.HUMIDITY
                    )
                ),
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema)
