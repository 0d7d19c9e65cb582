"""The open-loop pulse figures of the benchmark report (bench/physics.py)."""

from __future__ import annotations

import copy

import pytest

from bench.physics import PEAK_WINDOW, SETTLE_SECONDS, pulse_effects
from bench.scenarios import MIN_CYCLE, SEED, TICK, scenario_named
from edge_agent.config import ActuatorKind
from edge_agent.sim import SimulatedTent


def test_a_lagging_heater_peaks_after_its_pulse_ends() -> None:
    """The small tent's tube heater (tau 240 s) keeps warming the air after switch-off."""
    scenario = scenario_named("small_led_dry_room")
    assert scenario.tent.heater_time_constant > MIN_CYCLE
    heater = next(e for e in pulse_effects(scenario) if e.actuator == "heater")
    assert heater.temperature_change > 0
    assert heater.temperature.peak > 1.5 * heater.temperature_change
    assert MIN_CYCLE < heater.temperature.peak_time <= MIN_CYCLE + PEAK_WINDOW
    assert heater.humidity.peak < heater.humidity_change < 0


def test_effects_are_against_the_same_tent_without_the_pulse() -> None:
    """The end-of-pulse figure equals a hand-run twin pair; the peak is never smaller."""
    scenario = scenario_named("cold_winter_room")
    tent = SimulatedTent(
        scenario.tent, seed=SEED, start_time_of_day=scenario.tent.lights_on_hour * 3600.0
    )
    lights = {ActuatorKind.LIGHT: True}
    tent.step(SETTLE_SECONDS, lights)
    pulsed, idle = copy.deepcopy(tent), copy.deepcopy(tent)
    for _ in range(round(MIN_CYCLE / TICK)):
        pulsed.step(TICK, {**lights, ActuatorKind.DEHUMIDIFIER: True})
        idle.step(TICK, lights)
    effects = {e.actuator: e for e in pulse_effects(scenario)}
    dehumidifier = effects["dehumidifier"]
    assert dehumidifier.temperature_change == pytest.approx(
        pulsed.air_temperature - idle.air_temperature, abs=1e-12
    )
    assert dehumidifier.humidity_change == pytest.approx(
        pulsed.relative_humidity - idle.relative_humidity, abs=1e-12
    )
    assert dehumidifier.vpd_change > 0
    for effect in effects.values():
        for deviation in (effect.temperature, effect.humidity, effect.vpd):
            assert abs(deviation.peak) >= abs(deviation.at_pulse_end)
            assert TICK <= deviation.peak_time <= MIN_CYCLE + PEAK_WINDOW
