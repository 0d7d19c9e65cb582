"""RALA Grow Climate: grow zones with VPD, targets and climate control."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

PLATFORMS: list[Platform] = []

type RalaConfigEntry = ConfigEntry[None]


async def async_setup_entry(hass: HomeAssistant, entry: RalaConfigEntry) -> bool:
    """Set up a grow zone from a config entry."""
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: RalaConfigEntry) -> bool:
    """Unload a grow zone."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
