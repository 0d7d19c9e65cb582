"""Markdown report of a benchmark run (pure: results in, text out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import re
from typing import Final

from bench.harness import ScenarioResult
from bench.physics import PEAK_WINDOW, SETTLE_SECONDS, Deviation, pulse_effects
from bench.scenarios import (
    HYGROSTAT_TOLERANCE,
    MIN_CYCLE,
    SAMPLE_INTERVAL,
    THERMOSTAT_TOLERANCE,
    TICK,
)
from bench.scoring import ControllerResult, goal_checks
from custom_components.rala.const import DEFAULT_LEAF_OFFSET, TEMPERATURE_TOLERANCE

BEGIN_MARK: Final = "<!-- closed-loop results: begin (written by bench/closed_loop.py) -->"
END_MARK: Final = "<!-- closed-loop results: end -->"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """How the results were produced."""

    command: str
    date: str
    revision: str
    warm_up_hours: float
    scored_hours: float
    seed: int
    rala_sides: tuple[str, ...]
    wall_seconds: float
    min_cycle: float = MIN_CYCLE


def _pass(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _percent(value: float) -> str:
    return f"{value:.1f} %"


def render(results: Sequence[ScenarioResult], info: RunInfo) -> str:
    """The results section: goal summary, then one table per scenario."""
    lines = [
        BEGIN_MARK,
        "",
        f"Command: `{info.command}`  ",
        f"Run: {info.date}, {info.wall_seconds:.0f} s wall time, code {info.revision}.  ",
        (
            f"Simulated: {info.warm_up_hours:g} h warm-up (not scored), then "
            f"{info.scored_hours:g} h scored; step {TICK:g} s, a sensor reading every "
            f"{SAMPLE_INTERVAL:g} s, seed {info.seed}."
        ),
        "",
        "RALA controllers compared with the generic pair:",
        "",
        *(f"- {side}." for side in info.rala_sides),
        "",
        (
            f"Bands: temperature = target ± {TEMPERATURE_TOLERANCE:g} °C; VPD = the growth "
            f"stage's leaf-VPD band with leaf = air - {DEFAULT_LEAF_OFFSET:g} °C, computed from "
            "the simulated tent's true air temperature and RH. All controllers: minimum on and off "
            f"time {info.min_cycle:g} s per climate actuator. Generic side: thermostat tolerances "
            f"±{THERMOSTAT_TOLERANCE:g} °C, hygrostats start {HYGROSTAT_TOLERANCE:g} % RH from "
            "their target and stop at it."
        ),
        "",
        "### Goal (RALA), computed",
        "",
        (
            "| Scenario | Controller | VPD >= 97 % | temperature >= 97 % "
            "| <= 6 switchings/h per actuator | strictly better in band than generic "
            "| no more switching than generic | overall |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        generic, *candidates = result.results
        for candidate in candidates:
            checks = goal_checks(candidate, generic)
            cells = [f"{_pass(c.passed)} ({c.value})" for c in checks]
            overall = _pass(all(c.passed for c in checks))
            lines.append(
                f"| {result.scenario.name} | {candidate.controller} | {' | '.join(cells)} "
                f"| **{overall}** |"
            )
    for result in results:
        lines.extend(["", *_scenario_table(result)])
    lines.extend(["", END_MARK])
    return "\n".join(lines) + "\n"


def _scenario_table(result: ScenarioResult) -> list[str]:
    scenario = result.scenario
    stage = scenario.targets
    actuators = [kind.value for kind in scenario.actuators]
    header = [r.controller for r in result.results]
    day_rh = scenario.target_humidity(is_day=True)
    night_rh = scenario.target_humidity(is_day=False)
    lines = [
        f"### {scenario.name}",
        "",
        (
            f"{scenario.summary}. Targets: {stage.day_temperature_c:g} °C day / "
            f"{stage.night_temperature_c:g} °C night, leaf VPD {stage.vpd_low_kpa:g}-"
            f"{stage.vpd_high_kpa:g} kPa (hygrostat target {day_rh:g} % day / {night_rh:g} % "
            f"night). Climate actuators: {', '.join(actuators)}."
        ),
        "",
        f"| | {' | '.join(header)} |",
        f"|---|{'---|' * len(header)}",
    ]

    def row(label: str, values: Sequence[str]) -> None:
        lines.append(f"| {label} | {' | '.join(values)} |")

    rs = result.results
    row("VPD in band", [_percent(r.vpd_in_band_percent) for r in rs])
    row(
        "VPD below / above band",
        [f"{r.vpd_below_percent:.1f} % / {r.vpd_above_percent:.1f} %" for r in rs],
    )
    row(
        "VPD in band, lights on / off",
        [_day_night(r.vpd_in_band_day_night_percent) for r in rs],
    )
    row("temperature in band", [_percent(r.temperature_in_band_percent) for r in rs])
    row(
        "temperature in band, lights on / off",
        [_day_night(r.temperature_in_band_day_night_percent) for r in rs],
    )
    row(
        "temperature below / above band",
        [f"{r.temperature_below_percent:.1f} % / {r.temperature_above_percent:.1f} %" for r in rs],
    )
    row("both in band", [_percent(r.both_in_band_percent) for r in rs])
    row(
        "VPD in band with the simulated canopy temperature (information)",
        [_percent(r.plant_vpd_in_band_percent) for r in rs],
    )
    row(
        "mean VPD, lights on / off",
        [_day_night(r.mean_vpd_day_night, "{:.2f} kPa") for r in rs],
    )
    row(
        "mean temperature, lights on / off",
        [_day_night(r.mean_temperature_day_night, "{:.1f} °C") for r in rs],
    )
    row("VPD range, kPa", [f"{r.vpd_range[0]:.2f} .. {r.vpd_range[1]:.2f}" for r in rs])
    row(
        "temperature range, °C",
        [f"{r.temperature_range[0]:.1f} .. {r.temperature_range[1]:.1f}" for r in rs],
    )
    for kind in actuators:
        row(f"switchings/h, {kind}", [f"{r.switchings_per_hour[kind]:.1f}" for r in rs])
    for kind in actuators:
        row(f"energy, {kind}", [f"{r.energy_wh.get(kind, 0.0):.0f} Wh" for r in rs])
    row("energy, climate actuators", [f"{r.climate_energy_wh(actuators):.0f} Wh" for r in rs])
    row("energy, all (light included)", [f"{_total_energy(r):.0f} Wh" for r in rs])
    row(
        "both of an exclusive pair on",
        [f"{r.exclusive_pair_overlap_seconds:.0f} s" for r in rs],
    )
    effects = pulse_effects(scenario)
    if effects:
        first = effects[0]
        lines.extend(
            [
                "",
                (
                    f"Open loop, one minimum on-time ({scenario.min_cycle:g} s) of each actuator "
                    f"alone, from the tent after {SETTLE_SECONDS / 3600:g} h with only the lights "
                    f"on ({first.start_temperature:.1f} °C, {first.start_humidity:.0f} % RH): its "
                    "effect (against the same tent without the pulse) at the end of the pulse, "
                    f"and the largest effect until {PEAK_WINDOW / 60:g} min after it, with the "
                    f"minutes after switch-on; the bands are {2 * TEMPERATURE_TOLERANCE:g} °C "
                    f"and {stage.vpd_high_kpa - stage.vpd_low_kpa:.1f} kPa wide:"
                ),
                "",
                (
                    "| actuator | air temperature, end | RH, end | leaf VPD, end "
                    "| air temperature, largest | RH, largest | leaf VPD, largest |"
                ),
                "|---|---|---|---|---|---|---|",
                *(
                    f"| {e.actuator} | {e.temperature_change:+.2f} °C | "
                    f"{e.humidity_change:+.1f} % | {e.vpd_change:+.2f} kPa | "
                    f"{_peak(e.temperature, '{:+.2f} °C')} | {_peak(e.humidity, '{:+.1f} %')} | "
                    f"{_peak(e.vpd, '{:+.2f} kPa')} |"
                    for e in effects
                ),
            ]
        )
    return lines


def _peak(deviation: Deviation, spec: str) -> str:
    return f"{spec.format(deviation.peak)} ({deviation.peak_time / 60:.1f} min)"


def _day_night(values: tuple[float | None, float | None], spec: str = "{:.1f} %") -> str:
    return " / ".join("-" if value is None else spec.format(value) for value in values)


def _total_energy(result: ControllerResult) -> float:
    return sum(result.energy_wh.values())


def merge_into(document: str, section: str) -> str:
    """``document`` with its results section replaced by ``section`` (appended if missing).

    Everything outside the markers (the hand-written analysis) is kept as it is.
    """
    pattern = re.compile(re.escape(BEGIN_MARK) + r".*?" + re.escape(END_MARK) + r"\n?", re.S)
    if pattern.search(document):
        return pattern.sub(lambda _match: section, document, count=1)
    separator = "" if not document or document.endswith("\n\n") else "\n"
    return document + separator + section
