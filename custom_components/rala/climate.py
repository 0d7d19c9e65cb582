"""The climate entity of a grow zone: one controller for temperature and VPD.

It keeps the modes, the presets, the restored state and the attributes, and hands the
zone's readings, targets, light phase and the mapped actuators' states to the zone
controller (:mod:`.controller`, which keeps the bookkeeping and runs the pure control
engine :mod:`.control`). It switches the mapped entities (any switch, fan, humidifier,
light or input_boolean) with its domain's ``turn_on``/``turn_off``, and decides again on
zone changes, actuator state changes and the engine's own timers (minimum on/off times,
inputs going stale, the lights about to switch).

Input updates are coalesced: everything that changes in one event-loop turn makes one
decision, and a new temperature (or humidity) waits up to :data:`INPUT_PAIR_WAIT` for its
partner, so that the engine never decides on a new temperature with the previous humidity
when one message feeds both. A missing or unusable input is never waited for.

Safety, in this order:

- Stale or missing inputs: the engine switches heater and humidifier off at once; the
  zone raises its ``input_stale`` repair issue and control resumes by itself.
- After a (re)start nothing is switched until the inputs are valid, for at most the zone's
  maximum input age: after that the stale-input rule above applies, so a heater left on
  by a relay is never kept on because a sensor stays silent (kept by the controller).
- An actuator that is missing, unavailable or unknown is left out (logged once, repair
  issue ``actuator_unavailable`` through :class:`UnavailableActuatorsIssue`); the others
  keep working.

Mode ``off`` switches the climate actuators off once (respecting their minimum on time)
and then leaves them to the user; only the safety rules above and the hard limits still
act on them, and only to switch heater and humidifier off.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import TYPE_CHECKING, Any, override

from homeassistant.components.climate import ClimateEntity, ClimateEntityDescription
from homeassistant.components.climate.const import (
    ATTR_HVAC_MODE,
    ClimateEntityFeature,
    HVACAction,
    HVACMode,
)
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_TEMPERATURE,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    Platform,
    UnitOfTemperature,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
    split_entity_id,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_call_later, async_track_state_change_event
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from . import psychrometrics
from .const import (
    DEFAULT_MAX_HUMIDITY,
    DEFAULT_MAX_TEMPERATURE,
    DOMAIN,
    MAX_TARGET_TEMPERATURE,
    MAX_TARGET_VPD,
    MIN_TARGET_TEMPERATURE,
    MIN_TARGET_VPD,
    ActuatorKind,
)
from .control import ControlDecision, ControlError, ControlMode, ControlSettings, modes_for
from .controller import (
    ACTUATOR_STARTUP_GRACE,
    ActuatorReport,
    ControlStep,
    CycleTimes,
    ZoneController,
)
from .entity import GrowZoneEntity
from .growth_stages import GrowthStage
from .models import RalaConfigEntry
from .services import apply_targets
from .zone import GrowZone, vpd_band_half_width

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

ISSUE_ACTUATOR_UNAVAILABLE = "actuator_unavailable"
# Readings that belong together (one message of an edge node feeds the temperature and the
# humidity entity) are decided on together: a new reading waits this long for its partner.
INPUT_PAIR_WAIT = timedelta(seconds=1)

# The entity's own attributes (translated in strings.json under state_attributes), and one
# per mapped actuator named by its kind (ActuatorKind), whose value is its ReasonCode.
ATTR_CURRENT_VPD = "current_vpd"
ATTR_TARGET_VPD = "target_vpd"
ATTR_VPD_LOW = "vpd_low"
ATTR_VPD_HIGH = "vpd_high"
ATTR_PERIOD = "period"
ATTR_REASON = "reason"
VPD_DECIMALS = 2
# The decimals of the current humidity when its sensor has no display precision.
DEFAULT_HUMIDITY_DECIMALS = 1


class Period(StrEnum):
    """The value of the ``period`` attribute: which targets apply."""

    DAY = "day"
    NIGHT = "night"


CLIMATE = ClimateEntityDescription(key="climate", translation_key="zone_climate", name=None)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: RalaConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the zone's climate entity."""
    async_add_entities([GrowZoneClimate(entry.runtime_data.zone, CLIMATE)])


def issue_id(entry_id: str) -> str:
    """The repair issue id for unavailable actuators of a zone."""
    return f"{ISSUE_ACTUATOR_UNAVAILABLE}_{entry_id}"


def display_precision(hass: HomeAssistant, entity_id: str, *, default: int) -> int:
    """The decimals a sensor is shown with: the user's choice, else its integration's.

    As Home Assistant's sensor entity finds them, in the entity registry's sensor options;
    ``default`` for a sensor without them (not in the registry, or not a sensor).
    """
    entry = er.async_get(hass).async_get(entity_id)
    options: Mapping[str, Any] = entry.options.get(Platform.SENSOR, {}) if entry else {}
    for option in ("display_precision", "suggested_display_precision"):
        if isinstance(precision := options.get(option), int):
            return precision
    return default


def actuator_report(state: State | None) -> ActuatorReport | None:
    """An actuator entity's state as the controller takes it (``None``: no such entity)."""
    if state is None:
        return None
    available = state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    return ActuatorReport(state.state == STATE_ON if available else None, state.last_changed)


def zone_settings(zone: GrowZone) -> ControlSettings:
    """The engine's settings from the zone's configuration; the defaults for invalid limits."""
    config = zone.config
    stale_after = config.max_input_age.total_seconds()
    try:
        return ControlSettings(
            max_temperature=config.max_temperature,
            max_humidity=config.max_humidity,
            stale_after=stale_after,
            leaf_offset=config.leaf_offset,
        )
    except ControlError as err:
        _LOGGER.warning(
            "Grow zone %s: invalid hard limits in the options (%s); using %s °C, %s %%",
            zone.name,
            err,
            DEFAULT_MAX_TEMPERATURE,
            DEFAULT_MAX_HUMIDITY,
        )
        return ControlSettings(stale_after=stale_after, leaf_offset=config.leaf_offset)


def zone_cycle_times(zone: GrowZone) -> CycleTimes:
    """The zone's minimum on and off time of its climate actuators."""
    return CycleTimes(min_on=zone.config.min_on_time, min_off=zone.config.min_off_time)


class UnavailableActuatorsIssue:
    """The ``actuator_unavailable`` repair issue of a zone, and its log lines."""

    def __init__(self, hass: HomeAssistant, zone: GrowZone) -> None:
        """Report for ``zone``; nothing is raised before the first change."""
        self._hass = hass
        self._zone = zone

    @callback
    def async_changed(self, previous: frozenset[str], unavailable: frozenset[str]) -> None:
        """Log each actuator once when it goes and once when it is back; keep the issue."""
        for entity_id in sorted(unavailable - previous):
            _LOGGER.warning(
                "Grow zone %s: actuator %s is unavailable; controlling without it",
                self._zone.name,
                entity_id,
            )
        for entity_id in sorted(previous - unavailable):
            _LOGGER.info("Grow zone %s: actuator %s is available again", self._zone.name, entity_id)
        if not unavailable:
            self.async_clear()
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id(self._zone.entry.entry_id),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_ACTUATOR_UNAVAILABLE,
            translation_placeholders={
                "zone": self._zone.name,
                "entities": ", ".join(sorted(unavailable)),
            },
        )

    @callback
    def async_clear(self) -> None:
        """Remove the issue."""
        ir.async_delete_issue(self._hass, DOMAIN, issue_id(self._zone.entry.entry_id))


# Home Assistant 2026.11 renamed the climate's temperature_unit, current_temperature and
# target_temperature to native_* and warns about an entity class that provides the old
# names. The climate entity provides the native names; Home Assistant 2026.10 reads the old
# ones, which this base serves there (and only there). Remove the block, and the base of
# the climate entity, once the minimum Home Assistant version in hacs.json is 2026.11; it
# must go before 2027.11, when Home Assistant drops the old names. Type checkers see the
# Home Assistant 2026.11 side.
if TYPE_CHECKING or hasattr(ClimateEntity, "native_current_temperature"):

    class _PreNativeTemperatureNames:
        """Home Assistant reads the native names: nothing to add."""

else:

    class _PreNativeTemperatureNames:
        """The native temperatures under the names Home Assistant before 2026.11 reads."""

        @property
        def temperature_unit(self) -> str:
            """The unit of the temperatures."""
            return self.native_temperature_unit

        @property
        def current_temperature(self) -> float | None:
            """The air temperature."""
            return self.native_current_temperature

        @property
        def target_temperature(self) -> float | None:
            """The temperature target."""
            return self.native_target_temperature


class GrowZoneClimate(GrowZoneEntity, _PreNativeTemperatureNames, ClimateEntity, RestoreEntity):
    """The zone's controller (see the module docstring)."""

    # The VPD changes with every reading, and its history is the leaf VPD sensor's.
    _unrecorded_attributes = frozenset({ATTR_CURRENT_VPD})
    # It writes after each decision (which follows every change of the zone), not before.
    _follows_zone = False
    _attr_target_temperature_step = 0.5
    _attr_min_temp = MIN_TARGET_TEMPERATURE
    _attr_max_temp = MAX_TARGET_TEMPERATURE
    _attr_min_humidity = 1
    _attr_max_humidity = 99

    def __init__(self, zone: GrowZone, description: ClimateEntityDescription) -> None:
        """Set up from the zone's actuator mapping; nothing runs before it is added."""
        super().__init__(zone, description)
        self._attr_preset_modes = [stage.value for stage in GrowthStage]
        self._unavailable_issue = UnavailableActuatorsIssue(zone.hass, zone)
        self._controller = ZoneController(
            {entity_id: ActuatorKind(key) for key, entity_id in zone.actuators.items()},
            cycle_times=zone_cycle_times(zone),
            settings=zone_settings(zone),
            on_unavailable_changed=self._unavailable_issue.async_changed,
        )
        kinds = self._controller.kinds.values()
        self._attr_hvac_modes = [HVACMode(mode.value) for mode in modes_for(kinds)]
        features = ClimateEntityFeature.PRESET_MODE | ClimateEntityFeature.TARGET_TEMPERATURE
        features |= ClimateEntityFeature.TARGET_HUMIDITY
        if len(self._attr_hvac_modes) > 1:
            features |= ClimateEntityFeature.TURN_ON | ClimateEntityFeature.TURN_OFF
        self._attr_supported_features = features
        self._mode = ControlMode.OFF
        self._decision: ControlDecision | None = None
        # Switching everything off after the user chose "off"; afterwards "off" leaves the
        # actuators to the user (only the safety rules still act).
        self._switching_off = False
        self._cancel_timer: CALLBACK_TYPE | None = None
        # Coalescing of input updates (see _async_request_evaluation).
        self._evaluation_pending = False
        self._removed = False
        self._cancel_pair_wait: CALLBACK_TYPE | None = None
        self._evaluated_readings: tuple[datetime | None, datetime | None] | None = None

    # --- life cycle -----------------------------------------------------------------------

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the mode, then follow the zone, the actuators and the timers."""
        await super().async_added_to_hass()
        last_state = await self.async_get_last_state()
        if last_state is not None and last_state.state in self._attr_hvac_modes:
            self._mode = ControlMode(last_state.state)
        self._controller.start(
            dt_util.utcnow(),
            node_cycle_times={
                entity_id: CycleTimes(min_on, min_off)
                for entity_id, (min_on, min_off) in self.zone.node_minimum_times().items()
            },
        )
        self.async_on_remove(self.zone.async_add_listener(self._async_request_evaluation))
        if actuators := list(self._controller.kinds):
            self.async_on_remove(
                async_track_state_change_event(self.hass, actuators, self._async_actuator_changed)
            )
        self.async_on_remove(self._async_cleanup)
        if actuators:
            # Report what is still unavailable once the grace is over.
            self.async_on_remove(
                async_call_later(self.hass, ACTUATOR_STARTUP_GRACE, self._async_startup_grace_over)
            )
        self._async_evaluate()

    @callback
    def _async_startup_grace_over(self, _now: datetime) -> None:
        self._async_evaluate()

    @callback
    def _async_cleanup(self) -> None:
        self._removed = True
        self._cancel_scheduled()
        self._cancel_pair_timer()
        self._unavailable_issue.async_clear()

    @callback
    def _async_actuator_changed(self, event: Event[EventStateChangedData]) -> None:
        self._controller.actuator_changed(
            event.data["entity_id"],
            actuator_report(event.data["old_state"]),
            actuator_report(event.data["new_state"]),
        )
        self._async_request_evaluation()

    @callback
    def _async_timer_fired(self, _now: datetime) -> None:
        self._cancel_timer = None
        self._async_evaluate()

    @callback
    def _async_request_evaluation(self) -> None:
        """Evaluate once in the next event-loop turn, however many inputs changed in this one.

        A temperature and a humidity written in the same turn (or an actuator reported off
        together with them) make one decision, on consistent inputs.
        """
        if self._evaluation_pending:
            return
        self._evaluation_pending = True
        self.hass.async_create_task(self._async_deferred_evaluation(), eager_start=False)

    async def _async_deferred_evaluation(self) -> None:
        self._evaluation_pending = False
        if self._removed:
            return
        now = dt_util.utcnow()
        wait = self._partner_wait(now)
        if wait is None:
            self._async_evaluate()
        elif self._cancel_pair_wait is None:
            self._cancel_pair_wait = async_call_later(
                self.hass, wait.total_seconds(), self._async_pair_wait_over
            )

    def _partner_wait(self, now: datetime) -> timedelta | None:
        """How long a new reading still waits for its partner, or None to decide now.

        A new temperature without a humidity written within :data:`INPUT_PAIR_WAIT` before
        it (or the other way round) is likely half of one message: deciding on it with the
        previous humidity would be deciding on a climate that never was. It waits at most
        that long; a missing or unusable reading is never waited for (safety acts at once).
        """
        air, humidity = self.zone.readings.air_temperature, self.zone.readings.humidity
        if air is None or humidity is None or self._evaluated_readings is None:
            return None
        air_new = air.updated != self._evaluated_readings[0]
        humidity_new = humidity.updated != self._evaluated_readings[1]
        if air_new == humidity_new:
            return None
        new, partner = (air, humidity) if air_new else (humidity, air)
        if partner.updated >= new.updated - INPUT_PAIR_WAIT:
            return None  # the partner came just before (a decision fell in between)
        remaining = new.updated + INPUT_PAIR_WAIT - now
        return remaining if remaining > timedelta(0) else None

    @callback
    def _async_pair_wait_over(self, _now: datetime) -> None:
        self._cancel_pair_wait = None
        self._async_evaluate()

    @callback
    def _cancel_pair_timer(self) -> None:
        if self._cancel_pair_wait is not None:
            self._cancel_pair_wait()
            self._cancel_pair_wait = None

    @callback
    def _cancel_scheduled(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    # --- control --------------------------------------------------------------------------

    @callback
    def _async_evaluate(self) -> None:
        """Decide, switch what must change, schedule the next evaluation, write the state."""
        self._cancel_scheduled()
        self._cancel_pair_timer()
        now = dt_util.utcnow()
        zone = self.zone
        readings = zone.readings
        self._evaluated_readings = (
            readings.air_temperature.updated if readings.air_temperature else None,
            readings.humidity.updated if readings.humidity else None,
        )
        self._controller.observe(readings, now)
        step = self._controller.decide(
            now,
            set_points=zone.targets,
            vpd_half_width=vpd_band_half_width(zone.growth_stage),
            vpd_is_leaf=zone.vpd_is_leaf,
            light=zone.light_phase(now),
            mode=self._mode,
            reports={
                entity_id: actuator_report(self.hass.states.get(entity_id))
                for entity_id in self._controller.kinds
            },
            only_safety=self._mode is ControlMode.OFF and not self._switching_off,
        )
        self._decision = step.decision
        self._apply(step)
        if (delay := step.next_evaluation_in) is not None:
            self._cancel_timer = async_call_later(self.hass, delay, self._async_timer_fired)
        self.async_write_if_shown_changed()

    @callback
    def _apply(self, step: ControlStep) -> None:
        """Send the step's commands; "off" is done once no climate actuator is left on."""
        for entity_id, on in step.commands.items():
            self.hass.async_create_task(self._async_switch(entity_id, on), eager_start=True)
        if step.waiting_for_inputs or not self._switching_off:
            return
        if not any(
            d.on for d in step.decision.actuators.values() if d.kind is not ActuatorKind.LIGHT
        ):
            self._switching_off = False

    async def _async_switch(self, entity_id: str, on: bool) -> None:
        try:
            # The entity's own domain service (switch, fan, humidifier, light, input_boolean
            # all have turn_on/turn_off): unlike homeassistant.turn_on it fails loudly.
            await self.hass.services.async_call(
                split_entity_id(entity_id)[0],
                SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
                {ATTR_ENTITY_ID: entity_id},
                blocking=True,
                context=self._context,
            )
        except HomeAssistantError as err:
            _LOGGER.warning(
                "Grow zone %s: could not switch %s %s: %s",
                self.zone.name,
                entity_id,
                "on" if on else "off",
                err,
            )

    # --- state ----------------------------------------------------------------------------

    @property
    @override
    def hvac_mode(self) -> HVACMode:
        """The mode the controller runs in."""
        return HVACMode(self._mode.value)

    @property
    @override
    def hvac_action(self) -> HVACAction:
        """What the mapped actuators are doing right now (as reported by them)."""
        if self._mode is ControlMode.OFF:
            return HVACAction.OFF
        running = {
            kind
            for entity_id, kind in self._controller.kinds.items()
            if (state := self.hass.states.get(entity_id)) is not None and state.state == STATE_ON
        }
        for kind, action in (
            (ActuatorKind.HEATER, HVACAction.HEATING),
            (ActuatorKind.COOLER, HVACAction.COOLING),
            (ActuatorKind.DEHUMIDIFIER, HVACAction.DRYING),
            (ActuatorKind.EXHAUST_FAN, HVACAction.FAN),
        ):
            if kind in running:
                return action
        return HVACAction.IDLE

    # The temperatures in the names of Home Assistant 2026.11 (no override on 2026.10, which
    # reads them through _PreNativeTemperatureNames).
    @property
    def native_temperature_unit(self) -> str:
        """The zone works in °C; Home Assistant converts to the user's unit."""
        return UnitOfTemperature.CELSIUS

    @property
    def native_current_temperature(self) -> float | None:
        """The zone's air temperature, °C."""
        reading = self.zone.readings.air_temperature
        return reading.value if reading is not None else None

    @property
    @override
    def current_humidity(self) -> float | None:
        """The zone's relative humidity, %, with the decimals its sensor is shown with."""
        reading = self.zone.readings.humidity
        if reading is None:
            return None
        decimals = display_precision(
            self.hass, reading.entity_id, default=DEFAULT_HUMIDITY_DECIMALS
        )
        return round(reading.value, decimals)

    @property
    def native_target_temperature(self) -> float:
        """The temperature target of the current period (day or night), °C."""
        return self.zone.target_temperature

    @property
    @override
    def target_humidity(self) -> float | None:
        """The RH that gives the target VPD at the current temperatures."""
        if self._decision is None or self._decision.climate is None:
            return None
        return round(self._decision.climate.target_humidity, 1)

    @property
    @override
    def preset_mode(self) -> str:
        """The growth stage."""
        return self.zone.growth_stage.value

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """The VPD and its targets, the period, and why the controller does what it does.

        ``reason`` is the decision's headline; each mapped actuator that is available has
        the reason of its own decision under its kind (``heater``: ``min_off``, say).
        """
        zone = self.zone
        vpd, (low, high) = zone.current_vpd, zone.vpd_band
        attributes: dict[str, Any] = {
            ATTR_CURRENT_VPD: round(vpd, VPD_DECIMALS) if vpd is not None else None,
            ATTR_TARGET_VPD: round(zone.target_vpd, VPD_DECIMALS),
            ATTR_VPD_LOW: round(low, VPD_DECIMALS),
            ATTR_VPD_HIGH: round(high, VPD_DECIMALS),
            ATTR_PERIOD: (Period.DAY if zone.is_day else Period.NIGHT).value,
        }
        if (decision := self._decision) is not None:
            attributes[ATTR_REASON] = decision.code.value
            attributes.update({d.kind.value: d.code.value for d in decision.actuators.values()})
        return attributes

    # --- commands -------------------------------------------------------------------------

    @override
    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Switch the controller's mode (HA only offers the modes in ``hvac_modes``)."""
        self._set_mode(ControlMode(hvac_mode.value))
        self._async_evaluate()

    def _set_mode(self, mode: ControlMode) -> None:
        """Change the mode; choosing "off" switches the climate actuators off once."""
        self._switching_off = mode is ControlMode.OFF and self._mode is not ControlMode.OFF
        self._mode = mode

    @override
    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Set the temperature target of the current period."""
        if (hvac_mode := kwargs.get(ATTR_HVAC_MODE)) is not None:
            self._set_mode(ControlMode(HVACMode(hvac_mode).value))
        if (temperature := kwargs.get(ATTR_TEMPERATURE)) is not None:
            key = "day_temperature" if self.zone.is_day else "night_temperature"
            apply_targets(self.zone, {key: float(temperature)})
        self._async_evaluate()

    @override
    async def async_set_humidity(self, humidity: int) -> None:
        """Set the VPD target of the current period to what ``humidity`` gives right now."""
        decision = self._decision
        if decision is None or decision.climate is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="inputs_unavailable",
                translation_placeholders={"zone": self.zone.name},
            )
        climate = decision.climate
        vpd = psychrometrics.vpd_leaf(
            climate.air_temperature, float(humidity), climate.leaf_temperature
        )
        if not MIN_TARGET_VPD <= vpd <= MAX_TARGET_VPD:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="humidity_out_of_range",
                translation_placeholders={
                    "humidity": str(humidity),
                    "vpd": f"{vpd:.2f}",
                    "min_vpd": str(MIN_TARGET_VPD),
                    "max_vpd": str(MAX_TARGET_VPD),
                },
            )
        key = "day_vpd" if self.zone.is_day else "night_vpd"
        apply_targets(self.zone, {key: round(vpd, VPD_DECIMALS)})

    @override
    async def async_set_preset_mode(self, preset_mode: str) -> None:
        """Choose a growth stage: its targets apply to the zone."""
        self.zone.async_set_growth_stage(GrowthStage(preset_mode))

    @override
    async def async_turn_on(self) -> None:
        """Run in the most capable mode the actuators allow."""
        await self.async_set_hvac_mode(self._attr_hvac_modes[-1])

    @override
    async def async_turn_off(self) -> None:
        """Stop controlling: every climate actuator off."""
        await self.async_set_hvac_mode(HVACMode.OFF)
