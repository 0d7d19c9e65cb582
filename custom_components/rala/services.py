"""Actions of the integration: set a zone's growth stage or its targets.

Registered once in ``async_setup`` (not per config entry), so that automations calling
them validate even while a zone is not loaded; the zone is named by its config entry.
Bad input raises a translated :class:`ServiceValidationError` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, service
import probatio

from .const import DOMAIN, TARGET_KEYS
from .grow_calendar import next_stage
from .growth_stages import GrowthStage
from .models import RalaConfigEntry
from .zone import GrowZone

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_STAGE = "stage"
ATTR_APPLY_TARGETS = "apply_targets"

SERVICE_SET_GROWTH_STAGE = "set_growth_stage"
SERVICE_SET_TARGETS = "set_targets"
SERVICE_ADVANCE_GROWTH_STAGE = "advance_growth_stage"

SET_GROWTH_STAGE_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        # Checked in the handler, so that a wrong stage gets a translated message.
        probatio.Required(ATTR_STAGE): cv.string,
        probatio.Optional(ATTR_APPLY_TARGETS, default=True): cv.boolean,
    }
)
ADVANCE_GROWTH_STAGE_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Optional(ATTR_APPLY_TARGETS, default=True): cv.boolean,
    }
)
SET_TARGETS_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        **{probatio.Optional(key): probatio.Coerce(float) for key in TARGET_KEYS},
    }
)


def apply_targets(zone: GrowZone, targets: Mapping[str, float]) -> None:
    """Set targets of a zone; a value the zone refuses becomes a translated error."""
    try:
        zone.async_set_targets(**targets)
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_targets",
            translation_placeholders={"error": str(err)},
        ) from err


def _zone_entry(hass: HomeAssistant, call: ServiceCall) -> RalaConfigEntry:
    """The loaded zone the call names (translated errors from Home Assistant otherwise)."""
    entry: RalaConfigEntry = service.async_get_config_entry(
        hass, DOMAIN, call.data[ATTR_CONFIG_ENTRY_ID]
    )
    return entry


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    async def async_set_growth_stage(call: ServiceCall) -> None:
        entry = _zone_entry(hass, call)
        stage = call.data[ATTR_STAGE]
        if stage not in GrowthStage:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_stage",
                translation_placeholders={
                    "stage": stage,
                    "stages": ", ".join(s.value for s in GrowthStage),
                },
            )
        entry.runtime_data.zone.async_set_growth_stage(
            GrowthStage(stage), apply_targets=call.data[ATTR_APPLY_TARGETS]
        )

    async def async_set_targets(call: ServiceCall) -> None:
        entry = _zone_entry(hass, call)
        targets = {key: call.data[key] for key in TARGET_KEYS if key in call.data}
        if not targets:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_targets",
                translation_placeholders={"targets": ", ".join(TARGET_KEYS)},
            )
        apply_targets(entry.runtime_data.zone, targets)

    async def async_advance_growth_stage(call: ServiceCall) -> None:
        zone = _zone_entry(hass, call).runtime_data.zone
        stage = next_stage(zone.growth_stage)
        if stage is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="last_stage",
                translation_placeholders={"stage": zone.growth_stage.value},
            )
        zone.async_set_growth_stage(stage, apply_targets=call.data[ATTR_APPLY_TARGETS])

    hass.services.async_register(
        DOMAIN,
        SERVICE_ADVANCE_GROWTH_STAGE,
        async_advance_growth_stage,
        ADVANCE_GROWTH_STAGE_SCHEMA,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_SET_GROWTH_STAGE, async_set_growth_stage, SET_GROWTH_STAGE_SCHEMA
    )
    hass.services.async_register(DOMAIN, SERVICE_SET_TARGETS, async_set_targets, SET_TARGETS_SCHEMA)
