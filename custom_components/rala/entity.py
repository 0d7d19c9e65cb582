"""Base entity of a grow zone: one "Grow zone" device, updated by the zone's listener."""

from __future__ import annotations

from typing import override

from homeassistant.helpers.entity import Entity, EntityDescription

from .unique_ids import zone_entity_key, zone_entity_unique_id
from .zone import GrowZone

# The unique-id helpers are imported from here by the platforms, next to the base entity.
__all__ = ["GrowZoneEntity", "zone_entity_key", "zone_entity_unique_id"]


class GrowZoneEntity(Entity):
    """An entity of a grow zone; it writes its state whenever the zone changes."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # Entities whose state does not come from the zone (a node's link) set this to False.
    _follows_zone = True

    def __init__(self, zone: GrowZone, description: EntityDescription) -> None:
        """Describe the entity and attach it to the zone's device."""
        self.zone = zone
        self.entity_description = description
        self._attr_unique_id = zone_entity_unique_id(zone.entry.entry_id, description.key)
        self._attr_device_info = zone.device_info

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the zone."""
        await super().async_added_to_hass()
        if self._follows_zone:
            self.async_on_remove(self.zone.async_add_listener(self.async_write_ha_state))
