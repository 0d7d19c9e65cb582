"""A simulated grow tent: well-mixed air, a lumped thermal mass, plants and a BME280.

Pure Python (standard library only) so that tests and benchmarks can run a simulated day in
well under a second and get the same result for the same seed. The simulator only obeys the
actuator states it is given on every :meth:`SimulatedTent.step`; it has no light schedule,
no thermostat and no clock of its own beyond the simulated time it integrates.

Model (SI units unless noted; ``h`` is the internal step, at most ``MAX_SUBSTEP`` seconds)
------------------------------------------------------------------------------------------
State: tent air temperature ``Ta``, lumped mass temperature ``Tm`` (plants, pots, substrate),
humidity ratio ``w`` of the tent air (kg vapour per kg dry air), water ``m_b`` held by the
moisture buffer, the heater's output ``Q_h``, stomatal opening ``s`` (0..1), a slow random
"weather" deviation of the room temperature, and the sensor's lagged readings.

Room air (the air the tent exchanges with) follows a daily cycle::

    T_room(t) = mean + amplitude * cos(2 pi (t - peak_hour) / 24 h) + weather(t)

where ``weather`` is an Ornstein-Uhlenbeck process (seeded). The room's absolute humidity is
constant (``room_humidity`` is the RH at the mean temperature), so the room's RH swings
opposite to its temperature, as it does in a real house.

Heat balance of the air node (air plus light fixtures: frame, fabric, lamp body, fans)::

    C_air dTa/dt = Q + (UA + rho cp V') (T_room - Ta) + G_mass (Tm - Ta)
    C_mass dTm/dt = G_mass (Ta - Tm)

    Q = Q_h + light_heat_fraction * P_light + fan power
        + P_dehumidifier + L * m_dehumidifier        (condensed water releases latent heat)
        + P_humidifier - L * m_humidifier            (ultrasonic mist evaporates in the air)
        - cooler - L * E                             (transpiration turns sensible into latent heat)
        + L * F                                      (vapour sorbed by the buffer, see below)

    tau_h dQ_h/dt = P_heater * on - Q_h

The heater's output lags its switching by ``heater_time_constant`` (0: at once, a fan heater):
a tube heater or an oil-filled radiator first warms its own body. It is the first-order
response of a body of heat capacity ``C`` losing ``G (T_body - Ta)``, with ``tau = C / G``,
neglecting that the air's own change (a few K against the body's ~50 K excess) alters the
output. The energy is all delivered, partly after switching off; the electricity is counted
while the heater is on.

``UA`` is the wall U-value times the tent's surface, ``V'`` the exhaust flow when the exhaust
fan runs and the passive leakage otherwise. The air temperature is updated implicitly (backward
Euler in ``Ta``), so large exchange rates and steps stay stable.

Moisture balance::

    M_dry dw/dt = E + m_humidifier - m_dehumidifier + rho V' (w_room - w) - F

The dehumidifier's removal falls linearly with RH, from its rating at
``dehumidifier_rated_humidity`` down to nothing at ``dehumidifier_cutoff_humidity``. Vapour
above saturation condenses at once (its latent heat goes to the air), so RH never exceeds 100 %.

Dehumidifier start-up: a compressor unit removes nothing until its evaporator coil is below
the air's dew point, so its removal is that steady rate times a capacity fraction ``c``::

    tau_d dc/dt = 1 - c    while on;    c = 0 while off

with ``tau_d`` = ``dehumidifier_time_constant`` (0: full removal at once). Within a step the
removal uses the exact mean of ``c`` over the step, so the water removed does not depend on
the step size. The electrical power (compressor and fan) is drawn, and given to the air, from
the moment it is switched on; the latent heat of what it condenses follows the removal. At
switch-off the removal stops at once and the coil counts as warm: with a smart plug the fan
stops too, the fins' few kJ of cold are lost to their surroundings within a minute or two
and the water on them drips into the tank, and many units hold the compressor off for some
minutes after a power cut anyway, so a restart soon after a stop is modelled as a cold start
(re-evaporation of water left on the coil is neglected). The heat stored in the unit's own
masses (cold evaporator, warm condenser and compressor shell: opposite signs, a few kJ each)
is neglected; the air gets the electrical power plus the latent heat at every moment.

Default ``tau_d`` 90 s, an estimate: H. I. Henderson and K. Rengarajan (ASHRAE Transactions
102(1), 1996; EnergyPlus' "latent capacity time constant" of DX cooling coils) give about
45 s for residential air conditioners, whose large coils are pulled down by a much larger
compressor; small 10-25 L/day dehumidifiers with a capillary tube take 1-3 minutes before
their coil condenses water, which a first-order lag of 90 s covers (40 % of the steady
removal after 45 s, 78 % after 135 s). A 60 s pulse then removes 27 % of what an instant
unit would (``1 - tau_d/T (1 - exp(-T/tau_d))``), while drawing all its electrical power.

Moisture buffer: the Effective Moisture Penetration Depth (EMPD) model, one surface layer, as
in the EnergyPlus Engineering Reference ("Effective Moisture Penetration Depth (EMPD) Model";
A. Kerestecioglu, M. Swami, A. Kamel, ASHRAE Transactions 96(1), 1990; the two-layer form of
J. Woods and J. Winkler, Energy and Buildings 165, 2018, without its deep layer). A layer of
area ``A``, depth ``d`` and dry density ``rho_m`` holds ``m_b = A d rho_m u(phi_b)`` kg of
water, with the sorption isotherm ``u = a phi**b`` (EnergyPlus' ``a phi**b + c phi**d`` with
``c = 0``). It exchanges vapour with the air through a surface mass-transfer coefficient
``beta``; its surface is at the lumped mass temperature::

    F = dm_b/dt = beta A (e_air - phi_b e_s(Tm))

The air's humidity ratio and the layer's surface RH are updated together, linearly implicit
(backward Euler with the isotherm's slope and ``e(w)`` linearised over the step): stable for
any step, and the flux the layer gains is exactly the one the air loses, so the water
accounted in :attr:`SimulatedTent.water_balance` closes to rounding. ``m_b`` is the state;
``phi_b`` follows from it through the isotherm. The heat of sorption is taken as the latent
heat of condensation (the extra binding heat, small above 50 % RH, is neglected) and given to
the air.

Default buffer (a tent with pots of coco coir or peat substrate); every value is an estimate
for a typical tent, not a measurement, and none was tuned to a controller's result:

- ``buffer_area_ratio`` 0.7 m² per m² of floor: four 11 L fabric pots (about 28 cm across,
  22 cm high) in a 1.2 x 1.2 m tent expose 0.25 m² of substrate on top and 0.77 m² of pot
  wall, 1.0 m². The tent's PET/Mylar lining and PVC floor tray sorb next to nothing and are
  not counted; leaves exchange water through their stomata (the transpiration below), not as
  a sorbing surface.
- Isotherm ``a`` 0.18, ``b`` 0.94: a fit of the equilibrium moisture content of wood at
  21 °C (Wood Handbook, FPL-GTR-282, 2021, table 4-2: 6.2 % at 30 % RH, 9.2 % at 50 %, 16 %
  at 80 %) within 7 % from 30 to 80 % RH. Coir and peat are lignocellulosic like wood; that
  their isotherm is close to wood's is an assumption.
- ``buffer_density`` 80 kg/m³: dry bulk density of coir substrate (about 40-100 kg/m³ for
  coir dusts, M. Abad et al., Bioresource Technology 82, 2002).
- ``buffer_depth`` 10 mm: EnergyPlus' formula ``d = sqrt(delta e_s t_p / (pi rho_m du/dphi))``
  for a daily cycle (``t_p`` 24 h) with ``delta = delta_air / mu``, ``mu`` about 3 for a loose
  fibrous substrate (assumed), gives about 18 mm; below the dried top centimetre a watered
  substrate is near saturation and sorbs no more, so 10 mm.
- ``buffer_mass_transfer_coefficient`` 2e-8 kg/(m² s Pa): ``beta = 7e-9 s/m * h_c`` (H. M.
  Künzel, "Simultaneous heat and moisture transport in building components", 1995, the Lewis
  relation EnergyPlus also uses) with ``h_c`` about 3 W/(m² K) in still air; multiplied by
  ``circulation_leaf_conductance_factor`` while the circulation fan runs.

What follows from these numbers: in the default 1.2 m tent the layer holds about 1.4 g of
water per % RH against the air's 0.5-0.7 g (20-25 °C), so over an hour or more it roughly
triples the tent's moisture capacity (slower RH drift, a rebound after drying). The exchange
itself is slow, ``tau`` = air capacity / (beta A) of about 17 min in still air (9 min with
the fan), so one 60 s humidifier or dehumidifier pulse loses only a few % of its effect to
it. A buffer that halves such a pulse would need some 15 m² of sorbing surface per m² of
floor, with the circulation fan running.

Plants, Penman-Monteith-like. Stomatal conductance ``g = g_dark + (g_light - g_dark) s``,
with ``s`` relaxing towards 1 under light and 0 in the dark (time constant
``stomatal_time_constant``). Transpiration is ``E = g * VPD_leaf``. The canopy's energy balance
``R_abs = H + L E`` with ``H = G_leaf (T_leaf - Ta)``, ``R_abs = light_radiant_fraction * P_light``
and the saturation curve linearised around ``Ta`` (slope ``Δ``) gives, without iteration::

    T_leaf - Ta = (R_abs - L g VPD_air) / (G_leaf + L g Δ)
    VPD_leaf    = VPD_air + Δ (T_leaf - Ta)

so the leaf is cooled by transpiration and warmed by the lamp's radiation (more under HPS,
which emits more infrared, than under LED). A running circulation fan multiplies the canopy's
heat conductance ``G_leaf`` by ``circulation_leaf_conductance_factor`` and so shrinks the
leaf-air difference.

Saturation vapour pressure is Magnus' formula with the coefficients of Alduchov and Eskridge
(1996), see :func:`saturation_vapour_pressure`.

Sensor (:meth:`SimulatedTent.measure`): first-order lag of temperature and RH (the BME280
datasheet gives a humidity response time τ63 of 1 s at 1 m/s air flow; it gives none for
temperature, where the same 1 s is used by default — a breakout board in still air is slower,
raise ``sensor_temperature_time_constant`` to model that), then gaussian noise, then
quantisation to the datasheet's output resolution, then clamping to the sensor's range.
Systematic accuracy errors (±1 °C, ±3 %RH, ±1 hPa) are not drawn at random; the
``sensor_*_offset`` parameters add them explicitly.

Electrical energy is counted per actuator kind (:attr:`SimulatedTent.electrical_energy`) from
the ``*_power`` parameters, for benchmarks that report energy.

Scenario equipment (:data:`SCENARIOS`): what a well-equipped grower would buy for each tent.
Wall losses are ``wall_u_value * surface`` (4 W/(m² K), a single fabric layer with its two
surface resistances): 26 W/K for the 0.8 m tent, 50 W/K for the 1.2 m tents, plus leakage.

=============  =========================  =========================  =========================
actuator       small_led_dry_room         flower_tent_humid_room     cold_winter_room
=============  =========================  =========================  =========================
tent, light    0.8x0.8x1.6 m, 100 W LED   1.2x1.2x2.0 m, 400 W LED   1.2x1.2x2.0 m, 200 W LED
heater         150 W (3 ft) tube heater,  180 W (4 ft) tube heater,  600 W oil-filled
               tau 240 s (was instant)    tau 240 s (was 300 W)      radiator on low, tau
                                                                     600 s (was instant)
humidifier     ultrasonic 0.1 kg/h, 25 W  0.3 kg/h, 30 W             0.2 kg/h, 25 W
               (was 0.2 kg/h)             (unchanged)                (was 0.3 kg/h)
dehumidifier   10 L/day class: 0.2 kg/h   20-25 L/day class:         12 L/day class:
               at 60 % RH, 180 W          0.5 kg/h, 300 W            0.25 kg/h, 200 W
               (was 0.3 kg/h, 200 W)      (unchanged)                (was 0.5 kg/h, 300 W)
exhaust        100 mm inline + filter at  150 mm inline + filter at  150 mm at ~50 %:
               ~40 %: 100 m³/h, 10 W      ~80 %: 400 m³/h, 40 W      250 m³/h, 30 W
               (was 200 m³/h, 40 W)       (unchanged)                (was 400 m³/h, 40 W)
=============  =========================  =========================  =========================

- Heaters are sized to the heat loss. Small tent: 21 °C at night in a 19 °C room needs about
  55 W; 26 °C at lights-on in a 19.6 °C room needs about 120 W beyond the lamp's 95 W once
  the 40 W of latent heat in transpiration are counted: a 150 W tube heater. Flower tent:
  the room (21.5-24.5 °C) is rarely below the targets; a 4 ft tube heater is enough. Cold
  room: 21 °C at night in the coldest hour (room 10 °C) needs 11 K x 52 W/K = 570 W, so the
  600 W stays: it is the load, not oversizing. What made it move the air 2 °C per minute was
  that it delivered its heat at once; an oil-filled radiator of about 8 kg (some 7 kJ/K) at
  about 45 K above the air (13 W/K) has ``tau`` near 550 s. A 2 ft aluminium tube heater
  (about 0.6 kg, 550 J/K, 50 K above the air at 120 W) gives about 230 s. Both time constants
  are estimates from mass and surface temperature, not measurements.
- Dehumidifiers are sold by their removal at 30 °C and 80 % RH; at 25-27 °C and 60 % RH a
  compressor unit removes roughly half of that (manufacturers' performance curves; an
  estimate): 10 L/day gives about 0.2 kg/h, 12 L/day about 0.25 kg/h. The flower tent
  transpires about 0.3 kg/h by day at its 1.2 kPa target and must be held near 50 % RH, where
  the model's unit removes 2/3 of its rating; that takes 0.45-0.5 kg/h at 60 %, the 20-25
  L/day class, so its 0.5 kg/h stays. All three start up with the default
  ``dehumidifier_time_constant`` of 90 s (see "Dehumidifier start-up" above).
- Humidifiers: small ultrasonic units run at 0.1-0.3 L/h; the dry-room tent needs about
  0.05 kg/h (leakage of 30 % RH room air) less what its plants transpire.
- Exhaust fans, by the growers' rule of thumb: one tent volume per minute, +25 % for a carbon
  filter, +15 % for LED lamps: about 90 m³/h for the 0.8 m tent, 250 m³/h for the 1.2 m
  ones. 100 mm inline fans move about 150-250 m³/h free-blowing and 150 mm ones 400-550 m³/h,
  so the speed controller sits at about 40-60 %. The flower tent needs more: its room is only
  0-3 K below the 25 °C day target, and by day the lamp's 380 W, the dehumidifier's 300 W
  and the latent heat it releases exceed the 400 W cooler by about 350 W; carrying that at
  2 K takes some 170 W/K, of which the walls give 52, the exhaust the rest: about 360 m³/h,
  so 400 m³/h (150 mm at about 80 %). On/off only: the speed stays where the grower set it.
- Not reviewed: the cooler (a small portable air conditioner removes 1.5-2 kW, far more than
  the 250-400 W here), the lamps and the plants.

Not modelled: CO2, watering (the pump only consumes energy) and evaporation from wet
substrate, the buffer's deep layer and sorption hysteresis, a dehumidifier's compressor
restart delay and the water its coil holds and gives back, dew on leaves, wall condensation
distinct from air condensation, the cooler's dehumidifying effect, pressure changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
import math
import random
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from edge_agent.config import ActuatorKind

__all__ = [
    "MAX_SUBSTEP",
    "SCENARIOS",
    "SimulatedTent",
    "TentParameters",
    "WaterBalance",
    "saturation_vapour_pressure",
]

MAX_SUBSTEP: Final = 5.0
"""Longest internal integration step (s); longer :meth:`SimulatedTent.step` calls are split."""

_LATENT_HEAT: Final = 2.45e6  # J/kg, evaporation of water near 20 °C
_CP_AIR: Final = 1005.0  # J/(kg K), dry air
_R_DRY_AIR: Final = 287.05  # J/(kg K)
_EPSILON: Final = 0.622  # molar mass ratio water / dry air
_MAGNUS_A: Final = 6.1094  # hPa
_MAGNUS_B: Final = 17.625
_MAGNUS_C: Final = 243.04  # °C
_SECONDS_PER_DAY: Final = 86400.0
_SECONDS_PER_HOUR: Final = 3600.0
_SENSOR_TEMPERATURE_RANGE: Final = (-40.0, 85.0)
_SENSOR_PRESSURE_RANGE: Final = (300.0, 1100.0)


def saturation_vapour_pressure(temperature: float) -> float:
    """Saturation vapour pressure over water in hPa at ``temperature`` in °C.

    Magnus' formula with the coefficients recommended by O. A. Alduchov and R. E. Eskridge,
    "Improved Magnus form approximation of saturation vapor pressure", J. Appl. Meteor. 35
    (1996) 601-609: ``6.1094 * exp(17.625 T / (T + 243.04))``; better than 0.4 % from -40 °C
    to 50 °C.
    """
    return _MAGNUS_A * math.exp(_MAGNUS_B * temperature / (temperature + _MAGNUS_C))


class _Check(Enum):
    """Allowed range of a parameter (checked by :class:`TentParameters`)."""

    ANY = "a number"
    POSITIVE = "a number > 0"
    NON_NEGATIVE = "a number >= 0"
    FRACTION = "a number from 0 to 1"
    PERCENT = "a number from 0 to 100"
    HOUR = "an hour from 0 (inclusive) to 24 (exclusive)"
    HOURS = "a number of hours from 0 to 24"
    PRESSURE = "a pressure from 300 to 1100 hPa"
    EXPONENT = "a number > 0 and <= 1"

    def accepts(self, value: float) -> bool:
        """Whether ``value`` (already known to be a finite number) is in range."""
        match self:
            case _Check.ANY:
                return True
            case _Check.POSITIVE:
                return value > 0
            case _Check.NON_NEGATIVE:
                return value >= 0
            case _Check.FRACTION:
                return 0 <= value <= 1
            case _Check.PERCENT:
                return 0 <= value <= 100
            case _Check.HOUR:
                return 0 <= value < 24
            case _Check.HOURS:
                return 0 <= value <= 24
            case _Check.PRESSURE:
                return 300 <= value <= 1100
            case _Check.EXPONENT:
                return 0 < value <= 1


def _param(default: float, check: _Check, doc: str) -> Any:
    """A float dataclass field carrying its range check and description."""
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass(frozen=True, slots=True)
class TentParameters:
    """Everything the simulated tent needs to know; defaults: a 120x120x200 cm LED tent.

    Each field's metadata holds its unit/meaning (``doc``) and allowed range (``check``).
    Construction validates every field and raises :class:`ValueError` naming the field.
    """

    # Tent
    width: float = _param(1.2, _Check.POSITIVE, "tent width, m")
    depth: float = _param(1.2, _Check.POSITIVE, "tent depth, m")
    height: float = _param(2.0, _Check.POSITIVE, "tent height, m")
    wall_u_value: float = _param(
        4.0, _Check.NON_NEGATIVE, "heat transfer coefficient of the tent fabric, W/(m² K)"
    )
    fixture_heat_capacity: float = _param(
        10_000.0, _Check.NON_NEGATIVE, "frame, fabric, lamp and fans, counted with the air, J/K"
    )
    thermal_mass_heat_capacity: float = _param(
        100_000.0, _Check.POSITIVE, "plants, pots and substrate (lumped mass), J/K"
    )
    thermal_mass_conductance: float = _param(
        40.0, _Check.NON_NEGATIVE, "heat exchange between air and lumped mass, W/K"
    )
    passive_leakage: float = _param(
        5.0, _Check.NON_NEGATIVE, "air exchange with the room when the exhaust is off, m³/h"
    )
    # Actuators
    heater_power: float = _param(300.0, _Check.NON_NEGATIVE, "heater power, W")
    heater_time_constant: float = _param(
        0.0,
        _Check.NON_NEGATIVE,
        "time constant of the heater's output (its own heat capacity; 0 for a fan heater), s",
    )
    cooler_power: float = _param(400.0, _Check.NON_NEGATIVE, "heat removed by the cooler, W")
    cooler_electrical_power: float = _param(
        160.0, _Check.NON_NEGATIVE, "cooler's electrical power (heat rejected outside), W"
    )
    light_power: float = _param(200.0, _Check.NON_NEGATIVE, "lamp electrical power, W")
    light_heat_fraction: float = _param(
        0.95,
        _Check.FRACTION,
        "part of the lamp power released in the tent (1 with the driver inside; photosynthesis "
        "stores a few %)",
    )
    light_radiant_fraction: float = _param(
        0.3,
        _Check.FRACTION,
        "part of the lamp power absorbed by the canopy as radiation (LED ~0.3, HPS ~0.5 "
        "with its infrared)",
    )
    humidifier_rate: float = _param(0.3, _Check.NON_NEGATIVE, "humidifier output, kg/h")
    humidifier_power: float = _param(30.0, _Check.NON_NEGATIVE, "humidifier power, W")
    dehumidifier_rate: float = _param(
        0.5, _Check.NON_NEGATIVE, "dehumidifier removal at its rated RH, kg/h"
    )
    dehumidifier_power: float = _param(300.0, _Check.NON_NEGATIVE, "dehumidifier power, W")
    dehumidifier_rated_humidity: float = _param(
        60.0, _Check.PERCENT, "RH at which the dehumidifier removes dehumidifier_rate, %"
    )
    dehumidifier_cutoff_humidity: float = _param(
        30.0, _Check.PERCENT, "RH below which the dehumidifier removes nothing, %"
    )
    dehumidifier_time_constant: float = _param(
        90.0,
        _Check.NON_NEGATIVE,
        "time constant of the dehumidifier's removal after switch-on (its coil cooling below "
        "the dew point; 0: full removal at once), s",
    )
    exhaust_flow: float = _param(400.0, _Check.NON_NEGATIVE, "exhaust fan air flow, m³/h")
    exhaust_power: float = _param(
        40.0, _Check.NON_NEGATIVE, "exhaust fan power (heat leaves with the air), W"
    )
    circulation_power: float = _param(15.0, _Check.NON_NEGATIVE, "circulation fan power, W")
    circulation_leaf_conductance_factor: float = _param(
        2.0, _Check.POSITIVE, "factor on the canopy heat conductance while the fan runs"
    )
    pump_power: float = _param(20.0, _Check.NON_NEGATIVE, "pump power (energy only), W")
    # Plants
    transpiration_light: float = _param(
        0.15, _Check.NON_NEGATIVE, "canopy transpiration, stomata open, kg/h per kPa leaf VPD"
    )
    transpiration_dark: float = _param(
        0.015, _Check.NON_NEGATIVE, "canopy transpiration, stomata closed, kg/h per kPa leaf VPD"
    )
    stomatal_time_constant: float = _param(
        600.0, _Check.NON_NEGATIVE, "time constant of stomatal opening and closing, s"
    )
    canopy_heat_conductance: float = _param(
        60.0, _Check.POSITIVE, "sensible heat conductance canopy-air in still air, W/K"
    )
    # Moisture buffer (EMPD surface layer; see the module docstring for the sources)
    buffer_area_ratio: float = _param(
        0.7,
        _Check.NON_NEGATIVE,
        "hygroscopic surface (substrate, pots) per m² of tent floor, m²/m² (0: no buffer)",
    )
    buffer_depth: float = _param(
        0.01, _Check.POSITIVE, "effective moisture penetration depth of the surface layer, m"
    )
    buffer_density: float = _param(
        80.0, _Check.POSITIVE, "dry density of the buffering material, kg/m³"
    )
    buffer_isotherm_a: float = _param(
        0.18,
        _Check.POSITIVE,
        "sorption isotherm u = a * phi**b: coefficient a, kg water per kg dry material",
    )
    buffer_isotherm_b: float = _param(
        0.94, _Check.EXPONENT, "sorption isotherm u = a * phi**b: exponent b"
    )
    buffer_mass_transfer_coefficient: float = _param(
        2.0e-8,
        _Check.NON_NEGATIVE,
        "vapour transfer coefficient air-surface in still air (x the circulation factor while "
        "the fan runs), kg/(m² s Pa)",
    )
    # Room
    room_temperature_mean: float = _param(20.0, _Check.ANY, "daily mean room temperature, °C")
    room_temperature_amplitude: float = _param(
        2.0, _Check.NON_NEGATIVE, "amplitude of the daily room temperature cycle, K"
    )
    room_temperature_peak_hour: float = _param(15.0, _Check.HOUR, "hour of the warmest room air")
    room_temperature_noise: float = _param(
        0.3, _Check.NON_NEGATIVE, "standard deviation of the random room temperature drift, K"
    )
    room_weather_time_constant: float = _param(
        3600.0, _Check.POSITIVE, "correlation time of the random room temperature drift, s"
    )
    room_humidity: float = _param(50.0, _Check.PERCENT, "room RH at the mean room temperature, %")
    room_pressure: float = _param(1013.25, _Check.PRESSURE, "air pressure, hPa")
    # Light schedule: data for whoever switches the light actuator; the sim ignores it.
    lights_on_hour: float = _param(6.0, _Check.HOUR, "hour the lights switch on")
    photoperiod_hours: float = _param(18.0, _Check.HOURS, "hours of light per day")
    # Sensor (BME280 datasheet BST-BME280-DS002)
    sensor_temperature_time_constant: float = _param(
        1.0, _Check.NON_NEGATIVE, "sensor temperature lag, s"
    )
    sensor_humidity_time_constant: float = _param(
        1.0, _Check.NON_NEGATIVE, "sensor humidity lag (datasheet τ63: 1 s), s"
    )
    sensor_temperature_noise: float = _param(
        0.02, _Check.NON_NEGATIVE, "temperature noise (standard deviation), °C"
    )
    sensor_humidity_noise: float = _param(
        0.1,
        _Check.NON_NEGATIVE,
        "humidity noise (standard deviation; datasheet 0.02 %RH at highest oversampling, "
        "more at x1), %RH",
    )
    sensor_pressure_noise: float = _param(
        0.033,
        _Check.NON_NEGATIVE,
        "pressure noise (standard deviation; about 3.3 Pa at oversampling x1), hPa",
    )
    sensor_temperature_resolution: float = _param(
        0.01, _Check.NON_NEGATIVE, "temperature output resolution, °C"
    )
    sensor_humidity_resolution: float = _param(
        0.008, _Check.NON_NEGATIVE, "humidity resolution, %RH"
    )
    sensor_pressure_resolution: float = _param(
        0.0018, _Check.NON_NEGATIVE, "pressure resolution (0.18 Pa), hPa"
    )
    sensor_temperature_offset: float = _param(0.0, _Check.ANY, "systematic error, °C")
    sensor_humidity_offset: float = _param(0.0, _Check.ANY, "systematic error, %RH")
    sensor_pressure_offset: float = _param(0.0, _Check.ANY, "systematic error, hPa")

    def __post_init__(self) -> None:
        """Validate every field; the error names the field and the expected range."""
        for spec in fields(self):
            value = getattr(self, spec.name)
            check: _Check = spec.metadata["check"]
            if not _is_number(value) or not math.isfinite(value) or not check.accepts(value):
                raise ValueError(f"{spec.name}: expected {check.value}, got {value!r}")
        if self.dehumidifier_cutoff_humidity >= self.dehumidifier_rated_humidity:
            raise ValueError(
                "dehumidifier_cutoff_humidity: expected less than dehumidifier_rated_humidity "
                f"({self.dehumidifier_rated_humidity!r}), got {self.dehumidifier_cutoff_humidity!r}"
            )

    @property
    def volume(self) -> float:
        """Tent volume in m³."""
        return self.width * self.depth * self.height

    @property
    def surface(self) -> float:
        """Tent surface (walls, roof and floor) in m²."""
        return 2 * (self.width * self.depth + self.width * self.height + self.depth * self.height)

    @property
    def buffer_area(self) -> float:
        """Hygroscopic surface exchanging vapour with the air (moisture buffer) in m²."""
        return self.buffer_area_ratio * self.width * self.depth

    def light_scheduled_on(self, time_of_day: float) -> bool:
        """Whether the preset light schedule wants the lights on at ``time_of_day`` (s after 0:00).

        A helper for whoever drives the light actuator; the simulator itself never calls it.
        """
        hours_since_on = ((time_of_day / _SECONDS_PER_HOUR) - self.lights_on_hour) % 24.0
        return hours_since_on < self.photoperiod_hours

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> TentParameters:
        """Parameters from the config's ``simulation:`` section.

        Keys are the field names; ``preset`` optionally names a scenario from :data:`SCENARIOS`
        that the other keys then override. Unknown keys, non-numbers (booleans included) and
        out-of-range values raise :class:`ValueError` naming the key.
        """
        if not isinstance(raw, Mapping):
            # ValueError like every other bad-config case, so callers catch one type.
            raise ValueError(  # noqa: TRY004
                f"simulation: expected a mapping, got {type(raw).__name__}"
            )
        base = cls()
        preset = raw.get("preset")
        if preset is not None:
            if not isinstance(preset, str) or preset not in SCENARIOS:
                raise ValueError(
                    f"preset: expected one of {', '.join(sorted(SCENARIOS))}, got {preset!r}"
                )
            base = SCENARIOS[preset]
        known = {spec.name for spec in fields(cls)}
        values: dict[str, float] = {}
        for key, value in raw.items():
            if key == "preset":
                continue
            if key not in known:
                raise ValueError(f"{key}: unknown simulation parameter")
            if not _is_number(value):
                raise ValueError(f"{key}: expected a number, got {value!r}")
            values[key] = float(value)
        return replace(base, **values)

    @classmethod
    def scenario(cls, name: str) -> TentParameters:
        """The named preset (see :data:`SCENARIOS`); :class:`KeyError` for an unknown name."""
        return SCENARIOS[name]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


SCENARIOS: Final[Mapping[str, TentParameters]] = MappingProxyType(
    {
        # A small vegetative LED tent, 18/6, in a dry flat: needs humidifying.
        # Equipment: see "Scenario equipment" in the module docstring.
        "small_led_dry_room": TentParameters(
            width=0.8,
            depth=0.8,
            height=1.6,
            light_power=100.0,
            heater_power=150.0,
            heater_time_constant=240.0,
            cooler_power=250.0,
            cooler_electrical_power=100.0,
            humidifier_rate=0.1,
            humidifier_power=25.0,
            dehumidifier_rate=0.2,
            dehumidifier_power=180.0,
            exhaust_flow=100.0,
            exhaust_power=10.0,
            thermal_mass_heat_capacity=50_000.0,
            thermal_mass_conductance=25.0,
            fixture_heat_capacity=6_000.0,
            transpiration_light=0.06,
            transpiration_dark=0.006,
            canopy_heat_conductance=30.0,
            room_temperature_mean=21.0,
            room_temperature_amplitude=2.0,
            room_humidity=30.0,
            lights_on_hour=6.0,
            photoperiod_hours=18.0,
        ),
        # A full 12/12 flowering tent in a humid basement: needs dehumidifying and exhaust.
        "flower_tent_humid_room": TentParameters(
            light_power=400.0,
            heater_power=180.0,
            heater_time_constant=240.0,
            humidifier_rate=0.3,
            humidifier_power=30.0,
            dehumidifier_rate=0.5,
            dehumidifier_power=300.0,
            exhaust_flow=400.0,
            exhaust_power=40.0,
            transpiration_light=0.25,
            transpiration_dark=0.025,
            thermal_mass_heat_capacity=150_000.0,
            thermal_mass_conductance=50.0,
            canopy_heat_conductance=80.0,
            room_temperature_mean=23.0,
            room_temperature_amplitude=1.5,
            room_humidity=70.0,
            lights_on_hour=8.0,
            photoperiod_hours=12.0,
        ),
        # A tent in an unheated room in winter: the heater does the work, the air is dry.
        # 600 W keeps the tent above 20 °C even in the coldest night hour (room at 10 °C);
        # an oil-filled radiator on its low setting, whose own heat capacity delays its output.
        "cold_winter_room": TentParameters(
            heater_power=600.0,
            heater_time_constant=600.0,
            humidifier_rate=0.2,
            humidifier_power=25.0,
            dehumidifier_rate=0.25,
            dehumidifier_power=200.0,
            exhaust_flow=250.0,
            exhaust_power=30.0,
            light_power=200.0,
            room_temperature_mean=13.0,
            room_temperature_amplitude=3.0,
            room_temperature_peak_hour=14.0,
            room_humidity=55.0,
            lights_on_hour=6.0,
            photoperiod_hours=18.0,
        ),
    }
)
"""Named scenarios for tests and benchmarks (light schedule included as data)."""


_KINDS: Final = (
    ActuatorKind.HEATER,
    ActuatorKind.COOLER,
    ActuatorKind.HUMIDIFIER,
    ActuatorKind.DEHUMIDIFIER,
    ActuatorKind.EXHAUST_FAN,
    ActuatorKind.CIRCULATION_FAN,
    ActuatorKind.LIGHT,
    ActuatorKind.PUMP,
)
"""Actuator kinds in the order :meth:`SimulatedTent._drive` unpacks them."""


class _Drive(NamedTuple):
    """The effect of one combination of actuator states (cached: at most 2**8 of them)."""

    constant_heat: float  # W into the air that does not depend on the state (heater apart)
    heater_target: float  # W the heater delivers once warm (0 when off)
    moisture_source: float  # kg/s of humidifier mist
    dehumidifier_slope: float  # kg/s removed per %RH above the cutoff at full capacity
    dehumidifier_on: bool
    exchange_rate: float  # kg dry air/s exchanged with the room
    outside_conductance: float  # W/K to the room: walls plus exchanged air
    leaf_conductance: float  # W/K canopy-air
    buffer_conductance: float  # kg/(s hPa) vapour transfer air-buffer surface
    absorbed: float  # W of lamp radiation absorbed by the canopy
    stomata_target: float  # 1 under light, 0 in the dark
    electrical_powers: tuple[tuple[int, float], ...]  # (index in _KINDS, W) of what is on


class WaterBalance(NamedTuple):
    """Water that crossed the tent air's boundary since the start, kg (see ``water_balance``).

    In any run, ``vapour_mass + buffer_water`` equals its start value plus ``humidified +
    transpired - dehumidified - vented - condensed`` (up to floating-point rounding).
    """

    humidified: float  # mist evaporated by the humidifier
    transpired: float  # canopy transpiration
    dehumidified: float  # condensed by the dehumidifier
    vented: float  # net vapour carried to the room by exhaust or leakage (negative: brought in)
    condensed: float  # vapour above saturation condensed in the tent


class SimulatedTent:
    """The tent's state and its time integration; see the module docstring for the model."""

    def __init__(
        self, params: TentParameters, *, seed: int = 0, start_time_of_day: float = 8 * 3600
    ) -> None:
        """Start at ``start_time_of_day`` (s after midnight) with the tent at room conditions."""
        if not math.isfinite(start_time_of_day):
            raise ValueError(
                f"start_time_of_day: expected a finite number, got {start_time_of_day}"
            )
        self.params = params
        # Reproducible simulation noise, not cryptography; separate streams so that reading
        # the sensor more or less often never changes the physics.
        self._weather_random = random.Random(f"rala-sim-weather-{seed}")  # noqa: S311
        self._sensor_random = random.Random(f"rala-sim-sensor-{seed}")  # noqa: S311
        self._start = start_time_of_day
        self._elapsed = 0.0
        p = params
        self._pressure = p.room_pressure
        reference_density = p.room_pressure * 100.0 / (_R_DRY_AIR * 293.15)
        self._dry_air_mass = reference_density * p.volume
        self._air_capacity = self._dry_air_mass * _CP_AIR + p.fixture_heat_capacity
        self._room_e = p.room_humidity / 100.0 * saturation_vapour_pressure(p.room_temperature_mean)
        self._room_w = _EPSILON * self._room_e / (self._pressure - self._room_e)
        self._weather = 0.0
        room_t = self.room_temperature
        self._air_t = room_t
        self._mass_t = room_t
        # A humid room below its mean temperature could hold less than room_w: start saturated.
        self._w = min(
            self._room_w, _saturation_ratio(saturation_vapour_pressure(room_t), self._pressure)
        )
        self._es_air = saturation_vapour_pressure(room_t)
        self._leaf_t = room_t
        self._stomata = 0.0
        self._transpiration = 0.0  # kg/s
        self._heater_output = 0.0  # W
        self._dehumidifier_capacity = 0.0  # fraction of the steady removal (start-up)
        # Moisture buffer: the surface layer holds `scale * phi**b` kg of water, phi being the
        # RH (0..1) in equilibrium with it; it starts in equilibrium with the tent air.
        self._buffer_scale = p.buffer_area * p.buffer_depth * p.buffer_density * p.buffer_isotherm_a
        self._buffer_phi = self.relative_humidity / 100.0
        self._buffer_water: float = self._buffer_scale * self._buffer_phi**p.buffer_isotherm_b
        self._balance = [0.0] * len(WaterBalance._fields)  # kg, in WaterBalance order
        self._sensor_t = room_t
        self._sensor_rh = self.relative_humidity
        self._energy = [0.0] * len(_KINDS)  # J, in _KINDS order
        self._drives: dict[tuple[bool, ...], _Drive] = {}
        # Transpiration conductances in kg/s per hPa of VPD (the sim's pressures are in hPa).
        self._g_dark = p.transpiration_dark / _SECONDS_PER_HOUR / 10.0
        self._g_span = p.transpiration_light / _SECONDS_PER_HOUR / 10.0 - self._g_dark
        self._cached_h = -1.0
        self._alpha_stomata = self._alpha_t = self._alpha_rh = self._alpha_heater = 0.0
        self._alpha_dehumidifier = self._dehumidifier_mean_lag = 0.0
        self._weather_decay = self._weather_kick = 0.0

    # --- observable state -------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return self._elapsed

    @property
    def time_of_day(self) -> float:
        """Simulated seconds after midnight (0 <= t < 86400)."""
        return (self._start + self._elapsed) % _SECONDS_PER_DAY

    @property
    def air_temperature(self) -> float:
        """True tent air temperature, °C."""
        return self._air_t

    @property
    def relative_humidity(self) -> float:
        """True tent air relative humidity, % (0..100)."""
        e = self._w * self._pressure / (_EPSILON + self._w)
        return 100.0 * e / self._es_air

    @property
    def vapour_mass(self) -> float:
        """Water vapour in the tent air, kg."""
        return self._w * self._dry_air_mass

    @property
    def buffer_water(self) -> float:
        """Water held by the moisture buffer's surface layer, kg."""
        return self._buffer_water

    @property
    def buffer_relative_humidity(self) -> float:
        """RH in equilibrium with the moisture buffer's surface layer, %."""
        return 100.0 * self._buffer_phi

    @property
    def water_balance(self) -> WaterBalance:
        """Water that entered or left the tent air since the start, kg."""
        return WaterBalance(*self._balance)

    @property
    def heater_output(self) -> float:
        """Heat the heater delivers to the air now (lags its switching), W."""
        return self._heater_output

    @property
    def dehumidifier_capacity(self) -> float:
        """Fraction of its steady removal the dehumidifier reaches now (0 when off), 0..1."""
        return self._dehumidifier_capacity

    @property
    def pressure(self) -> float:
        """Air pressure, hPa."""
        return self._pressure

    @property
    def leaf_temperature(self) -> float:
        """Canopy (leaf) temperature, °C."""
        return self._leaf_t

    @property
    def mass_temperature(self) -> float:
        """Temperature of the lumped thermal mass (plants, pots, substrate), °C."""
        return self._mass_t

    @property
    def transpiration(self) -> float:
        """Current canopy transpiration, kg/h."""
        return self._transpiration * _SECONDS_PER_HOUR

    @property
    def room_temperature(self) -> float:
        """Room air temperature now, °C."""
        p = self.params
        phase = self._start + self._elapsed - p.room_temperature_peak_hour * _SECONDS_PER_HOUR
        return (
            p.room_temperature_mean
            + p.room_temperature_amplitude * math.cos(2 * math.pi * phase / _SECONDS_PER_DAY)
            + self._weather
        )

    @property
    def room_relative_humidity(self) -> float:
        """Room air relative humidity now, % (may exceed 100 in an implausible scenario)."""
        return 100.0 * self._room_e / saturation_vapour_pressure(self.room_temperature)

    @property
    def electrical_energy(self) -> dict[ActuatorKind, float]:
        """Electrical energy used per actuator kind since the start, Wh."""
        return {
            kind: joules / _SECONDS_PER_HOUR
            for kind, joules in zip(_KINDS, self._energy, strict=True)
        }

    # --- dynamics -----------------------------------------------------------------------
    def step(self, dt: float, actuators: Mapping[ActuatorKind, bool]) -> None:
        """Advance ``dt`` seconds with the given actuator states (missing kinds are off)."""
        if not math.isfinite(dt) or dt < 0:
            raise ValueError(f"dt: expected a finite number >= 0, got {dt!r}")
        if dt == 0:
            return
        substeps = math.ceil(dt / MAX_SUBSTEP)
        h = dt / substeps
        if h != self._cached_h:
            self._cache_step_factors(h)
        get = actuators.get
        flags = tuple([bool(get(kind, False)) for kind in _KINDS])
        drive = self._drives.get(flags)
        if drive is None:
            drive = self._drives[flags] = self._drive(flags)
        p = self.params
        dry_air_mass = self._dry_air_mass
        air_capacity = self._air_capacity
        exchange_rate = drive.exchange_rate
        outside_conductance = drive.outside_conductance
        mass_conductance = p.thermal_mass_conductance
        air_denominator = air_capacity + h * (outside_conductance + mass_conductance)
        mass_capacity = p.thermal_mass_heat_capacity
        mass_denominator = mass_capacity + h * mass_conductance
        room_w = self._room_w
        moisture_source = drive.moisture_source
        constant_heat = drive.constant_heat
        heater_target = drive.heater_target
        dehumidifier_slope = drive.dehumidifier_slope
        dehumidifier_on = drive.dehumidifier_on
        leaf_conductance = drive.leaf_conductance
        buffer_conductance = drive.buffer_conductance
        absorbed = drive.absorbed
        stomata_target = drive.stomata_target
        g_dark, g_span = self._g_dark, self._g_span
        cutoff = p.dehumidifier_cutoff_humidity
        pressure = self._pressure
        omega = 2 * math.pi / _SECONDS_PER_DAY
        phase = self._start + self._elapsed - p.room_temperature_peak_hour * _SECONDS_PER_HOUR
        mean = p.room_temperature_mean
        amplitude = p.room_temperature_amplitude
        alpha_stomata, alpha_t, alpha_rh = self._alpha_stomata, self._alpha_t, self._alpha_rh
        alpha_heater = self._alpha_heater
        alpha_dehumidifier = self._alpha_dehumidifier
        dehumidifier_mean_lag = self._dehumidifier_mean_lag
        weather_decay, weather_kick = self._weather_decay, self._weather_kick
        gauss = self._weather_random.gauss
        buffer_scale = self._buffer_scale
        buffer_b = p.buffer_isotherm_b
        buffer_inverse_b = 1.0 / buffer_b
        buffering = buffer_scale > 0 and buffer_conductance > 0

        air_t, mass_t, w, es_air = self._air_t, self._mass_t, self._w, self._es_air
        stomata, weather = self._stomata, self._weather
        sensor_t, sensor_rh = self._sensor_t, self._sensor_rh
        heater_output = self._heater_output
        # Off: the coil is warm (see the module docstring), the next start is a cold one.
        dehumidifier_capacity = self._dehumidifier_capacity if dehumidifier_on else 0.0
        buffer_water: float = self._buffer_water
        buffer_phi: float = self._buffer_phi
        transpired = dehumidified = vented = condensed = 0.0
        leaf_t = transpiration = 0.0
        for index in range(substeps):
            room_t = mean + amplitude * math.cos(omega * (phase + index * h)) + weather
            e_air = w * pressure / (_EPSILON + w)
            vpd_air = es_air - e_air
            stomata += (stomata_target - stomata) * alpha_stomata
            conductance = g_dark + g_span * stomata
            slope = es_air * _MAGNUS_B * _MAGNUS_C / ((_MAGNUS_C + air_t) ** 2)
            leaf_delta = (absorbed - _LATENT_HEAT * conductance * vpd_air) / (
                leaf_conductance + _LATENT_HEAT * conductance * slope
            )
            leaf_t = air_t + leaf_delta
            transpiration = conductance * (vpd_air + slope * leaf_delta)

            removal = 0.0
            if dehumidifier_on:
                # The start-up lag's exact mean over the substep, then its end value.
                shortfall = 1.0 - dehumidifier_capacity
                mean_capacity = 1.0 - shortfall * dehumidifier_mean_lag
                dehumidifier_capacity = 1.0 - shortfall * (1.0 - alpha_dehumidifier)
                excess_rh = 100.0 * e_air / es_air - cutoff
                if excess_rh > 0 and dehumidifier_slope:
                    removal = min(
                        dehumidifier_slope * excess_rh * mean_capacity, w * dry_air_mass / h
                    )

            # Moisture, linearly implicit (backward Euler) in the air's humidity ratio and the
            # buffer's surface RH; the flux into the buffer is the one the air loses, so water
            # is conserved exactly whatever the step.
            sources = transpiration - removal + moisture_source + exchange_rate * (room_w - w)
            into_buffer = 0.0
            if buffering:
                es_buffer = saturation_vapour_pressure(mass_t)
                # kg of water per unit of surface RH (slope of the isotherm), > 0.
                # (The floor only keeps the slope finite at 0 % RH.)
                capacity = buffer_scale * buffer_b * max(buffer_phi, 1e-6) ** (buffer_b - 1.0)
                gain = buffer_conductance / (1.0 + buffer_conductance * h * es_buffer / capacity)
                pressure_per_ratio = pressure * _EPSILON / ((_EPSILON + w) ** 2)
                gap = e_air - buffer_phi * es_buffer
                w_change = (
                    h
                    * (sources - gain * gap)
                    / (dry_air_mass + h * (exchange_rate + gain * pressure_per_ratio))
                )
                into_buffer = gain * (gap + pressure_per_ratio * w_change)
                buffer_water += h * into_buffer
                buffer_phi = (max(buffer_water, 0.0) / buffer_scale) ** buffer_inverse_b
            else:
                w_change = h * sources / (dry_air_mass + h * exchange_rate)
            w = max(w + w_change, 0.0)
            transpired += transpiration
            dehumidified += removal
            vented += exchange_rate * (w - room_w)

            heater_output += (heater_target - heater_output) * alpha_heater
            # Condensing water (dehumidifier coil, sorption) releases its latent heat.
            heat = (
                constant_heat
                + heater_output
                + _LATENT_HEAT * (removal + into_buffer - transpiration)
            )
            air_t = (
                air_capacity * air_t
                + h * (heat + outside_conductance * room_t + mass_conductance * mass_t)
            ) / air_denominator
            mass_t = (mass_capacity * mass_t + h * mass_conductance * air_t) / mass_denominator
            es_air = saturation_vapour_pressure(air_t)
            w_saturated = _saturation_ratio(es_air, pressure)
            if w > w_saturated:
                # The excess condenses; its latent heat warms the air (which then holds a
                # little more vapour, so the air ends just below saturation).
                air_t += _LATENT_HEAT * (w - w_saturated) * dry_air_mass / air_capacity
                condensed += (w - w_saturated) * dry_air_mass
                w = w_saturated
                es_air = saturation_vapour_pressure(air_t)
            weather = weather * weather_decay + weather_kick * gauss()
            sensor_t += (air_t - sensor_t) * alpha_t
            rh = 100.0 * (w * pressure / (_EPSILON + w)) / es_air
            sensor_rh += (rh - sensor_rh) * alpha_rh

        self._air_t, self._mass_t, self._w, self._es_air = air_t, mass_t, w, es_air
        self._stomata, self._weather = stomata, weather
        self._sensor_t, self._sensor_rh = sensor_t, sensor_rh
        self._leaf_t, self._transpiration = leaf_t, transpiration
        self._heater_output = heater_output
        self._dehumidifier_capacity = dehumidifier_capacity
        self._buffer_water, self._buffer_phi = buffer_water, buffer_phi
        balance = self._balance
        balance[0] += moisture_source * dt
        balance[1] += transpired * h
        balance[2] += dehumidified * h
        balance[3] += vented * h
        balance[4] += condensed
        self._elapsed += dt
        energy = self._energy
        for index, power in drive.electrical_powers:
            energy[index] += power * dt

    def _drive(self, flags: tuple[bool, ...]) -> _Drive:
        """What a combination of actuator states (in ``_KINDS`` order) does to the tent."""
        p = self.params
        # The pump only uses energy (counted from `electrical_powers`).
        heater, cooler, humidifier, dehumidifier, exhaust, circulation, light, _pump = flags
        constant_heat = 0.0
        moisture_source = 0.0
        if cooler:
            constant_heat -= p.cooler_power
        if light:
            constant_heat += p.light_heat_fraction * p.light_power
        if circulation:
            constant_heat += p.circulation_power
        if humidifier:
            moisture_source = p.humidifier_rate / _SECONDS_PER_HOUR
            constant_heat += p.humidifier_power - _LATENT_HEAT * moisture_source
        dehumidifier_slope = 0.0
        if dehumidifier:
            constant_heat += p.dehumidifier_power
            dehumidifier_slope = (p.dehumidifier_rate / _SECONDS_PER_HOUR) / (
                p.dehumidifier_rated_humidity - p.dehumidifier_cutoff_humidity
            )
        flow = (p.exhaust_flow if exhaust else p.passive_leakage) / _SECONDS_PER_HOUR
        exchange_rate = flow * self._dry_air_mass / p.volume
        electrical = (
            p.heater_power,
            p.cooler_electrical_power,
            p.humidifier_power,
            p.dehumidifier_power,
            p.exhaust_power,
            p.circulation_power,
            p.light_power,
            p.pump_power,
        )
        fan_factor = p.circulation_leaf_conductance_factor if circulation else 1.0
        return _Drive(
            constant_heat=constant_heat,
            heater_target=p.heater_power if heater else 0.0,
            moisture_source=moisture_source,
            dehumidifier_slope=dehumidifier_slope,
            dehumidifier_on=dehumidifier,
            exchange_rate=exchange_rate,
            outside_conductance=p.wall_u_value * p.surface + exchange_rate * _CP_AIR,
            leaf_conductance=p.canopy_heat_conductance * fan_factor,
            # Per hPa (the sim's pressures) instead of per Pa; the fan's factor by the
            # heat and mass transfer analogy.
            buffer_conductance=(
                p.buffer_mass_transfer_coefficient * p.buffer_area * 100.0 * fan_factor
            ),
            absorbed=p.light_radiant_fraction * p.light_power if light else 0.0,
            stomata_target=1.0 if light else 0.0,
            electrical_powers=tuple(
                (index, power)
                for index, (on, power) in enumerate(zip(flags, electrical, strict=True))
                if on
            ),
        )

    def _cache_step_factors(self, h: float) -> None:
        p = self.params
        self._cached_h = h
        self._alpha_stomata = _relaxation(h, p.stomatal_time_constant)
        self._alpha_t = _relaxation(h, p.sensor_temperature_time_constant)
        self._alpha_rh = _relaxation(h, p.sensor_humidity_time_constant)
        self._alpha_heater = _relaxation(h, p.heater_time_constant)
        tau_d = p.dehumidifier_time_constant
        self._alpha_dehumidifier = -math.expm1(-h / tau_d) if tau_d else 1.0
        # Mean of exp(-t / tau_d) over a substep, (tau_d / h) (1 - exp(-h / tau_d)); the min
        # keeps float residue from making the mean capacity negative on tiny steps.
        self._dehumidifier_mean_lag = (
            min(tau_d / h * self._alpha_dehumidifier, 1.0) if tau_d else 0.0
        )
        self._weather_decay = math.exp(-h / p.room_weather_time_constant)
        self._weather_kick = p.room_temperature_noise * math.sqrt(1.0 - self._weather_decay**2)

    # --- sensor -------------------------------------------------------------------------
    def measure(self) -> tuple[float, float, float]:
        """One BME280-like reading: (temperature °C, relative humidity %, pressure hPa)."""
        p = self.params
        gauss = self._sensor_random.gauss
        temperature = _quantise(
            self._sensor_t + p.sensor_temperature_offset + p.sensor_temperature_noise * gauss(),
            p.sensor_temperature_resolution,
        )
        humidity = _quantise(
            self._sensor_rh + p.sensor_humidity_offset + p.sensor_humidity_noise * gauss(),
            p.sensor_humidity_resolution,
        )
        pressure = _quantise(
            self._pressure + p.sensor_pressure_offset + p.sensor_pressure_noise * gauss(),
            p.sensor_pressure_resolution,
        )
        return (
            _clamp(temperature, *_SENSOR_TEMPERATURE_RANGE),
            _clamp(humidity, 0.0, 100.0),
            _clamp(pressure, *_SENSOR_PRESSURE_RANGE),
        )


def _saturation_ratio(saturation_pressure: float, pressure: float) -> float:
    """Humidity ratio of saturated air; unbounded once water would boil."""
    if saturation_pressure >= pressure:
        return math.inf
    return _EPSILON * saturation_pressure / (pressure - saturation_pressure)


def _relaxation(h: float, time_constant: float) -> float:
    """Fraction of the gap a first-order lag closes in ``h`` seconds (1 without lag)."""
    if time_constant == 0:
        return 1.0
    return 1.0 - math.exp(-h / time_constant)


def _quantise(value: float, resolution: float) -> float:
    if resolution == 0:
        return value
    # The outer round removes float residue such as 21.230000000000004.
    return round(round(value / resolution) * resolution, 10)


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
