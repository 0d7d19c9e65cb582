"""A simulated grow tent: well-mixed air, a lumped thermal mass, plants and a BME280.

Pure Python (standard library only) so that tests and benchmarks can run a simulated day in
well under a second and get the same result for the same seed. The simulator only obeys the
actuator states it is given on every :meth:`SimulatedTent.step`; it has no light schedule,
no thermostat and no clock of its own beyond the simulated time it integrates.

Model (SI units unless noted; ``h`` is the internal step, at most ``MAX_SUBSTEP`` seconds)
------------------------------------------------------------------------------------------
State: tent air temperature ``Ta``, lumped mass temperature ``Tm`` (plants, pots, substrate),
humidity ratio ``w`` of the tent air (kg vapour per kg dry air), stomatal opening ``s`` (0..1),
a slow random "weather" deviation of the room temperature, and the sensor's lagged readings.

Room air (the air the tent exchanges with) follows a daily cycle::

    T_room(t) = mean + amplitude * cos(2 pi (t - peak_hour) / 24 h) + weather(t)

where ``weather`` is an Ornstein-Uhlenbeck process (seeded). The room's absolute humidity is
constant (``room_humidity`` is the RH at the mean temperature), so the room's RH swings
opposite to its temperature, as it does in a real house.

Heat balance of the air node (air plus light fixtures: frame, fabric, lamp body, fans)::

    C_air dTa/dt = Q + (UA + rho cp V') (T_room - Ta) + G_mass (Tm - Ta)
    C_mass dTm/dt = G_mass (Ta - Tm)

    Q = heater + light_heat_fraction * P_light + fan power
        + P_dehumidifier + L * m_dehumidifier        (condensed water releases latent heat)
        + P_humidifier - L * m_humidifier            (ultrasonic mist evaporates in the air)
        - cooler - L * E                             (transpiration turns sensible into latent heat)

``UA`` is the wall U-value times the tent's surface, ``V'`` the exhaust flow when the exhaust
fan runs and the passive leakage otherwise. The air temperature is updated implicitly (backward
Euler in ``Ta``), so large exchange rates and steps stay stable.

Moisture balance::

    M_dry dw/dt = E + m_humidifier - m_dehumidifier + rho V' (w_room - w)

The dehumidifier's removal falls linearly with RH, from its rating at
``dehumidifier_rated_humidity`` down to nothing at ``dehumidifier_cutoff_humidity``. Vapour
above saturation condenses at once (its latent heat goes to the air), so RH never exceeds 100 %.

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

Not modelled: CO2, watering (the pump only consumes energy), dew on leaves, wall condensation
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
        "small_led_dry_room": TentParameters(
            width=0.8,
            depth=0.8,
            height=1.6,
            light_power=100.0,
            heater_power=150.0,
            cooler_power=250.0,
            cooler_electrical_power=100.0,
            humidifier_rate=0.2,
            dehumidifier_rate=0.3,
            dehumidifier_power=200.0,
            exhaust_flow=200.0,
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
        # 600 W keeps the tent above 20 °C even in the coldest night hour (room at 10 °C).
        "cold_winter_room": TentParameters(
            heater_power=600.0,
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

    constant_heat: float  # W into the air that does not depend on the state
    moisture_source: float  # kg/s of humidifier mist
    dehumidifier_slope: float  # kg/s removed per %RH above the cutoff (0 when off)
    exchange_rate: float  # kg dry air/s exchanged with the room
    outside_conductance: float  # W/K to the room: walls plus exchanged air
    leaf_conductance: float  # W/K canopy-air
    absorbed: float  # W of lamp radiation absorbed by the canopy
    stomata_target: float  # 1 under light, 0 in the dark
    electrical_powers: tuple[tuple[int, float], ...]  # (index in _KINDS, W) of what is on


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
        self._sensor_t = room_t
        self._sensor_rh = self.relative_humidity
        self._energy = [0.0] * len(_KINDS)  # J, in _KINDS order
        self._drives: dict[tuple[bool, ...], _Drive] = {}
        # Transpiration conductances in kg/s per hPa of VPD (the sim's pressures are in hPa).
        self._g_dark = p.transpiration_dark / _SECONDS_PER_HOUR / 10.0
        self._g_span = p.transpiration_light / _SECONDS_PER_HOUR / 10.0 - self._g_dark
        self._cached_h = -1.0
        self._alpha_stomata = self._alpha_t = self._alpha_rh = 0.0
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
        moisture_denominator = 1.0 + h * exchange_rate / dry_air_mass
        moisture_inflow = (drive.moisture_source + exchange_rate * self._room_w) / dry_air_mass
        constant_heat = drive.constant_heat
        dehumidifier_slope = drive.dehumidifier_slope
        leaf_conductance = drive.leaf_conductance
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
        weather_decay, weather_kick = self._weather_decay, self._weather_kick
        gauss = self._weather_random.gauss

        air_t, mass_t, w, es_air = self._air_t, self._mass_t, self._w, self._es_air
        stomata, weather = self._stomata, self._weather
        sensor_t, sensor_rh = self._sensor_t, self._sensor_rh
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

            heat = constant_heat - _LATENT_HEAT * transpiration
            removal = 0.0
            if dehumidifier_slope:
                excess_rh = 100.0 * e_air / es_air - cutoff
                if excess_rh > 0:
                    removal = min(dehumidifier_slope * excess_rh, w * dry_air_mass / h)
                    heat += _LATENT_HEAT * removal

            air_t = (
                air_capacity * air_t
                + h * (heat + outside_conductance * room_t + mass_conductance * mass_t)
            ) / air_denominator
            mass_t = (mass_capacity * mass_t + h * mass_conductance * air_t) / mass_denominator
            w = (
                w + h * ((transpiration - removal) / dry_air_mass + moisture_inflow)
            ) / moisture_denominator
            w = max(w, 0.0)
            es_air = saturation_vapour_pressure(air_t)
            w_saturated = _saturation_ratio(es_air, pressure)
            if w > w_saturated:
                # The excess condenses; its latent heat warms the air (which then holds a
                # little more vapour, so the air ends just below saturation).
                air_t += _LATENT_HEAT * (w - w_saturated) * dry_air_mass / air_capacity
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
        if heater:
            constant_heat += p.heater_power
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
        return _Drive(
            constant_heat=constant_heat,
            moisture_source=moisture_source,
            dehumidifier_slope=dehumidifier_slope,
            exchange_rate=exchange_rate,
            outside_conductance=p.wall_u_value * p.surface + exchange_rate * _CP_AIR,
            leaf_conductance=p.canopy_heat_conductance
            * (p.circulation_leaf_conductance_factor if circulation else 1.0),
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
