"""Base entity of a grow zone: one "Grow zone" device, updated by the zone's listener.

An entity writes its state only when what it shows changed: a zone notifies its listeners
on every snapshot, and a state write per entity per reading is database rows and SD-card
wear on a Raspberry Pi for values nobody can tell apart.
"""

from __future__ import annotations

from typing import override

from homeassistant.components.sensor import SensorEntityDescription
from homeassistant.core import callback
from homeassistant.helpers.entity import Entity, EntityDescription

from .unique_ids import zone_entity_unique_id
from .zone import GrowZone


def shown_value(value: object, description: SensorEntityDescription) -> object:
    """A sensor's value as its display precision shows it (what a new state must change)."""
    precision = description.suggested_display_precision
    if precision is None or not isinstance(value, float):
        return value
    return round(value, precision)


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

    _last_shown: tuple[object, ...] | None = None

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the zone."""
        await super().async_added_to_hass()
        if self._follows_zone:
            self.async_on_remove(self.zone.async_add_listener(self.async_write_if_shown_changed))

    @callback
    def async_write_if_shown_changed(self) -> None:
        """Write the state if what it shows is not what was written last."""
        if (shown := self._shown()) != self._last_shown:
            self._last_shown = shown
            self.async_write_ha_state()

    @callback
    def async_write_zone_state(self) -> None:
        """Write the state, remembering what it shows.

        An entity that also writes for reasons of its own writes through this, so that the
        next update of the zone compares with what was really written.
        """
        self._last_shown = self._shown()
        self.async_write_ha_state()

    def _shown(self) -> tuple[object, ...]:
        """What a state write would show; the zone's updates write only when it changed."""
        return (
            self.available,
            self.state,
            self.capability_attributes,
            self.state_attributes,
            self.extra_state_attributes,
        )
