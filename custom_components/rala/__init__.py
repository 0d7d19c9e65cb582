"""RALA Grow Climate: grow zones with VPD, targets and climate control."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .blueprint_install import async_install_blueprints
from .const import DOMAIN
from .dashboard import async_setup_dashboard
from .grow_calendar import async_load_calendar, async_remove_calendar
from .history import async_remove_history, async_start_history
from .models import RalaConfigEntry, RalaRuntimeData
from .repairs import ZoneIssueTracker, async_delete_zone_issues
from .services import async_setup_services
from .zone import GrowZone

__all__ = ["PLATFORMS", "RalaConfigEntry"]

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.CLIMATE,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions, its dashboard and blueprints (once, for all zones)."""
    async_setup_services(hass)
    await async_setup_dashboard(hass)
    await async_install_blueprints(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: RalaConfigEntry) -> bool:
    """Set up a grow zone from a config entry."""
    zone = GrowZone(hass, entry)
    runtime = entry.runtime_data = RalaRuntimeData(
        zone=zone,
        issues=ZoneIssueTracker(hass, zone),
        calendar=await async_load_calendar(hass, entry.entry_id),
    )
    # Entities restore the growth stage and targets while they are added; the zone starts
    # tracking its inputs afterwards, so the first values are computed with them.
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    zone.async_start()
    entry.async_on_unload(zone.async_stop)
    entry.async_on_unload(runtime.calendar.async_start(zone))
    runtime.issues.async_start()
    entry.async_on_unload(runtime.issues.async_stop)
    if (history_config := zone.history_config()) is not None:
        # Readings the node buffered while offline, into the recorder's statistics.
        runtime.history = history = await async_start_history(hass, history_config)
        entry.async_on_unload(history.async_stop)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: RalaConfigEntry) -> bool:
    """Unload a grow zone; the zone's trackers and timers go with it."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: RalaConfigEntry) -> None:
    """Remove the repair issues and the stored backfill state of a deleted zone."""
    async_delete_zone_issues(hass, entry.entry_id)
    await async_remove_history(hass, entry.entry_id)
    await async_remove_calendar(hass, entry.entry_id)
