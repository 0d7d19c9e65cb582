"""The integration uses no API that Home Assistant reports as deprecated.

Home Assistant reports deprecated use in two ways: when a module is imported (deprecated
constants, and entity classes that still provide renamed members: the climate
temperatures of 2026.11) and at run time, through ``report_usage`` (the device registry's
``config_entries``, for example), which logs "Detected that custom integration 'rala'
... deprecated ...". Both are caught here, on the Home Assistant the tests run on.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
import sys

from homeassistant.components.climate.const import (
    DOMAIN as CLIMATE_DOMAIN,
    SERVICE_SET_HVAC_MODE,
    SERVICE_SET_TEMPERATURE,
    HVACMode,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.rala.const import (
    CONF_HEATER,
    CONF_HUMIDITY_ENTITY,
    CONF_NODE_DEVICE_IDENTIFIER,
    CONF_NODE_ID,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)

from .common import HUMIDITY, TEMPERATURE, set_inputs

INTEGRATION = Path(__file__).parents[3] / "custom_components" / "rala"


def _deprecations(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and "deprecated" in record.getMessage().lower()
    ]


@pytest.mark.parametrize("module", sorted(path.stem for path in INTEGRATION.glob("*.py")))
def test_importing_a_module_reports_no_deprecation(
    module: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh copy of each module, as at a start: its classes are created again."""
    name = "custom_components.rala" if module == "__init__" else f"custom_components.rala.{module}"
    spec = importlib.util.find_spec(name)
    assert spec is not None
    assert spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while they are created; the original comes back after.
    monkeypatch.setitem(sys.modules, name, fresh)
    with caplog.at_level(logging.WARNING):
        spec.loader.exec_module(fresh)
    assert _deprecations(caplog) == []


async def test_a_node_zone_with_climate_reports_no_deprecation(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """Set-up, the node's device link, decisions and commands: nothing deprecated is used."""
    caplog.set_level(logging.WARNING)
    # The node's device belongs to HA's MQTT integration; any entry can hold it here.
    node_entry = MockConfigEntry(domain="test")
    node_entry.add_to_hass(hass)
    node_device = device_registry.async_get_or_create(
        config_entry_id=node_entry.entry_id, identifiers={("mqtt", "rala_tent-pi")}, name="Tent Pi"
    )
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"heater": {}}})
    set_inputs(hass, "20.0", "50")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Tent",
        unique_id="tent-pi_tent",
        data={
            CONF_ZONE_NAME: "Tent",
            CONF_TEMPERATURE_ENTITY: TEMPERATURE,
            CONF_HUMIDITY_ENTITY: HUMIDITY,
            CONF_NODE_ID: "tent-pi",
            CONF_NODE_DEVICE_IDENTIFIER: "rala_tent-pi",
        },
        options={CONF_HEATER: "input_boolean.heater"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for service, data in (
        (SERVICE_SET_HVAC_MODE, {"hvac_mode": HVACMode.HEAT}),
        (SERVICE_SET_TEMPERATURE, {"temperature": 24.0}),
    ):
        await hass.services.async_call(
            CLIMATE_DOMAIN, service, {ATTR_ENTITY_ID: "climate.tent", **data}, blocking=True
        )
    await hass.async_block_till_done()

    zone_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert zone_device is not None
    assert zone_device.via_device_id == node_device.id
    state = hass.states.get("climate.tent")
    assert state is not None
    assert state.attributes["current_temperature"] == 20.0
    assert state.attributes["temperature"] == 24.0
    assert _deprecations(caplog) == []
