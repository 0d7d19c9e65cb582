"""Open-loop check: how far one minimum on-time of each actuator moves the simulated tent.

Pure (the simulator and psychrometrics only). If a single shortest allowed pulse already
carries the air through a whole band, no on/off controller with that minimum on time keeps it
in band, whatever its logic: this puts the closed-loop numbers in proportion.

An actuator with a start-up or warm-up lag (a tube heater, an oil-filled radiator, a
compressor dehumidifier) or a store it fills (the moisture buffer) keeps moving the air after
it is switched off, so the effect at the end of the pulse understates it. The largest effect
within :data:`PEAK_WINDOW` after the pulse is reported too. Every effect is the difference to
the same tent left without the pulse (same seed, same steps), so the tent's own drift over
those minutes (stomata opening, the room's daily cycle, its random weather) is not counted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from bench.scenarios import SEED, TICK, BenchScenario
from custom_components.rala.const import DEFAULT_LEAF_OFFSET
from custom_components.rala.psychrometrics import vpd_leaf
from edge_agent.config import ActuatorKind
from edge_agent.sim import SimulatedTent

SETTLE_SECONDS = 2 * 3600.0
"""Lights on, every other actuator off, for this long before the pulse."""

PEAK_WINDOW = 600.0
"""How long after the pulse's end the tent is followed for the largest effect, s."""


@dataclass(frozen=True, slots=True)
class Deviation:
    """The pulse's effect on one quantity: pulsed tent minus the tent left without it."""

    at_pulse_end: float
    peak: float
    """The effect of the largest magnitude, from switch-on to :data:`PEAK_WINDOW` after the end."""
    peak_time: float
    """When the peak occurred, seconds after switch-on."""


@dataclass(frozen=True, slots=True)
class PulseEffect:
    """The effect of one pulse of ``MIN_CYCLE`` seconds on the true air climate."""

    actuator: str
    start_temperature: float
    start_humidity: float
    temperature: Deviation
    humidity: Deviation
    vpd: Deviation

    @property
    def temperature_change(self) -> float:
        """Air temperature effect at the end of the pulse, K."""
        return self.temperature.at_pulse_end

    @property
    def humidity_change(self) -> float:
        """RH effect at the end of the pulse, % points."""
        return self.humidity.at_pulse_end

    @property
    def vpd_change(self) -> float:
        """Leaf VPD effect at the end of the pulse, kPa."""
        return self.vpd.at_pulse_end


def pulse_effects(scenario: BenchScenario) -> list[PulseEffect]:
    """One minimum on-time pulse (``scenario.min_cycle``) of each of the scenario's actuators.

    Each pulse starts from the same state: the tent after :data:`SETTLE_SECONDS` with only
    the lights on, from the scenario's lights-on time. The tent is sampled every
    :data:`~bench.scenarios.TICK` seconds until :data:`PEAK_WINDOW` after the pulse's end.
    """
    lights = {ActuatorKind.LIGHT: True}
    settled = SimulatedTent(
        scenario.tent, seed=SEED, start_time_of_day=scenario.tent.lights_on_hour * 3600.0
    )
    settled.step(SETTLE_SECONDS, lights)
    start_t, start_rh = settled.air_temperature, _clamped(settled.relative_humidity)
    ticks_on = round(scenario.min_cycle / TICK)
    ticks = ticks_on + round(PEAK_WINDOW / TICK)
    reference = copy.deepcopy(settled)
    baseline = []
    for _ in range(ticks):
        reference.step(TICK, lights)
        baseline.append(_climate(reference))
    effects = []
    for kind in scenario.actuators:
        tent = copy.deepcopy(settled)
        deviations = []
        for index in range(ticks):
            tent.step(TICK, {**lights, kind: index < ticks_on})
            deviations.append(
                tuple(now - then for now, then in zip(_climate(tent), baseline[index], strict=True))
            )
        temperature, humidity, vpd = (
            _deviation([row[column] for row in deviations], ticks_on) for column in range(3)
        )
        effects.append(
            PulseEffect(
                actuator=kind.value,
                start_temperature=start_t,
                start_humidity=start_rh,
                temperature=temperature,
                humidity=humidity,
                vpd=vpd,
            )
        )
    return effects


def _climate(tent: SimulatedTent) -> tuple[float, float, float]:
    """Air temperature (°C), RH (%) and leaf VPD (kPa) of the true air."""
    t, rh = tent.air_temperature, _clamped(tent.relative_humidity)
    return t, rh, vpd_leaf(t, rh, leaf_offset_c=DEFAULT_LEAF_OFFSET)


def _deviation(series: list[float], ticks_on: int) -> Deviation:
    """``series[i]``: the effect after ``i + 1`` ticks; the pulse ends after ``ticks_on``."""
    index = max(range(len(series)), key=lambda i: abs(series[i]))
    return Deviation(
        at_pulse_end=series[ticks_on - 1], peak=series[index], peak_time=(index + 1) * TICK
    )


def _clamped(rh: float) -> float:
    return min(max(rh, 0.0), 100.0)
