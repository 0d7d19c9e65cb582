"""Repair issues of a grow zone: they are raised and cleared by the zone's own state.

- ``node_offline_<entry>``: the inputs of a zone from an edge node have been unavailable
  for longer than :data:`.const.NODE_OFFLINE_REPAIR_AFTER` (the node's MQTT entities go
  unavailable with its availability topic). It names the node as its device is named.
- ``input_stale_<entry>``: an input entity was not written for longer than the zone's
  maximum input age. It names the sensor and the local time of its last report.
- ``entity_missing_<entry>``: an entity the zone is bound to (input or actuator) no longer
  exists in Home Assistant (checked once Home Assistant has started, and again whenever
  the entity registry changes).
- ``unsupported_schema_<node>``: raised by the config flow for an announcement of a
  schema major version the integration does not know; cleared by a supported one.

None of them has a fix flow: each clears itself when the cause is gone, and its
description says what to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.start import async_at_started
from homeassistant.util import dt as dt_util

from .const import DOMAIN, NODE_OFFLINE_REPAIR_AFTER
from .zone import GrowZone, Reading, UnavailableReason

ISSUE_NODE_OFFLINE = "node_offline"
ISSUE_INPUT_STALE = "input_stale"
ISSUE_ENTITY_MISSING = "entity_missing"
ISSUE_UNSUPPORTED_SCHEMA = "unsupported_schema"
ZONE_ISSUES = (ISSUE_NODE_OFFLINE, ISSUE_INPUT_STALE, ISSUE_ENTITY_MISSING)


def issue_id(issue: str, key: str) -> str:
    """The issue registry id of ``issue`` for a zone's entry id (or a node id)."""
    return f"{issue}_{key}"


@callback
def async_delete_zone_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Delete every issue of a zone."""
    for issue in ZONE_ISSUES:
        ir.async_delete_issue(hass, DOMAIN, issue_id(issue, entry_id))


@callback
def async_raise_unsupported_schema(hass: HomeAssistant, node_id: str, schema: int) -> None:
    """A node announced a schema this integration does not understand."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_UNSUPPORTED_SCHEMA, node_id),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_UNSUPPORTED_SCHEMA,
        translation_placeholders={"node": node_id, "schema": str(schema)},
    )


@callback
def async_clear_unsupported_schema(hass: HomeAssistant, node_id: str) -> None:
    """A node announced a schema this integration understands."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_UNSUPPORTED_SCHEMA, node_id))


def stale_input_placeholders(hass: HomeAssistant, zone: str, reading: Reading) -> dict[str, str]:
    """The placeholders of the ``input_stale`` issue: which sensor, and since when.

    The issue keeps its placeholders and shows them in every user's language, so they hold
    no words: the sensor's name, its entity id, and the time of its last report in Home
    Assistant's time zone, as ``14:05`` and ``2026-12-03`` (the translation says "since
    {time} on {date}" in its own words and order).
    """
    state = hass.states.get(reading.entity_id)
    since = dt_util.as_local(reading.updated)
    return {
        "zone": zone,
        "sensor": state.name if state is not None else reading.entity_id,
        "entity_id": reading.entity_id,
        "time": since.strftime("%H:%M"),
        "date": since.date().isoformat(),
    }


class ZoneIssueTracker:
    """Keeps the repair issues of one zone in step with the zone's state."""

    def __init__(self, hass: HomeAssistant, zone: GrowZone) -> None:
        """Track ``zone``; nothing happens before :meth:`async_start`."""
        self.hass = hass
        self.zone = zone
        self._entry_id = zone.entry.entry_id
        self._unsubscribers: list[CALLBACK_TYPE] = []
        self._cancel_offline_timer: CALLBACK_TYPE | None = None
        self._active: set[str] = set()
        self._started = False

    @callback
    def async_start(self) -> None:
        """Subscribe to the zone and the entity registry."""
        self._unsubscribers.append(self.zone.async_add_listener(self._async_zone_updated))
        self._unsubscribers.append(
            self.hass.bus.async_listen(
                er.EVENT_ENTITY_REGISTRY_UPDATED, self._async_registry_updated
            )
        )
        self._unsubscribers.append(async_at_started(self.hass, self._async_hass_started))
        if self.zone.node_id is not None:
            self._unsubscribers.append(
                self.hass.bus.async_listen(
                    dr.EVENT_DEVICE_REGISTRY_UPDATED, self._async_device_registry_updated
                )
            )
        self._async_zone_updated()

    @callback
    def async_stop(self) -> None:
        """Unsubscribe, cancel timers and delete the zone's issues (they need a loaded zone)."""
        while self._unsubscribers:
            self._unsubscribers.pop()()
        self._cancel_timer()
        async_delete_zone_issues(self.hass, self._entry_id)
        self._active.clear()

    # --- node offline and stale inputs --------------------------------------------------------

    @callback
    def _async_zone_updated(self) -> None:
        zone = self.zone
        stale = zone.stale_reading
        self._set_issue(
            ISSUE_INPUT_STALE,
            zone.unavailable_reason is UnavailableReason.INPUT_STALE and stale is not None,
            stale_input_placeholders(self.hass, zone.name, stale) if stale is not None else {},
        )
        if zone.node_id is None:
            return
        offline_since = (
            zone.unavailable_since
            if zone.unavailable_reason is UnavailableReason.INPUT_UNAVAILABLE
            else None
        )
        if offline_since is None:
            self._cancel_timer()
            self._set_issue(ISSUE_NODE_OFFLINE, False, {})
            return
        if ISSUE_NODE_OFFLINE in self._active or self._cancel_offline_timer is not None:
            return
        remaining = (offline_since + NODE_OFFLINE_REPAIR_AFTER - dt_util.utcnow()).total_seconds()
        self._cancel_offline_timer = async_call_later(
            self.hass, max(remaining, 0.0), self._async_offline_for_long
        )

    @callback
    def _async_offline_for_long(self, _now: datetime) -> None:
        self._cancel_offline_timer = None
        self._set_issue(
            ISSUE_NODE_OFFLINE,
            self.zone.unavailable_reason is UnavailableReason.INPUT_UNAVAILABLE,
            self._node_placeholders(),
        )

    @callback
    def _async_device_registry_updated(
        self, _event: Event[dr.EventDeviceRegistryUpdatedData]
    ) -> None:
        """The node's device may have been renamed: the offline issue names it anew."""
        if ISSUE_NODE_OFFLINE in self._active:
            self._set_issue(ISSUE_NODE_OFFLINE, True, self._node_placeholders())

    def _node_placeholders(self) -> dict[str, Any]:
        zone = self.zone
        return {"zone": zone.name, "node": zone.node_name or "", "node_id": zone.node_id or ""}

    @callback
    def _cancel_timer(self) -> None:
        if self._cancel_offline_timer is not None:
            self._cancel_offline_timer()
            self._cancel_offline_timer = None

    # --- missing entities ---------------------------------------------------------------------

    @callback
    def _async_hass_started(self, _hass: HomeAssistant) -> None:
        self._started = True
        self._check_missing_entities()

    @callback
    def _async_registry_updated(self, _event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        if self._started:
            self._check_missing_entities()

    @callback
    def _check_missing_entities(self) -> None:
        registry = er.async_get(self.hass)
        bound = [*self.zone.input_entity_ids, *self.zone.actuators.values()]
        missing = [
            entity_id
            for entity_id in bound
            if registry.async_get(entity_id) is None and self.hass.states.get(entity_id) is None
        ]
        self._set_issue(
            ISSUE_ENTITY_MISSING,
            bool(missing),
            {"zone": self.zone.name, "entities": ", ".join(missing)},
        )

    # --- issue registry -----------------------------------------------------------------------

    @callback
    def _set_issue(self, issue: str, active: bool, placeholders: dict[str, Any]) -> None:
        if active:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id(issue, self._entry_id),
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=issue,
                translation_placeholders=placeholders,
            )
            self._active.add(issue)
        elif issue in self._active:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(issue, self._entry_id))
            self._active.discard(issue)
