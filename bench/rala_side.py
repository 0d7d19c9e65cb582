"""RALA's side of the closed loop.

:class:`RalaClimateSide` is the real thing: the ``rala`` integration set up from a config
entry (the zone's sensors and the ``input_boolean`` actuators mapped in its options, the
light included, so the zone's day and night follow it), its climate entity in ``auto`` with
the scenario's growth stage as preset. The bench does nothing else on that side.

:class:`RalaEngineSide` runs RALA's pure control engine (:mod:`custom_components.rala.control`)
inside the same Home Assistant instance, the way the climate entity drives it, with one
difference on purpose: it evaluates once per *pair* of readings (after both the temperature
and the humidity state are written), where the climate entity evaluates on every zone
update, i.e. also between the two, with the new temperature and the previous humidity. It
reads the sensor and ``input_boolean`` states from Home Assistant (values, ages from
``last_reported``, switch times from ``last_changed``), calls
:func:`~custom_components.rala.control.evaluate` on every reading pair and when the engine's
``next_evaluation_in`` timer is due, takes day and night from the light schedule (so the
engine's anticipation works) and switches the ``input_boolean`` helpers through Home
Assistant services.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import math
from typing import Final

from homeassistant.const import ATTR_ENTITY_ID, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
)

from bench.harness import TentEntities
from bench.scenarios import LEAF_OFFSET, TEMPERATURE_TOLERANCE, BenchScenario
from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_LIGHT,
    CONF_MIN_OFF_TIME,
    CONF_MIN_ON_TIME,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DOMAIN,
)
from custom_components.rala.control import (
    ActuatorKind,
    ActuatorStatus,
    ControlDecision,
    ControlInputs,
    ControlMode,
    ControlSettings,
    LightSchedule,
    Reading,
    ZoneReadings,
    ZoneTargets,
    evaluate,
)
from edge_agent.config import ActuatorKind as EdgeActuatorKind


def zone_targets(scenario: BenchScenario) -> ZoneTargets:
    """The stage's targets with the bench's temperature band and the stage's VPD band."""
    stage = scenario.targets
    return ZoneTargets.around(
        day_temperature=stage.day_temperature_c,
        night_temperature=stage.night_temperature_c,
        day_vpd=stage.vpd_target_kpa,
        night_vpd=stage.vpd_target_kpa,
        temperature_tolerance=TEMPERATURE_TOLERANCE,
        vpd_half_width=(stage.vpd_high_kpa - stage.vpd_low_kpa) / 2,
    )


class RalaClimateSide:
    """RALA's climate entity, set up from a config entry like a grower's zone."""

    name = "RALA (climate entity)"
    description = (
        "the rala integration's climate entity (custom_components/rala/climate.py), set up "
        "from a config entry with the tent's sensors and the input_boolean actuators (light "
        "included) mapped in its options, hvac mode auto, the scenario's growth stage as "
        "preset; the bench only writes the sensor states and switches the light on schedule"
    )

    def __init__(self, hass: HomeAssistant, scenario: BenchScenario, tent: TentEntities) -> None:
        """Prepare the config entry; nothing is set up before :meth:`async_setup`."""
        self._hass = hass
        self._scenario = scenario
        options: dict[str, object] = {
            CONF_LEAF_OFFSET: LEAF_OFFSET,
            CONF_MIN_ON_TIME: scenario.min_cycle,
            CONF_MIN_OFF_TIME: scenario.min_cycle,
        }
        for kind in (*scenario.actuators, EdgeActuatorKind.LIGHT):
            # The option keys are the actuator kinds' values (const.ACTUATOR_KEYS).
            options[kind.value] = tent.switch(kind)
        assert options[CONF_LIGHT] == tent.switch(EdgeActuatorKind.LIGHT)  # noqa: S101
        self._entry = MockConfigEntry(
            domain=DOMAIN,
            title=f"{tent.prefix} tent",
            unique_id=f"bench_{tent.prefix}",
            data={
                CONF_ZONE_NAME: f"{tent.prefix} tent",
                CONF_TEMPERATURE_ENTITY: tent.temperature,
                CONF_HUMIDITY_ENTITY: tent.humidity,
            },
            options=options,
        )
        self.entity_id = ""

    async def async_setup(self) -> None:
        """Set up the zone, then choose the growth stage and switch the controller on."""
        hass = self._hass
        self._entry.add_to_hass(hass)
        if not await hass.config_entries.async_setup(self._entry.entry_id):
            raise RuntimeError("the rala config entry did not set up")
        await hass.async_block_till_done()
        entity_ids = [
            entry.entity_id
            for entry in er.async_entries_for_config_entry(er.async_get(hass), self._entry.entry_id)
            if entry.domain == "climate"
        ]
        if len(entity_ids) != 1:
            raise RuntimeError(f"expected one rala climate entity, found {entity_ids}")
        self.entity_id = entity_ids[0]
        await hass.services.async_call(
            "climate",
            "set_preset_mode",
            {ATTR_ENTITY_ID: self.entity_id, "preset_mode": self._scenario.stage.value},
            blocking=True,
        )
        await hass.services.async_call(
            "climate",
            "set_hvac_mode",
            {ATTR_ENTITY_ID: self.entity_id, "hvac_mode": "auto"},
            blocking=True,
        )
        await hass.async_block_till_done()

    async def async_lights_switched(self, *, is_day: bool) -> None:
        """Nothing to do: the zone follows its mapped light."""

    async def async_readings_written(self) -> None:
        """Nothing to do: the zone tracks its sensors."""

    async def async_tick(self) -> None:
        """Nothing to do: the climate entity's timers are Home Assistant's."""


class RalaEngineSide:
    """RALA's control engine, driven in the harness as the climate entity would drive it."""

    name = "RALA (control engine)"
    description = (
        "RALA's pure control engine (custom_components/rala/control.py, `evaluate`) driven "
        "inside the same Home Assistant instance by the bench (bench/rala_side.py): evaluated "
        "once per pair of readings (temperature and humidity both new) and on the engine's own "
        "timers, switching the input_boolean actuators through Home Assistant services; "
        "day/night from the light schedule (with the engine's anticipation). Not the climate "
        "entity itself"
    )

    def __init__(self, hass: HomeAssistant, scenario: BenchScenario, tent: TentEntities) -> None:
        """Prepare targets, schedule and settings (the same as the generic side's)."""
        self._hass = hass
        self._scenario = scenario
        self._tent = tent
        self._targets = zone_targets(scenario)
        self._schedule = LightSchedule.from_hours(
            scenario.tent.lights_on_hour, scenario.tent.photoperiod_hours
        )
        self._settings = ControlSettings(leaf_offset=LEAF_OFFSET)
        self._due: datetime | None = None
        # When each actuator last stopped after running (feeds the engine's partner lockout).
        self._run_ended: dict[str, datetime] = {}
        self.last_decision: ControlDecision | None = None

    async def async_setup(self) -> None:
        """Follow the actuators' stops; the sensors and switches exist already."""

        @callback
        def actuator_changed(event: Event[EventStateChangedData]) -> None:
            old, new = event.data["old_state"], event.data["new_state"]
            if old is not None and new is not None and old.state == STATE_ON != new.state:
                self._run_ended[event.data["entity_id"]] = new.last_changed

        async_track_state_change_event(
            self._hass,
            [self._tent.switch(kind) for kind in self._scenario.actuators],
            actuator_changed,
        )

    async def async_lights_switched(self, *, is_day: bool) -> None:
        """The engine follows the schedule itself (with anticipation); re-evaluate now."""
        await self._async_evaluate()

    async def async_readings_written(self) -> None:
        """Evaluate on every reading, as the climate entity does on state events."""
        await self._async_evaluate()

    async def async_tick(self) -> None:
        """Evaluate when the engine's own timer is due (minimum on/off, staleness, lights)."""
        if self._due is not None and dt_util.utcnow() >= self._due:
            await self._async_evaluate()

    async def _async_evaluate(self) -> None:
        now = dt_util.utcnow()
        inputs = ControlInputs(
            readings=ZoneReadings(
                air_temperature=self._reading(self._tent.temperature, now),
                relative_humidity=self._reading(self._tent.humidity, now),
            ),
            targets=self._targets,
            light=self._schedule.phase_at(self._time_of_day(now)),
            actuators=[self._status(kind, now) for kind in self._scenario.actuators],
            mode=ControlMode.AUTO,
        )
        decision = evaluate(inputs, self._settings)
        self.last_decision = decision
        for entity_id, on in decision.commands.items():
            await self._hass.services.async_call(
                "input_boolean",
                "turn_on" if on else "turn_off",
                {ATTR_ENTITY_ID: entity_id},
                blocking=True,
            )
        wait = decision.next_evaluation_in
        self._due = None if wait is None else now + timedelta(seconds=wait)

    def _reading(self, entity_id: str, now: datetime) -> Reading | None:
        state = self._hass.states.get(entity_id)
        if state is None:
            return None
        try:
            value = float(state.state)
        except ValueError:
            return None
        return Reading(value=value, age=max(0.0, (now - state.last_reported).total_seconds()))

    def _status(self, kind: EdgeActuatorKind, now: datetime) -> ActuatorStatus:
        entity_id = self._tent.switch(kind)
        state = self._hass.states.get(entity_id)
        if state is None:
            raise RuntimeError(f"{entity_id} does not exist")
        return ActuatorStatus(
            key=entity_id,
            kind=ActuatorKind(kind.value),
            is_on=state.state == STATE_ON,
            since_switch=max(0.0, (now - state.last_changed).total_seconds()),
            min_on=self._scenario.min_cycle,
            min_off=self._scenario.min_cycle,
            since_run=(
                max(0.0, (now - run_ended).total_seconds())
                if (run_ended := self._run_ended.get(entity_id)) is not None
                else math.inf
            ),
        )

    @staticmethod
    def _time_of_day(now: datetime) -> float:
        # The harness starts Home Assistant's clock at a UTC midnight, as the tents' day.
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return (now - midnight).total_seconds()


RALA_CONTROLLERS: Final[Mapping[str, type[RalaClimateSide | RalaEngineSide]]] = {
    "climate": RalaClimateSide,
    "engine": RalaEngineSide,
}
"""The RALA controllers the bench can run, by their command-line name."""
