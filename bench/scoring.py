"""Scoring of a closed-loop run: time in band, switchings, energy, and the issue's goal.

Pure arithmetic, no Home Assistant imports. The truth is the simulated tent's air, not the
sensor: a controller is judged on the climate the plants got, not on what it believed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from custom_components.rala.bands import Band
from custom_components.rala.psychrometrics import vpd_leaf

GOAL_IN_BAND_PERCENT: Final = 97.0
"""The issue's goal: VPD and temperature in band at least this share of the day."""

GOAL_MAX_SWITCHINGS_PER_HOUR: Final = 6.0
"""The issue's goal: at most this many switchings (on or off) per hour per actuator."""


@dataclass
class RunRecorder:
    """Accumulates one controller's scored time, step by step (time-weighted)."""

    leaf_offset: float
    seconds: float = 0.0
    day_seconds: float = 0.0
    vpd_in_band_day: float = 0.0
    temperature_in_band_day: float = 0.0
    vpd_seconds_day: float = 0.0
    vpd_seconds_night: float = 0.0
    temperature_seconds_day: float = 0.0
    temperature_seconds_night: float = 0.0
    vpd_in_band: float = 0.0
    temperature_in_band: float = 0.0
    both_in_band: float = 0.0
    plant_vpd_in_band: float = 0.0
    vpd_below: float = 0.0
    vpd_above: float = 0.0
    temperature_below: float = 0.0
    temperature_above: float = 0.0
    exclusive_pair_overlap: float = 0.0
    vpd_min: float = float("inf")
    vpd_max: float = float("-inf")
    temperature_min: float = float("inf")
    temperature_max: float = float("-inf")
    switchings: dict[str, int] = field(default_factory=dict)

    def record(
        self,
        seconds: float,
        *,
        air_temperature: float,
        relative_humidity: float,
        leaf_temperature: float,
        temperature_band: Band,
        vpd_band: Band,
        exclusive_pair_on: bool,
        is_day: bool,
    ) -> None:
        """Score ``seconds`` of the true climate against the bands in force."""
        rh = min(max(relative_humidity, 0.0), 100.0)
        vpd = vpd_leaf(air_temperature, rh, leaf_offset_c=self.leaf_offset)
        plant_vpd = vpd_leaf(air_temperature, rh, leaf_temperature)
        vpd_ok = vpd in vpd_band
        temperature_ok = air_temperature in temperature_band
        self.seconds += seconds
        if is_day:
            self.day_seconds += seconds
            self.vpd_in_band_day += seconds * vpd_ok
            self.temperature_in_band_day += seconds * temperature_ok
            self.vpd_seconds_day += seconds * vpd
            self.temperature_seconds_day += seconds * air_temperature
        else:
            self.vpd_seconds_night += seconds * vpd
            self.temperature_seconds_night += seconds * air_temperature
        self.vpd_in_band += seconds * vpd_ok
        self.temperature_in_band += seconds * temperature_ok
        self.both_in_band += seconds * (vpd_ok and temperature_ok)
        self.plant_vpd_in_band += seconds * (plant_vpd in vpd_band)
        self.vpd_below += seconds * (vpd < vpd_band.low)
        self.vpd_above += seconds * (vpd > vpd_band.high)
        self.temperature_below += seconds * (air_temperature < temperature_band.low)
        self.temperature_above += seconds * (air_temperature > temperature_band.high)
        self.exclusive_pair_overlap += seconds * exclusive_pair_on
        self.vpd_min = min(self.vpd_min, vpd)
        self.vpd_max = max(self.vpd_max, vpd)
        self.temperature_min = min(self.temperature_min, air_temperature)
        self.temperature_max = max(self.temperature_max, air_temperature)

    def count_switching(self, actuator: str) -> None:
        """One change of state (on to off or off to on) of ``actuator``."""
        self.switchings[actuator] = self.switchings.get(actuator, 0) + 1

    def result(
        self, controller: str, actuators: Sequence[str], energy_wh: Mapping[str, float]
    ) -> ControllerResult:
        """The scored figures; ``energy_wh`` is the electrical energy per actuator kind."""
        if self.seconds <= 0:
            raise ValueError("nothing was recorded")
        hours = self.seconds / 3600.0
        night_seconds = self.seconds - self.day_seconds
        return ControllerResult(
            controller=controller,
            hours=hours,
            vpd_in_band_percent=100.0 * self.vpd_in_band / self.seconds,
            temperature_in_band_percent=100.0 * self.temperature_in_band / self.seconds,
            both_in_band_percent=100.0 * self.both_in_band / self.seconds,
            vpd_in_band_day_night_percent=(
                _share(self.vpd_in_band_day, self.day_seconds),
                _share(self.vpd_in_band - self.vpd_in_band_day, night_seconds),
            ),
            temperature_in_band_day_night_percent=(
                _share(self.temperature_in_band_day, self.day_seconds),
                _share(self.temperature_in_band - self.temperature_in_band_day, night_seconds),
            ),
            mean_vpd_day_night=(
                _mean(self.vpd_seconds_day, self.day_seconds),
                _mean(self.vpd_seconds_night, night_seconds),
            ),
            mean_temperature_day_night=(
                _mean(self.temperature_seconds_day, self.day_seconds),
                _mean(self.temperature_seconds_night, night_seconds),
            ),
            plant_vpd_in_band_percent=100.0 * self.plant_vpd_in_band / self.seconds,
            vpd_below_percent=100.0 * self.vpd_below / self.seconds,
            vpd_above_percent=100.0 * self.vpd_above / self.seconds,
            temperature_below_percent=100.0 * self.temperature_below / self.seconds,
            temperature_above_percent=100.0 * self.temperature_above / self.seconds,
            exclusive_pair_overlap_seconds=self.exclusive_pair_overlap,
            vpd_range=(self.vpd_min, self.vpd_max),
            temperature_range=(self.temperature_min, self.temperature_max),
            switchings_per_hour={a: self.switchings.get(a, 0) / hours for a in actuators},
            energy_wh=dict(energy_wh),
        )


def _share(part: float, whole: float) -> float | None:
    """``part`` as a percentage of ``whole``; None when ``whole`` is empty."""
    return 100.0 * part / whole if whole > 0 else None


def _mean(weighted_sum: float, seconds: float) -> float | None:
    """A time-weighted mean; None when no time was recorded."""
    return weighted_sum / seconds if seconds > 0 else None


@dataclass(frozen=True, slots=True)
class ControllerResult:
    """One controller's scored day in one scenario."""

    controller: str
    hours: float
    vpd_in_band_percent: float
    """Leaf VPD (leaf = air - offset, true air) inside the stage's band."""
    temperature_in_band_percent: float
    both_in_band_percent: float
    vpd_in_band_day_night_percent: tuple[float | None, float | None]
    """VPD in band with the lights on and off (None: no such period was scored)."""
    temperature_in_band_day_night_percent: tuple[float | None, float | None]
    mean_vpd_day_night: tuple[float | None, float | None]
    """Time-weighted mean leaf VPD with the lights on and off, kPa."""
    mean_temperature_day_night: tuple[float | None, float | None]
    """Time-weighted mean air temperature with the lights on and off, °C."""
    plant_vpd_in_band_percent: float
    """Leaf VPD with the simulated canopy's own temperature (information, not scored)."""
    vpd_below_percent: float
    vpd_above_percent: float
    temperature_below_percent: float
    temperature_above_percent: float
    exclusive_pair_overlap_seconds: float
    vpd_range: tuple[float, float]
    temperature_range: tuple[float, float]
    switchings_per_hour: Mapping[str, float]
    """Per climate actuator kind mapped in the scenario."""
    energy_wh: Mapping[str, float]
    """Electrical energy per actuator kind (all kinds, light included)."""

    def climate_energy_wh(self, actuators: Sequence[str]) -> float:
        """Energy of the actuators the controller switches, Wh."""
        return sum(self.energy_wh.get(a, 0.0) for a in actuators)

    @property
    def max_switchings_per_hour(self) -> float:
        """The busiest actuator's switchings per hour."""
        return max(self.switchings_per_hour.values(), default=0.0)

    @property
    def total_switchings_per_hour(self) -> float:
        """All climate actuators together, switchings per hour."""
        return sum(self.switchings_per_hour.values())


@dataclass(frozen=True, slots=True)
class GoalCheck:
    """One line of the goal: what is required, and whether it holds."""

    requirement: str
    value: str
    passed: bool


def goal_checks(candidate: ControllerResult, baseline: ControllerResult) -> list[GoalCheck]:
    """The issue's goal for ``candidate`` (RALA) against ``baseline`` (the generic pair).

    "Strictly better in-band %" is read as: neither VPD nor temperature in band is lower
    than the baseline's, and at least one is higher. "Without more switching": the total
    switchings per hour of the climate actuators are not above the baseline's.
    """
    vpd, temperature = candidate.vpd_in_band_percent, candidate.temperature_in_band_percent
    base_vpd, base_temperature = baseline.vpd_in_band_percent, baseline.temperature_in_band_percent
    busiest = candidate.max_switchings_per_hour
    total, base_total = candidate.total_switchings_per_hour, baseline.total_switchings_per_hour
    return [
        GoalCheck(
            f"VPD in band >= {GOAL_IN_BAND_PERCENT:g} %",
            f"{vpd:.1f} %",
            vpd >= GOAL_IN_BAND_PERCENT,
        ),
        GoalCheck(
            f"temperature in band >= {GOAL_IN_BAND_PERCENT:g} %",
            f"{temperature:.1f} %",
            temperature >= GOAL_IN_BAND_PERCENT,
        ),
        GoalCheck(
            f"<= {GOAL_MAX_SWITCHINGS_PER_HOUR:g} switchings/h per actuator",
            f"busiest {busiest:.1f}/h",
            busiest <= GOAL_MAX_SWITCHINGS_PER_HOUR,
        ),
        GoalCheck(
            "in band strictly better than the generic pair",
            f"VPD {vpd - base_vpd:+.1f} pts, temperature {temperature - base_temperature:+.1f} pts",
            vpd >= base_vpd
            and temperature >= base_temperature
            and (vpd > base_vpd or temperature > base_temperature),
        ),
        GoalCheck(
            "no more switching than the generic pair",
            f"{total:.1f}/h vs {base_total:.1f}/h",
            total <= base_total,
        ),
    ]
