"""Faults, Home Assistant side: Home Assistant restarted while its climate entity heats.

A real ``rala-edge simulate`` process, a real mosquitto, Home Assistant's real MQTT
integration, and a zone made by the node's discovery flow, whose climate entity keeps
the heater on (a target the tent cannot reach). Home Assistant's side is then stopped and
started again, again and again, as at a restart: the zone and the MQTT integration are
unloaded (HA's MQTT client disconnects, its entities go), then set up again from the
broker's retained discovery, the climate entity restoring its mode. A watcher on the
broker sees every command and every relay state: at no restart may the heater be told
off, or report off, and then on again (a blip that wears relays and heaters out).
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import Any

from homeassistant.components.climate import (
    ATTR_HVAC_MODE,
    DOMAIN as CLIMATE_DOMAIN,
    SERVICE_SET_HVAC_MODE,
    HVACMode,
)
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.rala.const import (
    CONF_HEATER,
    CONF_MIN_OFF_TIME,
    CONF_MIN_ON_TIME,
    DOMAIN,
    MAX_TARGET_TEMPERATURE,
)
from tests.edge_agent.agent_process import AgentProcess, simulate_args
from tests.edge_agent.mqtt_probe import probe
from tests.mosquitto import Mosquitto
from tests.reliability.figures import record, scaled

from .common import async_set_up_mqtt, create_zone_through_discovery, poll_until

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

NODE = "t-restarts"
HEATER_SET = f"rala/{NODE}/actuator/heater/set"
HEATER_STATE = f"rala/{NODE}/actuator/heater/state"
#: A reading every 0.5 s of real time (simulated 5 s at 10x); Home Assistant may be gone
#: for two real minutes before the node takes its link-loss states.
AGENT_OPTIONS = ("--interval", "5", "--link-loss-timeout", "1200")
SPEED = 10
#: Real seconds Home Assistant's side stays down, then controls before the next restart.
DOWN_S = 1.0
SETTLE_S = 4.0


def _climate_entity(hass: HomeAssistant, entry: ConfigEntry) -> str:
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    (climate,) = [item.entity_id for item in entities if item.domain == CLIMATE_DOMAIN]
    return climate


def _heating(hass: HomeAssistant, climate: str, heater: str) -> bool:
    climate_state, heater_state = hass.states.get(climate), hass.states.get(heater)
    return (
        climate_state is not None
        and climate_state.state == HVACMode.HEAT
        and climate_state.attributes.get("current_temperature") is not None
        and heater_state is not None
        and heater_state.state == STATE_ON
    )


async def test_a_restart_of_home_assistant_while_heating_never_blips_the_heater(
    hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    restarts = scaled(3, 10)
    args = simulate_args(mosquitto, tmp_path / "state", NODE, *AGENT_OPTIONS, speed=SPEED)
    started = time.monotonic()
    mqtt_entry = await async_set_up_mqtt(hass, mosquitto, tmp_path)
    agent = AgentProcess(args, tmp_path / "agent.log")
    try:
        with probe(mosquitto.host, mosquitto.port, [HEATER_SET, HEATER_STATE]) as watcher:
            entry = await create_zone_through_discovery(hass, f"{NODE}_simulated_tent")
            await hass.async_block_till_done()
            # Minimum times of seconds, not the default minute: the test is about the
            # restart, not about waiting out a minute of off time first.
            hass.config_entries.async_update_entry(
                entry, options={**entry.options, CONF_MIN_ON_TIME: 2.0, CONF_MIN_OFF_TIME: 2.0}
            )
            assert await hass.config_entries.async_reload(entry.entry_id)  # as its options flow
            await hass.async_block_till_done()
            climate, heater = _climate_entity(hass, entry), entry.options[CONF_HEATER]
            # Targets the tent cannot reach, day and night: the heater stays on.
            await hass.services.async_call(
                DOMAIN,
                "set_targets",
                {
                    "config_entry_id": entry.entry_id,
                    "day_temperature": MAX_TARGET_TEMPERATURE,
                    "night_temperature": MAX_TARGET_TEMPERATURE,
                },
                blocking=True,
            )
            await hass.services.async_call(
                CLIMATE_DOMAIN,
                SERVICE_SET_HVAC_MODE,
                {ATTR_ENTITY_ID: climate, ATTR_HVAC_MODE: HVACMode.HEAT},
                blocking=True,
            )
            await poll_until("the heater to go on", lambda: _heating(hass, climate, heater))

            blips: list[dict[str, Any]] = []
            for restart in range(restarts):
                mark = watcher.count
                # Home Assistant stops: its integrations unload, its MQTT client leaves.
                assert await hass.config_entries.async_unload(entry.entry_id)
                assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
                await hass.async_block_till_done()
                await hass.async_add_executor_job(time.sleep, DOWN_S)
                # ...and starts: MQTT first, then the zones that use it.
                assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
                assert await hass.config_entries.async_setup(entry.entry_id)
                await hass.async_block_till_done()
                assert entry.state is ConfigEntryState.LOADED
                await poll_until("control again", lambda: _heating(hass, climate, heater))
                await hass.async_add_executor_job(time.sleep, SETTLE_S)
                await hass.async_block_till_done()
                messages = watcher.messages[mark:]
                offs = [m for m in messages if "OFF" in m.text.upper()]
                if offs:
                    blips.append({"restart": restart, "messages": [m.topic for m in offs]})
                assert _heating(hass, climate, heater)
            commands = sum(message.topic == HEATER_SET for message in watcher.messages)
        assert await hass.async_add_executor_job(agent.terminate) == 0
    finally:
        agent.ensure_stopped()
    record(
        "ha-restart",
        restarts=restarts,
        actuator_changes=len(blips),
        heater_commands=commands,
        tracebacks=agent.log.count("Traceback"),
        duration_s=round(time.monotonic() - started, 1),
    )
    assert not blips, blips
    assert "Traceback" not in agent.log
