"""Smoke test of the closed-loop benchmark harness (bench/): one simulated hour.

Proves the wiring the benchmark relies on, not its numbers: the sensor states written from
each tent reach the controllers, each controller switches its heater on through Home
Assistant, the tent obeys (it warms far above the cold room), RALA's climate entity runs in
auto with the scenario's preset, and both sides are scored over the same hour.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

from dataclasses import replace
from datetime import datetime
from itertools import pairwise

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
import pytest

from bench.harness import async_run_scenario
from bench.rala_side import RalaClimateSide, RalaEngineSide
from bench.scenarios import scenario_named

HEATERS = ("input_boolean.generic_heater", "input_boolean.rala_heater")


async def test_one_simulated_hour_in_the_cold_room(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, enable_custom_integrations: None
) -> None:
    """Both controllers heat their own tent from the 10 °C night room, through Home Assistant."""
    scenario = scenario_named("cold_winter_room")
    switched_on: list[str] = []

    @callback
    def heater_changed(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is not None and new is not None and (old.state, new.state) == (STATE_OFF, STATE_ON):
            switched_on.append(event.data["entity_id"])

    async_track_state_change_event(hass, list(HEATERS), heater_changed)

    result = await async_run_scenario(
        hass, freezer, scenario, [("rala", RalaClimateSide)], warm_up_hours=0, scored_hours=1
    )

    assert set(switched_on) == set(HEATERS)
    generic, rala = result.results
    assert generic.controller == "generic_thermostat + generic_hygrostat"
    assert rala.controller == "RALA (climate entity)"
    room = scenario.tent.room_temperature_mean - scenario.tent.room_temperature_amplitude
    for controller in result.results:
        assert controller.hours == pytest.approx(1.0)
        assert controller.energy_wh["heater"] > 0
        # The room is about 10 °C at midnight: only a heater that obeys its controller
        # gets the tent this far above it.
        assert controller.temperature_range[1] > room + 5.0
        assert controller.energy_wh["light"] == 0  # 18/6 from 06:00: dark all hour
    climate = hass.states.get("climate.rala_tent")
    assert climate is not None
    assert climate.state == "auto"
    assert climate.attributes["preset_mode"] == "vegetative"
    thermostat = hass.states.get("climate.generic_heater")
    assert thermostat is not None
    assert thermostat.attributes["temperature"] == scenario.target_temperature(is_day=False)


async def test_a_longer_minimum_cycle_holds_on_every_side(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, enable_custom_integrations: None
) -> None:
    """``--min-cycle``: no climate actuator of any side switches again sooner than that."""
    scenario = replace(scenario_named("cold_winter_room"), min_cycle=600.0)
    sides = (("rala", RalaClimateSide), ("engine", RalaEngineSide))
    switches = [
        f"input_boolean.{prefix}_{kind.value}"
        for prefix in ("generic", *(prefix for prefix, _factory in sides))
        for kind in scenario.actuators
    ]
    changes: dict[str, list[datetime]] = {}

    @callback
    def switched(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is not None and new is not None and old.state != new.state:
            changes.setdefault(event.data["entity_id"], []).append(new.last_changed)

    async_track_state_change_event(hass, switches, switched)

    await async_run_scenario(hass, freezer, scenario, sides, warm_up_hours=0, scored_hours=2)

    heaters = {f"input_boolean.{prefix}_heater" for prefix in ("generic", "rala", "engine")}
    # Each heater starts, stops and starts again in two hours from the cold night room.
    assert all(len(changes.get(heater, ())) >= 2 for heater in heaters)
    for entity_id, times in changes.items():
        gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
        assert all(gap >= scenario.min_cycle for gap in gaps), (entity_id, gaps)
    options = hass.config_entries.async_entries("rala")[0].options
    assert (options["min_on_time"], options["min_off_time"]) == (600.0, 600.0)
