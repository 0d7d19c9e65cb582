"""The grower's dashboard: the strategy module the frontend loads, and what it reads.

The integration serves one plain ES module (``frontend/dashboard-strategy.js``) and asks
the frontend to load it on every page, so that ``custom:rala`` (a dashboard strategy)
and ``custom:rala-zone`` (a view strategy) exist and RALA is offered under *Add dashboard*.
The module builds its views from built-in cards only. What it needs to know about the
zones — which entity plays which part, which actuators are mapped, the node's health
entities — comes from one websocket command, ``rala/zones``, so that the module never
guesses entity ids or reads the zones' configuration itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http.server import StaticPathConfig
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import websocket_command
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
import probatio

from .const import DOMAIN
from .models import RalaConfigEntry
from .unique_ids import zone_entity_key

STRATEGY_FILE = Path(__file__).parent / "frontend" / "dashboard-strategy.js"
STRATEGY_URL = f"/{DOMAIN}/dashboard-strategy.js"
WS_TYPE_ZONES = f"{DOMAIN}/zones"


async def async_setup_dashboard(hass: HomeAssistant) -> None:
    """Offer the dashboard: the websocket command, and the module where a frontend runs."""
    async_register_command(hass, websocket_zones)
    if "frontend" not in hass.config.components:
        return  # a headless Home Assistant: nothing would load the module
    await hass.http.async_register_static_paths(
        [StaticPathConfig(STRATEGY_URL, str(STRATEGY_FILE), cache_headers=True)]
    )
    # Cached for a long time by browsers: the content hash in the URL makes an update load.
    digest = await hass.async_add_executor_job(_file_digest, STRATEGY_FILE)
    add_extra_js_url(hass, f"{STRATEGY_URL}?v={digest}")


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@websocket_command({probatio.Required("type"): WS_TYPE_ZONES})
@callback
def websocket_zones(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Describe every loaded grow zone, ordered by name."""
    entries: list[RalaConfigEntry] = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]
    zones = [zone_description(hass, entry) for entry in entries]
    zones.sort(key=lambda zone: str(zone["name"]).casefold())
    connection.send_result(msg["id"], {"zones": zones})


@callback
def zone_description(hass: HomeAssistant, entry: RalaConfigEntry) -> dict[str, Any]:
    """What the dashboard needs of one zone: its entities by part, and its node."""
    zone = entry.runtime_data.zone
    registry = er.async_get(hass)
    entities: dict[str, str] = {}
    for registry_entry in er.async_entries_for_config_entry(registry, entry.entry_id):
        key = zone_entity_key(entry.entry_id, registry_entry.unique_id)
        if key is not None and not registry_entry.disabled:
            entities[key] = registry_entry.entity_id
    low, high = zone.vpd_band
    return {
        "entry_id": entry.entry_id,
        "name": zone.name,
        "entities": entities,
        "inputs": {
            "temperature": zone.temperature_entity_id,
            "humidity": zone.humidity_entity_id,
            "leaf_temperature": zone.leaf_temperature_entity_id,
        },
        "actuators": dict(zone.actuators),
        # The VPD the targets refer to: leaf VPD for living plants, air VPD while drying.
        "vpd_entity": entities.get("leaf_vpd" if zone.vpd_is_leaf else "air_vpd"),
        "vpd_band": [round(low, 2), round(high, 2)],
        "node": _node_description(hass, zone.device_info.get("via_device_id")),
    }


@callback
def _node_description(hass: HomeAssistant, device_id: str | None) -> dict[str, Any] | None:
    """The zone's edge node: its name and its health (diagnostic) entities."""
    if device_id is None or (device := dr.async_get(hass).async_get(device_id)) is None:
        return None
    registry = er.async_get(hass)
    diagnostics = sorted(
        entry.entity_id
        for entry in er.async_entries_for_device(registry, device_id)
        if entry.entity_category is EntityCategory.DIAGNOSTIC and not entry.disabled
    )
    return {
        "device_id": device_id,
        "name": device.name_by_user or device.name,
        "diagnostics": diagnostics,
    }
