"""Typed config entry of a grow zone."""

from homeassistant.config_entries import ConfigEntry

from .zone import GrowZone

type RalaConfigEntry = ConfigEntry[GrowZone]
"""A grow zone's config entry; ``entry.runtime_data`` is its :class:`GrowZone`."""
