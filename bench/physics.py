"""Open-loop check: how far one minimum on-time of each actuator moves the simulated tent.

Pure (the simulator and psychrometrics only). If a single shortest allowed pulse already
carries the air through a whole band, no on/off controller with that minimum on time keeps it
in band, whatever its logic: this puts the closed-loop numbers in proportion.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.scenarios import LEAF_OFFSET, MIN_CYCLE, SEED, BenchScenario
from custom_components.rala.psychrometrics import vpd_leaf
from edge_agent.config import ActuatorKind
from edge_agent.sim import SimulatedTent

SETTLE_SECONDS = 2 * 3600.0
"""Lights on, every other actuator off, for this long before the pulse."""


@dataclass(frozen=True, slots=True)
class PulseEffect:
    """The change of the true air climate over one pulse of ``MIN_CYCLE`` seconds."""

    actuator: str
    start_temperature: float
    start_humidity: float
    temperature_change: float
    humidity_change: float
    vpd_change: float


def pulse_effects(scenario: BenchScenario) -> list[PulseEffect]:
    """One :data:`~bench.scenarios.MIN_CYCLE` pulse of each of the scenario's actuators.

    Each pulse starts from the same state: the tent after :data:`SETTLE_SECONDS` with only
    the lights on, from the scenario's lights-on time.
    """
    effects = []
    lights = {ActuatorKind.LIGHT: True}
    for kind in scenario.actuators:
        tent = SimulatedTent(
            scenario.tent, seed=SEED, start_time_of_day=scenario.tent.lights_on_hour * 3600.0
        )
        tent.step(SETTLE_SECONDS, lights)
        t0, rh0 = tent.air_temperature, _clamped(tent.relative_humidity)
        vpd0 = vpd_leaf(t0, rh0, leaf_offset_c=LEAF_OFFSET)
        tent.step(MIN_CYCLE, {**lights, kind: True})
        t1, rh1 = tent.air_temperature, _clamped(tent.relative_humidity)
        effects.append(
            PulseEffect(
                actuator=kind.value,
                start_temperature=t0,
                start_humidity=rh0,
                temperature_change=t1 - t0,
                humidity_change=rh1 - rh0,
                vpd_change=vpd_leaf(t1, rh1, leaf_offset_c=LEAF_OFFSET) - vpd0,
            )
        )
    return effects


def _clamped(rh: float) -> float:
    return min(max(rh, 0.0), 100.0)
