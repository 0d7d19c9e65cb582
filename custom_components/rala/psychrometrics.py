"""Psychrometrics of moist air for grow rooms: vapour pressures, VPD, dew point, humidity.

Pure functions, standard library only. Units: temperatures in °C, relative humidity in
percent (0-100), pressures and vapour pressure deficits in kPa, absolute humidity in g/m³.

Saturation vapour pressure
--------------------------
All quantities derive from one saturation vapour pressure (SVP) curve of Magnus form

    e°(T) = a · exp(b · T / (T + c))        (T in °C, e° in kPa)

so that every inverse (dew point, the RH for a target VPD) is exact and consistent with
the forward functions.

The default is **FAO-56 eq. 11** (Allen, Pereira, Raes & Smith 1998, *Crop
evapotranspiration*, FAO Irrigation and Drainage Paper 56, chapter 3), which is Tetens'
(1930) formula with a = 0.6108 kPa, b = 17.27, c = 237.3 °C. It is chosen because it is the
formula behind the published reference table used to check this module (FAO-56 Annex 2,
Table 2.3, e°(T) for 1-48.5 °C), it is the de-facto standard in agronomy and horticulture,
and from 0 to 40 °C it agrees with the reference saturation curve (CRC Handbook values)
to within about 0.15 %, far below the ±2-3 % RH uncertainty of the sensors that feed it.

**Buck (1981)** (A. L. Buck, "New equations for computing vapor pressure and enhancement
factor", J. Appl. Meteor. 20, 1527-1532; a = 0.61121 kPa, b = 17.502, c = 240.97 °C over
water) is offered as :data:`BUCK_1981`. Buck fitted it for -20 to +50 °C; inside that range
it follows the reference curve more closely than Tetens' coefficients, most noticeably below
0 °C; above 50 °C it leaves its fitted range and the FAO-56 curve is the closer of the two.
Both are over liquid water, also below 0 °C (super-cooled water), which is what RH sensors
report.

Leaf VPD
--------
``VPD_leaf = e°(T_leaf) - RH/100 · e°(T_air)``: the air inside the leaf is saturated at
leaf temperature, the air around it holds the vapour of the room. The leaf temperature is
either measured or estimated as air temperature minus an offset (transpiring leaves under
LED lighting are usually somewhat cooler than the air; the default offset is 2 °C).

Domain
------
Inputs outside the physical or plausible domain raise :class:`PsychrometricsError`
(a :class:`ValueError`) naming the bad value: NaN or infinite numbers, RH outside 0-100 %,
temperatures outside :data:`MIN_TEMPERATURE_C`-:data:`MAX_TEMPERATURE_C`, negative VPD
targets, unknown temperature units.

The dew point has a narrower domain: air whose dew point would lie below
:data:`MIN_DEW_POINT_C` holds less vapour than the SVP curve covers (at 20 °C that is
below about 0.26 % RH, within any sensor's error of 0 %), so it has no dew point here,
just like bone-dry air. :func:`has_dew_point` tells whether a pair of inputs has one;
:func:`dew_point` raises :class:`PsychrometricsError` for those that have none.
"""

from dataclasses import dataclass
import math
from typing import Final

MIN_TEMPERATURE_C: Final = -50.0
"""Lowest temperature accepted (°C): colder than any grow room or its surroundings."""
MAX_TEMPERATURE_C: Final = 70.0
"""Highest temperature accepted (°C): above it a reading is a fault, not a climate."""
MIN_DEW_POINT_C: Final = MIN_TEMPERATURE_C
"""Lowest dew point given (°C): the bottom of the temperature range the SVP curve is used in."""
MAX_LEAF_OFFSET_C: Final = 10.0
"""Largest leaf offset (°C, either sign): beyond it the estimate is meaningless."""
DEFAULT_LEAF_OFFSET_C: Final = 2.0
"""Default air-minus-leaf temperature difference (°C) when no leaf sensor is present."""

_RH_ROUNDING_PERCENT: Final = 1e-9
"""Float rounding tolerated at the edges of the reachable RH range (far below any sensor)."""

ABSOLUTE_ZERO_C: Final = -273.15
WATER_VAPOUR_GAS_CONSTANT_J_PER_KG_K: Final = 461.5
"""Specific gas constant of water vapour, R/M_w = 8.314 / 0.018015 J/(kg·K)."""

UNIT_CELSIUS: Final = "°C"
UNIT_FAHRENHEIT: Final = "°F"
UNIT_KELVIN: Final = "K"
"""Temperature unit strings, equal to Home Assistant's ``UnitOfTemperature`` values."""


class PsychrometricsError(ValueError):
    """An input is outside the domain of the psychrometric functions."""


class VpdUnreachableError(PsychrometricsError):
    """No relative humidity between 0 and 100 % gives the requested leaf VPD.

    Attributes give the caller what it needs to decide what to do instead: the target, the
    reachable range at the given temperatures, and the relative humidity that comes
    closest (0 % when the target is too high, 100 % when it is too low).
    """

    def __init__(
        self,
        target_vpd_kpa: float,
        min_vpd_kpa: float,
        max_vpd_kpa: float,
        nearest_rh: float,
    ) -> None:
        """Describe the unreachable target and the reachable range."""
        super().__init__(
            f"leaf VPD {target_vpd_kpa!r} kPa is unreachable at these temperatures: "
            f"only {min_vpd_kpa:.3f} kPa (100 % RH) to {max_vpd_kpa:.3f} kPa (0 % RH) "
            "can be reached"
        )
        self.target_vpd_kpa = target_vpd_kpa
        self.min_vpd_kpa = min_vpd_kpa
        self.max_vpd_kpa = max_vpd_kpa
        self.nearest_rh = nearest_rh


@dataclass(frozen=True, slots=True)
class SvpFormula:
    """Coefficients of a Magnus-form curve ``e°(T) = a · exp(b · T / (T + c))``."""

    name: str
    a_kpa: float
    b: float
    c_c: float


FAO56_TETENS: Final = SvpFormula("FAO-56 eq. 11 (Tetens 1930)", a_kpa=0.6108, b=17.27, c_c=237.3)
"""FAO-56 eq. 11, the default: matches FAO-56 Annex 2 Table 2.3."""
BUCK_1981: Final = SvpFormula("Buck 1981 (over water)", a_kpa=0.61121, b=17.502, c_c=240.97)
"""Buck (1981) over liquid water."""


def _require_finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise PsychrometricsError(f"{name} must be a finite number, got {value!r}")
    return value


def _require_temperature(name: str, t_c: float) -> float:
    _require_finite(name, t_c)
    if not MIN_TEMPERATURE_C <= t_c <= MAX_TEMPERATURE_C:
        raise PsychrometricsError(
            f"{name} {t_c!r} °C is outside the plausible range "
            f"{MIN_TEMPERATURE_C} to {MAX_TEMPERATURE_C} °C"
        )
    return t_c


def _require_rh(rh: float) -> float:
    _require_finite("relative humidity", rh)
    if not 0.0 <= rh <= 100.0:
        raise PsychrometricsError(f"relative humidity {rh!r} % is outside 0 to 100 %")
    return rh


def _leaf_temperature(t_air_c: float, t_leaf_c: float | None, leaf_offset_c: float) -> float:
    """Measured leaf temperature, or air temperature minus the offset."""
    if t_leaf_c is not None:
        return _require_temperature("leaf temperature", t_leaf_c)
    _require_finite("leaf offset", leaf_offset_c)
    if abs(leaf_offset_c) > MAX_LEAF_OFFSET_C:
        raise PsychrometricsError(
            f"leaf offset {leaf_offset_c!r} °C is larger than ±{MAX_LEAF_OFFSET_C} °C"
        )
    return _require_temperature("leaf temperature (air minus offset)", t_air_c - leaf_offset_c)


def _svp(t_c: float, formula: SvpFormula) -> float:
    return formula.a_kpa * math.exp(formula.b * t_c / (t_c + formula.c_c))


def saturation_vapour_pressure(t_c: float, *, formula: SvpFormula = FAO56_TETENS) -> float:
    """Saturation vapour pressure over liquid water at ``t_c`` °C, in kPa.

    With the default :data:`FAO56_TETENS` this is FAO-56 eq. 11; e.g. 20 °C → 2.338 kPa.
    """
    return _svp(_require_temperature("temperature", t_c), formula)


def actual_vapour_pressure(t_c: float, rh: float, *, formula: SvpFormula = FAO56_TETENS) -> float:
    """Partial pressure of water vapour in air at ``t_c`` °C and ``rh`` % RH, in kPa."""
    _require_rh(rh)
    return rh / 100.0 * saturation_vapour_pressure(t_c, formula=formula)


def vpd_air(t_c: float, rh: float, *, formula: SvpFormula = FAO56_TETENS) -> float:
    """Vapour pressure deficit of the air, ``e°(T) · (1 - RH/100)``, in kPa (never negative)."""
    _require_rh(rh)
    return saturation_vapour_pressure(t_c, formula=formula) * (1.0 - rh / 100.0)


def vpd_leaf(
    t_air_c: float,
    rh: float,
    t_leaf_c: float | None = None,
    *,
    leaf_offset_c: float = DEFAULT_LEAF_OFFSET_C,
    formula: SvpFormula = FAO56_TETENS,
) -> float:
    """Leaf vapour pressure deficit, ``e°(T_leaf) - RH/100 · e°(T_air)``, in kPa.

    ``t_leaf_c`` is the measured leaf temperature; when it is ``None`` the leaf is taken to
    be ``leaf_offset_c`` °C cooler than the air (a negative offset means warmer).

    The result is negative when the leaf is below the dew point of the air: water then
    condenses on the leaf. It is returned as is, because that is exactly what a
    controller must see.
    """
    _require_temperature("air temperature", t_air_c)
    _require_rh(rh)
    t_leaf = _leaf_temperature(t_air_c, t_leaf_c, leaf_offset_c)
    return _svp(t_leaf, formula) - rh / 100.0 * _svp(t_air_c, formula)


def has_dew_point(t_c: float, rh: float, *, formula: SvpFormula = FAO56_TETENS) -> bool:
    """Whether the air has a dew point of at least :data:`MIN_DEW_POINT_C`.

    That is, whether its actual vapour pressure reaches the saturation vapour pressure at
    :data:`MIN_DEW_POINT_C`. False at 0 % RH and in air just as dry (e.g. 1e-300 % RH).
    Inputs outside the domain raise :class:`PsychrometricsError` as everywhere.
    """
    return actual_vapour_pressure(t_c, rh, formula=formula) >= _svp(MIN_DEW_POINT_C, formula)


def dew_point(t_c: float, rh: float, *, formula: SvpFormula = FAO56_TETENS) -> float:
    """Dew point in °C: the temperature whose saturation vapour pressure is the actual one.

    It is the exact inverse of the same SVP curve, so ``dew_point(t, 100)`` is ``t`` (to
    rounding) and the result is never above ``t_c``. At 0 % RH there is no vapour and no
    dew point, and air so dry that its dew point would lie below :data:`MIN_DEW_POINT_C`
    has none either (:func:`has_dew_point`): both raise :class:`PsychrometricsError`.
    """
    _require_temperature("temperature", t_c)
    _require_rh(rh)
    if rh == 0.0:
        raise PsychrometricsError("dew point is undefined at relative humidity 0 %")
    if not has_dew_point(t_c, rh, formula=formula):
        raise PsychrometricsError(
            f"dew point of {rh!r} % RH at {t_c!r} °C is below {MIN_DEW_POINT_C} °C, "
            "outside the range of the vapour pressure curve"
        )
    # rh / 100 is at least e°(MIN_DEW_POINT_C) / e°(MAX_TEMPERATURE_C) here (about 2e-4).
    log_ratio = math.log(rh / 100.0) + formula.b * t_c / (t_c + formula.c_c)
    dew_point_c = formula.c_c * log_ratio / (formula.b - log_ratio)
    # Rounding may land an ulp above the air temperature at RH a hair under 100 %, and an
    # ulp below the lowest dew point at its edge.
    return max(min(dew_point_c, t_c), MIN_DEW_POINT_C)


def absolute_humidity(t_c: float, rh: float, *, formula: SvpFormula = FAO56_TETENS) -> float:
    """Mass of water vapour per volume of air, in g/m³ (ideal gas law for the vapour).

    ``rho_v = e / (R_v · T)``; e.g. about 17.3 g/m³ in saturated air at 20 °C.
    """
    vapour_pressure_pa = 1000.0 * actual_vapour_pressure(t_c, rh, formula=formula)
    return (
        1000.0
        * vapour_pressure_pa
        / (WATER_VAPOUR_GAS_CONSTANT_J_PER_KG_K * (t_c - ABSOLUTE_ZERO_C))
    )


def relative_humidity_for_vpd(
    target_vpd_kpa: float,
    t_air_c: float,
    t_leaf_c: float | None = None,
    *,
    leaf_offset_c: float = DEFAULT_LEAF_OFFSET_C,
    clamp: bool = False,
    formula: SvpFormula = FAO56_TETENS,
) -> float:
    """Relative humidity (%) at which the leaf VPD equals ``target_vpd_kpa``.

    The inverse of :func:`vpd_leaf` with the same leaf-temperature rules:
    ``RH = 100 · (e°(T_leaf) - VPD) / e°(T_air)``.

    A target is unreachable when it needs RH above 100 % (target below the leaf VPD of
    saturated air, possible when the leaf is warmer than the air) or below 0 % (target
    above ``e°(T_leaf)``, more than even bone-dry air gives). Then this raises
    :class:`VpdUnreachableError`, which carries the reachable range and the nearest RH;
    with ``clamp=True`` it returns that nearest RH (0 or 100) instead, which is the best a
    humidifier or dehumidifier can aim for.
    """
    _require_finite("target VPD", target_vpd_kpa)
    if target_vpd_kpa < 0.0:
        raise PsychrometricsError(f"target VPD {target_vpd_kpa!r} kPa must not be negative")
    _require_temperature("air temperature", t_air_c)
    t_leaf = _leaf_temperature(t_air_c, t_leaf_c, leaf_offset_c)
    svp_leaf = _svp(t_leaf, formula)
    svp_air = _svp(t_air_c, formula)
    rh = 100.0 * (svp_leaf - target_vpd_kpa) / svp_air
    # A target exactly at the edge of the reachable range (e.g. 0 kPa with the leaf at air
    # temperature) can come out a rounding error beyond 0 or 100 %: that is still reachable.
    if -_RH_ROUNDING_PERCENT <= rh <= 100.0 + _RH_ROUNDING_PERCENT:
        return min(max(rh, 0.0), 100.0)
    nearest_rh = 0.0 if rh < 0.0 else 100.0
    if clamp:
        return nearest_rh
    raise VpdUnreachableError(target_vpd_kpa, svp_leaf - svp_air, svp_leaf, nearest_rh)


def _require_above_absolute_zero(t_c: float, original: float, unit: str) -> float:
    if t_c < ABSOLUTE_ZERO_C:
        raise PsychrometricsError(f"temperature {original!r} {unit} is below absolute zero")
    return t_c


def fahrenheit_to_celsius(t_f: float) -> float:
    """Convert °F to °C."""
    _require_finite("temperature", t_f)
    return _require_above_absolute_zero((t_f - 32.0) * 5.0 / 9.0, t_f, UNIT_FAHRENHEIT)


def celsius_to_fahrenheit(t_c: float) -> float:
    """Convert °C to °F."""
    _require_finite("temperature", t_c)
    _require_above_absolute_zero(t_c, t_c, UNIT_CELSIUS)
    return t_c * 9.0 / 5.0 + 32.0


def to_celsius(value: float, unit: str) -> float:
    """Convert a temperature in ``unit`` to °C.

    ``unit`` is "°C", "°F" or "K", spelled as Home Assistant's ``UnitOfTemperature``.
    """
    _require_finite("temperature", value)
    if unit == UNIT_CELSIUS:
        return _require_above_absolute_zero(value, value, unit)
    if unit == UNIT_FAHRENHEIT:
        return fahrenheit_to_celsius(value)
    if unit == UNIT_KELVIN:
        return _require_above_absolute_zero(value + ABSOLUTE_ZERO_C, value, unit)
    raise PsychrometricsError(
        f"unknown temperature unit {unit!r}; expected one of "
        f"{UNIT_CELSIUS!r}, {UNIT_FAHRENHEIT!r}, {UNIT_KELVIN!r}"
    )
