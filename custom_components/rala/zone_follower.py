"""Follow one grow zone by its config entry, across reloads and restarts.

Triggers and conditions of automations name a zone by its config entry id and outlive
the zone object: an automation is set up before the zone loads, and a reload of the
zone (an options change) makes a new :class:`.zone.GrowZone`. A follower hands its
callback the zone each time it changes while the entry is loaded, and nothing while it
is not, so automations never read a stopped zone.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
import probatio

from .const import DOMAIN
from .models import RalaConfigEntry
from .zone import GrowZone

CONF_ZONE = "zone"
"""The option naming a zone in RALA's triggers and conditions: its config entry id."""


def loaded_zone(hass: HomeAssistant, entry_id: str) -> GrowZone | None:
    """The zone of a RALA config entry while it is loaded, else ``None``."""
    entry: RalaConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry.runtime_data.zone


def validate_zone(hass: HomeAssistant, entry_id: object) -> str:
    """The entry id of a RALA grow zone, or :class:`probatio.Invalid` saying why not."""
    if not isinstance(entry_id, str):
        raise probatio.Invalid(f"A grow zone is named by its config entry id, not {entry_id!r}")
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise probatio.Invalid(f"{entry_id!r} is not the config entry of a RALA grow zone")
    return entry_id


class ZoneFollower:
    """Calls ``on_change(zone)`` after every change of a loaded zone."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, on_change: Callable[[GrowZone], None]
    ) -> None:
        """Nothing is followed before :meth:`async_start`."""
        self._hass = hass
        self._entry_id = entry_id
        self._on_change = on_change
        self._on_loaded: Callable[[GrowZone], None] = lambda _zone: None
        self._unsubscribes: list[CALLBACK_TYPE] = []
        self._remove_zone_listener: CALLBACK_TYPE | None = None

    @callback
    def async_start(self, on_loaded: Callable[[GrowZone], None]) -> CALLBACK_TYPE:
        """Follow the zone; ``on_loaded`` gets each newly loaded zone first (a baseline)."""
        self._on_loaded = on_loaded
        if (entry := self._hass.config_entries.async_get_entry(self._entry_id)) is not None:
            self._unsubscribes.append(entry.async_on_state_change(self._entry_state_changed))
        self._entry_state_changed()
        return self._async_stop

    @callback
    def _entry_state_changed(self) -> None:
        zone = loaded_zone(self._hass, self._entry_id)
        if zone is None:
            self._stop_listening()
            return
        if self._remove_zone_listener is None:
            self._on_loaded(zone)
            self._remove_zone_listener = zone.async_add_listener(lambda: self._on_change(zone))

    @callback
    def _stop_listening(self) -> None:
        if self._remove_zone_listener is not None:
            self._remove_zone_listener()
            self._remove_zone_listener = None

    @callback
    def _async_stop(self) -> None:
        self._stop_listening()
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
