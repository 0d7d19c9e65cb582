"""RALA's side of the closed loop.

:class:`RalaClimateSide` is the real thing: the ``rala`` integration set up from a config
entry (the zone's sensors and the ``input_boolean`` actuators mapped in its options, the
light included, so the zone's day and night follow it), its climate entity in ``auto`` with
the scenario's growth stage as preset. The bench does nothing else on that side.

:class:`RalaEngineSide` runs RALA's zone controller (:mod:`custom_components.rala.controller`,
the same code the climate entity hands its inputs to, with the pure control engine behind
it) inside the same Home Assistant instance, with one difference on purpose: it decides once
per *pair* of readings (after both the temperature and the humidity state are written),
where the climate entity decides on every zone update (and waits up to a second for the
partner reading). It gives the controller the sensor states as the zone's readings (ages
from ``last_reported``) and the ``input_boolean`` states as actuator reports, decides on
every reading pair and when the controller's ``next_evaluation_in`` timer is due, takes day
and night from the light schedule (so the engine's anticipation works) and switches the
``input_boolean`` helpers through Home Assistant services.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
)

from bench.harness import TentEntities
from bench.scenarios import BenchScenario
from custom_components.rala.climate import actuator_report
from custom_components.rala.const import (
    CONF_HUMIDITY_ENTITY,
    CONF_LEAF_OFFSET,
    CONF_LIGHT,
    CONF_MIN_OFF_TIME,
    CONF_MIN_ON_TIME,
    CONF_TEMPERATURE_ENTITY,
    CONF_ZONE_NAME,
    DEFAULT_LEAF_OFFSET,
    DOMAIN,
    ActuatorKind,
)
from custom_components.rala.control import (
    ControlDecision,
    ControlMode,
    ControlSettings,
    LightSchedule,
)
from custom_components.rala.controller import CycleTimes, ZoneController
from custom_components.rala.zone import (
    Reading,
    ZoneReadings,
    targets_for_stage,
    vpd_band_half_width,
)
from edge_agent.config import ActuatorKind as EdgeActuatorKind


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
            CONF_LEAF_OFFSET: DEFAULT_LEAF_OFFSET,
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
    """RALA's zone controller, driven in the harness as the climate entity drives it."""

    name = "RALA (control engine)"
    description = (
        "RALA's zone controller and control engine (custom_components/rala/controller.py and "
        "control.py, the code behind the climate entity) driven inside the same Home "
        "Assistant instance by the bench (bench/rala_side.py): deciding once per pair of "
        "readings (temperature and humidity both new) and on the controller's own timers, "
        "switching the input_boolean actuators through Home Assistant services; day/night "
        "from the light schedule (with the engine's anticipation). Not the climate entity "
        "itself"
    )

    def __init__(self, hass: HomeAssistant, scenario: BenchScenario, tent: TentEntities) -> None:
        """Prepare the controller, targets and schedule (the same as the generic side's)."""
        self._hass = hass
        self._scenario = scenario
        self._tent = tent
        self._set_points = targets_for_stage(scenario.stage)
        self._vpd_half_width = vpd_band_half_width(scenario.stage)
        self._schedule = LightSchedule.from_hours(
            scenario.tent.lights_on_hour, scenario.tent.photoperiod_hours
        )
        self._controller = ZoneController(
            {tent.switch(kind): ActuatorKind(kind.value) for kind in scenario.actuators},
            cycle_times=CycleTimes(scenario.min_cycle, scenario.min_cycle),
            settings=ControlSettings(leaf_offset=DEFAULT_LEAF_OFFSET),
        )
        self._due: datetime | None = None
        self.last_decision: ControlDecision | None = None

    async def async_setup(self) -> None:
        """Start the controller and follow the actuators; the sensors and switches exist."""

        @callback
        def actuator_changed(event: Event[EventStateChangedData]) -> None:
            self._controller.actuator_changed(
                event.data["entity_id"],
                actuator_report(event.data["old_state"]),
                actuator_report(event.data["new_state"]),
            )

        self._controller.start(dt_util.utcnow(), node_cycle_times={})
        async_track_state_change_event(self._hass, list(self._controller.kinds), actuator_changed)

    async def async_lights_switched(self, *, is_day: bool) -> None:
        """The engine follows the schedule itself (with anticipation); decide now."""
        await self._async_decide()

    async def async_readings_written(self) -> None:
        """Decide on every reading pair."""
        await self._async_decide()

    async def async_tick(self) -> None:
        """Decide when the controller's own timer is due (minimum on/off, staleness, lights)."""
        if self._due is not None and dt_util.utcnow() >= self._due:
            await self._async_decide()

    async def _async_decide(self) -> None:
        now = dt_util.utcnow()
        self._controller.observe(
            ZoneReadings(
                air_temperature=self._reading(self._tent.temperature),
                humidity=self._reading(self._tent.humidity),
            ),
            now,
        )
        step = self._controller.decide(
            now,
            set_points=self._set_points,
            vpd_half_width=self._vpd_half_width,
            vpd_is_leaf=True,
            light=self._schedule.phase_at(self._time_of_day(now)),
            mode=ControlMode.AUTO,
            reports={
                entity_id: actuator_report(self._hass.states.get(entity_id))
                for entity_id in self._controller.kinds
            },
            only_safety=False,
        )
        self.last_decision = step.decision
        for entity_id, on in step.commands.items():
            await self._hass.services.async_call(
                "input_boolean",
                "turn_on" if on else "turn_off",
                {ATTR_ENTITY_ID: entity_id},
                blocking=True,
            )
        wait = step.next_evaluation_in
        self._due = None if wait is None else now + timedelta(seconds=wait)

    def _reading(self, entity_id: str) -> Reading | None:
        state = self._hass.states.get(entity_id)
        if state is None:
            return None
        try:
            value = float(state.state)
        except ValueError:
            return None
        return Reading(entity_id, value, state.last_reported)

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
