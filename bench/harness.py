"""The closed loop: two simulated tents, one Home Assistant, two controllers side by side.

Runs inside Home Assistant's test harness (a real ``HomeAssistant`` instance and frozen,
advanced time), so both controllers are real Home Assistant code paths:

- every tent's BME280-like reading is written to a temperature and a humidity sensor with
  ``hass.states.async_set`` every :data:`~bench.scenarios.SAMPLE_INTERVAL` seconds;
- every actuator is an ``input_boolean`` helper whose state drives the tent's ``step()``;
- the *generic* side is Home Assistant's own ``generic_thermostat`` (heater; a second one in
  cooling mode for an exhaust fan) and two ``generic_hygrostat`` (humidifier and
  dehumidifier), re-targeted at every light switch like a grower's automation would;
- each *RALA* side is one of :data:`~bench.rala_side.RALA_CONTROLLERS` (the climate entity,
  or the zone controller driven by the bench).

The lights of both tents follow the scenario's schedule (switched by the harness, as a
timer plug would). Time advances in :data:`~bench.scenarios.TICK` steps; Home Assistant's
timers fire on every step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol, TypeAlias

from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    PERCENTAGE,
    STATE_ON,
    UnitOfTemperature,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    async_fire_time_changed,
)

from bench.scenarios import (
    COOLING_OFFSET,
    HYGROSTAT_TOLERANCE,
    SAMPLE_INTERVAL,
    SEED,
    START_TIME_OF_DAY,
    THERMOSTAT_TOLERANCE,
    TICK,
    BenchScenario,
)
from bench.scoring import ControllerResult, RunRecorder
from custom_components.rala.bands import Band
from custom_components.rala.const import DEFAULT_LEAF_OFFSET, TEMPERATURE_TOLERANCE
from edge_agent.config import ActuatorKind
from edge_agent.sim import SimulatedTent

START: Final = datetime(2026, 1, 15, tzinfo=UTC)
"""Simulated midnight of the first day (the date only labels Home Assistant's clock)."""

TEMPERATURE_ATTRIBUTES: Final[Mapping[str, Any]] = {
    ATTR_UNIT_OF_MEASUREMENT: UnitOfTemperature.CELSIUS,
    ATTR_DEVICE_CLASS: "temperature",
    "state_class": "measurement",
}
HUMIDITY_ATTRIBUTES: Final[Mapping[str, Any]] = {
    ATTR_UNIT_OF_MEASUREMENT: PERCENTAGE,
    ATTR_DEVICE_CLASS: "humidity",
    "state_class": "measurement",
}

_EXCLUSIVE_PAIRS: Final = (
    (ActuatorKind.HEATER, ActuatorKind.COOLER),
    (ActuatorKind.HUMIDIFIER, ActuatorKind.DEHUMIDIFIER),
)


class Clock(Protocol):
    """What the harness needs of the frozen clock (pytest-freezer's ``freezer`` fixture)."""

    def move_to(self, target: datetime) -> Any:
        """Jump to ``target``."""

    def tick(self, delta: timedelta) -> Any:
        """Advance by ``delta``."""


@dataclass(frozen=True, slots=True)
class TentEntities:
    """The Home Assistant entities of one side's tent."""

    prefix: str

    @property
    def temperature(self) -> str:
        """The temperature sensor."""
        return f"sensor.{self.prefix}_temperature"

    @property
    def humidity(self) -> str:
        """The humidity sensor."""
        return f"sensor.{self.prefix}_humidity"

    def switch_object_id(self, kind: ActuatorKind) -> str:
        """The object id of the ``input_boolean`` of an actuator."""
        return f"{self.prefix}_{kind.value}"

    def switch(self, kind: ActuatorKind) -> str:
        """The ``input_boolean`` entity of an actuator."""
        return f"input_boolean.{self.switch_object_id(kind)}"


class Controller(Protocol):
    """One side's controller as the loop sees it."""

    name: str
    """The label in the report."""

    async def async_setup(self) -> None:
        """Create the controller's entities (sensors and switches already exist)."""

    async def async_lights_switched(self, *, is_day: bool) -> None:
        """The lights just switched (on: ``is_day``)."""

    async def async_readings_written(self) -> None:
        """New sensor states were just written."""

    async def async_tick(self) -> None:
        """Simulated time advanced by one step (Home Assistant's timers have fired)."""


ControllerFactory: TypeAlias = Callable[[HomeAssistant, BenchScenario, TentEntities], Controller]
"""Builds a side's controller from the shared instance, the scenario and the side's entities."""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """Both controllers' scored day in one scenario."""

    scenario: BenchScenario
    results: tuple[ControllerResult, ...]


class GenericSide:
    """Home Assistant's generic_thermostat and generic_hygrostat, as a grower sets them up."""

    name = "generic_thermostat + generic_hygrostat"

    def __init__(self, hass: HomeAssistant, scenario: BenchScenario, tent: TentEntities) -> None:
        """Prepare the configuration; nothing is created before :meth:`async_setup`."""
        self._hass = hass
        self._scenario = scenario
        self._tent = tent
        self._thermostats: dict[str, float] = {}
        self._hygrostats: list[str] = []

    async def async_setup(self) -> None:
        """Create the thermostats and hygrostats for the actuators the scenario has."""
        scenario, tent, prefix = self._scenario, self._tent, self._tent.prefix
        is_day = scenario.is_day(START_TIME_OF_DAY)
        min_cycle = {"seconds": round(scenario.min_cycle)}
        climates: list[dict[str, Any]] = []
        if ActuatorKind.HEATER in scenario.actuators:
            climates.append(
                {
                    "platform": "generic_thermostat",
                    "name": f"{prefix} heater",
                    "unique_id": f"{prefix}_heater_thermostat",
                    "heater": tent.switch(ActuatorKind.HEATER),
                    "target_sensor": tent.temperature,
                    "target_temp": scenario.target_temperature(is_day=is_day),
                    "cold_tolerance": THERMOSTAT_TOLERANCE,
                    "hot_tolerance": THERMOSTAT_TOLERANCE,
                    "min_cycle_duration": min_cycle,
                    "cycle_cooldown": min_cycle,
                    "initial_hvac_mode": "heat",
                    "precision": 0.1,
                }
            )
            self._thermostats[f"climate.{prefix}_heater"] = 0.0
        for kind, offset in (
            (ActuatorKind.COOLER, COOLING_OFFSET),
            (ActuatorKind.EXHAUST_FAN, COOLING_OFFSET),
        ):
            if kind in scenario.actuators:
                climates.append(
                    {
                        "platform": "generic_thermostat",
                        "name": f"{prefix} {kind.value}",
                        "unique_id": f"{prefix}_{kind.value}_thermostat",
                        "heater": tent.switch(kind),
                        "ac_mode": True,
                        "target_sensor": tent.temperature,
                        "target_temp": scenario.target_temperature(is_day=is_day) + offset,
                        "cold_tolerance": THERMOSTAT_TOLERANCE,
                        "hot_tolerance": THERMOSTAT_TOLERANCE,
                        "min_cycle_duration": min_cycle,
                        "cycle_cooldown": min_cycle,
                        "initial_hvac_mode": "cool",
                        "precision": 0.1,
                    }
                )
                self._thermostats[f"climate.{prefix}_{kind.value}"] = offset
        humidifiers: list[dict[str, Any]] = []
        target_humidity = scenario.target_humidity(is_day=is_day)
        # Both stop at the target and start HYGROSTAT_TOLERANCE away from it: with the same
        # target and both tolerances on both, they would hand the air to each other forever.
        for kind, device_class, dry, wet in (
            (ActuatorKind.HUMIDIFIER, "humidifier", HYGROSTAT_TOLERANCE, 0.0),
            (ActuatorKind.DEHUMIDIFIER, "dehumidifier", 0.0, HYGROSTAT_TOLERANCE),
        ):
            if kind in scenario.actuators:
                humidifiers.append(
                    {
                        "platform": "generic_hygrostat",
                        "name": f"{prefix} {kind.value}",
                        "unique_id": f"{prefix}_{kind.value}_hygrostat",
                        "humidifier": tent.switch(kind),
                        "target_sensor": tent.humidity,
                        "device_class": device_class,
                        "target_humidity": target_humidity,
                        "dry_tolerance": dry,
                        "wet_tolerance": wet,
                        "min_cycle_duration": min_cycle,
                        "initial_state": True,
                    }
                )
                self._hygrostats.append(f"humidifier.{prefix}_{kind.value}")
        if climates:
            await _async_setup(self._hass, "climate", climates)
        if humidifiers:
            await _async_setup(self._hass, "humidifier", humidifiers)
        await self._hass.async_block_till_done()
        for entity_id in (*self._thermostats, *self._hygrostats):
            if self._hass.states.get(entity_id) is None:
                raise RuntimeError(f"{entity_id} was not created")

    async def async_lights_switched(self, *, is_day: bool) -> None:
        """The grower's automation: day or night targets on every thermostat and hygrostat."""
        temperature = self._scenario.target_temperature(is_day=is_day)
        for entity_id, offset in self._thermostats.items():
            await self._hass.services.async_call(
                "climate",
                "set_temperature",
                {ATTR_ENTITY_ID: entity_id, "temperature": temperature + offset},
                blocking=True,
            )
        humidity = self._scenario.target_humidity(is_day=is_day)
        for entity_id in self._hygrostats:
            await self._hass.services.async_call(
                "humidifier",
                "set_humidity",
                {ATTR_ENTITY_ID: entity_id, "humidity": humidity},
                blocking=True,
            )

    async def async_readings_written(self) -> None:
        """Nothing to do: the thermostats and hygrostats track the sensors themselves."""

    async def async_tick(self) -> None:
        """Nothing to do: their timers are Home Assistant's."""


class _Side:
    """One tent, its entities, its controller and its score."""

    def __init__(
        self,
        hass: HomeAssistant,
        scenario: BenchScenario,
        prefix: str,
        factory: ControllerFactory,
        seed: int,
    ) -> None:
        self.entities = TentEntities(prefix)
        self.tent = SimulatedTent(scenario.tent, seed=seed, start_time_of_day=START_TIME_OF_DAY)
        self.controller = factory(hass, scenario, self.entities)
        self.recorder = RunRecorder(leaf_offset=DEFAULT_LEAF_OFFSET)
        self.energy_at_start: dict[ActuatorKind, float] = {}

    def actuator_states(
        self, hass: HomeAssistant, kinds: tuple[ActuatorKind, ...]
    ) -> dict[ActuatorKind, bool]:
        return {kind: hass.states.is_state(self.entities.switch(kind), STATE_ON) for kind in kinds}


async def async_run_scenario(
    hass: HomeAssistant,
    clock: Clock,
    scenario: BenchScenario,
    candidates: Sequence[tuple[str, ControllerFactory]],
    *,
    warm_up_hours: float,
    scored_hours: float,
    seed: int = SEED,
) -> ScenarioResult:
    """Run the generic pair and each candidate on their own tent; score after the warm-up.

    ``candidates`` are ``(entity prefix, factory)`` pairs; the generic pair is always first
    in the result and uses the prefix ``generic``. Every tent gets the same ``seed``.
    """
    clock.move_to(START + timedelta(seconds=START_TIME_OF_DAY))
    sides = (
        _Side(hass, scenario, "generic", GenericSide, seed),
        *(_Side(hass, scenario, prefix, factory, seed) for prefix, factory in candidates),
    )
    kinds = (*scenario.actuators, ActuatorKind.LIGHT)
    is_day = scenario.is_day(START_TIME_OF_DAY)
    # The generic controllers switch through homeassistant.turn_on/turn_off.
    await _async_setup(hass, "homeassistant", {})
    await _async_setup(
        hass,
        "input_boolean",
        {
            side.entities.switch_object_id(kind): {"initial": kind is ActuatorKind.LIGHT and is_day}
            for side in sides
            for kind in kinds
        },
    )
    for side in sides:
        _write_readings(hass, side)
    await hass.async_block_till_done()
    for side in sides:
        await side.controller.async_setup()

    warm_up_steps = round(warm_up_hours * 3600.0 / TICK)
    steps = warm_up_steps + round(scored_hours * 3600.0 / TICK)
    sample_every = max(1, round(SAMPLE_INTERVAL / TICK))
    scoring = False
    by_switch = {
        side.entities.switch(kind): (side, kind.value)
        for side in sides
        for kind in scenario.actuators
    }

    @callback
    def count_switching(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if scoring and old is not None and new is not None and old.state != new.state:
            side, kind = by_switch[event.data["entity_id"]]
            side.recorder.count_switching(kind)

    unsubscribe = async_track_state_change_event(hass, list(by_switch), count_switching)
    try:
        for step in range(1, steps + 1):
            if step == warm_up_steps + 1:
                scoring = True
                for side in sides:
                    side.energy_at_start = dict(side.tent.electrical_energy)
            for side in sides:
                side.tent.step(TICK, side.actuator_states(hass, kinds))
            clock.tick(timedelta(seconds=TICK))
            if scoring:
                # The climate at the end of the step, under the states that made it.
                for side in sides:
                    _score(side, scenario, hass, is_day)
            time_of_day = sides[0].tent.time_of_day
            lights_now = scenario.is_day(time_of_day)
            if lights_now != is_day:
                is_day = lights_now
                for side in sides:
                    await hass.services.async_call(
                        "input_boolean",
                        "turn_on" if is_day else "turn_off",
                        {ATTR_ENTITY_ID: side.entities.switch(ActuatorKind.LIGHT)},
                        blocking=True,
                    )
                    await side.controller.async_lights_switched(is_day=is_day)
            if step % sample_every == 0:
                for side in sides:
                    _write_readings(hass, side)
                for side in sides:
                    await side.controller.async_readings_written()
            async_fire_time_changed(hass)
            await hass.async_block_till_done()
            for side in sides:
                await side.controller.async_tick()
    finally:
        unsubscribe()
    actuator_names = [kind.value for kind in scenario.actuators]
    results = []
    for side in sides:
        energy = {
            kind.value: wh - side.energy_at_start.get(kind, 0.0)
            for kind, wh in side.tent.electrical_energy.items()
        }
        results.append(side.recorder.result(side.controller.name, actuator_names, energy))
    return ScenarioResult(scenario=scenario, results=tuple(results))


async def _async_setup(hass: HomeAssistant, domain: str, config: object) -> None:
    """Set up ``domain`` with ``config`` (its YAML section); fail loudly if it does not."""
    if not await async_setup_component(hass, domain, {domain: config}):
        raise RuntimeError(f"{domain} did not set up with {config!r}")


def _write_readings(hass: HomeAssistant, side: _Side) -> None:
    temperature, humidity, _pressure = side.tent.measure()
    # As a sensor entity writes it: an unchanged value is a "state reported", not a change.
    hass.states.async_set(side.entities.temperature, f"{temperature:.2f}", TEMPERATURE_ATTRIBUTES)
    hass.states.async_set(side.entities.humidity, f"{humidity:.2f}", HUMIDITY_ATTRIBUTES)


def _score(side: _Side, scenario: BenchScenario, hass: HomeAssistant, is_day: bool) -> None:
    tent = side.tent
    target = scenario.target_temperature(is_day=is_day)
    stage = scenario.targets
    on: dict[ActuatorKind, bool] = {
        kind: hass.states.is_state(side.entities.switch(kind), STATE_ON)
        for pair in _EXCLUSIVE_PAIRS
        for kind in pair
        if kind in scenario.actuators
    }
    side.recorder.record(
        TICK,
        air_temperature=tent.air_temperature,
        relative_humidity=tent.relative_humidity,
        leaf_temperature=tent.leaf_temperature,
        temperature_band=Band.around(target, TEMPERATURE_TOLERANCE),
        vpd_band=Band(stage.vpd_low_kpa, stage.vpd_high_kpa),
        exclusive_pair_on=any(on.get(a, False) and on.get(b, False) for a, b in _EXCLUSIVE_PAIRS),
        is_day=is_day,
    )
