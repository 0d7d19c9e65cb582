"""The simulated tent: physics direction and magnitude, conservation, sensor model, parameters."""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import math
import statistics

from hypothesis import given, settings, strategies as st
import pytest

from edge_agent.config import ActuatorKind
from edge_agent.sim import (
    MAX_SUBSTEP,
    SCENARIOS,
    SimulatedTent,
    TentParameters,
    saturation_vapour_pressure,
)

HEATER = ActuatorKind.HEATER
COOLER = ActuatorKind.COOLER
HUMIDIFIER = ActuatorKind.HUMIDIFIER
DEHUMIDIFIER = ActuatorKind.DEHUMIDIFIER
EXHAUST = ActuatorKind.EXHAUST_FAN
CIRCULATION = ActuatorKind.CIRCULATION_FAN
LIGHT = ActuatorKind.LIGHT

# A room that stays put, so that changes come from the actuators alone.
STILL_ROOM = TentParameters(room_temperature_amplitude=0.0, room_temperature_noise=0.0)
SEALED = dataclasses.replace(STILL_ROOM, passive_leakage=0.0)
NO_SENSOR_NOISE = {
    "sensor_temperature_noise": 0.0,
    "sensor_humidity_noise": 0.0,
    "sensor_pressure_noise": 0.0,
}


def run(
    tent: SimulatedTent, seconds: float, actuators: Mapping[ActuatorKind, bool], dt: float = 1.0
) -> SimulatedTent:
    """Step ``tent`` for ``seconds`` with fixed actuator states."""
    for _ in range(round(seconds / dt)):
        tent.step(dt, actuators)
    return tent


def settled(
    params: TentParameters, actuators: Mapping[ActuatorKind, bool], hours: float = 12.0
) -> SimulatedTent:
    """A tent run long enough (coarse steps) to be at its steady state."""
    return run(SimulatedTent(params), hours * 3600, actuators, dt=30.0)


def test_saturation_vapour_pressure_matches_reference_values() -> None:
    """Magnus/Alduchov-Eskridge within 0.5 % of the WMO table (6.112 hPa at 0 °C ...)."""
    for temperature, expected in ((0.0, 6.112), (20.0, 23.39), (30.0, 42.46)):
        assert saturation_vapour_pressure(temperature) == pytest.approx(expected, rel=5e-3)


# --- determinism ------------------------------------------------------------------------


def _random_day(seed: int) -> list[tuple[float, float, float, float, float]]:
    """Half an hour of changing actuators and readings for a seed."""
    tent = SimulatedTent(SCENARIOS["flower_tent_humid_room"], seed=seed)
    kinds = list(ActuatorKind)
    trace = []
    for index in range(1800):
        actuators = {kind: (index // 97 + position) % 3 == 0 for position, kind in enumerate(kinds)}
        tent.step(1.0, actuators)
        trace.append((tent.air_temperature, tent.relative_humidity, *tent.measure()))
    return trace


def test_same_seed_gives_identical_runs_and_another_seed_does_not() -> None:
    first = _random_day(7)
    assert first == _random_day(7)
    other = _random_day(8)
    assert [row[2:] for row in first] != [row[2:] for row in other]  # sensor noise
    assert [row[:2] for row in first] != [row[:2] for row in other]  # room weather


# --- heat -----------------------------------------------------------------------------


def test_heater_in_closed_tent_settles_a_handful_of_degrees_above_room() -> None:
    tent = settled(STILL_ROOM, {HEATER: True})
    rise = tent.air_temperature - tent.room_temperature
    assert 3.0 < rise < 10.0


def test_steady_state_heat_balance_is_exact_without_plants() -> None:
    """Heater power leaves through the walls and the exchanged air, nothing more or less."""
    params = dataclasses.replace(STILL_ROOM, transpiration_light=0.0, transpiration_dark=0.0)
    tent = settled(params, {HEATER: True, EXHAUST: True})
    air_density = params.room_pressure * 100 / (287.05 * 293.15)
    exchange = params.exhaust_flow / 3600 * air_density * 1005.0
    expected_rise = params.heater_power / (params.wall_u_value * params.surface + exchange)
    assert tent.air_temperature - tent.room_temperature == pytest.approx(expected_rise, rel=1e-3)


def test_heater_raises_temperature_and_off_it_decays_towards_room() -> None:
    tent = SimulatedTent(STILL_ROOM)
    start = tent.air_temperature
    run(tent, 3600, {HEATER: True})
    heated = tent.air_temperature
    assert heated > start + 2.0
    gaps = []
    for _ in range(8):
        run(tent, 3600, {})
        gaps.append(tent.air_temperature - tent.room_temperature)
    assert gaps == sorted(gaps, reverse=True)
    assert abs(gaps[-1]) < 0.2 < heated - tent.room_temperature


def test_cooler_lowers_temperature() -> None:
    cooled = settled(STILL_ROOM, {COOLER: True})
    idle = settled(STILL_ROOM, {})
    assert cooled.air_temperature < idle.air_temperature - 3.0


def test_lights_raise_temperature_and_transpiration() -> None:
    lit = run(SimulatedTent(STILL_ROOM), 3 * 3600, {LIGHT: True, EXHAUST: True})
    dark = run(SimulatedTent(STILL_ROOM), 3 * 3600, {EXHAUST: True})
    assert lit.air_temperature > dark.air_temperature + 0.3
    assert lit.transpiration > 5 * dark.transpiration
    assert 0.05 < lit.transpiration < 1.0  # kg/h for a 1.2 m x 1.2 m canopy
    assert lit.relative_humidity > dark.relative_humidity


def test_stomata_open_gradually_after_lights_on() -> None:
    tent = run(SimulatedTent(STILL_ROOM), 3600, {EXHAUST: True})
    night = tent.transpiration
    run(tent, 60, {LIGHT: True, EXHAUST: True})
    after_a_minute = tent.transpiration
    run(tent, 3600, {LIGHT: True, EXHAUST: True})
    assert night < after_a_minute < tent.transpiration


def test_dehumidifier_heats_more_than_its_electrical_power_alone() -> None:
    """Condensation releases latent heat: the rise exceeds power / heat loss conductance."""
    params = STILL_ROOM
    tent = run(SimulatedTent(params), 1800, {DEHUMIDIFIER: True})
    electrical_only = settled(
        dataclasses.replace(params, heater_power=params.dehumidifier_power), {HEATER: True}, 0.5
    )
    assert tent.air_temperature > electrical_only.air_temperature


def test_leaf_is_cooler_than_air_under_led_and_warmer_under_hps() -> None:
    led = settled(STILL_ROOM, {LIGHT: True, EXHAUST: True}, 3)
    hps_params = dataclasses.replace(STILL_ROOM, light_power=400.0, light_radiant_fraction=0.5)
    hps = settled(hps_params, {LIGHT: True}, 3)
    assert led.leaf_temperature < led.air_temperature - 0.3
    assert hps.leaf_temperature > hps.air_temperature + 0.3


def test_circulation_fan_shrinks_the_leaf_air_difference() -> None:
    still = settled(STILL_ROOM, {LIGHT: True, EXHAUST: True}, 3)
    mixed = settled(STILL_ROOM, {LIGHT: True, EXHAUST: True, CIRCULATION: True}, 3)
    still_gap = abs(still.leaf_temperature - still.air_temperature)
    mixed_gap = abs(mixed.leaf_temperature - mixed.air_temperature)
    assert 0 < mixed_gap < 0.8 * still_gap


# --- moisture --------------------------------------------------------------------------


def test_humidifier_raises_and_dehumidifier_lowers_humidity() -> None:
    idle = run(SimulatedTent(STILL_ROOM), 1800, {})
    humid = run(SimulatedTent(STILL_ROOM), 1800, {HUMIDIFIER: True})
    dry = run(SimulatedTent(STILL_ROOM), 1800, {DEHUMIDIFIER: True})
    assert humid.relative_humidity > idle.relative_humidity + 15
    assert dry.relative_humidity < idle.relative_humidity - 15


def test_humidifier_water_is_conserved_in_a_sealed_tent() -> None:
    """Every gram of mist ends up in the air or in the moisture buffer."""
    params = dataclasses.replace(SEALED, transpiration_light=0.0, transpiration_dark=0.0)
    tent = SimulatedTent(params)
    before = tent.vapour_mass + tent.buffer_water
    run(tent, 120, {HUMIDIFIER: True})
    assert tent.relative_humidity < 95  # far from condensing
    assert tent.buffer_water > 0
    added = tent.vapour_mass + tent.buffer_water - before
    assert added == pytest.approx(params.humidifier_rate / 30, rel=1e-9)
    assert tent.water_balance.humidified == pytest.approx(params.humidifier_rate / 30, rel=1e-12)


def _water_books_balance(tent: SimulatedTent, start: float) -> None:
    balance = tent.water_balance
    expected = (
        balance.humidified
        + balance.transpired
        - balance.dehumidified
        - balance.vented
        - balance.condensed
    )
    scale = sum(abs(value) for value in balance) + start
    assert tent.vapour_mass + tent.buffer_water - start == pytest.approx(
        expected, abs=1e-12 * scale
    )


def test_water_is_conserved_across_air_buffer_plants_and_actuators_in_a_sealed_tent() -> None:
    tent = SimulatedTent(SEALED)
    start = tent.vapour_mass + tent.buffer_water
    for minute in range(240):
        phase = minute // 20 % 4
        actuators = {LIGHT: minute < 120, HUMIDIFIER: phase == 0, DEHUMIDIFIER: phase == 2}
        run(tent, 60, actuators, dt=5.0 if minute % 2 else 0.7)
        _water_books_balance(tent, start)
    balance = tent.water_balance
    assert balance.vented == 0.0
    assert min(balance.humidified, balance.transpired, balance.dehumidified) > 0.01


@settings(max_examples=30, deadline=None)
@given(
    scenario=st.sampled_from(sorted(SCENARIOS)),
    sequence=st.lists(
        st.tuples(
            st.floats(min_value=0.1, max_value=900.0),
            st.fixed_dictionaries({kind: st.booleans() for kind in ActuatorKind}),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_water_books_balance_for_any_actuator_sequence(
    scenario: str, sequence: list[tuple[float, dict[ActuatorKind, bool]]]
) -> None:
    """Exhaust, leakage and condensation included: nothing appears or vanishes."""
    tent = SimulatedTent(SCENARIOS[scenario])
    start = tent.vapour_mass + tent.buffer_water
    for dt, actuators in sequence:
        tent.step(dt, actuators)
        _water_books_balance(tent, start)


# --- moisture buffer ---------------------------------------------------------------------


def _vapour_pressure(tent: SimulatedTent) -> float:
    """Vapour pressure of the tent air, hPa."""
    return tent.relative_humidity / 100 * saturation_vapour_pressure(tent.air_temperature)


def _surface_gap(tent: SimulatedTent) -> float:
    """Vapour pressure of the air minus that over the buffer's surface (at the mass), hPa."""
    surface = (
        tent.buffer_relative_humidity / 100 * saturation_vapour_pressure(tent.mass_temperature)
    )
    return _vapour_pressure(tent) - surface


def _pulse(params: TentParameters, actuators: Mapping[ActuatorKind, bool]) -> SimulatedTent:
    tent = SimulatedTent(params)
    tent.step(60.0, actuators)
    return tent


def test_buffer_takes_up_part_of_a_humidifier_pulse_as_its_mass_transfer_predicts() -> None:
    """One 60 s pulse in a sealed tent, against the same tent without a buffer.

    The RH rise is smaller and the missing vapour is in the buffer. Its amount matches a
    hand calculation: the air's vapour pressure ramps up at ``r`` Pa/s while the buffer's
    surface barely moves, so the uptake is about ``beta A r T**2 / 2``.
    """
    params = dataclasses.replace(SEALED, transpiration_light=0.0, transpiration_dark=0.0)
    bare = _pulse(dataclasses.replace(params, buffer_area_ratio=0.0), {HUMIDIFIER: True})
    buffered = _pulse(params, {HUMIDIFIER: True})
    start = SimulatedTent(params)
    assert bare.buffer_water == 0.0
    bare_rise = bare.relative_humidity - start.relative_humidity
    buffered_rise = buffered.relative_humidity - start.relative_humidity
    assert 0 < buffered_rise < bare_rise
    uptake = buffered.buffer_water - start.buffer_water
    assert bare.vapour_mass - buffered.vapour_mass == pytest.approx(uptake, rel=1e-9)
    # Vapour pressure ramp of the bare tent, Pa/s (RH % of the saturation pressure in hPa).
    ramp = (_vapour_pressure(bare) - _vapour_pressure(start)) * 100.0 / 60.0
    expected = params.buffer_mass_transfer_coefficient * params.buffer_area * ramp * 60.0**2 / 2
    assert uptake == pytest.approx(expected, rel=0.15)


def test_a_large_well_ventilated_buffer_halves_the_pulse() -> None:
    params = dataclasses.replace(
        SEALED, transpiration_light=0.0, transpiration_dark=0.0, buffer_area_ratio=15.0
    )
    actuators = {HUMIDIFIER: True, CIRCULATION: True}
    bare = _pulse(dataclasses.replace(params, buffer_area_ratio=0.0), actuators)
    buffered = _pulse(params, actuators)
    start = SimulatedTent(params).relative_humidity
    assert buffered.relative_humidity - start < 0.5 * (bare.relative_humidity - start)


def test_buffer_releases_water_after_the_air_is_dried() -> None:
    """The rebound growers see after a dehumidifier stops: the substrate gives water back."""
    params = dataclasses.replace(SEALED, transpiration_light=0.0, transpiration_dark=0.0)
    for buffered in (True, False):
        tent = SimulatedTent(
            params if buffered else dataclasses.replace(params, buffer_area_ratio=0.0)
        )
        run(tent, 1200, {DEHUMIDIFIER: True}, dt=5.0)
        dried_air, dried_buffer = tent.vapour_mass, tent.buffer_water
        run(tent, 3 * 3600, {}, dt=5.0)
        if buffered:
            assert tent.vapour_mass > dried_air * 1.05
            assert tent.buffer_water < dried_buffer
            assert tent.buffer_relative_humidity == pytest.approx(tent.relative_humidity, abs=3.0)
        else:
            assert tent.vapour_mass == pytest.approx(dried_air, rel=1e-12)


def test_a_stiff_buffer_stays_stable_at_the_largest_step() -> None:
    """A buffer far stiffer than any real one, stepped at ``MAX_SUBSTEP``.

    720 m² at 1e-6 kg/(m² s Pa) against 2.9 m³ of air relaxes the air at about 34 /s: an
    explicit Euler step of 5 s would amplify the air-surface gap by some 170 each step. The
    linearly implicit update keeps the buffer tracking the air while humidifier and
    dehumidifier take turns.
    """
    params = dataclasses.replace(
        SEALED,
        transpiration_light=0.0,
        transpiration_dark=0.0,
        buffer_area_ratio=500.0,
        buffer_mass_transfer_coefficient=1e-6,
    )
    tent = SimulatedTent(params)
    start_water = tent.buffer_water
    for index in range(720):
        phase = index // 60 % 3
        tent.step(MAX_SUBSTEP, {HUMIDIFIER: phase == 0, DEHUMIDIFIER: phase == 1})
        assert math.isfinite(tent.buffer_water)
        assert 0.0 <= tent.relative_humidity <= 100.0
        assert abs(_surface_gap(tent)) < 0.01  # hPa
    assert tent.buffer_water != start_water


def test_buffer_result_barely_depends_on_the_step() -> None:
    params = dataclasses.replace(STILL_ROOM, buffer_area_ratio=3.0)
    actuators = {LIGHT: True, HUMIDIFIER: True, CIRCULATION: True}
    fine = run(SimulatedTent(params), 1800, actuators, dt=0.25)
    coarse = run(SimulatedTent(params), 1800, actuators, dt=MAX_SUBSTEP)
    assert coarse.buffer_water == pytest.approx(fine.buffer_water, rel=1e-3)
    assert coarse.relative_humidity == pytest.approx(fine.relative_humidity, abs=0.2)


def test_buffer_starts_in_equilibrium_with_the_air() -> None:
    tent = SimulatedTent(STILL_ROOM)
    params = STILL_ROOM
    phi = tent.relative_humidity / 100
    expected = (
        params.buffer_area
        * params.buffer_depth
        * params.buffer_density
        * params.buffer_isotherm_a
        * phi**params.buffer_isotherm_b
    )
    assert tent.buffer_water == pytest.approx(expected)
    assert tent.buffer_relative_humidity == pytest.approx(tent.relative_humidity)
    assert _surface_gap(tent) == pytest.approx(0.0, abs=1e-12)


def test_buffer_in_equilibrium_stays_put() -> None:
    params = dataclasses.replace(SEALED, transpiration_light=0.0, transpiration_dark=0.0)
    tent = SimulatedTent(params)
    start_water, start_rh = tent.buffer_water, tent.relative_humidity
    run(tent, 3600, {}, dt=5.0)
    assert tent.buffer_water == pytest.approx(start_water, rel=1e-9)
    assert tent.relative_humidity == pytest.approx(start_rh, abs=1e-6)


# --- heater lag ----------------------------------------------------------------------------


def test_heater_output_lags_by_its_time_constant_and_delivers_all_its_energy() -> None:
    tau = 600.0
    params = dataclasses.replace(
        STILL_ROOM, heater_time_constant=tau, transpiration_light=0.0, transpiration_dark=0.0
    )
    tent = SimulatedTent(params)
    run(tent, tau, {HEATER: True})
    assert tent.heater_output == pytest.approx(params.heater_power * (1 - math.exp(-1)), rel=1e-3)
    run(tent, tau, {})
    assert tent.heater_output == pytest.approx(
        params.heater_power * (1 - math.exp(-1)) * math.exp(-1), rel=1e-3
    )
    instant = run(SimulatedTent(STILL_ROOM), 60, {HEATER: True})
    assert instant.heater_output == STILL_ROOM.heater_power


# --- dehumidifier start-up -------------------------------------------------------------------

# So large that a few minutes of dehumidifying leave its RH and temperature where they were:
# the removal then changes only by the start-up, which a hand calculation can follow.
HALL = dataclasses.replace(
    SEALED,
    width=100.0,
    depth=100.0,
    height=10.0,
    transpiration_light=0.0,
    transpiration_dark=0.0,
    buffer_area_ratio=0.0,
)


def _steady_removal(tent: SimulatedTent) -> float:
    """The dehumidifier's full-capacity removal at the tent's current RH, kg/s."""
    p = tent.params
    per_percent = (
        p.dehumidifier_rate
        / 3600
        / (p.dehumidifier_rated_humidity - p.dehumidifier_cutoff_humidity)
    )
    return per_percent * (tent.relative_humidity - p.dehumidifier_cutoff_humidity)


@pytest.mark.parametrize("dt", [0.5, 5.0, 60.0])
def test_dehumidifier_removal_rises_as_its_start_up_lag_predicts(dt: float) -> None:
    """Removed water after ``T`` s on: ``r (T - tau (1 - exp(-T / tau)))``, whatever the step."""
    tau = HALL.dehumidifier_time_constant
    assert 60.0 <= tau <= 180.0  # the documented default, 1-3 minutes
    tent = SimulatedTent(HALL)
    rate = _steady_removal(tent)
    elapsed = 0.0
    for seconds in (60.0, 60.0, 180.0, 300.0):
        run(tent, seconds, {DEHUMIDIFIER: True}, dt=dt)
        elapsed += seconds
        expected = rate * (elapsed - tau * (1 - math.exp(-elapsed / tau)))
        assert tent.water_balance.dehumidified == pytest.approx(expected, rel=1e-3)
        assert tent.dehumidifier_capacity == pytest.approx(1 - math.exp(-elapsed / tau))
    # The first minute removes only about a quarter of what an instant unit would.
    instant = run(
        SimulatedTent(dataclasses.replace(HALL, dehumidifier_time_constant=0.0)),
        60.0,
        {DEHUMIDIFIER: True},
        dt=dt,
    )
    lagged = run(SimulatedTent(HALL), 60.0, {DEHUMIDIFIER: True}, dt=dt)
    share = lagged.water_balance.dehumidified / instant.water_balance.dehumidified
    assert share == pytest.approx(1 - tau / 60.0 * (1 - math.exp(-60.0 / tau)), rel=2e-3)
    assert instant.dehumidifier_capacity == 1.0


def test_dehumidifier_stops_removing_at_switch_off_and_restarts_cold() -> None:
    tent = SimulatedTent(HALL)
    run(tent, 60.0, {DEHUMIDIFIER: True})
    first_pulse = tent.water_balance.dehumidified
    run(tent, 1.0, {})
    assert tent.dehumidifier_capacity == 0.0
    assert tent.water_balance.dehumidified == first_pulse
    run(tent, 60.0, {DEHUMIDIFIER: True})
    second_pulse = tent.water_balance.dehumidified - first_pulse
    assert second_pulse == pytest.approx(first_pulse, rel=2e-3)


def test_dehumidifier_heat_is_its_power_from_the_start_plus_the_latent_heat_it_condenses() -> None:
    """An adiabatic tent: the air's heat gain is exactly the electricity plus L * removal."""
    params = dataclasses.replace(
        HALL, width=1.2, depth=1.2, height=2.0, wall_u_value=0.0, thermal_mass_conductance=0.0
    )
    tent = SimulatedTent(params)
    start_t = tent.air_temperature
    start_water = tent.vapour_mass
    run(tent, 60.0, {DEHUMIDIFIER: True}, dt=0.5)
    removed = tent.water_balance.dehumidified
    assert start_water - tent.vapour_mass == pytest.approx(removed, rel=1e-9)
    assert tent.electrical_energy[DEHUMIDIFIER] == pytest.approx(
        params.dehumidifier_power * 60 / 3600
    )
    dry_air_mass = params.room_pressure * 100 / (287.05 * 293.15) * params.volume
    air_capacity = dry_air_mass * 1005.0 + params.fixture_heat_capacity
    heat = params.dehumidifier_power * 60.0 + 2.45e6 * removed
    assert (tent.air_temperature - start_t) * air_capacity == pytest.approx(heat, rel=1e-9)


def test_water_books_balance_through_dehumidifier_start_ups_with_plants_and_buffer() -> None:
    params = dataclasses.replace(SEALED, dehumidifier_time_constant=150.0)
    tent = SimulatedTent(params)
    start = tent.vapour_mass + tent.buffer_water
    for index in range(120):
        run(tent, 45.0, {LIGHT: True, DEHUMIDIFIER: index % 3 != 0}, dt=0.3 if index % 2 else 5.0)
        _water_books_balance(tent, start)
    assert tent.water_balance.dehumidified > 0.01


def test_saturated_tent_condenses_instead_of_exceeding_100_percent() -> None:
    tent = run(SimulatedTent(STILL_ROOM), 4 * 3600, {HUMIDIFIER: True}, dt=10.0)
    assert 99.0 < tent.relative_humidity <= 100.0
    # Evaporation cooling and condensation heating cancel: only the humidifier's power is left.
    assert abs(tent.air_temperature - tent.room_temperature) < 1.5


def test_dehumidifier_removal_falls_with_humidity() -> None:
    tent = SimulatedTent(STILL_ROOM)
    run(tent, 4 * 3600, {DEHUMIDIFIER: True}, dt=10.0)
    assert (
        STILL_ROOM.dehumidifier_cutoff_humidity - 2
        < tent.relative_humidity
        < STILL_ROOM.dehumidifier_rated_humidity
    )


def test_exhaust_pulls_the_tent_towards_room_air() -> None:
    tent = run(SimulatedTent(STILL_ROOM), 3600, {HEATER: True, HUMIDIFIER: True})
    passive = run(SimulatedTent(STILL_ROOM), 3600, {HEATER: True, HUMIDIFIER: True})
    run(tent, 600, {EXHAUST: True})
    run(passive, 600, {})
    room_t, room_rh = tent.room_temperature, tent.room_relative_humidity
    assert abs(tent.air_temperature - room_t) < 1.0 < abs(passive.air_temperature - room_t)
    assert abs(tent.relative_humidity - room_rh) < 5.0 < abs(passive.relative_humidity - room_rh)


def test_room_follows_a_daily_cycle_with_constant_absolute_humidity() -> None:
    params = dataclasses.replace(STILL_ROOM, room_temperature_amplitude=3.0)
    tent = SimulatedTent(params, start_time_of_day=params.room_temperature_peak_hour * 3600)
    warm_t, warm_rh = tent.room_temperature, tent.room_relative_humidity
    run(tent, 12 * 3600, {}, dt=60.0)
    assert warm_t == pytest.approx(params.room_temperature_mean + 3.0)
    assert tent.room_temperature == pytest.approx(params.room_temperature_mean - 3.0)
    assert tent.room_relative_humidity > warm_rh + 10
    assert tent.time_of_day == pytest.approx((params.room_temperature_peak_hour - 12) * 3600)
    assert tent.elapsed == 12 * 3600


def test_humid_room_starting_cold_does_not_start_above_saturation() -> None:
    params = TentParameters(room_humidity=100.0, room_temperature_amplitude=3.0)
    tent = SimulatedTent(params, start_time_of_day=(params.room_temperature_peak_hour - 12) * 3600)
    assert tent.room_relative_humidity > 100.0  # the scenario itself is implausible ...
    assert tent.relative_humidity == pytest.approx(100.0)  # ... the tent air is not
    assert tent.measure()[1] <= 100.0


def test_step_size_barely_changes_the_result() -> None:
    actuators = {LIGHT: True, HEATER: True, DEHUMIDIFIER: True, EXHAUST: False}
    fine = run(SimulatedTent(STILL_ROOM), 3600, actuators, dt=1.0)
    coarse = run(SimulatedTent(STILL_ROOM), 3600, actuators, dt=120.0)
    assert coarse.air_temperature == pytest.approx(fine.air_temperature, abs=0.1)
    assert coarse.relative_humidity == pytest.approx(fine.relative_humidity, abs=0.5)


def test_electrical_energy_is_counted_per_kind() -> None:
    tent = run(SimulatedTent(STILL_ROOM), 3600, {HEATER: True, LIGHT: True}, dt=10.0)
    energy = tent.electrical_energy
    assert energy[HEATER] == pytest.approx(STILL_ROOM.heater_power)
    assert energy[LIGHT] == pytest.approx(STILL_ROOM.light_power)
    assert energy[DEHUMIDIFIER] == 0.0


def test_bad_step_is_refused_and_zero_step_changes_nothing() -> None:
    tent = SimulatedTent(STILL_ROOM)
    for dt in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="dt"):
            tent.step(dt, {HEATER: True})
    tent.step(0.0, {HEATER: True})
    assert tent.elapsed == 0.0
    assert tent.electrical_energy[HEATER] == 0.0


_ACTUATOR_SETS = st.lists(
    st.tuples(
        st.floats(min_value=0.1, max_value=600.0),
        st.fixed_dictionaries({kind: st.booleans() for kind in ActuatorKind}),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    scenario=st.sampled_from(sorted(SCENARIOS)),
    sequence=_ACTUATOR_SETS,
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_actuator_sequence_keeps_the_state_physical(
    scenario: str,
    sequence: list[tuple[float, dict[ActuatorKind, bool]]],
    seed: int,
) -> None:
    tent = SimulatedTent(SCENARIOS[scenario], seed=seed)
    for dt, actuators in sequence:
        tent.step(dt, actuators)
        values = (
            tent.air_temperature,
            tent.leaf_temperature,
            tent.mass_temperature,
            tent.relative_humidity,
            tent.transpiration,
            tent.vapour_mass,
        )
        assert all(math.isfinite(value) for value in values)
        assert 0.0 <= tent.relative_humidity <= 100.0
        assert tent.transpiration >= 0.0
        assert -20.0 < tent.air_temperature < 80.0
        temperature, humidity, pressure = tent.measure()
        assert 0.0 <= humidity <= 100.0
        assert math.isfinite(temperature)
        assert 300.0 <= pressure <= 1100.0


# --- sensor ---------------------------------------------------------------------------


def test_measurement_noise_has_the_configured_spread_around_the_truth() -> None:
    tent = settled(STILL_ROOM, {EXHAUST: True}, 1)
    truth = (tent.air_temperature, tent.relative_humidity, tent.pressure)
    readings = [tent.measure() for _ in range(4000)]
    sigmas = (
        STILL_ROOM.sensor_temperature_noise,
        STILL_ROOM.sensor_humidity_noise,
        STILL_ROOM.sensor_pressure_noise,
    )
    for channel, (true_value, sigma) in enumerate(zip(truth, sigmas, strict=True)):
        samples = [reading[channel] for reading in readings]
        assert statistics.fmean(samples) == pytest.approx(true_value, abs=5 * sigma / 63)
        assert statistics.stdev(samples) == pytest.approx(sigma, rel=0.1)


def test_measurements_are_quantised_to_the_sensor_resolution() -> None:
    tent = run(SimulatedTent(STILL_ROOM), 600, {HEATER: True})
    resolutions = (
        STILL_ROOM.sensor_temperature_resolution,
        STILL_ROOM.sensor_humidity_resolution,
        STILL_ROOM.sensor_pressure_resolution,
    )
    for _ in range(200):
        tent.step(1.0, {HEATER: True})
        for value, resolution in zip(tent.measure(), resolutions, strict=True):
            steps = value / resolution
            assert steps == pytest.approx(round(steps), abs=1e-6)


def test_sensor_without_noise_lag_or_quantisation_reads_the_truth() -> None:
    params = TentParameters(
        **NO_SENSOR_NOISE,
        sensor_temperature_time_constant=0.0,
        sensor_humidity_time_constant=0.0,
        sensor_temperature_resolution=0.0,
        sensor_humidity_resolution=0.0,
        sensor_pressure_resolution=0.0,
        sensor_temperature_offset=0.5,
    )
    tent = run(SimulatedTent(params), 300, {HEATER: True, HUMIDIFIER: True})
    temperature, humidity, pressure = tent.measure()
    assert temperature == pytest.approx(tent.air_temperature + 0.5)
    assert humidity == pytest.approx(tent.relative_humidity)
    assert pressure == tent.pressure


def test_sensor_follows_the_air_as_a_first_order_lag() -> None:
    """dS/dt = (true - S) / tau, checked by finite differences while the air heats quickly."""
    tau = 30.0
    params = dataclasses.replace(
        STILL_ROOM,
        **NO_SENSOR_NOISE,
        sensor_temperature_time_constant=tau,
        sensor_humidity_time_constant=tau,
        sensor_temperature_resolution=0.0,
        sensor_humidity_resolution=0.0,
    )
    tent = SimulatedTent(params)
    actuators = {HEATER: True, DEHUMIDIFIER: True}
    dt = 0.05
    for _ in range(20):
        run(tent, 10.0, actuators)
        true_t, true_rh = tent.air_temperature, tent.relative_humidity
        sensed_t, sensed_rh, _ = tent.measure()
        assert sensed_t < true_t  # heating: the sensor trails
        assert sensed_rh > true_rh  # drying: the sensor trails
        tent.step(dt, actuators)
        next_t, next_rh, _ = tent.measure()
        mid_true_t = (true_t + tent.air_temperature) / 2
        mid_true_rh = (true_rh + tent.relative_humidity) / 2
        assert (next_t - sensed_t) / dt == pytest.approx(
            (mid_true_t - (sensed_t + next_t) / 2) / tau, rel=0.02
        )
        assert (next_rh - sensed_rh) / dt == pytest.approx(
            (mid_true_rh - (sensed_rh + next_rh) / 2) / tau, rel=0.02
        )


def test_default_sensor_lag_is_short() -> None:
    """With the datasheet's 1 s the reading is within a few hundredths of the truth."""
    params = dataclasses.replace(STILL_ROOM, **NO_SENSOR_NOISE)
    tent = run(SimulatedTent(params), 600, {HEATER: True})
    temperature, humidity, _ = tent.measure()
    assert temperature == pytest.approx(tent.air_temperature, abs=0.02)
    assert humidity == pytest.approx(tent.relative_humidity, abs=0.05)


# --- parameters ---------------------------------------------------------------------------


def test_from_mapping_takes_numbers_and_keeps_defaults() -> None:
    params = TentParameters.from_mapping({"heater_power": 500, "width": 0.6, "depth": 0.6})
    assert params.heater_power == 500.0
    assert isinstance(params.heater_power, float)
    assert params.volume == pytest.approx(0.6 * 0.6 * 2.0)
    assert params.light_power == TentParameters().light_power
    assert TentParameters.from_mapping({}) == TentParameters()


def test_from_mapping_starts_from_a_preset() -> None:
    params = TentParameters.from_mapping({"preset": "cold_winter_room", "heater_power": 600})
    assert params == dataclasses.replace(SCENARIOS["cold_winter_room"], heater_power=600.0)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"heater_powr": 300}, "heater_powr"),
        ({"heater_power": "300"}, "heater_power"),
        ({"heater_power": True}, "heater_power"),
        ({"heater_power": None}, "heater_power"),
        ({"heater_power": -1}, "heater_power"),
        ({"width": 0}, "width"),
        ({"height": -2.0}, "height"),
        ({"thermal_mass_heat_capacity": 0}, "thermal_mass_heat_capacity"),
        ({"light_power": math.nan}, "light_power"),
        ({"room_temperature_mean": math.inf}, "room_temperature_mean"),
        ({"room_humidity": 101}, "room_humidity"),
        ({"light_radiant_fraction": 1.5}, "light_radiant_fraction"),
        ({"lights_on_hour": 24}, "lights_on_hour"),
        ({"room_pressure": 50}, "room_pressure"),
        ({"dehumidifier_cutoff_humidity": 70}, "dehumidifier_cutoff_humidity"),
        ({"buffer_isotherm_b": 1.5}, "buffer_isotherm_b"),
        ({"buffer_isotherm_b": 0}, "buffer_isotherm_b"),
        ({"buffer_depth": 0}, "buffer_depth"),
        ({"buffer_area_ratio": -0.1}, "buffer_area_ratio"),
        ({"heater_time_constant": -1}, "heater_time_constant"),
        ({"dehumidifier_time_constant": -1}, "dehumidifier_time_constant"),
        ({"dehumidifier_time_constant": math.inf}, "dehumidifier_time_constant"),
        ({"dehumidifier_time_constant": "90"}, "dehumidifier_time_constant"),
        ({"preset": "jungle"}, "preset"),
        ({"preset": 3}, "preset"),
    ],
)
def test_from_mapping_rejects_bad_input_naming_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=rf"^{key}: "):
        TentParameters.from_mapping(raw)


def test_from_mapping_rejects_a_non_mapping() -> None:
    with pytest.raises(ValueError, match="simulation"):
        TentParameters.from_mapping([("width", 1.0)])  # type: ignore[arg-type]


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match=r"^depth: "):
        TentParameters(depth=-1.0)


@pytest.mark.parametrize(
    ("name", "photoperiod"),
    [("small_led_dry_room", 18.0), ("flower_tent_humid_room", 12.0), ("cold_winter_room", 18.0)],
)
def test_scenarios_carry_their_light_schedule(name: str, photoperiod: float) -> None:
    params = TentParameters.scenario(name)
    assert params is SCENARIOS[name]
    assert params.photoperiod_hours == photoperiod
    on = params.lights_on_hour * 3600
    hours_lit = sum(params.light_scheduled_on(minute * 60.0) for minute in range(24 * 60)) / 60
    assert hours_lit == photoperiod
    assert params.light_scheduled_on(on)
    assert not params.light_scheduled_on((on + photoperiod * 3600) % 86400)


def test_light_schedule_wraps_around_midnight() -> None:
    params = TentParameters(lights_on_hour=20.0, photoperiod_hours=12.0)
    assert params.light_scheduled_on(2 * 3600)
    assert not params.light_scheduled_on(8 * 3600)


def test_scenarios_differ_as_named() -> None:
    small = SCENARIOS["small_led_dry_room"]
    flower = SCENARIOS["flower_tent_humid_room"]
    cold = SCENARIOS["cold_winter_room"]
    assert small.volume < flower.volume
    assert small.room_humidity < flower.room_humidity
    assert cold.room_temperature_mean < min(
        small.room_temperature_mean, flower.room_temperature_mean
    )
    winter = settled(cold, {HEATER: True, LIGHT: True})
    assert winter.air_temperature > winter.room_temperature + 5
