"""The control law of a grow zone: which actuator should be on, and why.

Pure logic, standard library plus the integration's pure modules; no Home Assistant
imports. The zone controller (:mod:`.controller`) gathers the inputs and calls
:func:`evaluate`; its callers (the climate entity, the bench) send the commands and
evaluate again after :attr:`ControlDecision.next_evaluation_in` seconds, so that minimum
on/off times and staleness are acted on without a sensor update.

Priority stack, highest first
-----------------------------
1. **Safety.** Missing, implausible or stale air temperature or humidity: heater and
   humidifier off at once (they are the actuators that do harm when left on blind). Hard
   limits: at or above the maximum temperature the heater goes off at once and cooler and
   exhaust fan are asked on; at or above the maximum humidity the humidifier goes off at
   once and dehumidifier and exhaust fan are asked on. Hard limits override the mode and
   the targets; in mode ``off`` they only switch heater and humidifier off, nothing on.
2. **Anti-short-cycle.** A change is held until the actuator's minimum on or off time has
   passed. The only changes that skip it are the *safety transitions*: an actuator of
   :data:`SAFETY_OFF_KINDS` switched off by a code in :data:`SAFETY_CODES`.
3. **Exclusive pairs.** Heater/cooler and humidifier/dehumidifier are never on at once: a
   member is switched on only when its partner is reported off, and if the inputs report
   both on, the heater or humidifier goes off at once. After a member ran, its partner
   waits :attr:`ControlSettings.partner_lockout` before acting on a mild deviation (the
   overshoot of one pulse is no reason to counteract it; that is how pairs see-saw), and
   :attr:`ControlSettings.partner_settle` before acting on any (a run of minutes carries
   the air far out, and it comes back by itself).
4. **Targets**, with hysteresis. Each actuator starts acting when the reading has gone the
   ``*_act_fraction`` of the way from the target to the band edge, and stops once it has
   passed the target by the ``*_release_fraction`` of the other half band (temperature:
   40 % out, a tenth past; humidity: three quarters out, half past). Humidity is
   judged twice: by the leaf VPD right now and by the VPD the air's water gives at the
   *reference temperature*, the switching point of the heater (or cooler) while the air
   is beyond it and the heater is held off by its minimum off time (see
   :func:`_reference_temperature`). A humidity
   actuator acts only while both agree, so a heater pause, which cools the air and raises
   its RH for a moment, does not start the dehumidifier. The exhaust fan is the first
   cooling or drying stage without a cooler or dehumidifier, else a second stage further
   out; it does not vent humidity while the zone needs heat.

Day and night targets follow the lights. Within :attr:`ControlSettings.anticipation`
seconds of the next light switch the next period's targets apply already, so the tent is
on its way to the new climate when the lights switch (like a thermostat's adaptive
recovery).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import math
from typing import Final

from .bands import Band
from .const import (
    DEFAULT_LEAF_OFFSET,
    DEFAULT_MAX_HUMIDITY,
    DEFAULT_MAX_INPUT_AGE,
    DEFAULT_MAX_TEMPERATURE,
    ActuatorKind,
)
from .psychrometrics import (
    MAX_TEMPERATURE_C,
    MIN_TEMPERATURE_C,
    actual_vapour_pressure,
    relative_humidity_for_vpd,
    saturation_vapour_pressure,
    vpd_leaf,
)

SECONDS_PER_DAY: Final = 86400.0


class ControlError(ValueError):
    """A parameter of the control engine is invalid (names the field and the expectation)."""


EXCLUSIVE_PARTNER: Final[Mapping[ActuatorKind, ActuatorKind]] = {
    ActuatorKind.HEATER: ActuatorKind.COOLER,
    ActuatorKind.COOLER: ActuatorKind.HEATER,
    ActuatorKind.HUMIDIFIER: ActuatorKind.DEHUMIDIFIER,
    ActuatorKind.DEHUMIDIFIER: ActuatorKind.HUMIDIFIER,
}
"""The member of each exclusive pair that must be off before the other goes on."""

SAFETY_OFF_KINDS: Final = frozenset({ActuatorKind.HEATER, ActuatorKind.HUMIDIFIER})
"""Kinds that are switched off at once, ignoring their minimum on time, for safety."""

CYCLED_KINDS: Final = frozenset(
    {
        ActuatorKind.HEATER,
        ActuatorKind.COOLER,
        ActuatorKind.HUMIDIFIER,
        ActuatorKind.DEHUMIDIFIER,
        ActuatorKind.EXHAUST_FAN,
    }
)
"""Kinds switched on and off to chase the targets: they keep minimum on and off times.

The circulation fan only follows the mode, and the light is never switched (only read).
"""


class ControlMode(StrEnum):
    """What the controller may do; the values are Home Assistant's HVAC modes."""

    OFF = "off"
    HEAT = "heat"
    COOL = "cool"
    HEAT_COOL = "heat_cool"
    DRY = "dry"
    FAN_ONLY = "fan_only"
    AUTO = "auto"


class ReasonCode(StrEnum):
    """Machine-readable reasons (translation keys) for a decision."""

    INPUTS_MISSING = "inputs_missing"
    INPUTS_STALE = "inputs_stale"
    OVER_MAX_TEMPERATURE = "over_max_temperature"
    OVER_MAX_HUMIDITY = "over_max_humidity"
    INTERLOCK_VIOLATION = "interlock_violation"
    MIN_ON = "min_on"
    MIN_OFF = "min_off"
    INTERLOCK = "interlock"
    MODE_OFF = "mode_off"
    TOO_COLD = "too_cold"
    TOO_WARM = "too_warm"
    TOO_DRY = "too_dry"
    TOO_HUMID = "too_humid"
    CIRCULATION = "circulation"
    FAN_ONLY = "fan_only"
    LIGHTS_ON = "lights_on"
    LIGHTS_OFF = "lights_off"
    NOT_NEEDED = "not_needed"
    MANUAL = "manual"


SAFETY_CODES: Final = frozenset(
    {
        ReasonCode.INPUTS_MISSING,
        ReasonCode.INPUTS_STALE,
        ReasonCode.OVER_MAX_TEMPERATURE,
        ReasonCode.OVER_MAX_HUMIDITY,
        ReasonCode.INTERLOCK_VIOLATION,
    }
)
"""Reasons that may switch a :data:`SAFETY_OFF_KINDS` actuator off before its minimum on time."""

# Order in which reasons make the headline of a decision.
_HEADLINE_PRIORITY: Final = (
    ReasonCode.INPUTS_MISSING,
    ReasonCode.INPUTS_STALE,
    ReasonCode.OVER_MAX_TEMPERATURE,
    ReasonCode.OVER_MAX_HUMIDITY,
    ReasonCode.INTERLOCK_VIOLATION,
    ReasonCode.MODE_OFF,
    ReasonCode.TOO_COLD,
    ReasonCode.TOO_WARM,
    ReasonCode.TOO_DRY,
    ReasonCode.TOO_HUMID,
    ReasonCode.MIN_ON,
    ReasonCode.MIN_OFF,
    ReasonCode.INTERLOCK,
    ReasonCode.FAN_ONLY,
)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ControlError(message)


def _require_finite(name: str, value: float) -> None:
    _require(math.isfinite(value), f"{name} must be a finite number, got {value!r}")


@dataclass(frozen=True, slots=True)
class PeriodTargets:
    """What to aim for during one light period (day or night).

    ``temperature`` (°C) and ``vpd`` (leaf VPD, kPa) are the set points; the bands are what
    counts as good. A set point must lie strictly inside its band.
    """

    temperature: float
    temperature_band: Band
    vpd: float
    vpd_band: Band

    def __post_init__(self) -> None:
        """Refuse set points outside their bands."""
        _require(
            self.temperature_band.low < self.temperature < self.temperature_band.high,
            f"target temperature {self.temperature} must lie inside its band "
            f"{self.temperature_band.low}..{self.temperature_band.high}",
        )
        _require(
            self.vpd_band.low < self.vpd < self.vpd_band.high,
            f"target VPD {self.vpd} must lie inside its band "
            f"{self.vpd_band.low}..{self.vpd_band.high}",
        )
        _require(self.vpd_band.low >= 0.0, f"VPD band low {self.vpd_band.low} must be >= 0")

    @classmethod
    def around(
        cls,
        temperature: float,
        vpd: float,
        *,
        temperature_tolerance: float,
        vpd_tolerance: float,
    ) -> PeriodTargets:
        """Targets with symmetric bands: ``temperature ± tolerance``, ``vpd ± tolerance``."""
        _require(temperature_tolerance > 0, "temperature tolerance must be positive")
        _require(vpd_tolerance > 0, "VPD tolerance must be positive")
        return cls(
            temperature=temperature,
            temperature_band=Band.around(temperature, temperature_tolerance),
            vpd=vpd,
            vpd_band=Band.around(vpd, vpd_tolerance, floor=0.0),
        )


@dataclass(frozen=True, slots=True)
class ControlTargets:
    """Day (lights on) and night (lights off) targets."""

    day: PeriodTargets
    night: PeriodTargets

    def for_period(self, *, is_day: bool) -> PeriodTargets:
        """The targets of the day or the night."""
        return self.day if is_day else self.night

    @classmethod
    def around(
        cls,
        *,
        day_temperature: float,
        night_temperature: float,
        day_vpd: float,
        night_vpd: float,
        temperature_tolerance: float,
        vpd_half_width: float,
    ) -> ControlTargets:
        """Set points with symmetric bands around them (a VPD band never reaches below 0)."""

        def period(temperature: float, vpd: float) -> PeriodTargets:
            return PeriodTargets(
                temperature=temperature,
                temperature_band=Band.around(temperature, temperature_tolerance),
                vpd=vpd,
                vpd_band=Band.around(vpd, vpd_half_width, floor=0.0),
            )

        return cls(day=period(day_temperature, day_vpd), night=period(night_temperature, night_vpd))


@dataclass(frozen=True, slots=True)
class LightPhase:
    """Where the zone is in its light cycle.

    ``seconds_to_switch`` is the time to the next switch of the lights when it is known
    (a schedule), else ``None``. With ``scheduled`` the engine also switches a mapped light
    actuator according to ``is_day``; otherwise it leaves the light alone.
    """

    is_day: bool
    seconds_to_switch: float | None = None
    scheduled: bool = False

    def __post_init__(self) -> None:
        """Refuse a negative or infinite time to the next switch."""
        if self.seconds_to_switch is not None:
            _require_finite("seconds to switch", self.seconds_to_switch)
            _require(self.seconds_to_switch >= 0, "seconds to switch must not be negative")


@dataclass(frozen=True, slots=True)
class LightSchedule:
    """A daily photoperiod: lights on at ``on_at`` (seconds after midnight) for ``on_for`` s."""

    on_at: float
    on_for: float

    def __post_init__(self) -> None:
        """Refuse times outside one day."""
        _require(0.0 <= self.on_at < SECONDS_PER_DAY, "lights-on time must be within a day")
        _require(0.0 < self.on_for < SECONDS_PER_DAY, "photoperiod must be between 0 and 24 h")

    @classmethod
    def from_hours(cls, on_hour: float, hours_on: float) -> LightSchedule:
        """A schedule from the lights-on hour of the day and the hours of light."""
        return cls(on_at=on_hour * 3600.0, on_for=hours_on * 3600.0)

    def phase_at(self, seconds_of_day: float) -> LightPhase:
        """The light phase at a time of day (seconds after midnight, wrapped to one day)."""
        since_on = (seconds_of_day - self.on_at) % SECONDS_PER_DAY
        if since_on < self.on_for:
            return LightPhase(is_day=True, seconds_to_switch=self.on_for - since_on, scheduled=True)
        return LightPhase(
            is_day=False, seconds_to_switch=SECONDS_PER_DAY - since_on, scheduled=True
        )


@dataclass(frozen=True, slots=True)
class AgedReading:
    """A measured value and how long ago it was measured (seconds)."""

    value: float
    age: float = 0.0


@dataclass(frozen=True, slots=True)
class ControlReadings:
    """The zone's inputs; ``None`` means unknown (never received or unavailable)."""

    air_temperature: AgedReading | None
    relative_humidity: AgedReading | None
    leaf_temperature: AgedReading | None = None


@dataclass(frozen=True, slots=True)
class ActuatorStatus:
    """An actuator the engine may drive, as it is now.

    ``since_switch`` is the time since its state last changed (``math.inf`` when unknown,
    e.g. right after a restart); ``min_on`` and ``min_off`` are in seconds. ``since_run``
    is the time since it last stopped after running (``math.inf`` when it is not known to
    have run): it drives the partner lockout of the exclusive pairs.
    """

    key: str
    kind: ActuatorKind
    is_on: bool
    since_switch: float = math.inf
    min_on: float = 0.0
    min_off: float = 0.0
    since_run: float = math.inf

    def __post_init__(self) -> None:
        """Refuse negative times."""
        _require(self.since_switch >= 0, f"{self.key}: time since switch must not be negative")
        _require(self.since_run >= 0, f"{self.key}: time since run must not be negative")
        _require(self.min_on >= 0 and self.min_off >= 0, f"{self.key}: min on/off must be >= 0")

    def hold_remaining(self) -> float:
        """Seconds until the minimum time of the current state has passed (0 when it has)."""
        minimum = self.min_on if self.is_on else self.min_off
        return max(0.0, minimum - self.since_switch)


@dataclass(frozen=True, slots=True)
class ControlSettings:
    """Configuration of the engine; the limits, bound and offset default to the zone's."""

    max_temperature: float = DEFAULT_MAX_TEMPERATURE
    max_humidity: float = DEFAULT_MAX_HUMIDITY
    stale_after: float = float(DEFAULT_MAX_INPUT_AGE)
    leaf_offset: float = DEFAULT_LEAF_OFFSET
    anticipation: float = 600.0
    # Tuned on the closed-loop benchmark (docs/benchmarks.md). A heater warms up and cools
    # down slowly: it starts 40 % of the way to the band edge and stops just past the
    # target, so that the air it keeps heating after it stopped stays in band. A
    # dehumidifier pulse moves the VPD by most of the band: it starts three quarters of the
    # way to the band edge and runs until half past the target.
    temperature_act_fraction: float = 0.4
    temperature_release_fraction: float = 0.1
    humidity_act_fraction: float = 0.75
    humidity_release_fraction: float = 0.5
    limit_hysteresis_temperature: float = 1.0
    limit_hysteresis_humidity: float = 3.0
    partner_lockout: float = 600.0
    """Seconds a member of an exclusive pair waits after its partner ran.

    A humidifier pulse often overshoots past the dehumidifier's threshold (and a heater's
    past the cooler's); acting on that overshoot makes the pair see-saw. Waiting lets the
    climate drift back by itself, unless the reading is urgent (below).
    """
    lockout_override_fraction: float = 2.0
    """How far past its act threshold (in half-bands) a reading ends the partner lockout."""
    partner_settle: float = 300.0
    """Seconds after its partner ran during which not even a far-out reading ends the lockout.

    A long run (a minimum on time of minutes) carries the air far past the band, mostly
    through the heat the unit gives off, which the tent loses again within minutes; the
    partner acting on that would undo the run and set off a see-saw. Safety limits still act.
    """

    def __post_init__(self) -> None:
        """Refuse settings that would make the engine misbehave."""
        for name in (
            "max_temperature",
            "max_humidity",
            "stale_after",
            "leaf_offset",
            "anticipation",
            "temperature_act_fraction",
            "temperature_release_fraction",
            "humidity_act_fraction",
            "humidity_release_fraction",
            "limit_hysteresis_temperature",
            "limit_hysteresis_humidity",
            "partner_lockout",
            "lockout_override_fraction",
            "partner_settle",
        ):
            _require_finite(name, getattr(self, name))
        _require(self.stale_after > 0, "stale_after must be positive")
        _require(self.anticipation >= 0, "anticipation must not be negative")
        _require(self.partner_lockout >= 0, "partner_lockout must not be negative")
        _require(
            0 <= self.partner_settle <= self.partner_lockout,
            "partner_settle must be within 0..partner_lockout",
        )
        _require(
            self.lockout_override_fraction >= 0, "lockout_override_fraction must not be negative"
        )
        _require(0 < self.max_humidity <= 100, "max_humidity must be within 0..100 %")
        # act > release keeps the "switch on" regions of opposing actuators apart.
        for quantity in ("temperature", "humidity"):
            act = getattr(self, f"{quantity}_act_fraction")
            release = getattr(self, f"{quantity}_release_fraction")
            _require(
                -1 < release < act <= 1,
                f"need -1 < {quantity}_release_fraction < {quantity}_act_fraction <= 1",
            )
        _require(
            self.limit_hysteresis_temperature > 0 and self.limit_hysteresis_humidity > 0,
            "limit hysteresis must be positive",
        )


@dataclass(frozen=True, slots=True)
class ControlInputs:
    """Everything the engine decides on."""

    readings: ControlReadings
    targets: ControlTargets
    light: LightPhase
    actuators: Sequence[ActuatorStatus]
    mode: ControlMode = ControlMode.AUTO

    def __post_init__(self) -> None:
        """Refuse duplicate actuator keys."""
        keys = [actuator.key for actuator in self.actuators]
        _require(len(keys) == len(set(keys)), f"actuator keys must be unique: {keys}")


@dataclass(frozen=True, slots=True)
class ActuatorDecision:
    """The desired state of one actuator and why."""

    key: str
    kind: ActuatorKind
    on: bool
    code: ReasonCode
    reason: str
    changed: bool
    held_for: float = 0.0
    """Seconds the actuator is held in its state against the wish (min on/off), else 0."""


@dataclass(frozen=True, slots=True)
class ClimateAssessment:
    """The zone's climate as the engine saw it (``None`` when inputs are not usable)."""

    air_temperature: float
    relative_humidity: float
    leaf_temperature: float
    vpd: float
    target_humidity: float
    humidity_band: Band | None
    """RH range that puts the leaf VPD in band at the current temperatures (None if degenerate)."""
    reference_temperature: float
    """Air temperature (°C) the humidity is also judged at (see ``_reference_temperature``)."""
    reference_vpd: float
    """Leaf VPD (kPa) the air's water content gives at :attr:`reference_temperature`."""


@dataclass(frozen=True, slots=True)
class ControlDecision:
    """The engine's answer."""

    actuators: Mapping[str, ActuatorDecision]
    code: ReasonCode
    reason: str
    is_day: bool
    targets: PeriodTargets
    climate: ClimateAssessment | None
    next_evaluation_in: float | None
    details: tuple[str, ...] = field(default=())

    @property
    def commands(self) -> dict[str, bool]:
        """Actuators whose state must change: key → desired state (offs first)."""
        changed = [d for d in self.actuators.values() if d.changed]
        changed.sort(key=lambda d: d.on)
        return {d.key: d.on for d in changed}


@dataclass(frozen=True, slots=True)
class _Wish:
    on: bool
    code: ReasonCode
    reason: str
    urgent: bool = False
    """Far enough out of band to act even right after the exclusive partner ran."""


def active_targets(
    targets: ControlTargets, light: LightPhase, anticipation: float
) -> PeriodTargets:
    """The targets in force: the current period's, or the next one's close to a switch."""
    upcoming = light.seconds_to_switch is not None and light.seconds_to_switch <= anticipation
    return targets.for_period(is_day=light.is_day != upcoming)


def _usable(reading: AgedReading | None, stale_after: float) -> bool:
    return reading is not None and reading.age <= stale_after


def _input_problem(
    readings: ControlReadings, settings: ControlSettings
) -> tuple[ReasonCode, str] | None:
    """Why the required inputs cannot be used, or None when they can."""
    required = (
        ("air temperature", readings.air_temperature, MIN_TEMPERATURE_C, MAX_TEMPERATURE_C),
        ("humidity", readings.relative_humidity, 0.0, 100.0),
    )
    for name, reading, low, high in required:
        if reading is None:
            return ReasonCode.INPUTS_MISSING, f"No {name} reading"
        if not math.isfinite(reading.value) or not low <= reading.value <= high:
            return ReasonCode.INPUTS_MISSING, f"Implausible {name} reading {reading.value!r}"
        if not math.isfinite(reading.age) or reading.age > settings.stale_after:
            return (
                ReasonCode.INPUTS_STALE,
                (
                    f"The {name} reading is {reading.age:.0f} s old "
                    f"(limit {settings.stale_after:.0f} s)"
                ),
            )
    return None


def _rh_for(vpd: float, air: float, leaf: float) -> float:
    return relative_humidity_for_vpd(max(0.0, vpd), air, leaf, clamp=True)


def _reference_temperature(
    air: float,
    targets: PeriodTargets,
    settings: ControlSettings,
    allowed: frozenset[ActuatorKind],
    held_off: frozenset[ActuatorKind],
) -> float:
    """The air temperature the humidity is judged at, besides the air's own.

    The air's own, except in a *pause* of the temperature control: the air is beyond the
    heater's (or cooler's) switching point while the heater (cooler) is held off by its
    minimum off time. The heater is about to bring the air back, so the humidity is also
    judged at that switching point: a heater pause cools the air and raises its RH for a
    moment, and acting on that dip alone would start the dehumidifier. Otherwise (a slow
    warm-up, say) the air's own temperature is what the plants feel: judging at a warmer
    one holds the dehumidifier back while the air is truly too humid (measured on the
    closed-loop benchmark, docs/benchmarks.md).
    """
    th = _thresholds(targets, settings, allowed)
    if ActuatorKind.HEATER in allowed & held_off and air < th.heat_on_below:
        return th.heat_on_below
    if ActuatorKind.COOLER in allowed & held_off and air > th.cool_on_above:
        return th.cool_on_above
    return air


def _assess(
    readings: ControlReadings,
    targets: PeriodTargets,
    settings: ControlSettings,
    allowed: frozenset[ActuatorKind],
    held_off: frozenset[ActuatorKind],
) -> ClimateAssessment:
    assert readings.air_temperature is not None  # noqa: S101  # checked by _input_problem
    assert readings.relative_humidity is not None  # noqa: S101
    air = readings.air_temperature.value
    rh = readings.relative_humidity.value
    leaf_reading = readings.leaf_temperature
    if (
        leaf_reading is not None
        and _usable(leaf_reading, settings.stale_after)
        and math.isfinite(leaf_reading.value)
        and MIN_TEMPERATURE_C <= leaf_reading.value <= MAX_TEMPERATURE_C
    ):
        leaf = leaf_reading.value
    else:
        leaf = min(MAX_TEMPERATURE_C, max(MIN_TEMPERATURE_C, air - settings.leaf_offset))
    low_rh = _rh_for(targets.vpd_band.high, air, leaf)
    high_rh = _rh_for(targets.vpd_band.low, air, leaf)
    reference = _reference_temperature(air, targets, settings, allowed, held_off)
    # The same water in the air, with the leaves as much cooler than it as they are now.
    reference_leaf = min(MAX_TEMPERATURE_C, max(MIN_TEMPERATURE_C, reference - (air - leaf)))
    return ClimateAssessment(
        air_temperature=air,
        relative_humidity=rh,
        leaf_temperature=leaf,
        vpd=vpd_leaf(air, rh, leaf),
        target_humidity=_rh_for(targets.vpd, air, leaf),
        humidity_band=Band(low_rh, high_rh) if low_rh < high_rh else None,
        reference_temperature=reference,
        reference_vpd=saturation_vapour_pressure(reference_leaf) - actual_vapour_pressure(air, rh),
    )


@dataclass(frozen=True, slots=True)
class _Thresholds:
    """Switching points: air temperatures (°C) and leaf VPDs (kPa)."""

    heat_on_below: float
    heat_off_at: float
    cool_on_above: float
    cool_off_at: float
    vent_heat_on_above: float
    heat_urgent_below: float
    cool_urgent_above: float
    humidify_urgent_above_vpd: float
    dehumidify_urgent_below_vpd: float
    humidify_on_above_vpd: float
    humidify_off_at_vpd: float
    dehumidify_on_below_vpd: float
    dehumidify_off_at_vpd: float
    vent_humidity_on_below_vpd: float
    vent_humidity_off_at_vpd: float


def _thresholds(
    targets: PeriodTargets,
    settings: ControlSettings,
    kinds: frozenset[ActuatorKind],
) -> _Thresholds:
    act, release = settings.temperature_act_fraction, settings.temperature_release_fraction
    h_act, h_release = settings.humidity_act_fraction, settings.humidity_release_fraction
    urgent = settings.lockout_override_fraction
    t, t_band = targets.temperature, targets.temperature_band
    below, above = t - t_band.low, t_band.high - t
    v, v_band = targets.vpd, targets.vpd_band
    v_below, v_above = v - v_band.low, v_band.high - v
    cool_on_above = t + act * above
    dehumidify_on_below_vpd = v - h_act * v_below
    # The exhaust fan is a second stage behind a cooler or a dehumidifier: it joins half a
    # half-band further out than the first stage.
    second_temperature_stage = t + (act + 0.5) * above
    second_humidity_stage = v - (h_act + 0.5) * v_below
    return _Thresholds(
        heat_on_below=t - act * below,
        heat_off_at=t + release * above,
        cool_on_above=cool_on_above,
        cool_off_at=t - release * below,
        vent_heat_on_above=(
            second_temperature_stage if ActuatorKind.COOLER in kinds else cool_on_above
        ),
        # "Urgent": so far out that a pair member acts even right after its partner ran
        # (see ControlSettings.partner_lockout).
        heat_urgent_below=t - (act + urgent) * below,
        cool_urgent_above=t + (act + urgent) * above,
        humidify_urgent_above_vpd=v + (h_act + urgent) * v_above,
        dehumidify_urgent_below_vpd=v - (h_act + urgent) * v_below,
        # Higher VPD is drier air: the humidifier acts above the target VPD.
        humidify_on_above_vpd=v + h_act * v_above,
        humidify_off_at_vpd=v - h_release * v_below,
        dehumidify_on_below_vpd=dehumidify_on_below_vpd,
        dehumidify_off_at_vpd=v + h_release * v_above,
        # An exhaust fan pulls the tent towards the room's climate, which may never reach the
        # target: it stops well inside the band (behind a dehumidifier: as soon as the
        # dehumidifier could take over), so that it can always stop.
        vent_humidity_off_at_vpd=(
            dehumidify_on_below_vpd
            if ActuatorKind.DEHUMIDIFIER in kinds
            else v - h_act / 2 * v_below
        ),
        vent_humidity_on_below_vpd=(
            second_humidity_stage if ActuatorKind.DEHUMIDIFIER in kinds else dehumidify_on_below_vpd
        ),
    )


_MODE_KINDS: Final[Mapping[ControlMode, frozenset[ActuatorKind]]] = {
    ControlMode.OFF: frozenset(),
    ControlMode.HEAT: frozenset({ActuatorKind.HEATER}),
    ControlMode.COOL: frozenset({ActuatorKind.COOLER, ActuatorKind.EXHAUST_FAN}),
    ControlMode.HEAT_COOL: frozenset(
        {ActuatorKind.HEATER, ActuatorKind.COOLER, ActuatorKind.EXHAUST_FAN}
    ),
    ControlMode.DRY: frozenset({ActuatorKind.DEHUMIDIFIER, ActuatorKind.EXHAUST_FAN}),
    ControlMode.FAN_ONLY: frozenset(),
    ControlMode.AUTO: frozenset(
        {
            ActuatorKind.HEATER,
            ActuatorKind.COOLER,
            ActuatorKind.HUMIDIFIER,
            ActuatorKind.DEHUMIDIFIER,
            ActuatorKind.EXHAUST_FAN,
        }
    ),
}
"""Climate actuators each mode may use to chase the targets."""

_TEMPERATURE_KINDS: Final = frozenset(
    {ActuatorKind.HEATER, ActuatorKind.COOLER, ActuatorKind.EXHAUST_FAN}
)
_HUMIDITY_KINDS: Final = frozenset(
    {ActuatorKind.HUMIDIFIER, ActuatorKind.DEHUMIDIFIER, ActuatorKind.EXHAUST_FAN}
)


def modes_for(kinds: Iterable[ActuatorKind]) -> tuple[ControlMode, ...]:
    """The modes that make sense for the mapped actuator kinds (always including ``off``)."""
    present = frozenset(kinds)
    modes = [ControlMode.OFF]
    heat, cool = (
        ActuatorKind.HEATER in present,
        bool(present & {ActuatorKind.COOLER, ActuatorKind.EXHAUST_FAN}),
    )
    if heat:
        modes.append(ControlMode.HEAT)
    if cool:
        modes.append(ControlMode.COOL)
    if heat and cool:
        modes.append(ControlMode.HEAT_COOL)
    if present & {ActuatorKind.DEHUMIDIFIER, ActuatorKind.EXHAUST_FAN}:
        modes.append(ControlMode.DRY)
    if present & {ActuatorKind.EXHAUST_FAN, ActuatorKind.CIRCULATION_FAN}:
        modes.append(ControlMode.FAN_ONLY)
    if present & (_TEMPERATURE_KINDS | _HUMIDITY_KINDS):
        modes.append(ControlMode.AUTO)
    return tuple(modes)


def _climate_wishes(
    inputs: ControlInputs,
    targets: PeriodTargets,
    climate: ClimateAssessment,
    settings: ControlSettings,
    is_on: Mapping[ActuatorKind, bool],
) -> dict[ActuatorKind, _Wish]:
    """What each climate actuator kind should do to chase the targets (priority 4)."""
    kinds = frozenset(is_on)
    allowed = _MODE_KINDS[inputs.mode]
    th = _thresholds(targets, settings, kinds)
    air, rh = climate.air_temperature, climate.relative_humidity
    # Humidity is judged at the air's temperature and at the reference temperature (the
    # temperature control's switching point while the air is beyond it, see
    # _reference_temperature); a humidity actuator acts only while both agree, so a heater
    # pause does not start the dehumidifier.
    ref_vpd, vpd_now = climate.reference_vpd, climate.vpd

    def drier_than(threshold: float) -> bool:
        return min(ref_vpd, vpd_now) > threshold

    def wetter_than(threshold: float) -> bool:
        return max(ref_vpd, vpd_now) < threshold

    wishes: dict[ActuatorKind, _Wish] = {}
    t_text = f"{air:.1f} °C, target {targets.temperature:.1f} °C"
    h_text = f"VPD {vpd_now:.2f} kPa ({rh:.0f} % RH at {air:.1f} °C)"
    if climate.reference_temperature != air:
        h_text += f" and {ref_vpd:.2f} kPa at {climate.reference_temperature:.1f} °C"
    h_text += f", target {targets.vpd:.2f} kPa"

    def hysteresis(kind: ActuatorKind, on_when: bool, hold_while: bool) -> bool:
        return hold_while if is_on.get(kind, False) else on_when

    if ActuatorKind.HEATER in allowed:
        on = hysteresis(ActuatorKind.HEATER, air < th.heat_on_below, air < th.heat_off_at)
        wishes[ActuatorKind.HEATER] = (
            _Wish(True, ReasonCode.TOO_COLD, f"Heating: {t_text}", air < th.heat_urgent_below)
            if on
            else _Wish(False, ReasonCode.NOT_NEEDED, f"No heating needed: {t_text}")
        )
    if ActuatorKind.COOLER in allowed:
        on = hysteresis(ActuatorKind.COOLER, air > th.cool_on_above, air > th.cool_off_at)
        wishes[ActuatorKind.COOLER] = (
            _Wish(True, ReasonCode.TOO_WARM, f"Cooling: {t_text}", air > th.cool_urgent_above)
            if on
            else _Wish(False, ReasonCode.NOT_NEEDED, f"No cooling needed: {t_text}")
        )
    if ActuatorKind.HUMIDIFIER in allowed:
        on = hysteresis(
            ActuatorKind.HUMIDIFIER,
            drier_than(th.humidify_on_above_vpd),
            drier_than(th.humidify_off_at_vpd),
        )
        wishes[ActuatorKind.HUMIDIFIER] = (
            _Wish(
                True,
                ReasonCode.TOO_DRY,
                f"Humidifying: {h_text}",
                drier_than(th.humidify_urgent_above_vpd),
            )
            if on
            else _Wish(False, ReasonCode.NOT_NEEDED, f"No humidifying needed: {h_text}")
        )
    if ActuatorKind.DEHUMIDIFIER in allowed:
        on = hysteresis(
            ActuatorKind.DEHUMIDIFIER,
            wetter_than(th.dehumidify_on_below_vpd),
            wetter_than(th.dehumidify_off_at_vpd),
        )
        wishes[ActuatorKind.DEHUMIDIFIER] = (
            _Wish(
                True,
                ReasonCode.TOO_HUMID,
                f"Dehumidifying: {h_text}",
                wetter_than(th.dehumidify_urgent_below_vpd),
            )
            if on
            else _Wish(False, ReasonCode.NOT_NEEDED, f"No dehumidifying needed: {h_text}")
        )
    if ActuatorKind.EXHAUST_FAN in allowed:
        uses_humidity = inputs.mode in (ControlMode.AUTO, ControlMode.DRY)
        uses_temperature = inputs.mode != ControlMode.DRY
        vent_on = is_on.get(ActuatorKind.EXHAUST_FAN, False)
        hot = uses_temperature and (
            air > th.cool_off_at if vent_on else air > th.vent_heat_on_above
        )
        # Room air cools the tent: venting moisture while it needs heat fights the heater.
        needs_heat = is_on.get(ActuatorKind.HEATER, False) or air < th.heat_on_below
        humid = (
            uses_humidity
            and not needs_heat
            and (
                wetter_than(th.vent_humidity_off_at_vpd)
                if vent_on
                else wetter_than(th.vent_humidity_on_below_vpd)
            )
        )
        if hot:
            wishes[ActuatorKind.EXHAUST_FAN] = _Wish(
                True, ReasonCode.TOO_WARM, f"Venting heat: {t_text}"
            )
        elif humid:
            wishes[ActuatorKind.EXHAUST_FAN] = _Wish(
                True, ReasonCode.TOO_HUMID, f"Venting humidity: {h_text}"
            )
        else:
            wishes[ActuatorKind.EXHAUST_FAN] = _Wish(
                False, ReasonCode.NOT_NEEDED, "No venting needed"
            )
    return wishes


def _base_wishes(
    inputs: ControlInputs, is_on: Mapping[ActuatorKind, bool]
) -> dict[ActuatorKind, _Wish]:
    """Wishes that do not depend on the readings: mode, fans, lights."""
    wishes: dict[ActuatorKind, _Wish] = {}
    for kind in is_on:
        if kind is ActuatorKind.LIGHT:
            if inputs.light.scheduled:
                wishes[kind] = (
                    _Wish(True, ReasonCode.LIGHTS_ON, "Lights on by schedule")
                    if inputs.light.is_day
                    else _Wish(False, ReasonCode.LIGHTS_OFF, "Lights off by schedule")
                )
            else:
                wishes[kind] = _Wish(is_on[kind], ReasonCode.MANUAL, "Lights not scheduled")
        elif inputs.mode is ControlMode.OFF:
            wishes[kind] = _Wish(False, ReasonCode.MODE_OFF, "Climate control is off")
        elif kind is ActuatorKind.CIRCULATION_FAN:
            wishes[kind] = _Wish(True, ReasonCode.CIRCULATION, "Circulating air")
        elif inputs.mode is ControlMode.FAN_ONLY and kind is ActuatorKind.EXHAUST_FAN:
            wishes[kind] = _Wish(True, ReasonCode.FAN_ONLY, "Fan only")
        else:
            wishes[kind] = _Wish(False, ReasonCode.NOT_NEEDED, f"Not used in mode {inputs.mode}")
    return wishes


def _limit_wishes(
    climate: ClimateAssessment,
    settings: ControlSettings,
    is_on: Mapping[ActuatorKind, bool],
) -> dict[ActuatorKind, _Wish]:
    """Hard limits (priority 1): they override mode and targets."""
    wishes: dict[ActuatorKind, _Wish] = {}
    air, rh = climate.air_temperature, climate.relative_humidity
    countering_heat = is_on.get(ActuatorKind.COOLER, False) or is_on.get(
        ActuatorKind.EXHAUST_FAN, False
    )
    hot_limit = settings.max_temperature - (
        settings.limit_hysteresis_temperature if countering_heat else 0.0
    )
    if air >= hot_limit:
        text = f"Over the maximum temperature: {air:.1f} °C >= {settings.max_temperature:.1f} °C"
        wishes[ActuatorKind.HEATER] = _Wish(False, ReasonCode.OVER_MAX_TEMPERATURE, text)
        wishes[ActuatorKind.COOLER] = _Wish(True, ReasonCode.OVER_MAX_TEMPERATURE, text)
        wishes[ActuatorKind.EXHAUST_FAN] = _Wish(True, ReasonCode.OVER_MAX_TEMPERATURE, text)
    countering_humidity = is_on.get(ActuatorKind.DEHUMIDIFIER, False) or is_on.get(
        ActuatorKind.EXHAUST_FAN, False
    )
    humid_limit = settings.max_humidity - (
        settings.limit_hysteresis_humidity if countering_humidity else 0.0
    )
    if rh >= humid_limit:
        text = f"Over the maximum humidity: {rh:.0f} % >= {settings.max_humidity:.0f} %"
        wishes[ActuatorKind.HUMIDIFIER] = _Wish(False, ReasonCode.OVER_MAX_HUMIDITY, text)
        wishes[ActuatorKind.DEHUMIDIFIER] = _Wish(True, ReasonCode.OVER_MAX_HUMIDITY, text)
        wishes.setdefault(ActuatorKind.EXHAUST_FAN, _Wish(True, ReasonCode.OVER_MAX_HUMIDITY, text))
    return wishes


def _settle(
    actuator: ActuatorStatus,
    wish: _Wish,
    *,
    partner_on: bool,
    partner_off_for: float,
    partner_lockout: float,
    partner_settle: float,
) -> ActuatorDecision:
    """Apply safety, anti-short-cycle and interlock rules to one actuator's wish."""
    if wish.on == actuator.is_on:
        return ActuatorDecision(actuator.key, actuator.kind, wish.on, wish.code, wish.reason, False)
    if not wish.on and actuator.kind in SAFETY_OFF_KINDS and wish.code in SAFETY_CODES:
        return ActuatorDecision(actuator.key, actuator.kind, False, wish.code, wish.reason, True)
    remaining = actuator.hold_remaining()
    if remaining > 0:
        code = ReasonCode.MIN_ON if actuator.is_on else ReasonCode.MIN_OFF
        what = "on" if actuator.is_on else "off"
        return ActuatorDecision(
            actuator.key,
            actuator.kind,
            actuator.is_on,
            code,
            f"{wish.reason}; held {what} for {remaining:.0f} s more (minimum {what} time)",
            False,
            held_for=remaining,
        )
    if wish.on and partner_on:
        partner = EXCLUSIVE_PARTNER[actuator.kind]
        return ActuatorDecision(
            actuator.key,
            actuator.kind,
            False,
            ReasonCode.INTERLOCK,
            f"{wish.reason}; waiting for the {partner.replace('_', ' ')} to be off",
            False,
        )
    lockout_left = partner_lockout - partner_off_for
    settling = partner_off_for < partner_settle
    if (
        wish.on
        and (settling or not wish.urgent)
        and wish.code not in SAFETY_CODES
        and lockout_left > 0
    ):
        # The partner's overshoot is not a reason to act: wait for the climate to drift back,
        # unless the reading is well out of band.
        partner = EXCLUSIVE_PARTNER[actuator.kind]
        return ActuatorDecision(
            actuator.key,
            actuator.kind,
            False,
            ReasonCode.INTERLOCK,
            f"{wish.reason}; waiting {lockout_left:.0f} s more after the "
            f"{partner.replace('_', ' ')} (no see-sawing)",
            False,
            held_for=lockout_left,
        )
    return ActuatorDecision(actuator.key, actuator.kind, wish.on, wish.code, wish.reason, True)


def _next_evaluation(
    inputs: ControlInputs,
    decisions: Mapping[str, ActuatorDecision],
    settings: ControlSettings,
    problem: tuple[ReasonCode, str] | None,
) -> float | None:
    """Seconds until the decision may change without a new reading, or None."""
    candidates = [d.held_for for d in decisions.values() if d.held_for > 0]
    if problem is None:
        # Act at the moment the inputs go stale, not at the next reading (which may never come).
        candidates.extend(
            settings.stale_after - reading.age
            for reading in (inputs.readings.air_temperature, inputs.readings.relative_humidity)
            if reading is not None
        )
        leaf = inputs.readings.leaf_temperature
        if leaf is not None and leaf.age <= settings.stale_after:
            candidates.append(settings.stale_after - leaf.age)
    to_switch = inputs.light.seconds_to_switch
    if to_switch is not None:
        candidates.append(to_switch)
        if to_switch > settings.anticipation:
            candidates.append(to_switch - settings.anticipation)
    pending = [c for c in candidates if c >= 0]
    # A tiny margin so the timer fires after the boundary, not on it.
    return min(pending) + 0.01 if pending else None


def evaluate(inputs: ControlInputs, settings: ControlSettings | None = None) -> ControlDecision:
    """Decide the desired state of every actuator (see the module docstring for the rules)."""
    settings = settings or ControlSettings()
    is_on: dict[ActuatorKind, bool] = {}
    for actuator in inputs.actuators:
        is_on[actuator.kind] = is_on.get(actuator.kind, False) or actuator.is_on
    targets = active_targets(inputs.targets, inputs.light, settings.anticipation)
    wishes = _base_wishes(inputs, is_on)
    problem = _input_problem(inputs.readings, settings)
    climate: ClimateAssessment | None = None
    if problem is not None:
        code, text = problem
        for kind in SAFETY_OFF_KINDS & is_on.keys():
            wishes[kind] = _Wish(False, code, f"{text}: {kind.replace('_', ' ')} off for safety")
        for kind in (ActuatorKind.COOLER, ActuatorKind.DEHUMIDIFIER) & is_on.keys():
            wishes[kind] = _Wish(False, code, f"{text}: not running blind")
        if ActuatorKind.EXHAUST_FAN in is_on and inputs.mode is not ControlMode.OFF:
            # Without a reading, keep ventilating as it is: neither choice is known to be safe.
            wishes[ActuatorKind.EXHAUST_FAN] = _Wish(
                is_on[ActuatorKind.EXHAUST_FAN], code, f"{text}: exhaust fan left as it is"
            )
    else:
        held_off = frozenset(
            a.kind for a in inputs.actuators if not a.is_on and a.hold_remaining() > 0
        )
        climate = _assess(
            inputs.readings, targets, settings, _MODE_KINDS[inputs.mode] & is_on.keys(), held_off
        )
        wishes.update(
            {
                k: w
                for k, w in _climate_wishes(inputs, targets, climate, settings, is_on).items()
                if k in is_on
            }
        )
        # Hard limits override every mode; in "off" only in the safety direction (heater and
        # humidifier off), nothing is switched on.
        wishes.update(
            {
                k: w
                for k, w in _limit_wishes(climate, settings, is_on).items()
                if k in is_on and (inputs.mode is not ControlMode.OFF or not w.on)
            }
        )
    off_for: dict[ActuatorKind, float] = {}
    for actuator in inputs.actuators:
        off_for[actuator.kind] = min(
            off_for.get(actuator.kind, math.inf),
            0.0 if actuator.is_on else actuator.since_run,
        )
    decisions = {}
    for actuator in inputs.actuators:
        partner = EXCLUSIVE_PARTNER.get(actuator.kind)
        decisions[actuator.key] = _settle(
            actuator,
            wishes[actuator.kind],
            partner_on=partner is not None and is_on.get(partner, False),
            partner_off_for=math.inf if partner is None else off_for.get(partner, math.inf),
            partner_lockout=settings.partner_lockout,
            partner_settle=settings.partner_settle,
        )
    decisions = _enforce_exclusive_pairs(inputs.actuators, decisions)
    headline = _headline(decisions, problem, inputs.mode)
    return ControlDecision(
        actuators=decisions,
        code=headline[0],
        reason=headline[1],
        is_day=inputs.light.is_day,
        targets=targets,
        climate=climate,
        next_evaluation_in=_next_evaluation(inputs, decisions, settings, problem),
        details=tuple(d.reason for d in decisions.values()),
    )


def next_evaluation_in(
    inputs: ControlInputs, settings: ControlSettings | None = None
) -> float | None:
    """Seconds until the decision for ``inputs`` may change without a new reading (or None).

    The moment a minimum on/off time ends, the readings go stale, or the lights switch (or
    their anticipation window opens); a caller re-evaluates then. Same as
    ``evaluate(inputs, settings).next_evaluation_in``.
    """
    return evaluate(inputs, settings).next_evaluation_in


def _enforce_exclusive_pairs(
    actuators: Sequence[ActuatorStatus], decisions: dict[str, ActuatorDecision]
) -> dict[str, ActuatorDecision]:
    """Last line of defence: if both members of a pair would stay on, the safety one goes off.

    The rules above never switch a member on while its partner is on; this only triggers when
    the inputs already report both on (a manual switch, a restart, a lost command).
    """
    on_kinds = {d.kind for d in decisions.values() if d.on}
    for kind in SAFETY_OFF_KINDS:
        if kind in on_kinds and EXCLUSIVE_PARTNER[kind] in on_kinds:
            partner = EXCLUSIVE_PARTNER[kind].replace("_", " ")
            for actuator in actuators:
                if actuator.kind is kind:
                    decisions[actuator.key] = ActuatorDecision(
                        actuator.key,
                        kind,
                        False,
                        ReasonCode.INTERLOCK_VIOLATION,
                        f"{kind.replace('_', ' ').capitalize()} and {partner} were both on: "
                        f"{kind.replace('_', ' ')} off",
                        actuator.is_on,
                    )
    return decisions


def _headline(
    decisions: Mapping[str, ActuatorDecision],
    problem: tuple[ReasonCode, str] | None,
    mode: ControlMode,
) -> tuple[ReasonCode, str]:
    """The single most important reason, for the entity's attribute."""
    if problem is not None:
        return problem
    relevant = [d for d in decisions.values() if d.on or d.held_for > 0 or d.changed]
    for code in _HEADLINE_PRIORITY:
        for decision in relevant:
            if decision.code is code:
                return code, decision.reason
    if mode is ControlMode.OFF:
        return ReasonCode.MODE_OFF, "Climate control is off"
    return ReasonCode.NOT_NEEDED, "Climate in band, nothing to do"
