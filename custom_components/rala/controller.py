"""The zone controller: the bookkeeping between a grow zone and the control engine.

Pure (standard library and the integration's pure modules), so that the climate entity and
the closed-loop bench run the same code. It turns the zone's readings into ages, builds the
target bands, keeps what the engine must know of each actuator (its kind, its minimum on and
off times, the node's when longer, when it last stopped after running, what was last
commanded) and decides which of the engine's commands go out. Modes, presentation, timers
and the switching itself are the caller's; unavailable actuators are reported through a
callback, so the caller raises the repair issue.

Safety kept here:

- After :meth:`ZoneController.start` nothing is commanded until the zone has been seen
  whole once (valid inputs and every actuator's state known) or a command went out, for
  at most the maximum input age: at a restart, inputs and actuators come back one by one
  and a restored sensor state may expire before the first live reading, and what the
  actuators do was decided before the restart. After that the engine's rules apply at
  once, so a heater left on by a relay is never kept on because a sensor stays silent.
- A command is not repeated while its state change may still be on its way
  (:data:`COMMAND_SETTLE`), and is repeated after that if the actuator did not follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import math
from typing import Final, Protocol

from .const import TEMPERATURE_TOLERANCE, ActuatorKind
from .control import (
    CYCLED_KINDS,
    SAFETY_CODES,
    ActuatorStatus,
    AgedReading,
    ControlDecision,
    ControlError,
    ControlInputs,
    ControlMode,
    ControlReadings,
    ControlSettings,
    ControlTargets,
    LightPhase,
    evaluate,
)

ACTUATOR_STARTUP_GRACE: Final = timedelta(seconds=30)
"""An actuator unavailable only this long after the start is left out without a report.

A node's MQTT switches report their first state a moment after they are created (and after
every restart).
"""
COMMAND_SETTLE: Final = timedelta(seconds=30)
"""A command is not repeated while its state change may still be on its way."""
_TIMER_MARGIN: Final = 0.01
"""Seconds a wake-up is set after a boundary, so that it fires past it, not on it."""


class TimedReading(Protocol):
    """A value of one input and when its source wrote it (the zone's ``Reading``)."""

    @property
    def value(self) -> float:
        """°C or % RH."""
        ...

    @property
    def updated(self) -> datetime:
        """When the source last wrote it."""
        ...


class ZoneInputs(Protocol):
    """The zone's latest readings (the zone's ``ZoneReadings``); ``None``: none valid."""

    @property
    def air_temperature(self) -> TimedReading | None:
        """The air temperature, °C."""
        ...

    @property
    def humidity(self) -> TimedReading | None:
        """The relative humidity, %."""
        ...

    @property
    def leaf_temperature(self) -> TimedReading | None:
        """The measured leaf temperature, °C."""
        ...


class SetPoints(Protocol):
    """The zone's day and night targets (the zone's ``ZoneTargets``)."""

    @property
    def day_temperature(self) -> float:
        """°C with the lights on."""
        ...

    @property
    def night_temperature(self) -> float:
        """°C with the lights off."""
        ...

    @property
    def day_vpd(self) -> float:
        """kPa with the lights on."""
        ...

    @property
    def night_vpd(self) -> float:
        """kPa with the lights off."""
        ...


def target_bands(set_points: SetPoints, *, vpd_half_width: float) -> ControlTargets:
    """The set points with their bands: temperature ± the tolerance, VPD ± ``vpd_half_width``."""
    return ControlTargets.around(
        day_temperature=set_points.day_temperature,
        night_temperature=set_points.night_temperature,
        day_vpd=set_points.day_vpd,
        night_vpd=set_points.night_vpd,
        temperature_tolerance=TEMPERATURE_TOLERANCE,
        vpd_half_width=vpd_half_width,
    )


@dataclass(frozen=True, slots=True)
class ActuatorReport:
    """What an actuator's entity reports: on or off (``None``: unavailable or unknown)."""

    is_on: bool | None
    last_changed: datetime


@dataclass(frozen=True, slots=True)
class CycleTimes:
    """Minimum on and off time of an actuator, s."""

    min_on: float
    min_off: float

    def __post_init__(self) -> None:
        """Refuse negative or infinite times."""
        for name, value in (("minimum on time", self.min_on), ("minimum off time", self.min_off)):
            if not (math.isfinite(value) and value >= 0):
                raise ControlError(f"{name} must be a finite number >= 0 s, got {value!r}")

    def at_least(self, other: CycleTimes) -> CycleTimes:
        """The longer of each time."""
        return CycleTimes(max(self.min_on, other.min_on), max(self.min_off, other.min_off))


NO_CYCLE_TIMES: Final = CycleTimes(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class ControlStep:
    """One decision of the controller and what to do about it.

    ``commands`` are to be sent now (offs first); ``next_evaluation_in`` is when to decide
    again without new readings (s, or ``None``); ``waiting_for_inputs`` is true while
    nothing is commanded because the inputs have not been valid since the start.
    """

    decision: ControlDecision
    commands: Mapping[str, bool]
    next_evaluation_in: float | None
    waiting_for_inputs: bool


type UnavailableCallback = Callable[[frozenset[str], frozenset[str]], None]
"""Called with the previously and the now unavailable actuators when the set changes."""


@dataclass(frozen=True, slots=True)
class _Observation:
    readings: ZoneInputs
    at: datetime


class ZoneController:
    """A zone's controller state between decisions (see the module docstring)."""

    def __init__(
        self,
        kinds: Mapping[str, ActuatorKind],
        *,
        cycle_times: CycleTimes,
        settings: ControlSettings,
        on_unavailable_changed: UnavailableCallback | None = None,
    ) -> None:
        """Keep the actuators (key → kind) and the zone's settings; :meth:`start` starts."""
        self.kinds: Mapping[str, ActuatorKind] = dict(kinds)
        self._cycle_times = cycle_times
        self._settings = settings
        self._on_unavailable_changed = on_unavailable_changed
        self._node_cycle_times: dict[str, CycleTimes] = {}
        self._started_at: datetime | None = None
        self._inputs_valid_once = False
        self._settled = False
        self._observation: _Observation | None = None
        self._unavailable: frozenset[str] = frozenset()
        self._sent: dict[str, tuple[bool, datetime]] = {}
        self._run_ended: dict[str, datetime] = {}

    def start(self, now: datetime, *, node_cycle_times: Mapping[str, CycleTimes]) -> None:
        """Start (again): the startup waits run from ``now``; a node's times apply by key."""
        self._started_at = now
        self._inputs_valid_once = False
        self._settled = False
        self._node_cycle_times = dict(node_cycle_times)

    def observe(self, readings: ZoneInputs, now: datetime) -> None:
        """The zone's readings as of ``now``: the one way readings reach the controller."""
        self._observation = _Observation(readings, now)

    def actuator_changed(
        self, key: str, old: ActuatorReport | None, new: ActuatorReport | None
    ) -> None:
        """An actuator's entity changed: note a stop after running, forget the last command."""
        if old is not None and old.is_on and new is not None and new.is_on is not True:
            self._run_ended[key] = new.last_changed
        self._sent.pop(key, None)

    def decide(
        self,
        now: datetime,
        *,
        set_points: SetPoints,
        vpd_half_width: float,
        vpd_is_leaf: bool,
        light: LightPhase,
        mode: ControlMode,
        reports: Mapping[str, ActuatorReport | None],
        only_safety: bool,
    ) -> ControlStep:
        """Decide, and pick the commands to send now.

        ``vpd_is_leaf`` false (drying) takes the targets as air VPD: no leaf reading, no
        offset. ``reports`` holds each actuator's entity (``None``: it does not exist).
        With ``only_safety`` only the engine's safety transitions go out (the mode is off).
        Deciding before :meth:`start` raises :class:`ControlError`.
        """
        if self._started_at is None:
            raise ControlError("the zone controller decides only after start()")
        started_at = self._started_at
        settings = self._settings if vpd_is_leaf else replace(self._settings, leaf_offset=0.0)
        decision = evaluate(
            ControlInputs(
                readings=self._aged_readings(now, use_leaf=vpd_is_leaf),
                targets=target_bands(set_points, vpd_half_width=vpd_half_width),
                light=light,
                actuators=self._statuses(now, reports, started_at=started_at),
                mode=mode,
            ),
            settings,
        )
        if decision.climate is not None:
            self._inputs_valid_once = True
            if all(report is not None and report.is_on is not None for report in reports.values()):
                self._settled = True
        delay = decision.next_evaluation_in
        grace = self._settings.stale_after - (now - started_at).total_seconds()
        if grace > 0 and not self._settled and not self._inputs_usable(decision):
            wake = grace + _TIMER_MARGIN
            return ControlStep(
                decision, {}, wake if delay is None else min(delay, wake), waiting_for_inputs=True
            )
        commands = self._commands(
            decision, now, only_safety=only_safety or not self._inputs_valid_once
        )
        if commands:
            self._settled = True
        return ControlStep(decision, commands, delay, waiting_for_inputs=False)

    def _inputs_usable(self, decision: ControlDecision) -> bool:
        """Whether the inputs were valid once and are valid now."""
        return self._inputs_valid_once and decision.climate is not None

    def _aged_readings(self, now: datetime, *, use_leaf: bool) -> ControlReadings:
        observation = self._observation
        if observation is None:
            return ControlReadings(air_temperature=None, relative_humidity=None)

        def aged(source: TimedReading | None) -> AgedReading | None:
            if source is None:
                return None
            # Aged from when the zone saw it: a timestamp from the future counts as new.
            age = max(0.0, (observation.at - source.updated).total_seconds())
            return AgedReading(source.value, age + max(0.0, (now - observation.at).total_seconds()))

        readings = observation.readings
        return ControlReadings(
            air_temperature=aged(readings.air_temperature),
            relative_humidity=aged(readings.humidity),
            leaf_temperature=aged(readings.leaf_temperature) if use_leaf else None,
        )

    def _statuses(
        self, now: datetime, reports: Mapping[str, ActuatorReport | None], *, started_at: datetime
    ) -> list[ActuatorStatus]:
        statuses: list[ActuatorStatus] = []
        unavailable: set[str] = set()
        for key, kind in self.kinds.items():
            report = reports.get(key)
            if report is None or report.is_on is None:
                unavailable.add(key)
                continue
            times = self._cycle_times_of(key, kind)
            run_ended = self._run_ended.get(key)
            statuses.append(
                ActuatorStatus(
                    key=key,
                    kind=kind,
                    is_on=report.is_on,
                    since_switch=max(0.0, (now - report.last_changed).total_seconds()),
                    min_on=times.min_on,
                    min_off=times.min_off,
                    since_run=(
                        math.inf
                        if run_ended is None
                        else max(0.0, (now - run_ended).total_seconds())
                    ),
                )
            )
        self._track_unavailable(frozenset(unavailable), now - started_at)
        return statuses

    def _cycle_times_of(self, key: str, kind: ActuatorKind) -> CycleTimes:
        """The zone's minimum times, or the node's where longer; none for uncycled kinds."""
        if kind not in CYCLED_KINDS:
            return NO_CYCLE_TIMES
        return self._cycle_times.at_least(self._node_cycle_times.get(key, NO_CYCLE_TIMES))

    def _track_unavailable(self, unavailable: frozenset[str], running_for: timedelta) -> None:
        """Report a changed set of unavailable actuators (not during the startup grace)."""
        if unavailable and running_for < ACTUATOR_STARTUP_GRACE:
            return
        if unavailable == self._unavailable:
            return
        previous, self._unavailable = self._unavailable, unavailable
        if self._on_unavailable_changed is not None:
            self._on_unavailable_changed(previous, unavailable)

    def _commands(
        self, decision: ControlDecision, now: datetime, *, only_safety: bool
    ) -> dict[str, bool]:
        commands: dict[str, bool] = {}
        for key, on in decision.commands.items():
            if only_safety and (on or decision.actuators[key].code not in SAFETY_CODES):
                continue
            sent = self._sent.get(key)
            if sent is not None and sent[0] == on and now - sent[1] < COMMAND_SETTLE:
                continue
            self._sent[key] = (on, now)
            commands[key] = on
        return commands
