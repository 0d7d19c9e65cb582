"""Grow condition of automations: a zone is in its band.

"In band" is the zone's own ``vpd_status`` (in range); a zone that is not loaded or
whose readings are unavailable is not in band.
"""

from __future__ import annotations

from typing import Unpack, cast, override

from homeassistant.const import CONF_OPTIONS
from homeassistant.core import HomeAssistant
from homeassistant.helpers.condition import Condition, ConditionCheckParams, ConditionConfig
from homeassistant.helpers.typing import ConfigType
import probatio

from .zone import VpdStatus
from .zone_follower import CONF_ZONE, loaded_zone, validate_zone


class InBandCondition(Condition):
    """True while the zone's VPD is in its band."""

    @override
    @classmethod
    async def async_validate_config(cls, hass: HomeAssistant, config: ConfigType) -> ConfigType:
        """The zone must be a RALA grow zone; unknown options are refused."""
        schema = probatio.Schema(
            {
                probatio.Required(CONF_OPTIONS): {
                    probatio.Required(CONF_ZONE): lambda value: validate_zone(hass, value)
                }
            }
        )
        return cast(ConfigType, schema(config))

    def __init__(self, hass: HomeAssistant, config: ConditionConfig) -> None:
        """Remember the zone."""
        super().__init__(hass, config)
        self._entry_id: str = (config.options or {})[CONF_ZONE]

    @override
    def _async_check(self, **kwargs: Unpack[ConditionCheckParams]) -> bool:
        zone = loaded_zone(self._hass, self._entry_id)
        return zone is not None and zone.vpd_status is VpdStatus.IN_RANGE


CONDITIONS: dict[str, type[Condition]] = {"in_band": InBandCondition}


async def async_get_conditions(hass: HomeAssistant) -> dict[str, type[Condition]]:
    """The grow conditions of RALA."""
    return CONDITIONS
