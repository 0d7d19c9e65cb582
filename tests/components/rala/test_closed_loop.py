"""Closed loop: the zone controller and its engine drive the edge agent's simulated tent.

Accelerated simulated time, seeded, no Home Assistant instance: the zone controller gets
what the climate entity gives it (the zone's readings, a BME280-like one every sample
interval, the actuators' states and switch times) and decides on every reading and whenever
it asked for a timer (``next_evaluation_in``), exactly as the climate entity does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import math

import pytest

from custom_components.rala.const import ACTUATOR_MIN_OFF, ACTUATOR_MIN_ON, ActuatorKind
from custom_components.rala.control import (
    EXCLUSIVE_PARTNER,
    ControlMode,
    ControlSettings,
    LightSchedule,
)
from custom_components.rala.controller import (
    ActuatorReport,
    CycleTimes,
    ZoneController,
    target_bands,
)
from custom_components.rala.growth_stages import GrowthStage
from custom_components.rala.psychrometrics import vpd_leaf
from custom_components.rala.zone import (
    Reading,
    ZoneReadings,
    targets_for_stage,
    vpd_band_half_width,
)
from edge_agent.config import ActuatorKind as EdgeActuatorKind
from edge_agent.sim import SimulatedTent, TentParameters

SAMPLE_INTERVAL = 30.0
# The zone's default minimum on and off time of its climate actuators (the fans and the
# light have none).
CYCLE_TIMES = CycleTimes(ACTUATOR_MIN_ON, ACTUATOR_MIN_OFF)
START = datetime(2026, 1, 15, tzinfo=UTC)
"""Only labels the simulated clock: the tent keeps its own time of day."""

# The closed-loop test's tent: everything but a cooler.
DEFAULT_KINDS = tuple(kind for kind in ActuatorKind if kind is not ActuatorKind.COOLER)


@dataclass
class LoopResult:
    """What happened: per simulated step its duration and whether VPD/temperature were in band."""

    durations: list[float] = field(default_factory=list)
    vpd_in_band: list[bool] = field(default_factory=list)
    temperature_in_band: list[bool] = field(default_factory=list)
    seconds_both_of_a_pair_on: float = 0.0
    switchings: dict[ActuatorKind, int] = field(default_factory=dict)

    def share_in_band(self, flags: list[bool], *, after: float = 0.0) -> float:
        """Fraction of the time after ``after`` seconds for which ``flags`` were true."""
        elapsed = total = in_band = 0.0
        for duration, flag in zip(self.durations, flags, strict=True):
            elapsed += duration
            if elapsed > after:
                total += duration
                in_band += duration if flag else 0.0
        return in_band / total

    def first_time_in_band(self) -> float | None:
        """Seconds until the VPD first entered the band."""
        elapsed = 0.0
        for duration, flag in zip(self.durations, self.vpd_in_band, strict=True):
            if flag:
                return elapsed
            elapsed += duration
        return None


def run_loop(
    params: TentParameters,
    stage: GrowthStage,
    *,
    hours: float,
    start_hour: float,
    seed: int,
    settings: ControlSettings | None = None,
    max_step: float = 5.0,
    kinds: tuple[ActuatorKind, ...] = DEFAULT_KINDS,
) -> LoopResult:
    """Drive the tent with the engine (using the actuators ``kinds``) for ``hours`` hours."""
    settings = settings or ControlSettings()
    set_points, half_width = targets_for_stage(stage), vpd_band_half_width(stage)
    targets = target_bands(set_points, vpd_half_width=half_width)
    schedule = LightSchedule.from_hours(params.lights_on_hour, params.photoperiod_hours)
    tent = SimulatedTent(params, seed=seed, start_time_of_day=start_hour * 3600)
    controller = ZoneController(
        {str(kind): kind for kind in kinds}, cycle_times=CYCLE_TIMES, settings=settings
    )
    controller.start(START, node_cycle_times={})
    # What the actuators' entities report: their state and since when (long before the start).
    reports = {str(kind): ActuatorReport(False, START - timedelta(days=1)) for kind in kinds}
    result = LoopResult(switchings=dict.fromkeys(kinds, 0))

    def sample(now: datetime) -> None:
        temperature, humidity, _ = tent.measure()
        controller.observe(
            ZoneReadings(
                air_temperature=Reading("sensor.air", temperature, now),
                humidity=Reading("sensor.rh", humidity, now),
            ),
            now,
        )

    sample(START)
    until_sample = SAMPLE_INTERVAL
    timer: float | None = None
    evaluate_now = True
    while tent.elapsed < hours * 3600:
        now = START + timedelta(seconds=tent.elapsed)
        if evaluate_now:
            step = controller.decide(
                now,
                set_points=set_points,
                vpd_half_width=half_width,
                vpd_is_leaf=True,
                light=schedule.phase_at(tent.time_of_day),
                mode=ControlMode.AUTO,
                reports=reports,
                only_safety=False,
            )
            for key, on in step.commands.items():
                old, reports[key] = reports[key], ActuatorReport(on, now)
                controller.actuator_changed(key, old, reports[key])
                result.switchings[ActuatorKind(key)] += 1
            timer, evaluate_now = step.next_evaluation_in, False
        dt = max(0.01, min(max_step, until_sample, math.inf if timer is None else timer))
        is_on = {ActuatorKind(key): report.is_on is True for key, report in reports.items()}
        tent.step(dt, {EdgeActuatorKind(str(kind)): on for kind, on in is_on.items()})
        until_sample -= dt
        if until_sample <= 1e-9:
            sample(START + timedelta(seconds=tent.elapsed))
            until_sample, evaluate_now = SAMPLE_INTERVAL, True
        if timer is not None:
            timer -= dt
            if timer <= 1e-9:
                timer, evaluate_now = None, True
        period = targets.for_period(is_day=schedule.phase_at(tent.time_of_day).is_day)
        air = tent.air_temperature
        vpd = vpd_leaf(air, tent.relative_humidity, leaf_offset_c=settings.leaf_offset)
        result.durations.append(dt)
        result.vpd_in_band.append(vpd in period.vpd_band)
        result.temperature_in_band.append(air in period.temperature_band)
        if any(
            is_on.get(kind) and is_on.get(partner) for kind, partner in EXCLUSIVE_PARTNER.items()
        ):
            result.seconds_both_of_a_pair_on += dt
    return result


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("stage", [GrowthStage.VEGETATIVE, GrowthStage.EARLY_FLOWER])
def test_vpd_converges_into_the_stage_band_and_stays(stage: GrowthStage, seed: int) -> None:
    """Six simulated hours across lights-on: the VPD enters the band and mostly stays there.

    The tent starts at room climate two hours before lights on; it is judged against the
    stage's literature band. "Mostly" is 70 % of the time after the first hour: with 30 s
    samples and 60 s minimum on times, one pulse of the simulated tent's dehumidifier lowers
    the RH by about 8-12 %, most of a 0.4 kPa band: mostly through its 300 W of heat, as its
    removal is still starting up; the substrate's moisture buffer takes only a few % of it.
    """
    result = run_loop(TentParameters(), stage, hours=6, start_hour=4, seed=seed)
    first = result.first_time_in_band()
    assert first is not None
    assert first <= 1800
    assert result.share_in_band(result.vpd_in_band, after=3600) >= 0.7
    assert result.seconds_both_of_a_pair_on == 0
    # Everything that can act was used: the loop is closed, not idle.
    assert result.switchings[ActuatorKind.HEATER] > 0
    assert result.switchings[ActuatorKind.DEHUMIDIFIER] > 0
    assert result.switchings[ActuatorKind.LIGHT] == 1


def test_without_control_the_vpd_leaves_the_band() -> None:
    """The same tent with only the lights on a schedule: the band is not held by itself.

    This guards the test above against a tent that would stay in band on its own.
    """
    result = run_loop(
        TentParameters(),
        GrowthStage.VEGETATIVE,
        hours=6,
        start_hour=4,
        seed=0,
        kinds=(ActuatorKind.LIGHT,),
    )
    assert result.share_in_band(result.vpd_in_band, after=3600) < 0.5
