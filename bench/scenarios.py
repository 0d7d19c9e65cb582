"""What the closed-loop benchmark runs: scenarios, targets and the grower's settings.

Pure data and arithmetic, no Home Assistant imports. Both controllers of a scenario get the
same tent (same preset, same seed), the same actuators, the same light schedule, the same
targets and the same relay protection (minimum on/off time); only the control differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from custom_components.rala.const import (
    ACTUATOR_MIN_ON,
    DEFAULT_LEAF_OFFSET,
)
from custom_components.rala.growth_stages import STAGE_TARGETS, GrowthStage, StageTargets
from custom_components.rala.psychrometrics import relative_humidity_for_vpd
from edge_agent.config import ActuatorKind
from edge_agent.sim import SCENARIOS, TentParameters

SAMPLE_INTERVAL: Final = 30.0
"""Seconds between two sensor readings (the edge agent's default ``sample_interval``)."""

TICK: Final = 5.0
"""Seconds of simulated time per harness step (actuator changes take effect at step ends)."""


MIN_CYCLE: Final = ACTUATOR_MIN_ON
"""Default minimum on and off time of every climate actuator, all controllers (relay protection), s.

A zone's default minimum on and off time (``BenchScenario.min_cycle`` overrides it for a
run); on the generic side the ``min_cycle_duration``. Longer times make it worse: in the
small tent one such pulse of the 0.1 kg/h humidifier raises the RH by about 8 % and one of
the dehumidifier lowers it by about 10 % (mostly through its heat, its removal still
starting up), against a VPD band some 12 % RH wide at 26 °C; the substrate's moisture
buffer takes only a few % of a pulse. The open-loop figures of the report
(``bench/physics.py``) give these numbers per scenario.
"""

THERMOSTAT_TOLERANCE: Final = 0.3
"""generic_thermostat cold and hot tolerance (its default), °C."""

HYGROSTAT_TOLERANCE: Final = 3.0
"""generic_hygrostat dry/wet tolerance (its default), % RH; see :class:`GenericSettings`."""

COOLING_OFFSET: Final = 1.0
"""The cooler's and the exhaust fan's thermostats (ac_mode) aim this many °C above the heater's.

With the heater's target they would hand the air to each other at every cycle.
"""

SEED: Final = 1
"""Default seed of the simulated tents (weather and sensor noise); all sides use the same."""

START_TIME_OF_DAY: Final = 0.0
"""The tents start at midnight, at room conditions."""

WARM_UP_HOURS: Final = 6.0
"""Simulated hours run before scoring starts (the tent settles from room conditions)."""

SCORED_HOURS: Final = 24.0
"""Simulated hours scored."""

CLIMATE_KINDS: Final = (
    ActuatorKind.HEATER,
    ActuatorKind.COOLER,
    ActuatorKind.HUMIDIFIER,
    ActuatorKind.DEHUMIDIFIER,
    ActuatorKind.EXHAUST_FAN,
)
"""Actuators a controller switches (the light follows its schedule, the same on both sides)."""


@dataclass(frozen=True, slots=True)
class BenchScenario:
    """One scenario: a preset tent, a growth stage and the climate actuators it has."""

    name: str
    """Key of :data:`edge_agent.sim.SCENARIOS`."""
    stage: GrowthStage
    actuators: tuple[ActuatorKind, ...]
    """Climate actuators mapped on both sides, in :data:`CLIMATE_KINDS` order."""
    summary: str
    min_cycle: float = MIN_CYCLE
    """Minimum on and off time of every climate actuator on every side, s (``--min-cycle``)."""

    @property
    def tent(self) -> TentParameters:
        """The simulated tent's parameters (light schedule included)."""
        return SCENARIOS[self.name]

    @property
    def targets(self) -> StageTargets:
        """The growth stage's default targets."""
        return STAGE_TARGETS[self.stage]

    def target_temperature(self, *, is_day: bool) -> float:
        """Target air temperature of the day or the night, °C."""
        targets = self.targets
        return targets.day_temperature_c if is_day else targets.night_temperature_c

    def target_humidity(self, *, is_day: bool) -> float:
        """The RH giving the mid-band leaf VPD at the period's target temperature, %.

        What a grower enters as the generic_hygrostat target (rounded to 0.1 %).
        """
        rh = relative_humidity_for_vpd(
            self.targets.vpd_target_kpa,
            self.target_temperature(is_day=is_day),
            leaf_offset_c=DEFAULT_LEAF_OFFSET,
        )
        return round(rh, 1)

    def is_day(self, time_of_day: float) -> bool:
        """Whether the scenario's light schedule has the lights on (seconds after midnight)."""
        return self.tent.light_scheduled_on(time_of_day)


BENCH_SCENARIOS: Final = (
    BenchScenario(
        name="small_led_dry_room",
        stage=GrowthStage.VEGETATIVE,
        actuators=(ActuatorKind.HEATER, ActuatorKind.HUMIDIFIER, ActuatorKind.DEHUMIDIFIER),
        summary="small LED tent, 18/6, dry room (21 ± 2 °C, 30 % RH), vegetative",
    ),
    BenchScenario(
        name="flower_tent_humid_room",
        stage=GrowthStage.EARLY_FLOWER,
        actuators=(
            ActuatorKind.HEATER,
            ActuatorKind.COOLER,
            ActuatorKind.HUMIDIFIER,
            ActuatorKind.DEHUMIDIFIER,
            ActuatorKind.EXHAUST_FAN,
        ),
        # The preset's exhaust fan and dehumidifier, plus a cooler: the 20 °C night target is
        # below the room's 21.5-24.5 °C, out of reach of heater, exhaust and dehumidifier.
        summary="400 W flower tent, 12/12, humid room (23 ± 1.5 °C, 70 % RH), early flower",
    ),
    BenchScenario(
        name="cold_winter_room",
        stage=GrowthStage.VEGETATIVE,
        actuators=(ActuatorKind.HEATER, ActuatorKind.HUMIDIFIER, ActuatorKind.DEHUMIDIFIER),
        summary="tent in an unheated winter room (13 ± 3 °C, 55 % RH), 18/6, vegetative",
    ),
)
"""The three scenarios of the issue, in report order."""


def scenario_named(name: str) -> BenchScenario:
    """The bench scenario called ``name``; :class:`KeyError` names the known ones."""
    for scenario in BENCH_SCENARIOS:
        if scenario.name == name:
            return scenario
    known = ", ".join(s.name for s in BENCH_SCENARIOS)
    raise KeyError(f"unknown scenario {name!r}; known: {known}")
