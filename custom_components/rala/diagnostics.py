"""Diagnostics of a grow zone: its configuration and live state, secrets and location redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import (
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant

from .config_flow import REJECTED_ANNOUNCEMENTS
from .models import RalaConfigEntry

# Nothing the zone stores is secret today; these keys are redacted wherever they turn up
# (also in the attributes of the input entities), so that a later addition cannot leak.
TO_REDACT = {
    CONF_LATITUDE,
    CONF_LONGITUDE,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
    "gps_accuracy",
    "location",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: RalaConfigEntry
) -> dict[str, Any]:
    """The zone's configuration, readings, derived values, targets and input states."""
    zone = entry.runtime_data.zone
    inputs = {}
    for entity_id in [*zone.input_entity_ids, *zone.actuators.values()]:
        state = hass.states.get(entity_id)
        inputs[entity_id] = (
            None
            if state is None
            else {
                "state": state.state,
                "attributes": dict(state.attributes),
                "last_reported": state.last_reported.isoformat(),
            }
        )
    sections: dict[str, Any] = {}
    if zone.node_id is not None:
        # Refused for a number out of range, bad JSON, a wrong field (docs/protocol.md).
        rejected = hass.data.get(REJECTED_ANNOUNCEMENTS, {}).get(zone.node_id, 0)
        sections["announcements"] = {"rejected_announcements": rejected}
    if (history := entry.runtime_data.history) is not None:
        # Only zones of a RALA node backfill their readings; its counters say what of
        # the node's readings was used and what was refused, and why.
        sections["backfill"] = history.as_dict()
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "zone": {
                "available": zone.available,
                "unavailable_reason": zone.unavailable_reason,
                "unavailable_detail": zone.unavailable_detail,
                "max_input_age_seconds": zone.max_input_age.total_seconds(),
                "readings": asdict(zone.readings),
                "derived": asdict(zone.derived) if zone.derived else None,
                "vpd_status": zone.vpd_status,
                "growth_stage": zone.growth_stage,
                "targets": asdict(zone.targets),
                "is_day": zone.is_day,
                "vpd_band": zone.vpd_band,
                "listeners": zone.listener_count,
            },
            "entities": inputs,
            **sections,
        },
        TO_REDACT,
    )
