"""Tests of the zone controller (pure: no Home Assistant involved).

The controller's readings are the zone's own types (``zone.Reading``/``ZoneReadings``), so
that these tests give it what the climate entity gives it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.rala.const import DEFAULT_MAX_INPUT_AGE, ActuatorKind
from custom_components.rala.control import (
    ControlError,
    ControlMode,
    ControlSettings,
    LightPhase,
    ReasonCode,
)
from custom_components.rala.controller import (
    ACTUATOR_STARTUP_GRACE,
    COMMAND_SETTLE,
    ActuatorReport,
    ControlStep,
    CycleTimes,
    ZoneController,
)
from custom_components.rala.psychrometrics import relative_humidity_for_vpd
from custom_components.rala.zone import Reading, ZoneReadings, ZoneTargets

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HEATER = "switch.heater"
HUMIDIFIER = "switch.humidifier"
SET_POINTS = ZoneTargets(day_temperature=25.0, night_temperature=20.0, day_vpd=1.0, night_vpd=0.8)
SETTINGS = ControlSettings(stale_after=120.0)
# Day VPD at target at 25 °C with the default leaf offset.
IN_BAND_RH = relative_humidity_for_vpd(1.0, 25.0, leaf_offset_c=SETTINGS.leaf_offset)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _readings(air: float, rh: float, *, written: float, leaf: float | None = None) -> ZoneReadings:
    return ZoneReadings(
        air_temperature=Reading("sensor.air", air, _at(written)),
        humidity=Reading("sensor.rh", rh, _at(written)),
        leaf_temperature=None if leaf is None else Reading("sensor.leaf", leaf, _at(written)),
    )


def _controller(
    calls: list[tuple[frozenset[str], frozenset[str]]] | None = None,
    *,
    node_cycle_times: dict[str, CycleTimes] | None = None,
) -> ZoneController:
    controller = ZoneController(
        {HEATER: ActuatorKind.HEATER, HUMIDIFIER: ActuatorKind.HUMIDIFIER},
        cycle_times=CycleTimes(60.0, 60.0),
        settings=SETTINGS,
        on_unavailable_changed=None if calls is None else lambda *change: calls.append(change),
    )
    controller.start(T0, node_cycle_times=node_cycle_times or {})
    return controller


def _decide(
    controller: ZoneController,
    at: float,
    reports: dict[str, ActuatorReport | None] | None = None,
    *,
    only_safety: bool = False,
    vpd_is_leaf: bool = True,
) -> ControlStep:
    return controller.decide(
        _at(at),
        set_points=SET_POINTS,
        vpd_half_width=0.2,
        vpd_is_leaf=vpd_is_leaf,
        light=LightPhase(is_day=True),
        mode=ControlMode.AUTO,
        reports=reports
        if reports is not None
        else {
            HEATER: ActuatorReport(False, _at(-3600)),
            HUMIDIFIER: ActuatorReport(False, _at(-3600)),
        },
        only_safety=only_safety,
    )


def test_readings_age_from_when_they_were_written() -> None:
    """A reading written 30 s before the decision is 30 s old, however late it was observed."""
    controller = _controller()
    controller.observe(_readings(22.0, IN_BAND_RH, written=0.0), _at(10.0))
    step = _decide(controller, 130.0)
    # 130 s old against a 120 s bound: stale, the heater stays off for safety.
    assert step.decision.code is ReasonCode.INPUTS_STALE
    fresh = _controller()
    fresh.observe(_readings(22.0, IN_BAND_RH, written=100.0), _at(100.0))
    assert _decide(fresh, 130.0).decision.code is ReasonCode.TOO_COLD


def test_nothing_is_commanded_before_the_inputs_were_valid_once() -> None:
    """Without readings nothing goes out, and the controller asks to be woken at the bound."""
    controller = _controller()
    step = _decide(controller, 0.0, {HEATER: ActuatorReport(True, _at(-3600)), HUMIDIFIER: None})
    assert step.waiting_for_inputs
    assert step.commands == {}
    assert step.next_evaluation_in == pytest.approx(SETTINGS.stale_after, abs=0.02)
    # At the bound the safety rules apply: the heater left on goes off.
    after = _decide(
        controller,
        SETTINGS.stale_after + 0.01,
        {HEATER: ActuatorReport(True, _at(-3600)), HUMIDIFIER: None},
    )
    assert not after.waiting_for_inputs
    assert after.commands == {HEATER: False}


def test_after_a_restart_inputs_that_come_and_go_switch_nothing_until_the_zone_was_seen_whole() -> (
    None
):
    """At a restart a restored sensor state may expire before the first live reading, while
    the heater's state is not known yet: the heater, on before the restart, stays on.
    Once the zone was seen whole, a lost input turns it off at once."""
    controller = _controller()
    heater_unknown = {
        HEATER: ActuatorReport(None, _at(0.0)),
        HUMIDIFIER: ActuatorReport(False, _at(-3600)),
    }
    heater_on = {
        HEATER: ActuatorReport(True, _at(0.5)),
        HUMIDIFIER: ActuatorReport(False, _at(-3600)),
    }
    lost = ZoneReadings(air_temperature=None, humidity=None, leaf_temperature=None)
    controller.observe(_readings(18.0, IN_BAND_RH, written=0.0), _at(0.0))  # restored
    assert _decide(controller, 0.0, heater_unknown).commands == {}
    controller.observe(lost, _at(0.2))  # the restored state expired
    step = _decide(controller, 0.6, heater_on)
    assert step.decision.code is ReasonCode.INPUTS_MISSING
    assert step.waiting_for_inputs
    assert step.commands == {}
    controller.observe(_readings(18.0, IN_BAND_RH, written=1.0), _at(1.0))  # live again
    step = _decide(controller, 1.0, heater_on)
    assert step.decision.code is ReasonCode.TOO_COLD
    assert step.commands == {}
    controller.observe(lost, _at(2.0))
    assert _decide(controller, 2.0, heater_on).commands == {HEATER: False}


def test_a_command_sent_after_a_restart_ends_the_startup_wait() -> None:
    """The controller switched something itself: from then on a lost input acts at once."""
    controller = _controller()
    controller.observe(_readings(18.0, IN_BAND_RH, written=0.0), _at(0.0))
    unknown_humidifier = {
        HEATER: ActuatorReport(False, _at(-3600)),
        HUMIDIFIER: ActuatorReport(None, _at(0.0)),
    }
    assert _decide(controller, 0.0, unknown_humidifier).commands == {HEATER: True}
    controller.observe(
        ZoneReadings(air_temperature=None, humidity=None, leaf_temperature=None), _at(1.0)
    )
    heater_on = {
        HEATER: ActuatorReport(True, _at(0.5)),
        HUMIDIFIER: ActuatorReport(None, _at(0.0)),
    }
    assert _decide(controller, 1.0, heater_on).commands == {HEATER: False}


def test_a_command_is_not_repeated_while_it_settles() -> None:
    """The same command goes out once, again after the settle time, and at once after a change."""
    controller = _controller()
    controller.observe(_readings(22.0, IN_BAND_RH, written=0.0), _at(0.0))
    assert _decide(controller, 0.0).commands == {HEATER: True}
    assert _decide(controller, 1.0).commands == {}
    settled = COMMAND_SETTLE.total_seconds() + 1.0
    controller.observe(_readings(22.0, IN_BAND_RH, written=settled), _at(settled))
    assert _decide(controller, settled).commands == {HEATER: True}
    controller.actuator_changed(
        HEATER, ActuatorReport(False, _at(-3600)), ActuatorReport(False, _at(settled))
    )
    assert _decide(controller, settled).commands == {HEATER: True}


def test_only_safety_lets_only_safety_offs_through() -> None:
    """In mode off only the engine's safety transitions are sent."""
    controller = _controller()
    controller.observe(_readings(22.0, IN_BAND_RH, written=0.0), _at(0.0))
    assert _decide(controller, 0.0, only_safety=True).commands == {}
    controller.observe(_readings(22.0, IN_BAND_RH, written=0.0), _at(200.0))
    on = {HEATER: ActuatorReport(True, _at(199.0)), HUMIDIFIER: ActuatorReport(False, _at(0))}
    step = _decide(controller, 200.0, on, only_safety=True)
    assert step.decision.code is ReasonCode.INPUTS_STALE
    assert step.commands == {HEATER: False}


def test_the_nodes_longer_minimum_times_apply() -> None:
    """An actuator of the zone's node is held by the node's minimum time when it is longer."""
    controller = _controller(node_cycle_times={HEATER: CycleTimes(30.0, 300.0)})
    controller.observe(_readings(22.0, IN_BAND_RH, written=100.0), _at(100.0))
    reports = {
        HEATER: ActuatorReport(False, _at(0.0)),
        HUMIDIFIER: ActuatorReport(False, _at(-3600)),
    }
    step = _decide(controller, 100.0, reports)
    heater = step.decision.actuators[HEATER]
    assert heater.code is ReasonCode.MIN_OFF
    assert heater.held_for == pytest.approx(200.0)
    assert step.commands == {}


def test_a_stop_after_running_feeds_the_partner_lockout() -> None:
    """After the humidifier ran, the dehumidifier's lockout counts from when it stopped."""
    dehumidifier = "switch.dehumidifier"
    controller = ZoneController(
        {HUMIDIFIER: ActuatorKind.HUMIDIFIER, dehumidifier: ActuatorKind.DEHUMIDIFIER},
        cycle_times=CycleTimes(60.0, 60.0),
        settings=SETTINGS,
    )
    controller.start(T0, node_cycle_times={})
    controller.actuator_changed(
        HUMIDIFIER, ActuatorReport(True, _at(-600)), ActuatorReport(False, _at(0.0))
    )
    mildly_humid = relative_humidity_for_vpd(0.83, 25.0, leaf_offset_c=SETTINGS.leaf_offset)
    controller.observe(_readings(25.0, mildly_humid, written=60.0), _at(60.0))
    reports = {
        HUMIDIFIER: ActuatorReport(False, _at(0.0)),
        dehumidifier: ActuatorReport(False, _at(-3600)),
    }
    step = _decide(controller, 60.0, reports)
    assert step.decision.actuators[dehumidifier].code is ReasonCode.INTERLOCK
    assert step.commands == {}


def test_unavailable_actuators_are_reported_after_the_startup_grace() -> None:
    """The callback hears of each change once, not during the grace, and when all are back."""
    calls: list[tuple[frozenset[str], frozenset[str]]] = []
    controller = _controller(calls)
    controller.observe(_readings(25.0, IN_BAND_RH, written=0.0), _at(0.0))
    missing = {HEATER: None, HUMIDIFIER: ActuatorReport(None, _at(0.0))}
    _decide(controller, 1.0, missing)
    assert calls == []
    after_grace = ACTUATOR_STARTUP_GRACE.total_seconds() + 1.0
    _decide(controller, after_grace, missing)
    _decide(controller, after_grace + 1.0, missing)
    assert calls == [(frozenset(), frozenset({HEATER, HUMIDIFIER}))]
    _decide(controller, after_grace + 2.0)
    assert calls[1:] == [(frozenset({HEATER, HUMIDIFIER}), frozenset())]


def test_air_vpd_targets_use_neither_the_leaf_nor_the_offset() -> None:
    """While drying (air VPD), a leaf reading and the leaf offset are ignored."""
    controller = _controller()
    controller.observe(_readings(25.0, IN_BAND_RH, written=0.0, leaf=20.0), _at(0.0))
    leaf = _decide(controller, 0.0).decision.climate
    air = _decide(controller, 0.0, vpd_is_leaf=False).decision.climate
    assert leaf is not None
    assert air is not None
    assert leaf.leaf_temperature == 20.0
    assert air.leaf_temperature == 25.0


def test_deciding_before_the_start_is_refused() -> None:
    """Without a start there is no startup wait to count: the controller refuses to decide."""
    controller = ZoneController(
        {HEATER: ActuatorKind.HEATER}, cycle_times=CycleTimes(0.0, 0.0), settings=SETTINGS
    )
    with pytest.raises(ControlError, match="start"):
        controller.decide(
            T0,
            set_points=SET_POINTS,
            vpd_half_width=0.2,
            vpd_is_leaf=True,
            light=LightPhase(is_day=True),
            mode=ControlMode.AUTO,
            reports={},
            only_safety=False,
        )


@pytest.mark.parametrize(("min_on", "min_off"), [(-1.0, 0.0), (0.0, float("inf"))])
def test_bad_cycle_times_are_refused(min_on: float, min_off: float) -> None:
    """A negative or infinite minimum time is refused with a message."""
    with pytest.raises(ControlError, match="minimum"):
        CycleTimes(min_on, min_off)


def test_the_default_bound_is_the_zones_maximum_input_age() -> None:
    """Without settings of its own, the controller waits the zone's default input age."""
    controller = ZoneController({}, cycle_times=CycleTimes(0.0, 0.0), settings=ControlSettings())
    controller.start(T0, node_cycle_times={})
    step = controller.decide(
        T0,
        set_points=SET_POINTS,
        vpd_half_width=0.2,
        vpd_is_leaf=True,
        light=LightPhase(is_day=True),
        mode=ControlMode.AUTO,
        reports={},
        only_safety=False,
    )
    assert step.next_evaluation_in == pytest.approx(DEFAULT_MAX_INPUT_AGE, abs=0.02)
