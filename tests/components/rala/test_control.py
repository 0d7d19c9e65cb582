"""Tests of the control engine (pure: no Home Assistant involved)."""

from __future__ import annotations

import math

from hypothesis import given, settings as hypothesis_settings, strategies as st
import pytest

from custom_components.rala.bands import Band
from custom_components.rala.const import ActuatorKind
from custom_components.rala.control import (
    EXCLUSIVE_PARTNER,
    SAFETY_CODES,
    SAFETY_OFF_KINDS,
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
    LightSchedule,
    PeriodTargets,
    ReasonCode,
    evaluate,
    modes_for,
    next_evaluation_in,
)
from custom_components.rala.psychrometrics import (
    relative_humidity_for_vpd,
    saturation_vapour_pressure,
    vpd_leaf,
)

K = ActuatorKind
DAY = PeriodTargets(
    temperature=25.0, temperature_band=Band(23.0, 27.0), vpd=1.0, vpd_band=Band(0.8, 1.2)
)
NIGHT = PeriodTargets(
    temperature=20.0, temperature_band=Band(18.0, 22.0), vpd=0.8, vpd_band=Band(0.6, 1.0)
)
TARGETS = ControlTargets(day=DAY, night=NIGHT)
SETTINGS = ControlSettings(max_temperature=32.0, max_humidity=80.0, stale_after=60.0)
ALL_KINDS = tuple(K)
AT_TARGET = -1.0
"""Stands for "the RH that puts the VPD on the day target" in :func:`run`."""


def rh_for(vpd: float, air: float) -> float:
    """The RH that gives ``vpd`` at ``air`` with the default leaf offset."""
    return relative_humidity_for_vpd(vpd, air, leaf_offset_c=SETTINGS.leaf_offset)


def rh_with_water_for(vpd: float, air: float, at: float = DAY.temperature) -> float:
    """The RH at ``air`` of the water that gives ``vpd`` at the temperature ``at``."""
    vapour = saturation_vapour_pressure(at - SETTINGS.leaf_offset) - vpd
    return 100.0 * vapour / saturation_vapour_pressure(air)


def actuator(
    kind: ActuatorKind,
    *,
    on: bool = False,
    since: float = math.inf,
    min_on: float = 0.0,
    min_off: float = 0.0,
    ran: float = math.inf,
) -> ActuatorStatus:
    """An actuator keyed by its kind (``ran``: seconds since it last stopped running)."""
    return ActuatorStatus(
        key=str(kind),
        kind=kind,
        is_on=on,
        since_switch=since,
        min_on=min_on,
        min_off=min_off,
        since_run=ran,
    )


def run(
    air: float | None = 25.0,
    rh: float | None = AT_TARGET,
    *,
    actuators: list[ActuatorStatus] | None = None,
    age: float = 0.0,
    leaf: AgedReading | None = None,
    mode: ControlMode = ControlMode.AUTO,
    light: LightPhase | None = None,
    settings: ControlSettings = SETTINGS,
) -> ControlDecision:
    """Evaluate with the day targets; RH defaults to the one at the target VPD."""
    if rh == AT_TARGET:
        rh = rh_for(DAY.vpd, 25.0 if air is None or math.isnan(air) else air)
    readings = ControlReadings(
        air_temperature=None if air is None else AgedReading(air, age),
        relative_humidity=None if rh is None else AgedReading(rh, age),
        leaf_temperature=leaf,
    )
    return evaluate(
        ControlInputs(
            readings=readings,
            targets=TARGETS,
            light=light or LightPhase(is_day=True),
            actuators=actuators if actuators is not None else [actuator(k) for k in ALL_KINDS],
            mode=mode,
        ),
        settings,
    )


def states(decision: ControlDecision) -> dict[str, bool]:
    """Desired state per actuator key."""
    return {key: d.on for key, d in decision.actuators.items()}


# --- priority 1: safety ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("air", "rh", "age", "code"),
    [
        (25.0, 55.0, 61.0, ReasonCode.INPUTS_STALE),
        (None, 55.0, 0.0, ReasonCode.INPUTS_MISSING),
        (25.0, None, 0.0, ReasonCode.INPUTS_MISSING),
        (25.0, 101.0, 0.0, ReasonCode.INPUTS_MISSING),
        (float("nan"), 55.0, 0.0, ReasonCode.INPUTS_MISSING),
        (25.0, 55.0, math.inf, ReasonCode.INPUTS_STALE),
    ],
)
def test_unusable_inputs_switch_heater_and_humidifier_off_at_once(
    air: float | None, rh: float | None, age: float, code: ReasonCode
) -> None:
    """Heater and humidifier go off even inside their minimum on time."""
    decision = run(
        air,
        rh,
        age=age,
        actuators=[
            actuator(K.HEATER, on=True, since=5, min_on=600),
            actuator(K.HUMIDIFIER, on=True, since=5, min_on=600),
            actuator(K.EXHAUST_FAN, on=True, since=5),
        ],
    )
    assert decision.code is code
    assert decision.climate is None
    assert decision.commands == {"heater": False, "humidifier": False}
    assert decision.actuators["heater"].code is code
    # Ventilation is left as it is: without a reading neither choice is known to be safe.
    assert decision.actuators["exhaust_fan"].on is True


def test_unusable_inputs_stop_cooler_and_dehumidifier_respecting_min_on() -> None:
    """Running blind is pointless, but only the heat and water sources skip min on."""
    decision = run(
        None,
        actuators=[
            actuator(K.COOLER, on=True, since=5, min_on=60),
            actuator(K.DEHUMIDIFIER, on=True, since=100, min_on=60),
        ],
    )
    assert decision.actuators["cooler"].on is True
    assert decision.actuators["cooler"].code is ReasonCode.MIN_ON
    assert decision.commands == {"dehumidifier": False}


def test_over_max_temperature_overrides_mode_and_min_on() -> None:
    """Heating mode, heater inside its min on time: the hard limit wins."""
    decision = run(
        33.0,
        mode=ControlMode.HEAT,
        actuators=[
            actuator(K.HEATER, on=True, since=1, min_on=600),
            actuator(K.COOLER),
            actuator(K.EXHAUST_FAN),
        ],
    )
    assert decision.code is ReasonCode.OVER_MAX_TEMPERATURE
    assert decision.commands == {"heater": False, "exhaust_fan": True}
    # The cooler waits for the heater to be reported off (never both on).
    assert decision.actuators["cooler"].code is ReasonCode.INTERLOCK
    follow_up = run(
        33.0,
        mode=ControlMode.HEAT,
        actuators=[
            actuator(K.HEATER, since=0),
            actuator(K.COOLER),
            actuator(K.EXHAUST_FAN, on=True, since=0),
        ],
    )
    assert follow_up.commands == {"cooler": True}


def test_hard_limit_releases_with_hysteresis() -> None:
    """Below the limit, but within its hysteresis and while countering: still the limit."""
    limit = SETTINGS.max_temperature - SETTINGS.limit_hysteresis_temperature / 2
    countering = run(limit, actuators=[actuator(K.COOLER, on=True), actuator(K.HEATER)])
    assert countering.code is ReasonCode.OVER_MAX_TEMPERATURE
    assert states(countering) == {"cooler": True, "heater": False}
    not_yet = run(limit, actuators=[actuator(K.COOLER), actuator(K.HEATER)])
    assert not_yet.code is ReasonCode.TOO_WARM


def test_over_max_humidity_switches_humidifier_off_and_dries() -> None:
    """The humidity limit is a safety transition for the humidifier."""
    decision = run(
        25.0,
        85.0,
        actuators=[
            actuator(K.HUMIDIFIER, on=True, since=1, min_on=300),
            actuator(K.DEHUMIDIFIER),
            actuator(K.EXHAUST_FAN),
        ],
    )
    assert decision.code is ReasonCode.OVER_MAX_HUMIDITY
    assert decision.commands == {"humidifier": False, "exhaust_fan": True}
    assert decision.actuators["dehumidifier"].code is ReasonCode.INTERLOCK


def test_limits_in_mode_off_only_switch_off() -> None:
    """Off switches nothing on, whatever the climate; idle, the limits have nothing to do."""
    decision = run(40.0, 95.0, mode=ControlMode.OFF)
    assert not any(states(decision).values())
    assert decision.commands == {}


@pytest.mark.parametrize(
    ("air", "rh", "running", "code"),
    [
        (33.0, 50.0, K.HEATER, ReasonCode.OVER_MAX_TEMPERATURE),
        (25.0, 82.0, K.HUMIDIFIER, ReasonCode.OVER_MAX_HUMIDITY),
    ],
)
def test_limits_switch_heater_and_humidifier_off_in_mode_off(
    air: float, rh: float, running: ActuatorKind, code: ReasonCode
) -> None:
    """A heater or humidifier the grower left on in "off" goes off at a hard limit (min on or
    not); the cooler, dehumidifier and exhaust fan are not switched on."""
    actuators = [
        actuator(kind, on=kind is running, since=1, min_on=600)
        for kind in (K.HEATER, K.COOLER, K.HUMIDIFIER, K.DEHUMIDIFIER, K.EXHAUST_FAN)
    ]
    decision = run(air, rh, mode=ControlMode.OFF, actuators=actuators)
    assert decision.commands == {str(running): False}
    assert decision.actuators[str(running)].code is code
    assert decision.code is code
    # Below the limit, a running heater or humidifier is left to the grower in "off".
    calm = run(25.0, 50.0, mode=ControlMode.OFF, actuators=actuators)
    assert calm.commands == {}


def test_both_members_of_a_pair_on_is_repaired_at_once() -> None:
    """A manual switch left heater and cooler on: the heater goes, min on or not."""
    decision = run(
        25.0,
        actuators=[
            actuator(K.HEATER, on=True, since=1, min_on=600),
            actuator(K.COOLER, on=True, since=1, min_on=600),
        ],
    )
    assert decision.actuators["heater"].code is ReasonCode.INTERLOCK_VIOLATION
    assert states(decision) == {"heater": False, "cooler": True}
    assert decision.code is ReasonCode.INTERLOCK_VIOLATION


# --- priority 2: anti-short-cycle ---------------------------------------------------------------


def test_min_on_holds_and_schedules_the_next_evaluation() -> None:
    """Warm enough to stop heating, but the heater has run only 20 of 60 s."""
    decision = run(26.5, actuators=[actuator(K.HEATER, on=True, since=20, min_on=60)])
    heater = decision.actuators["heater"]
    assert (heater.on, heater.changed, heater.code) == (True, False, ReasonCode.MIN_ON)
    assert heater.held_for == pytest.approx(40)
    assert decision.next_evaluation_in == pytest.approx(40, abs=0.1)
    assert decision.code is ReasonCode.MIN_ON
    assert "40 s" in decision.reason


def test_min_off_holds() -> None:
    """Too cold, but the heater was switched off 10 s ago with a 120 s minimum off time."""
    decision = run(22.0, actuators=[actuator(K.HEATER, since=10, min_off=120)])
    heater = decision.actuators["heater"]
    assert (heater.on, heater.code, heater.held_for) == (False, ReasonCode.MIN_OFF, 110)
    released = run(22.0, actuators=[actuator(K.HEATER, since=120, min_off=120)])
    assert released.commands == {"heater": True}


def test_partner_held_on_blocks_the_other() -> None:
    """Cooler in its min on time and now too cold: the heater waits."""
    decision = run(
        22.0,
        actuators=[actuator(K.HEATER), actuator(K.COOLER, on=True, since=10, min_on=120)],
    )
    assert states(decision) == {"heater": False, "cooler": True}
    assert decision.actuators["heater"].code is ReasonCode.INTERLOCK
    assert decision.actuators["cooler"].code is ReasonCode.MIN_ON


@pytest.mark.parametrize(
    ("kind", "partner", "mild", "urgent"),
    [
        # Day band 0.8-1.2 kPa: the humidifier acts above 1.2, urgently above 1.2 + 2 · 0.2.
        (K.HUMIDIFIER, K.DEHUMIDIFIER, ("vpd", 1.25), ("vpd", 1.65)),
        (K.DEHUMIDIFIER, K.HUMIDIFIER, ("vpd", 0.75), ("vpd", 0.35)),
        # Day band 23-27 °C: the heater acts below 24, urgently below 25 - 2.5 · 2 = 20.
        (K.HEATER, K.COOLER, ("air", 23.5), ("air", 19.5)),
        (K.COOLER, K.HEATER, ("air", 26.5), ("air", 30.5)),
    ],
)
def test_partner_lockout_stops_see_sawing_unless_urgent(
    kind: ActuatorKind,
    partner: ActuatorKind,
    mild: tuple[str, float],
    urgent: tuple[str, float],
) -> None:
    """Right after its partner ran, a pair member waits out the overshoot..."""
    settings = ControlSettings(max_temperature=40.0, max_humidity=99.0, stale_after=3600)
    actuators = [actuator(kind), actuator(partner, since=100, ran=100)]

    def decide(reading: tuple[str, float]) -> ControlDecision:
        quantity, value = reading
        if quantity == "air":
            return run(value, rh_for(1.0, value), actuators=actuators, settings=settings)
        return run(25.0, rh_for(value, 25.0), actuators=actuators, settings=settings)

    waiting = decide(mild).actuators[str(kind)]
    assert (waiting.on, waiting.code) == (False, ReasonCode.INTERLOCK)
    assert waiting.held_for == pytest.approx(settings.partner_lockout - 100)
    assert decide(mild).next_evaluation_in == pytest.approx(500, abs=0.1)
    # While the partner's run settles, not even a reading far out of band ends the wait...
    settling = decide(urgent).actuators[str(kind)]
    assert (settling.on, settling.code) == (False, ReasonCode.INTERLOCK)
    # ...but after that it does.
    actuators[1] = actuator(partner, since=100, ran=settings.partner_settle)
    assert decide(urgent).commands == {str(kind): True}
    assert decide(mild).actuators[str(kind)].code is ReasonCode.INTERLOCK
    # And a mild one once the lockout is over.
    actuators[1] = actuator(partner, since=100, ran=settings.partner_lockout)
    assert decide(mild).commands == {str(kind): True}
    # A partner that was merely switched off (a restart, say) without running: no lockout.
    actuators[1] = actuator(partner, since=100)
    assert decide(mild).commands == {str(kind): True}


# --- priority 3: targets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("air", "expected", "code"),
    [
        (23.5, {"heater": True, "cooler": False, "exhaust_fan": False}, ReasonCode.TOO_COLD),
        (25.0, {"heater": False, "cooler": False, "exhaust_fan": False}, ReasonCode.NOT_NEEDED),
        (26.5, {"heater": False, "cooler": True, "exhaust_fan": False}, ReasonCode.TOO_WARM),
        # The exhaust fan joins the cooler as a second stage at the band edge.
        (27.5, {"heater": False, "cooler": True, "exhaust_fan": True}, ReasonCode.TOO_WARM),
    ],
)
def test_temperature_is_chased(air: float, expected: dict[str, bool], code: ReasonCode) -> None:
    """Heater below, cooler above, nothing around the target."""
    decision = run(air, actuators=[actuator(K.HEATER), actuator(K.COOLER), actuator(K.EXHAUST_FAN)])
    assert states(decision) == expected
    assert decision.code is code


def test_exhaust_fan_cools_when_there_is_no_cooler() -> None:
    """Without a cooler the exhaust fan is the first cooling stage."""
    decision = run(26.5, actuators=[actuator(K.HEATER), actuator(K.EXHAUST_FAN)])
    assert states(decision) == {"heater": False, "exhaust_fan": True}


@pytest.mark.parametrize(
    ("heater_on", "air", "expected"),
    [
        (False, 24.3, False),  # between on and off thresholds: stays off...
        (True, 24.3, True),  # ...or stays on
        (True, 25.1, True),  # a little past the target: still heating
        (True, 25.3, False),  # released past target + release fraction
        (False, 24.1, True),  # act fraction of the way to the band edge
    ],
)
def test_heater_hysteresis(heater_on: bool, air: float, expected: bool) -> None:
    """Acting 40 % of the way to the band edge (24.2 °C), releasing a tenth of the half band
    past the target (25.2 °C): the defaults, with a band of ± 2 °C."""
    decision = run(air, actuators=[actuator(K.HEATER, on=heater_on)])
    assert decision.actuators["heater"].on is expected


def test_target_humidity_comes_from_the_target_vpd() -> None:
    """Target RH and RH band are the inverse VPD at the current temperatures."""
    decision = run(26.0, 50.0)
    assert decision.climate is not None
    assert decision.climate.target_humidity == pytest.approx(rh_for(DAY.vpd, 26.0))
    band = decision.climate.humidity_band
    assert band is not None
    assert band.low == pytest.approx(rh_for(DAY.vpd_band.high, 26.0))
    assert band.high == pytest.approx(rh_for(DAY.vpd_band.low, 26.0))
    assert decision.climate.vpd == pytest.approx(vpd_leaf(26.0, 50.0))


def test_measured_leaf_temperature_is_used_and_stale_one_replaced_by_offset() -> None:
    """A fresh leaf reading feeds the VPD; a stale one falls back to the offset."""
    fresh = run(26.0, 50.0, leaf=AgedReading(25.5, 0))
    assert fresh.climate is not None
    assert fresh.climate.leaf_temperature == 25.5
    assert fresh.climate.vpd == pytest.approx(vpd_leaf(26.0, 50.0, 25.5))
    stale = run(26.0, 50.0, leaf=AgedReading(25.5, 600))
    assert stale.climate is not None
    assert stale.climate.leaf_temperature == pytest.approx(26.0 - SETTINGS.leaf_offset)
    assert stale.code is not ReasonCode.INPUTS_STALE


@pytest.mark.parametrize(
    ("vpd", "expected", "code"),
    [
        (1.25, {"humidifier": True, "dehumidifier": False}, ReasonCode.TOO_DRY),
        (1.0, {"humidifier": False, "dehumidifier": False}, ReasonCode.NOT_NEEDED),
        (0.75, {"humidifier": False, "dehumidifier": True}, ReasonCode.TOO_HUMID),
    ],
)
def test_vpd_is_chased(vpd: float, expected: dict[str, bool], code: ReasonCode) -> None:
    """Humidify when the VPD is too high, dehumidify when too low."""
    decision = run(
        25.0, rh_for(vpd, 25.0), actuators=[actuator(K.HUMIDIFIER), actuator(K.DEHUMIDIFIER)]
    )
    assert states(decision) == expected
    assert decision.code is code


HEAT_ON_BELOW = DAY.temperature - SETTINGS.temperature_act_fraction * 2.0
"""The heater's switching point with the day targets (band ± 2 °C): 24.2 °C."""
COOL_ON_ABOVE = DAY.temperature + SETTINGS.temperature_act_fraction * 2.0
"""The cooler's switching point with the day targets: 25.8 °C."""
HELD_OFF = {"since": 10.0, "min_off": 60.0}
"""An actuator switched off 10 s ago with a minimum off time of 60 s: held off."""


def test_a_heater_pause_does_not_start_the_dehumidifier() -> None:
    """The heater is off (held by its minimum off time) and the air cooled to 23 °C: its RH
    is up and the VPD below band right now, but at 24.2 °C, where the heater brings the air
    back, the same water is in band. Judged on both, the dehumidifier stays off."""
    rh = rh_with_water_for(0.85, 23.0, at=HEAT_ON_BELOW)
    assert vpd_leaf(23.0, rh) < DAY.vpd_band.low  # the air alone would say "too humid"
    paused = actuator(K.HEATER, **HELD_OFF)
    pair = [actuator(K.HUMIDIFIER), actuator(K.DEHUMIDIFIER)]
    decision = run(23.0, rh, actuators=[paused, *pair])
    assert states(decision) == {"heater": False, "humidifier": False, "dehumidifier": False}
    assert decision.actuators["heater"].code is ReasonCode.MIN_OFF
    assert decision.climate is not None
    assert decision.climate.reference_temperature == HEAT_ON_BELOW
    assert decision.climate.reference_vpd == pytest.approx(0.85, abs=1e-6)
    assert decision.climate.vpd == pytest.approx(vpd_leaf(23.0, rh))
    # While the heater runs or may run (a slow warm-up), the air's own VPD counts.
    for heater in (actuator(K.HEATER, on=True), actuator(K.HEATER, since=10, ran=10)):
        warming = run(23.0, rh, actuators=[heater, *pair])
        assert warming.climate is not None
        assert warming.climate.reference_temperature == 23.0
        assert states(warming) == {"heater": True, "humidifier": False, "dehumidifier": True}


@pytest.mark.parametrize(
    ("air", "temperature_actuator", "mode", "reference"),
    [
        (21.0, actuator(K.HEATER, **HELD_OFF), ControlMode.AUTO, HEAT_ON_BELOW),
        (28.0, actuator(K.COOLER, **HELD_OFF), ControlMode.AUTO, COOL_ON_ABOVE),
        (21.0, actuator(K.HEATER), ControlMode.AUTO, 21.0),
        (21.0, actuator(K.HEATER, on=True, since=10, min_on=60), ControlMode.AUTO, 21.0),
        (28.0, actuator(K.COOLER, on=True), ControlMode.AUTO, 28.0),
        (28.0, actuator(K.EXHAUST_FAN, **HELD_OFF), ControlMode.AUTO, 28.0),
        (24.5, actuator(K.HEATER, **HELD_OFF), ControlMode.AUTO, 24.5),
        (21.0, actuator(K.HEATER, **HELD_OFF), ControlMode.DRY, 21.0),
        (21.0, actuator(K.COOLER, **HELD_OFF), ControlMode.AUTO, 21.0),
    ],
)
def test_humidity_reference_temperature(
    air: float, temperature_actuator: ActuatorStatus, mode: ControlMode, reference: float
) -> None:
    """Beyond the switching point of a heater or cooler (that the mode may use) held off by
    its minimum off time: that switching point; otherwise the air's own temperature."""
    humidity = [actuator(K.HUMIDIFIER), actuator(K.DEHUMIDIFIER)]
    decision = run(air, 50.0, mode=mode, actuators=[temperature_actuator, *humidity])
    assert decision.climate is not None
    assert decision.climate.reference_temperature == reference
    leaf = reference - SETTINGS.leaf_offset
    expected = saturation_vapour_pressure(leaf) - saturation_vapour_pressure(air) * 0.5
    assert decision.climate.reference_vpd == pytest.approx(expected, abs=1e-6)


def test_no_humidity_action_unless_air_and_reference_agree() -> None:
    """Dry at the heater's switching point but humid right now (cold air in a heater pause):
    no humidifier; humid at the cooler's switching point but dry right now (hot air in a
    cooler pause): no dehumidifier; a running humidifier stops once either view is past
    the target."""
    heater_pause = actuator(K.HEATER, **HELD_OFF)
    cold = run(
        20.0,
        rh_with_water_for(1.3, 20.0, at=HEAT_ON_BELOW),
        actuators=[heater_pause, actuator(K.HUMIDIFIER), actuator(K.DEHUMIDIFIER)],
    )
    assert decision_vpd(cold) < DAY.vpd_band.low
    assert states(cold) == {"heater": False, "humidifier": False, "dehumidifier": False}
    cooler_pause = actuator(K.COOLER, **HELD_OFF)
    hot = run(
        30.0,
        rh_with_water_for(0.5, 30.0, at=COOL_ON_ABOVE),
        actuators=[cooler_pause, actuator(K.HUMIDIFIER), actuator(K.DEHUMIDIFIER)],
    )
    assert decision_vpd(hot) > DAY.vpd_band.high
    assert states(hot) == {"cooler": False, "humidifier": False, "dehumidifier": False}
    running = run(
        20.0,
        rh_with_water_for(1.3, 20.0, at=HEAT_ON_BELOW),
        actuators=[heater_pause, actuator(K.HUMIDIFIER, on=True), actuator(K.DEHUMIDIFIER)],
    )
    assert running.commands == {"humidifier": False}


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    air=st.floats(15.0, 31.0),
    rh=st.floats(5.0, 79.0),
    heater_on=st.booleans(),
    cooler_on=st.booleans(),
)
def test_judging_twice_never_adds_a_humidity_action(
    air: float, rh: float, heater_on: bool, cooler_on: bool
) -> None:
    """Whatever the temperature swing: a humidity actuator the engine starts is one that
    judging the air alone would start too (the reference only ever holds one back)."""
    humidity = [actuator(K.HUMIDIFIER), actuator(K.DEHUMIDIFIER)]
    temperature = [
        actuator(K.HEATER, on=heater_on and not cooler_on, since=10, min_on=60, min_off=60),
        actuator(K.COOLER, on=cooler_on, since=10, min_on=60, min_off=60),
    ]
    decision = run(air, rh, actuators=[*temperature, *humidity])
    alone = run(air, rh, actuators=humidity)  # no temperature control: the air alone
    assert alone.climate is not None
    assert alone.climate.reference_temperature == air
    for kind in ("humidifier", "dehumidifier"):
        if decision.actuators[kind].on:
            assert alone.actuators[kind].on, (kind, decision.details)


def test_exhaust_fan_does_not_vent_humidity_while_heat_is_needed() -> None:
    """Room air cools the tent: too humid and too cold, the heater acts, the fan does not."""
    humid_and_cold = run(
        23.0, rh_for(0.6, 23.0), actuators=[actuator(K.HEATER), actuator(K.EXHAUST_FAN)]
    )
    assert states(humid_and_cold) == {"heater": True, "exhaust_fan": False}
    humid_only = run(
        25.0, rh_for(0.6, 25.0), actuators=[actuator(K.HEATER), actuator(K.EXHAUST_FAN)]
    )
    assert states(humid_only) == {"heater": False, "exhaust_fan": True}


def decision_vpd(decision: ControlDecision) -> float:
    """The leaf VPD right now of a decision with usable inputs."""
    assert decision.climate is not None
    return decision.climate.vpd


def test_exhaust_fan_dehumidifies_without_dehumidifier() -> None:
    """Too humid and no dehumidifier: the exhaust fan vents the moisture."""
    decision = run(25.0, rh_for(0.75, 25.0), actuators=[actuator(K.EXHAUST_FAN)])
    assert decision.actuators["exhaust_fan"].on is True
    assert decision.actuators["exhaust_fan"].code is ReasonCode.TOO_HUMID
    both = [actuator(K.EXHAUST_FAN), actuator(K.DEHUMIDIFIER)]
    first_stage = run(25.0, rh_for(0.78, 25.0), actuators=both)
    assert states(first_stage) == {"exhaust_fan": False, "dehumidifier": True}
    second_stage = run(25.0, rh_for(0.65, 25.0), actuators=both)
    assert states(second_stage) == {"exhaust_fan": True, "dehumidifier": True}


# --- modes, fans and lights ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "air", "vpd", "expected_on"),
    [
        (ControlMode.OFF, 20.0, 1.5, set()),
        (ControlMode.HEAT, 20.0, 1.5, {"heater", "circulation_fan"}),
        (ControlMode.COOL, 26.5, 0.75, {"cooler", "circulation_fan"}),
        (ControlMode.HEAT_COOL, 20.0, 1.5, {"heater", "circulation_fan"}),
        (ControlMode.DRY, 26.5, 0.78, {"dehumidifier", "circulation_fan"}),
        (ControlMode.FAN_ONLY, 20.0, 1.5, {"exhaust_fan", "circulation_fan"}),
        (ControlMode.AUTO, 20.0, 1.5, {"heater", "humidifier", "circulation_fan"}),
    ],
)
def test_modes_restrict_the_actuators(
    mode: ControlMode, air: float, vpd: float, expected_on: set[str]
) -> None:
    """Each mode uses only its own actuators (the light is not scheduled here)."""
    actuators = [actuator(k) for k in ALL_KINDS if k is not K.LIGHT]
    decision = run(air, rh_for(vpd, air), mode=mode, actuators=actuators)
    assert {key for key, on in states(decision).items() if on} == expected_on


def test_scheduled_light_follows_the_schedule_and_unscheduled_is_left_alone() -> None:
    """The engine switches the light only when it owns the schedule."""
    schedule = LightSchedule.from_hours(6, 18)
    night = schedule.phase_at(3 * 3600)
    assert (night.is_day, night.seconds_to_switch, night.scheduled) == (False, 3 * 3600, True)
    lights = [actuator(K.LIGHT, on=True)]
    assert run(light=night, actuators=lights).commands == {"light": False}
    assert run(light=LightPhase(is_day=False), actuators=lights).commands == {}
    assert run(light=schedule.phase_at(7 * 3600), actuators=[actuator(K.LIGHT)]).commands == {
        "light": True
    }


def test_light_schedule_wraps_midnight() -> None:
    """Lights on at 20:00 for 16 h: on at 02:00, off at 13:00."""
    schedule = LightSchedule.from_hours(20, 16)
    assert schedule.phase_at(2 * 3600) == LightPhase(True, 10 * 3600, scheduled=True)
    assert schedule.phase_at(13 * 3600) == LightPhase(False, 7 * 3600, scheduled=True)


def test_anticipation_applies_the_next_periods_targets() -> None:
    """Five minutes before lights on the day targets are in force already."""
    soon = run(21.0, light=LightPhase(is_day=False, seconds_to_switch=300))
    assert soon.targets == DAY
    assert soon.actuators["heater"].on is True
    later = run(
        21.0,
        light=LightPhase(is_day=False, seconds_to_switch=3600),
        settings=ControlSettings(stale_after=7200),
    )
    assert later.targets == NIGHT
    assert later.actuators["heater"].on is False
    # The engine asks to be woken when the anticipation window opens.
    assert later.next_evaluation_in == pytest.approx(3600 - 600, abs=0.1)


def test_next_evaluation_at_the_moment_inputs_go_stale() -> None:
    """Without new readings, the engine wakes up exactly when they become stale."""
    decision = run(25.0, age=45.0, actuators=[actuator(K.HEATER)])
    assert decision.next_evaluation_in == pytest.approx(15.0, abs=0.1)
    nothing_pending = run(None, actuators=[actuator(K.HEATER)])
    assert nothing_pending.next_evaluation_in is None
    inputs = ControlInputs(
        ControlReadings(AgedReading(25.0, 45.0), AgedReading(55.0, 45.0)),
        TARGETS,
        LightPhase(is_day=True),
        [actuator(K.HEATER)],
    )
    assert next_evaluation_in(inputs, SETTINGS) == decision.next_evaluation_in


def test_commands_list_offs_before_ons() -> None:
    """The caller executes offs first, so a pair is never on together in transit."""
    decision = run(
        20.0,
        rh_for(1.5, 20.0),
        actuators=[actuator(K.HEATER), actuator(K.HUMIDIFIER), actuator(K.EXHAUST_FAN, on=True)],
    )
    assert list(decision.commands.items()) == [
        ("exhaust_fan", False),
        ("heater", True),
        ("humidifier", True),
    ]


def test_several_actuators_of_a_kind_act_together() -> None:
    """Two heaters: both heat, and the pair rule looks at the kind."""
    heaters = [
        ActuatorStatus("heater_a", K.HEATER, False),
        ActuatorStatus("heater_b", K.HEATER, False),
    ]
    decision = run(20.0, actuators=heaters)
    assert decision.commands == {"heater_a": True, "heater_b": True}


def test_modes_for_mapped_actuators() -> None:
    """Only modes the mapped actuators can serve are offered."""
    assert modes_for([]) == (ControlMode.OFF,)
    assert modes_for([K.HEATER, K.LIGHT]) == (
        ControlMode.OFF,
        ControlMode.HEAT,
        ControlMode.AUTO,
    )
    assert modes_for([K.HEATER, K.EXHAUST_FAN]) == (
        ControlMode.OFF,
        ControlMode.HEAT,
        ControlMode.COOL,
        ControlMode.HEAT_COOL,
        ControlMode.DRY,
        ControlMode.FAN_ONLY,
        ControlMode.AUTO,
    )
    assert modes_for([K.HUMIDIFIER]) == (ControlMode.OFF, ControlMode.AUTO)


@pytest.mark.parametrize(
    "build",
    [
        lambda: PeriodTargets(30.0, Band(18, 22), 1.0, Band(0.8, 1.2)),
        lambda: PeriodTargets(20.0, Band(18, 22), 1.3, Band(0.8, 1.2)),
        lambda: PeriodTargets.around(20.0, 1.0, temperature_tolerance=0, vpd_tolerance=0.2),
        lambda: ControlSettings(stale_after=0),
        lambda: ControlSettings(max_humidity=120),
        lambda: ControlSettings(temperature_act_fraction=0.2, temperature_release_fraction=0.3),
        lambda: ControlSettings(anticipation=float("inf")),
        lambda: ControlSettings(partner_lockout=-1),
        lambda: ControlSettings(lockout_override_fraction=-0.5),
        lambda: ControlSettings(partner_settle=-1),
        lambda: ControlSettings(partner_lockout=200, partner_settle=300),
        lambda: LightSchedule(on_at=-1, on_for=3600),
        lambda: LightSchedule(on_at=0, on_for=86400),
        lambda: LightPhase(is_day=True, seconds_to_switch=-1),
        lambda: ActuatorStatus("x", K.HEATER, False, since_switch=-1),
        lambda: ActuatorStatus("x", K.HEATER, False, min_on=-1),
        lambda: ActuatorStatus("x", K.HEATER, False, since_run=-1),
        lambda: ControlInputs(
            ControlReadings(None, None),
            TARGETS,
            LightPhase(True),
            [ActuatorStatus("x", K.HEATER, False), ActuatorStatus("x", K.COOLER, False)],
        ),
    ],
)
def test_bad_parameters_are_refused(build: object) -> None:
    """Every nonsense parameter raises ControlError with a message."""
    with pytest.raises(ControlError, match=r".+"):
        build()  # type: ignore[operator]


def test_around_builds_symmetric_bands() -> None:
    """The convenience constructor centres the bands on the set points."""
    targets = PeriodTargets.around(24.0, 0.3, temperature_tolerance=1.5, vpd_tolerance=0.4)
    assert targets.temperature_band == Band(22.5, 25.5)
    assert targets.vpd_band == Band(0.0, 0.7)
    assert 24.0 in targets.temperature_band
    assert "24" not in targets.temperature_band


# --- properties over random reading sequences ---------------------------------------------------

KIND_TIMES = {
    K.HEATER: (60.0, 120.0),
    K.COOLER: (180.0, 300.0),
    K.HUMIDIFIER: (30.0, 30.0),
    K.DEHUMIDIFIER: (120.0, 180.0),
    K.EXHAUST_FAN: (0.0, 60.0),
    K.CIRCULATION_FAN: (0.0, 0.0),
    K.LIGHT: (0.0, 0.0),
}

step_strategy = st.tuples(
    st.one_of(st.none(), st.floats(-10.0, 45.0)),  # air temperature
    st.one_of(st.none(), st.floats(0.0, 100.0)),  # relative humidity
    st.floats(0.0, 200.0),  # age of the readings
    st.floats(0.0, 400.0),  # time since the previous evaluation
    st.sampled_from(ControlMode),
    st.booleans(),  # is_day
)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    initial=st.lists(st.booleans(), min_size=len(ALL_KINDS), max_size=len(ALL_KINDS)),
    steps=st.lists(step_strategy, min_size=1, max_size=40),
)
def test_properties_over_random_sequences(
    initial: list[bool],
    steps: list[tuple[float | None, float | None, float, float, ControlMode, bool]],
) -> None:
    """Pairs never both on, min on/off respected, blind heater/humidifier always off.

    The actuators follow every command (as a healthy switch does); the inputs may start in
    any state, including both members of a pair on.
    """
    is_on = dict(zip(ALL_KINDS, initial, strict=True))
    since = dict.fromkeys(ALL_KINDS, 1000.0)
    since_run = dict.fromkeys(ALL_KINDS, math.inf)
    for air, rh, age, elapsed, mode, is_day in steps:
        for kind in since:
            since[kind] += elapsed
            since_run[kind] += elapsed
        actuators = [
            ActuatorStatus(str(k), k, is_on[k], since[k], *KIND_TIMES[k], since_run=since_run[k])
            for k in ALL_KINDS
        ]
        readings = ControlReadings(
            None if air is None else AgedReading(air, age),
            None if rh is None else AgedReading(rh, age),
        )
        decision = evaluate(
            ControlInputs(readings, TARGETS, LightPhase(is_day, 1800, True), actuators, mode),
            SETTINGS,
        )
        desired = {K(key): d.on for key, d in decision.actuators.items()}
        for kind, partner in EXCLUSIVE_PARTNER.items():
            assert not (desired[kind] and desired[partner]), (kind, decision.details)
        for status in actuators:
            result = decision.actuators[status.key]
            if result.changed:
                safety = (
                    status.kind in SAFETY_OFF_KINDS
                    and not result.on
                    and result.code in SAFETY_CODES
                )
                assert safety or status.hold_remaining() == 0, (status, result)
        inputs_usable = air is not None and rh is not None and age <= SETTINGS.stale_after
        if not inputs_usable:
            assert not desired[K.HEATER]
            assert not desired[K.HUMIDIFIER]
        else:
            # The engine wakes up no later than the moment its readings go stale.
            assert decision.next_evaluation_in is not None
            assert decision.next_evaluation_in <= SETTINGS.stale_after - age + 0.02
        if mode is ControlMode.OFF:
            switched_on = {K(key) for key, on in decision.commands.items() if on}
            assert switched_on <= {K.LIGHT}, decision.details
        for key, on in decision.commands.items():
            is_on[K(key)] = on
            since[K(key)] = 0.0
            if not on:
                since_run[K(key)] = 0.0


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    air=st.floats(5.0, 40.0),
    rh=st.floats(0.0, 100.0),
    age=st.floats(0.0, 59.0),
    wait=st.floats(0.0, 600.0),
)
def test_going_stale_switches_off_within_the_bound(
    air: float, rh: float, age: float, wait: float
) -> None:
    """Heater and humidifier on, readings stop: off at the first wake-up after stale_after."""
    actuators = [
        ActuatorStatus("heater", K.HEATER, True, 0.0, min_on=900.0),
        ActuatorStatus("humidifier", K.HUMIDIFIER, True, 0.0, min_on=900.0),
    ]
    readings = ControlReadings(AgedReading(air, age), AgedReading(rh, age))
    first = evaluate(ControlInputs(readings, TARGETS, LightPhase(True), actuators), SETTINGS)
    assert first.next_evaluation_in is not None
    woken_at = age + first.next_evaluation_in
    assert woken_at <= SETTINGS.stale_after + 0.02
    aged = ControlReadings(AgedReading(air, woken_at + wait), AgedReading(rh, woken_at + wait))
    later = evaluate(ControlInputs(aged, TARGETS, LightPhase(True), actuators), SETTINGS)
    assert later.commands == {"heater": False, "humidifier": False}
    assert later.code is ReasonCode.INPUTS_STALE


def test_zone_targets_around_set_points() -> None:
    """Bands are symmetric around the set points; a VPD band is cut off at zero."""
    targets = ControlTargets.around(
        day_temperature=26.0,
        night_temperature=21.0,
        day_vpd=1.0,
        night_vpd=0.1,
        temperature_tolerance=1.5,
        vpd_half_width=0.2,
    )
    assert (targets.day.temperature_band.low, targets.day.temperature_band.high) == (24.5, 27.5)
    assert (targets.night.temperature_band.low, targets.night.temperature_band.high) == (
        19.5,
        22.5,
    )
    assert targets.day.vpd_band.low == pytest.approx(0.8)
    assert targets.day.vpd_band.high == pytest.approx(1.2)
    assert (targets.night.vpd_band.low, targets.night.vpd) == (0.0, 0.1)
