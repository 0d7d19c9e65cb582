"""End to end with real parts: edge agent process → mosquitto → HA's MQTT → a grow zone.

Nothing is mocked: ``rala-edge simulate`` runs as a real process against a real mosquitto
broker on 127.0.0.1, Home Assistant's own MQTT integration connects to it, HA's MQTT
device discovery creates the node's entities, the node announcement starts the RALA
config flow, and the zone's VPD sensor is checked against the readings HA receives.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
import signal
import sys

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.rala import psychrometrics
from custom_components.rala.const import (
    CONF_HEATER,
    CONF_HUMIDITY_ENTITY,
    CONF_NODE_ID,
    CONF_TEMPERATURE_ENTITY,
    DOMAIN,
)
from tests.mosquitto import Mosquitto

from .common import async_set_up_mqtt, create_zone_through_discovery, poll_until

NODE_ID = "e2e-tent"

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


@pytest.fixture
async def agent(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[None]:
    """``rala-edge simulate`` as a real process, 10 times faster than real time."""
    log = (tmp_path / "agent.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("rala-edge")),
        "simulate",
        "--broker",
        mosquitto.url,
        "--node-id",
        NODE_ID,
        "--interval",
        "5",
        "--speed",
        "10",
        "--announce-delay",
        "0",
        "--state-dir",
        str(tmp_path / "state"),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def test_vpd_follows_simulated_tent(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    agent: None,
    tmp_path: Path,
) -> None:
    """The node is discovered, a zone is created by the flow, VPD tracks the tent."""
    entity_registry, device_registry = er.async_get(hass), dr.async_get(hass)
    mqtt_entry = await async_set_up_mqtt(hass, mosquitto, tmp_path)
    zone_entry = await create_zone_through_discovery(hass, f"{NODE_ID}_simulated_tent")
    await hass.async_block_till_done()
    assert zone_entry.state is ConfigEntryState.LOADED
    assert zone_entry.data[CONF_NODE_ID] == NODE_ID
    temperature_id = zone_entry.data[CONF_TEMPERATURE_ENTITY]
    humidity_id = zone_entry.data[CONF_HUMIDITY_ENTITY]
    # Bound through the registry to the entities HA's MQTT discovery made for the node.
    for entity_id in (temperature_id, humidity_id, zone_entry.options[CONF_HEATER]):
        registry_entry = entity_registry.async_get(entity_id)
        assert registry_entry is not None
        assert registry_entry.platform == "mqtt"
    vpd_id = entity_registry.async_get_entity_id("sensor", DOMAIN, f"{zone_entry.entry_id}_air_vpd")
    assert vpd_id is not None
    # The zone's device hangs below the node's device that HA's MQTT discovery registered.
    node_device = device_registry.async_get_device_by_identifier(
        ("mqtt", f"rala_{NODE_ID}"), mqtt_entry.entry_id
    )
    zone_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, zone_entry.entry_id), zone_entry.entry_id
    )
    assert node_device is not None
    assert zone_device is not None
    assert zone_device.via_device_id == node_device.id

    def consistent_vpd() -> float | None:
        """The VPD state, if it shows the VPD of the temperature and humidity HA has now."""
        vpd, temperature, humidity = (
            hass.states.get(entity_id) for entity_id in (vpd_id, temperature_id, humidity_id)
        )
        try:
            value = float(vpd.state)  # type: ignore[union-attr]
            expected = psychrometrics.vpd_air(
                float(temperature.state),  # type: ignore[union-attr]
                float(humidity.state),  # type: ignore[union-attr]
            )
        except ValueError:
            return None  # a state is unknown/unavailable at this moment
        # Shown at its display precision: a change below it writes no new state.
        assert round(value, 2) == round(expected, 2)
        return value

    seen: set[float] = set()

    def distinct_values() -> bool:
        if (value := consistent_vpd()) is not None:
            seen.add(value)
        return len(seen) >= 5

    # The simulated tent drifts with every reading: the VPD must move with it, and always
    # show the VPD of the readings HA holds at that moment.
    await poll_until("the VPD to follow five readings of the tent", distinct_values)
    assert all(0.0 < value < 5.0 for value in seen)
