"""Constants of the RALA integration."""

from typing import Final

DOMAIN: Final = "rala"

CONF_TEMPERATURE_ENTITY: Final = "temperature_entity"
CONF_HUMIDITY_ENTITY: Final = "humidity_entity"
