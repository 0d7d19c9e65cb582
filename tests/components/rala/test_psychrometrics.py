"""Psychrometrics against published reference values, its properties, and its error paths."""

import math

from homeassistant.const import UnitOfTemperature
from hypothesis import assume, given, settings, strategies as st
import pytest

from custom_components.rala import psychrometrics
from custom_components.rala.psychrometrics import (
    BUCK_1981,
    FAO56_TETENS,
    MAX_TEMPERATURE_C,
    MIN_DEW_POINT_C,
    MIN_TEMPERATURE_C,
    PsychrometricsError,
    VpdUnreachableError,
    absolute_humidity,
    actual_vapour_pressure,
    celsius_to_fahrenheit,
    dew_point,
    fahrenheit_to_celsius,
    has_dew_point,
    relative_humidity_for_vpd,
    saturation_vapour_pressure,
    to_celsius,
    vpd_air,
    vpd_leaf,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Pure module: no Home Assistant instance is needed, so none is started."""


# Fixed seed-free examples: every run checks the same cases.
PROPERTY = settings(derandomize=True, max_examples=300, deadline=None)

temperatures = st.floats(min_value=MIN_TEMPERATURE_C, max_value=MAX_TEMPERATURE_C)
humidities = st.floats(min_value=0.0, max_value=100.0)
leaf_offsets = st.floats(min_value=-5.0, max_value=5.0)

# FAO-56 (Allen et al. 1998, FAO Irrigation and Drainage Paper 56), Annex 2, Table 2.3:
# saturation vapour pressure e°(T) in kPa, as printed (3 decimals). Every printed row
# from 1.0 to 48.5 °C; typed in from the publication, not computed here.
FAO56_TABLE_2_3: tuple[tuple[float, float], ...] = (
    (1.0, 0.657), (1.5, 0.681), (2.0, 0.706), (2.5, 0.731), (3.0, 0.758), (3.5, 0.785),
    (4.0, 0.813), (4.5, 0.842), (5.0, 0.872), (5.5, 0.903), (6.0, 0.935), (6.5, 0.968),
    (7.0, 1.002), (7.5, 1.037), (8.0, 1.073), (8.5, 1.110), (9.0, 1.148), (9.5, 1.187),
    (10.0, 1.228), (10.5, 1.270), (11.0, 1.313), (11.5, 1.357), (12.0, 1.403),
    (12.5, 1.449), (13.0, 1.497), (13.5, 1.547), (14.0, 1.599), (14.5, 1.651),
    (15.0, 1.705), (15.5, 1.761), (16.0, 1.818), (16.5, 1.877), (17.0, 1.938),
    (17.5, 2.000), (18.0, 2.064), (18.5, 2.130), (19.0, 2.197), (19.5, 2.267),
    (20.0, 2.338), (20.5, 2.412), (21.0, 2.487), (21.5, 2.564), (22.0, 2.644),
    (22.5, 2.726), (23.0, 2.809), (23.5, 2.896), (24.0, 2.984), (24.5, 3.075),
    (25.0, 3.168), (25.5, 3.263), (26.0, 3.361), (26.5, 3.462), (27.0, 3.565),
    (27.5, 3.671), (28.0, 3.780), (28.5, 3.891), (29.0, 4.006), (29.5, 4.123),
    (30.0, 4.243), (30.5, 4.366), (31.0, 4.493), (31.5, 4.622), (32.0, 4.755),
    (32.5, 4.891), (33.0, 5.030), (33.5, 5.173), (34.0, 5.319), (34.5, 5.469),
    (35.0, 5.623), (35.5, 5.780), (36.0, 5.941), (36.5, 6.106), (37.0, 6.275),
    (37.5, 6.448), (38.0, 6.625), (38.5, 6.806), (39.0, 6.991), (39.5, 7.181),
    (40.0, 7.376), (40.5, 7.574), (41.0, 7.778), (41.5, 7.986), (42.0, 8.199),
    (42.5, 8.417), (43.0, 8.640), (43.5, 8.867), (44.0, 9.101), (44.5, 9.339),
    (45.0, 9.582), (45.5, 9.832), (46.0, 10.086), (46.5, 10.347), (47.0, 10.613),
    (47.5, 10.885), (48.0, 11.163), (48.5, 11.447),
)  # fmt: skip


@pytest.mark.parametrize(("t_c", "published_kpa"), FAO56_TABLE_2_3)
def test_saturation_vapour_pressure_matches_fao56_table(t_c: float, published_kpa: float) -> None:
    """The default formula reproduces FAO-56 Table 2.3 within 0.1 %."""
    assert saturation_vapour_pressure(t_c) == pytest.approx(published_kpa, rel=1e-3)


def test_fao56_table_is_complete() -> None:
    """The table above carries every printed row, 1.0 to 48.5 °C in 0.5 °C steps."""
    assert [t for t, _ in FAO56_TABLE_2_3] == [1.0 + 0.5 * i for i in range(96)]


@pytest.mark.parametrize(
    ("t_c", "reference_kpa"),
    [
        # Saturation vapour pressure over water, CRC Handbook of Chemistry and Physics
        # ("Vapor pressure of water from 0 to 370 °C").
        (0.0, 0.6113),
        (10.0, 1.2282),
        (20.0, 2.3392),
        (30.0, 4.2467),
        (40.0, 7.3844),
    ],
)
@pytest.mark.parametrize("formula", [FAO56_TETENS, BUCK_1981], ids=lambda f: f.name)
def test_both_formulas_match_the_reference_curve(
    t_c: float, reference_kpa: float, formula: psychrometrics.SvpFormula
) -> None:
    """Both offered formulas agree with the reference curve within 0.15 % over a grow room."""
    assert saturation_vapour_pressure(t_c, formula=formula) == pytest.approx(
        reference_kpa, rel=1.5e-3
    )


def test_formulas_differ() -> None:
    """Choosing Buck really changes the curve (the parameter is not ignored)."""
    assert saturation_vapour_pressure(45.0, formula=BUCK_1981) != saturation_vapour_pressure(45.0)


@given(t_c=temperatures, step=st.floats(min_value=1e-3, max_value=120.0))
@PROPERTY
def test_svp_strictly_increasing(t_c: float, step: float) -> None:
    """Warmer air holds more vapour (steps below 1 mK would be lost to float rounding)."""
    assume(t_c + step <= MAX_TEMPERATURE_C)
    assert saturation_vapour_pressure(t_c + step) > saturation_vapour_pressure(t_c)


@given(t_c=temperatures, rh=humidities, step=st.floats(min_value=1e-6, max_value=100.0))
@PROPERTY
def test_vpd_air_strictly_decreasing_in_rh(t_c: float, rh: float, step: float) -> None:
    """More humid air has a smaller deficit."""
    assume(rh + step <= 100.0)
    assert vpd_air(t_c, rh + step) < vpd_air(t_c, rh)


@given(t_c=temperatures, rh=humidities)
@PROPERTY
def test_vpd_air_between_zero_and_svp(t_c: float, rh: float) -> None:
    """Air VPD is never negative and never more than the saturation vapour pressure."""
    assert 0.0 <= vpd_air(t_c, rh) <= saturation_vapour_pressure(t_c)
    assert vpd_air(t_c, rh) + actual_vapour_pressure(t_c, rh) == pytest.approx(
        saturation_vapour_pressure(t_c), rel=1e-12
    )


def test_vpd_air_reference_point() -> None:
    """25 °C at 50 % RH: half of FAO-56's 3.168 kPa is missing."""
    assert vpd_air(25.0, 50.0) == pytest.approx(3.168 / 2, rel=1e-3)
    assert vpd_air(25.0, 100.0) == 0.0


@given(t_c=temperatures, rh=humidities)
@PROPERTY
def test_leaf_vpd_equals_air_vpd_without_offset(t_c: float, rh: float) -> None:
    """A leaf at air temperature sees the air VPD, measured or estimated."""
    expected = vpd_air(t_c, rh)
    assert vpd_leaf(t_c, rh, leaf_offset_c=0.0) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert vpd_leaf(t_c, rh, t_c) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@given(t_c=st.floats(min_value=-40.0, max_value=60.0), rh=humidities, offset=leaf_offsets)
@PROPERTY
def test_leaf_offset_means_leaf_at_air_minus_offset(t_c: float, rh: float, offset: float) -> None:
    """An offset is the same as a leaf sensor reading air temperature minus the offset."""
    assert vpd_leaf(t_c, rh, leaf_offset_c=offset) == pytest.approx(
        vpd_leaf(t_c, rh, t_c - offset), rel=1e-12, abs=1e-15
    )


def test_leaf_vpd_default_offset_is_a_cooler_leaf() -> None:
    """With no leaf sensor the leaf is 2 °C cooler by default: a smaller VPD than the air's."""
    assert vpd_leaf(26.0, 60.0) == pytest.approx(vpd_leaf(26.0, 60.0, 24.0), rel=1e-12)
    assert vpd_leaf(26.0, 60.0) < vpd_air(26.0, 60.0)


def test_leaf_vpd_from_the_published_table() -> None:
    """Air 25 °C / 60 % RH, leaf 23 °C: 2.809 - 0.6 · 3.168 kPa from FAO-56 Table 2.3."""
    assert vpd_leaf(25.0, 60.0, 23.0) == pytest.approx(2.809 - 0.6 * 3.168, rel=2e-3)


def test_leaf_vpd_negative_when_leaf_below_dew_point() -> None:
    """A leaf colder than the dew point condenses water: the VPD says so by going negative."""
    assert vpd_leaf(25.0, 90.0, 20.0) < 0.0


@given(t_c=temperatures, rh=st.floats(min_value=1e-3, max_value=100.0))
@PROPERTY
def test_dew_point_not_above_air_and_inverse_of_svp(t_c: float, rh: float) -> None:
    """The dew point is never above the air; saturating at it gives the actual vapour."""
    assume(has_dew_point(t_c, rh))
    dew_point_c = dew_point(t_c, rh)
    assert dew_point_c <= t_c
    assert saturation_vapour_pressure(dew_point_c) == pytest.approx(
        actual_vapour_pressure(t_c, rh), rel=1e-9
    )


@given(t_c=temperatures)
@PROPERTY
def test_dew_point_at_saturation_is_air_temperature(t_c: float) -> None:
    """Saturated air is at its dew point."""
    assert dew_point(t_c, 100.0) == pytest.approx(t_c, abs=1e-9)


@pytest.mark.parametrize(
    ("t_c", "rh", "published_dew_point_c"),
    # Psychrometric tables (e.g. NOAA / WMO dew-point tables), to 0.1 °C.
    [(20.0, 50.0, 9.3), (30.0, 70.0, 23.9), (25.0, 60.0, 16.7)],
)
def test_dew_point_reference_values(t_c: float, rh: float, published_dew_point_c: float) -> None:
    """Dew points agree with published psychrometric tables to about 0.1 °C."""
    assert dew_point(t_c, rh) == pytest.approx(published_dew_point_c, abs=0.1)


@pytest.mark.parametrize(
    ("t_c", "published_g_per_m3"),
    # Saturation vapour density of air (e.g. the CRC / Engineering ToolBox tables).
    [(10.0, 9.4), (20.0, 17.3), (30.0, 30.4)],
)
def test_absolute_humidity_of_saturated_air(t_c: float, published_g_per_m3: float) -> None:
    """Saturated air holds the published mass of vapour per cubic metre, within 1 %."""
    assert absolute_humidity(t_c, 100.0) == pytest.approx(published_g_per_m3, rel=1e-2)


@given(t_c=temperatures, rh=humidities)
@PROPERTY
def test_absolute_humidity_proportional_to_rh(t_c: float, rh: float) -> None:
    """At one temperature the vapour mass scales with RH."""
    assert absolute_humidity(t_c, rh) == pytest.approx(
        absolute_humidity(t_c, 100.0) * rh / 100.0, rel=1e-12, abs=1e-15
    )


@given(
    target=st.floats(min_value=0.0, max_value=5.0),
    t_air_c=temperatures,
    offset=leaf_offsets,
)
@PROPERTY
def test_rh_for_vpd_round_trip_from_target(target: float, t_air_c: float, offset: float) -> None:
    """Whenever a target VPD is reachable, the RH found gives exactly that leaf VPD."""
    t_leaf_c = t_air_c - offset
    assume(MIN_TEMPERATURE_C <= t_leaf_c <= MAX_TEMPERATURE_C)
    unreachable: VpdUnreachableError | None = None
    try:
        rh = relative_humidity_for_vpd(target, t_air_c, t_leaf_c)
    except VpdUnreachableError as err:
        unreachable = err
    if unreachable is not None:
        assert not unreachable.min_vpd_kpa <= target <= unreachable.max_vpd_kpa
        assert unreachable.nearest_rh == (0.0 if target > unreachable.max_vpd_kpa else 100.0)
        clamped = relative_humidity_for_vpd(target, t_air_c, t_leaf_c, clamp=True)
        assert clamped == unreachable.nearest_rh
        return
    assert 0.0 <= rh <= 100.0
    assert vpd_leaf(t_air_c, rh, t_leaf_c) == pytest.approx(target, rel=1e-9, abs=1e-12)


@given(rh=humidities, t_air_c=temperatures, offset=leaf_offsets)
@PROPERTY
def test_rh_for_vpd_round_trip_from_rh(rh: float, t_air_c: float, offset: float) -> None:
    """Every non-negative leaf VPD an RH produces is reachable and leads back to that RH."""
    t_leaf_c = t_air_c - offset
    assume(MIN_TEMPERATURE_C <= t_leaf_c <= MAX_TEMPERATURE_C)
    vpd = vpd_leaf(t_air_c, rh, t_leaf_c)
    assume(vpd >= 0.0)
    assert relative_humidity_for_vpd(vpd, t_air_c, t_leaf_c) == pytest.approx(
        rh, rel=1e-9, abs=1e-9
    )


def test_rh_for_vpd_uses_the_leaf_offset() -> None:
    """Without a leaf sensor the same offset rule as vpd_leaf applies."""
    rh = relative_humidity_for_vpd(1.0, 26.0, leaf_offset_c=3.0)
    assert vpd_leaf(26.0, rh, leaf_offset_c=3.0) == pytest.approx(1.0, rel=1e-9)
    assert relative_humidity_for_vpd(1.0, 26.0) != rh


def test_rh_for_vpd_from_the_published_table() -> None:
    """Air 25 °C, leaf 23 °C, 1.2 kPa: (2.809 - 1.2) / 3.168 from FAO-56 Table 2.3."""
    assert relative_humidity_for_vpd(1.2, 25.0, 23.0) == pytest.approx(
        100 * (2.809 - 1.2) / 3.168, rel=2e-3
    )


def test_rh_for_vpd_too_high_target() -> None:
    """Wanting more VPD than bone-dry air gives is reported with the reachable range."""
    with pytest.raises(VpdUnreachableError, match=r"leaf VPD 5\.0 kPa is unreachable") as info:
        relative_humidity_for_vpd(5.0, 25.0, 23.0)
    assert info.value.nearest_rh == 0.0
    assert info.value.max_vpd_kpa == pytest.approx(2.809, rel=1e-3)
    assert info.value.min_vpd_kpa == pytest.approx(2.809 - 3.168, rel=1e-2)
    assert isinstance(info.value, PsychrometricsError)
    assert relative_humidity_for_vpd(5.0, 25.0, 23.0, clamp=True) == 0.0


def test_rh_for_vpd_too_low_target_with_warm_leaf() -> None:
    """A leaf warmer than the air has a VPD even in saturated air; less cannot be reached."""
    with pytest.raises(VpdUnreachableError) as info:
        relative_humidity_for_vpd(0.1, 25.0, 27.0)
    assert info.value.nearest_rh == 100.0
    assert info.value.min_vpd_kpa == pytest.approx(3.565 - 3.168, rel=1e-2)
    assert relative_humidity_for_vpd(0.1, 25.0, 27.0, clamp=True) == 100.0


@pytest.mark.parametrize(
    ("fahrenheit", "celsius"),
    [(32.0, 0.0), (212.0, 100.0), (-40.0, -40.0), (98.6, 37.0), (77.0, 25.0)],
)
def test_fahrenheit_conversions(fahrenheit: float, celsius: float) -> None:
    """Fixed points of the two scales convert both ways."""
    assert fahrenheit_to_celsius(fahrenheit) == pytest.approx(celsius, abs=1e-12)
    assert celsius_to_fahrenheit(celsius) == pytest.approx(fahrenheit, abs=1e-12)
    assert to_celsius(fahrenheit, "°F") == pytest.approx(celsius, abs=1e-12)


@given(st.floats(min_value=-400.0, max_value=1000.0))
@PROPERTY
def test_fahrenheit_round_trip(t_f: float) -> None:
    """Converting to °C and back is the identity."""
    assume(t_f >= -459.67)
    assert celsius_to_fahrenheit(fahrenheit_to_celsius(t_f)) == pytest.approx(t_f, abs=1e-9)


def test_to_celsius_units() -> None:
    """°C passes through, kelvin is shifted, the strings are Home Assistant's own."""
    assert to_celsius(21.5, UnitOfTemperature.CELSIUS) == 21.5
    assert to_celsius(293.15, UnitOfTemperature.KELVIN) == pytest.approx(20.0, abs=1e-12)
    assert to_celsius(68.0, UnitOfTemperature.FAHRENHEIT) == pytest.approx(20.0, abs=1e-12)
    assert UnitOfTemperature(psychrometrics.UNIT_CELSIUS) is UnitOfTemperature.CELSIUS
    assert UnitOfTemperature(psychrometrics.UNIT_FAHRENHEIT) is UnitOfTemperature.FAHRENHEIT
    assert UnitOfTemperature(psychrometrics.UNIT_KELVIN) is UnitOfTemperature.KELVIN


def test_fahrenheit_input_through_the_whole_chain() -> None:
    """77 °F / 50 % RH is the same air as 25 °C / 50 % RH."""
    assert vpd_air(to_celsius(77.0, "°F"), 50.0) == pytest.approx(vpd_air(25.0, 50.0), rel=1e-12)


NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("bad", NON_FINITE)
@pytest.mark.parametrize(
    "call",
    [
        saturation_vapour_pressure,
        lambda bad: actual_vapour_pressure(bad, 50.0),
        lambda bad: actual_vapour_pressure(20.0, bad),
        lambda bad: vpd_air(bad, 50.0),
        lambda bad: vpd_air(20.0, bad),
        lambda bad: vpd_leaf(bad, 50.0),
        lambda bad: vpd_leaf(20.0, bad),
        lambda bad: vpd_leaf(20.0, 50.0, bad),
        lambda bad: vpd_leaf(20.0, 50.0, leaf_offset_c=bad),
        lambda bad: dew_point(bad, 50.0),
        lambda bad: dew_point(20.0, bad),
        lambda bad: absolute_humidity(bad, 50.0),
        lambda bad: absolute_humidity(20.0, bad),
        lambda bad: relative_humidity_for_vpd(bad, 25.0, 23.0),
        lambda bad: relative_humidity_for_vpd(1.0, bad, 23.0),
        lambda bad: relative_humidity_for_vpd(1.0, 25.0, bad),
        lambda bad: relative_humidity_for_vpd(1.0, 25.0, leaf_offset_c=bad),
        fahrenheit_to_celsius,
        celsius_to_fahrenheit,
        lambda bad: to_celsius(bad, "°C"),
    ],
)
def test_non_finite_inputs_rejected(call: object, bad: float) -> None:
    """NaN and infinities never slip through as a silent NaN result."""
    assert callable(call)
    with pytest.raises(PsychrometricsError, match=r"must be a finite number, got (nan|inf|-inf)"):
        call(bad)


@pytest.mark.parametrize("bad_rh", [-0.1, 100.1, -50.0, 250.0])
@pytest.mark.parametrize(
    "function", [actual_vapour_pressure, vpd_air, vpd_leaf, dew_point, absolute_humidity]
)
def test_rh_outside_0_to_100_rejected(function: object, bad_rh: float) -> None:
    """RH is a percentage: values outside 0-100 are sensor faults, not climates."""
    assert callable(function)
    with pytest.raises(PsychrometricsError, match=rf"relative humidity {bad_rh!r} %"):
        function(20.0, bad_rh)


@pytest.mark.parametrize("bad_t", [-50.1, 70.1, -273.15, 500.0])
@pytest.mark.parametrize(
    "call",
    [
        saturation_vapour_pressure,
        lambda t: vpd_air(t, 50.0),
        lambda t: vpd_leaf(t, 50.0, 20.0),
        lambda t: vpd_leaf(20.0, 50.0, t),
        lambda t: dew_point(t, 50.0),
        lambda t: absolute_humidity(t, 50.0),
        lambda t: relative_humidity_for_vpd(1.0, t, 20.0),
        lambda t: relative_humidity_for_vpd(1.0, 20.0, t),
    ],
)
def test_implausible_temperatures_rejected(call: object, bad_t: float) -> None:
    """Temperatures outside -50 to 70 °C are refused with the value in the message."""
    assert callable(call)
    with pytest.raises(PsychrometricsError, match=rf"{bad_t!r} °C is outside the plausible"):
        call(bad_t)


def test_domain_edges_accepted() -> None:
    """The limits themselves are inside the domain."""
    assert saturation_vapour_pressure(MIN_TEMPERATURE_C) > 0.0
    assert saturation_vapour_pressure(MAX_TEMPERATURE_C) > 0.0
    assert vpd_air(20.0, 0.0) == pytest.approx(saturation_vapour_pressure(20.0))


def test_leaf_estimate_outside_domain_rejected() -> None:
    """An offset that pushes the estimated leaf out of range is named as such."""
    with pytest.raises(PsychrometricsError, match=r"leaf temperature \(air minus offset\)"):
        vpd_leaf(-45.0, 50.0, leaf_offset_c=6.0)


@pytest.mark.parametrize("bad_offset", [10.5, -10.5, 100.0])
def test_huge_leaf_offset_rejected(bad_offset: float) -> None:
    """Leaves are not 10 °C off the air; such an offset is a configuration error."""
    with pytest.raises(PsychrometricsError, match=rf"leaf offset {bad_offset!r} °C"):
        vpd_leaf(25.0, 50.0, leaf_offset_c=bad_offset)
    with pytest.raises(PsychrometricsError, match=rf"leaf offset {bad_offset!r} °C"):
        relative_humidity_for_vpd(1.0, 25.0, leaf_offset_c=bad_offset)


def test_measured_leaf_wins_over_offset() -> None:
    """With a leaf sensor the offset is not used at all, not even validated."""
    assert vpd_leaf(25.0, 50.0, 23.0, leaf_offset_c=math.nan) == vpd_leaf(25.0, 50.0, 23.0)


def test_dew_point_undefined_in_dry_air() -> None:
    """Air without vapour has no dew point."""
    with pytest.raises(PsychrometricsError, match="undefined at relative humidity 0 %"):
        dew_point(20.0, 0.0)


@pytest.mark.parametrize("rh", [5e-324, 1e-322, 1e-321, 1e-300, 1e-9, 0.1, 0.25])
def test_dew_point_undefined_in_air_too_dry_for_the_curve(rh: float) -> None:
    """Just above 0 % RH there is no dew point either (it would lie far below -50 °C):
    refused as out of the domain, never a bare math error."""
    assert not has_dew_point(20.0, rh)
    with pytest.raises(PsychrometricsError, match=r"is below -50\.0 °C"):
        dew_point(20.0, rh)


def test_dew_point_domain_ends_at_the_lowest_dew_point() -> None:
    """The edge of the domain is the RH whose dew point is exactly -50 °C."""
    edge_rh = 100.0 * saturation_vapour_pressure(MIN_DEW_POINT_C) / saturation_vapour_pressure(20.0)
    assert has_dew_point(20.0, edge_rh * (1 + 1e-12))
    assert dew_point(20.0, edge_rh * (1 + 1e-12)) == pytest.approx(MIN_DEW_POINT_C, abs=1e-9)
    assert not has_dew_point(20.0, edge_rh * (1 - 1e-12))
    assert not has_dew_point(20.0, 0.0)
    assert has_dew_point(MIN_TEMPERATURE_C, 100.0)
    assert dew_point(MIN_TEMPERATURE_C, 100.0) == pytest.approx(MIN_TEMPERATURE_C)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(MIN_TEMPERATURE_C, MAX_TEMPERATURE_C),
    st.one_of(st.floats(0.0, 100.0), st.floats(0.0, 1e-3), st.floats(0.0, 1e-300)),
)
def test_dew_point_exactly_where_it_is_defined(t_c: float, rh: float) -> None:
    """Everywhere in the domain: a dew point between -50 °C and the air temperature
    when ``has_dew_point`` says so, a PsychrometricsError otherwise."""
    if has_dew_point(t_c, rh):
        assert MIN_DEW_POINT_C <= dew_point(t_c, rh) <= t_c
    else:
        with pytest.raises(PsychrometricsError):
            dew_point(t_c, rh)


@pytest.mark.parametrize("bad_target", [-0.01, -1.0])
def test_negative_vpd_target_rejected(bad_target: float) -> None:
    """A negative VPD target asks for condensation on the leaves."""
    with pytest.raises(PsychrometricsError, match=rf"target VPD {bad_target!r} kPa"):
        relative_humidity_for_vpd(bad_target, 25.0, 23.0)


@pytest.mark.parametrize(
    ("value", "unit"), [(-500.0, "°F"), (-1.0, "K"), (-300.0, "°C"), (-273.2, "°C")]
)
def test_below_absolute_zero_rejected(value: float, unit: str) -> None:
    """Temperatures below absolute zero are faults in any unit."""
    with pytest.raises(PsychrometricsError, match=rf"{value!r} {unit} is below absolute zero"):
        to_celsius(value, unit)


def test_celsius_to_fahrenheit_below_absolute_zero_rejected() -> None:
    """The reverse conversion checks the same bound."""
    with pytest.raises(PsychrometricsError, match=r"-300\.0 °C is below absolute zero"):
        celsius_to_fahrenheit(-300.0)


@pytest.mark.parametrize("unit", ["C", "F", "°K", "celsius", ""])
def test_unknown_unit_rejected(unit: str) -> None:
    """Only Home Assistant's own unit strings are understood."""
    with pytest.raises(PsychrometricsError, match=rf"unknown temperature unit {unit!r}"):
        to_celsius(20.0, unit)


def test_errors_are_value_errors() -> None:
    """Callers that catch ValueError catch these too."""
    assert issubclass(PsychrometricsError, ValueError)
    assert issubclass(VpdUnreachableError, PsychrometricsError)
