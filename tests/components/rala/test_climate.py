"""The zone's climate entity in Home Assistant's test harness.

Actuators are real ``input_boolean`` entities (they accept ``homeassistant.turn_on`` and
``turn_off`` like any switch); the input sensors are written with ``hass.states.async_set``.
Time is frozen and moved by hand, so minimum on/off times and staleness are exercised
through the entity's own timers.
"""

from __future__ import annotations

from datetime import timedelta
import json
import logging
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.climate.const import (
    DATA_COMPONENT,
    DOMAIN as CLIMATE_DOMAIN,
    SERVICE_SET_HUMIDITY,
    SERVICE_SET_HVAC_MODE,
    SERVICE_SET_PRESET_MODE,
    SERVICE_SET_TEMPERATURE,
    HVACAction,
    HVACMode,
)
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache,
    mock_restore_cache_with_extra_data,
)

from custom_components.rala import psychrometrics
from custom_components.rala.climate import (
    ATTR_CURRENT_VPD,
    ATTR_PERIOD,
    ATTR_REASON,
    ATTR_TARGET_VPD,
    ATTR_VPD_HIGH,
    ATTR_VPD_LOW,
    Period,
    issue_id,
)
from custom_components.rala.const import (
    CONF_LIGHTS_ON_TIME,
    CONF_MAX_HUMIDITY,
    CONF_MAX_INPUT_AGE,
    CONF_MAX_TEMPERATURE,
    CONF_MIN_OFF_TIME,
    CONF_MIN_ON_TIME,
    CONF_PHOTOPERIOD,
    DOMAIN,
)
from custom_components.rala.control import ActuatorKind, ReasonCode
from custom_components.rala.growth_stages import STAGE_TARGETS, GrowthStage

from .common import CELSIUS, HUMIDITY, PERCENT, TEMPERATURE, set_inputs, zone_entry

CLIMATE = "climate.tent"
BOOLEANS = ("heater", "cooler", "humidifier", "dehumidifier", "exhaust_fan", "circulation_fan")


async def _setup(
    hass: HomeAssistant,
    *,
    actuators: tuple[str, ...] = BOOLEANS,
    initial_on: tuple[str, ...] = (),
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """Input booleans as actuators, a zone mapping them, everything set up."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {name: {"initial": name in initial_on} for name in BOOLEANS}},
    )
    mapping = {name: f"input_boolean.{name}" for name in actuators}
    entry = zone_entry(**mapping, **(options or {}))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _pass(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let simulated time pass and run what became due."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(
        CLIMATE_DOMAIN, service, {ATTR_ENTITY_ID: CLIMATE, **data}, blocking=True
    )
    await hass.async_block_till_done()


def _on(hass: HomeAssistant, name: str) -> bool:
    state = hass.states.get(f"input_boolean.{name}")
    assert state is not None
    return state.state == STATE_ON


def _climate(hass: HomeAssistant) -> State:
    state = hass.states.get(CLIMATE)
    assert state is not None
    return state


def _rh_for_vpd(vpd: float, air: float) -> str:
    """The RH (as a state string) that gives ``vpd`` at ``air`` with the 2 °C leaf offset."""
    return f"{psychrometrics.relative_humidity_for_vpd(vpd, air, leaf_offset_c=2.0):.1f}"


async def test_modes_presets_and_state(hass: HomeAssistant) -> None:
    """Modes follow the mapped actuators; a new zone starts off; stages are presets."""
    set_inputs(hass, "25.0", "60")
    await _setup(hass, actuators=("heater", "humidifier"))
    state = _climate(hass)
    assert state.state == HVACMode.OFF
    assert state.attributes["hvac_modes"] == [HVACMode.OFF, HVACMode.HEAT, HVACMode.AUTO]
    assert state.attributes["preset_modes"] == [stage.value for stage in GrowthStage]
    assert state.attributes["preset_mode"] == GrowthStage.VEGETATIVE
    assert state.attributes["current_temperature"] == 25.0
    assert state.attributes["current_humidity"] == 60.0
    assert (
        state.attributes["temperature"] == STAGE_TARGETS[GrowthStage.VEGETATIVE].day_temperature_c
    )
    assert state.attributes["hvac_action"] == HVACAction.OFF
    assert state.attributes["reason"] == "mode_off"
    assert state.attributes["heater"] == "mode_off"
    assert state.attributes["humidifier"] == "mode_off"
    assert "cooler" not in state.attributes  # only the mapped kinds
    assert state.attributes["period"] == "day"
    vegetative = STAGE_TARGETS[GrowthStage.VEGETATIVE]
    low, high = vegetative.vpd_band_kpa
    assert (state.attributes["vpd_low"], state.attributes["vpd_high"]) == (low, high)
    assert state.attributes["target_vpd"] == vegetative.vpd_target_kpa
    leaf_vpd = psychrometrics.vpd_leaf(25.0, 60.0, leaf_offset_c=2.0)
    assert state.attributes["current_vpd"] == round(leaf_vpd, 2)
    expected_rh = psychrometrics.relative_humidity_for_vpd(
        STAGE_TARGETS[GrowthStage.VEGETATIVE].vpd_target_kpa, 25.0, leaf_offset_c=2.0
    )
    assert state.attributes["humidity"] == pytest.approx(expected_rh, abs=0.1)


async def test_auto_chases_targets_with_min_on_off_timers(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Too cold and too dry: heater and humidifier go on once their min off time is over,
    and off again on the min on timer once the climate is fine, without a new reading."""
    set_inputs(hass, "20.0", "30")
    await _setup(hass)
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    # The booleans were created just now: their minimum off time holds them.
    assert not _on(hass, "heater")
    assert _climate(hass).attributes["heater"] == "min_off"
    await _pass(hass, freezer, 61)
    assert _on(hass, "heater")
    assert _on(hass, "humidifier")
    assert _on(hass, "circulation_fan")
    assert not _on(hass, "cooler")
    assert not _on(hass, "dehumidifier")
    state = _climate(hass)
    assert state.attributes["hvac_action"] == HVACAction.HEATING
    assert state.attributes["reason"] == "too_cold"
    assert state.attributes["heater"] == "too_cold"
    assert state.attributes["humidifier"] == "too_dry"
    assert state.attributes["circulation_fan"] == "circulation"
    # Warm and humid enough now, 10 s later: held on (min on), then off on the timer.
    await _pass(hass, freezer, 10)
    set_inputs(hass, "26.5", _rh_for_vpd(0.88, 26.5))
    await hass.async_block_till_done()
    assert _on(hass, "heater")
    assert _climate(hass).attributes["heater"] == "min_on"
    await _pass(hass, freezer, 51)
    assert not _on(hass, "heater")
    assert not _on(hass, "humidifier")
    assert _climate(hass).attributes["hvac_action"] == HVACAction.IDLE


async def test_heat_mode_leaves_humidity_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Heat mode uses the heater only."""
    set_inputs(hass, "20.0", "30")
    await _setup(hass)
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.HEAT)
    await _pass(hass, freezer, 61)
    assert _on(hass, "heater")
    assert not _on(hass, "humidifier")


async def test_turn_off_switches_everything_off(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Turning the controller off stops every climate actuator (after min on)."""
    set_inputs(hass, "20.0", "30")
    await _setup(hass)
    await _call(hass, SERVICE_TURN_ON)
    assert _climate(hass).state == HVACMode.AUTO
    await _pass(hass, freezer, 61)
    assert _on(hass, "heater")
    await _pass(hass, freezer, 61)
    await _call(hass, SERVICE_TURN_OFF)
    assert _climate(hass).state == HVACMode.OFF
    assert not any(_on(hass, name) for name in BOOLEANS)


async def test_stale_inputs_switch_heater_and_humidifier_off_and_recover(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A silent sensor: heater and humidifier off within the bound, repair issue, recovery."""
    set_inputs(hass, "20.0", "30")
    entry = await _setup(hass, options={CONF_MAX_INPUT_AGE: 60})
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    await _pass(hass, freezer, 59)
    set_inputs(hass, "20.0", "30.5")  # fresh readings, min off over: both go on
    await _pass(hass, freezer, 2)
    assert _on(hass, "heater")
    assert _on(hass, "humidifier")
    # No more readings: 60 s later they are stale, inside the heater's min on time... off.
    await _pass(hass, freezer, 60.5)
    assert not _on(hass, "heater")
    assert not _on(hass, "humidifier")
    state = _climate(hass)
    assert state.attributes["reason"] == "inputs_stale"
    assert state.attributes["heater"] == "inputs_stale"
    assert state.attributes["current_vpd"] is None
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, f"input_stale_{entry.entry_id}") is not None
    # The sensor is back: control resumes by itself after the min off time.
    set_inputs(hass, "20.0", "31")
    await _pass(hass, freezer, 61)
    set_inputs(hass, "20.0", "30")
    await hass.async_block_till_done()
    assert _on(hass, "heater")
    assert registry.async_get_issue(DOMAIN, f"input_stale_{entry.entry_id}") is None


async def test_hard_limit_overrides_mode_and_min_on(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Heat mode, heater just switched on, then the air passes the maximum temperature."""
    set_inputs(hass, "20.0", "50")
    await _setup(hass, options={CONF_MAX_TEMPERATURE: 30.0})
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.HEAT)
    await _pass(hass, freezer, 61)
    assert _on(hass, "heater")
    set_inputs(hass, "31.0", "50")
    await hass.async_block_till_done()
    assert not _on(hass, "heater")
    assert _climate(hass).attributes["reason"] == "over_max_temperature"
    assert _on(hass, "exhaust_fan")
    await hass.async_block_till_done()
    # The cooler follows once the heater is reported off (never both on).
    assert _on(hass, "cooler")


async def test_presets_apply_the_stage_targets(hass: HomeAssistant) -> None:
    """Choosing a growth stage as preset applies its targets to the zone."""
    set_inputs(hass)
    entry = await _setup(hass)
    await _call(hass, SERVICE_SET_PRESET_MODE, preset_mode=GrowthStage.LATE_FLOWER)
    zone = entry.runtime_data.zone
    late = STAGE_TARGETS[GrowthStage.LATE_FLOWER]
    assert zone.growth_stage is GrowthStage.LATE_FLOWER
    assert zone.targets.day_vpd == late.vpd_target_kpa
    state = _climate(hass)
    assert state.attributes["preset_mode"] == GrowthStage.LATE_FLOWER
    assert state.attributes["temperature"] == late.day_temperature_c
    assert state.attributes["target_vpd"] == late.vpd_target_kpa


async def test_set_temperature_and_humidity_change_the_current_period(
    hass: HomeAssistant,
) -> None:
    """Target temperature and humidity write the day targets while the lights are on."""
    set_inputs(hass, "25.0", "60")
    entry = await _setup(hass)
    zone = entry.runtime_data.zone
    await _call(hass, SERVICE_SET_TEMPERATURE, temperature=24.5, hvac_mode=HVACMode.HEAT)
    assert zone.targets.day_temperature == 24.5
    assert _climate(hass).state == HVACMode.HEAT
    await _call(hass, SERVICE_SET_HUMIDITY, humidity=55)
    # The VPD that 55 % RH gives now, with the two decimals of a VPD target.
    expected_vpd = round(psychrometrics.vpd_leaf(25.0, 55.0, leaf_offset_c=2.0), 2)
    assert zone.targets.day_vpd == expected_vpd
    assert float(hass.states.get("number.tent_day_vpd_target").state) == expected_vpd
    assert _climate(hass).attributes["humidity"] == pytest.approx(55, abs=0.2)


async def test_set_humidity_bad_input_is_refused(hass: HomeAssistant) -> None:
    """A humidity that needs an impossible VPD target, or no readings: nothing changes."""
    set_inputs(hass, "25.0", "60")
    entry = await _setup(hass)
    before = entry.runtime_data.zone.targets
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SET_HUMIDITY, humidity=98)
    assert err.value.translation_key == "humidity_out_of_range"
    hass.states.async_set("sensor.tent_temperature", "unavailable")
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SET_HUMIDITY, humidity=50)
    assert err.value.translation_key == "inputs_unavailable"
    assert entry.runtime_data.zone.targets == before


async def test_restore_after_restart_sends_nothing_until_inputs_are_valid(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Mode restored; a heater left on is not touched until the inputs are valid...

    ...for at most the stale bound: then it goes off, because the sensor stayed silent.
    """
    mock_restore_cache(hass, [State(CLIMATE, HVACMode.AUTO)])
    await _setup(hass, initial_on=("heater",), options={CONF_MAX_INPUT_AGE: 60})
    state = _climate(hass)
    assert state.state == HVACMode.AUTO
    assert state.attributes["reason"] == "inputs_missing"
    await _pass(hass, freezer, 30)
    assert _on(hass, "heater")
    await _pass(hass, freezer, 31)
    assert not _on(hass, "heater")


async def test_restore_then_valid_inputs_resume_control(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """After a restart the first valid readings start normal control."""
    mock_restore_cache(hass, [State(CLIMATE, HVACMode.AUTO)])
    await _setup(hass, initial_on=("heater",))
    assert _on(hass, "heater")
    set_inputs(hass, "28.0", "60")  # too warm: the heater must stop (after its min on)
    await _pass(hass, freezer, 61)
    assert not _on(hass, "heater")


async def test_unavailable_actuator_is_reported_once_and_the_rest_works(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A heater entity that does not exist: logged once, repair issue, humidifier works."""
    caplog.set_level(logging.INFO)
    set_inputs(hass, "20.0", "30")
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"humidifier": {}}})
    entry = zone_entry(heater="switch.missing_heater", humidifier="input_boolean.humidifier")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    await _pass(hass, freezer, 61)
    set_inputs(hass, "20.0", "30.5")
    await hass.async_block_till_done()
    assert _on(hass, "humidifier")
    assert caplog.text.count("switch.missing_heater is unavailable") == 1
    registry = ir.async_get(hass)
    issue = registry.async_get_issue(DOMAIN, issue_id(entry.entry_id))
    assert issue is not None
    assert issue.translation_placeholders == {"zone": "Tent", "entities": "switch.missing_heater"}
    # The heater appears (off): issue gone, logged as back once, and it heats after min off.
    hass.states.async_set("switch.missing_heater", STATE_OFF)
    await hass.async_block_till_done()
    assert registry.async_get_issue(DOMAIN, issue_id(entry.entry_id)) is None
    assert caplog.text.count("switch.missing_heater is available again") == 1


async def _zone_with_a_heater_not_reported_yet(hass: HomeAssistant) -> MockConfigEntry:
    """A zone whose heater (as a node's MQTT switch right after the start) is unknown."""
    set_inputs(hass, "20.0", "30")
    hass.states.async_set("switch.node_heater", STATE_UNKNOWN)
    entry = zone_entry(heater="switch.node_heater")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_an_actuator_reporting_late_after_the_start_is_no_warning(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A node's switch is unknown for a moment after the start: no warning, no repair."""
    entry = await _zone_with_a_heater_not_reported_yet(hass)
    await _pass(hass, freezer, 5)
    hass.states.async_set("switch.node_heater", STATE_OFF)
    await _pass(hass, freezer, 60)
    assert "switch.node_heater is unavailable" not in caplog.text
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry.entry_id)) is None


async def test_an_actuator_still_unknown_after_the_grace_is_reported(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Without any further change, the end of the grace reports what is still unavailable."""
    entry = await _zone_with_a_heater_not_reported_yet(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry.entry_id)) is None
    await _pass(hass, freezer, 31)
    assert caplog.text.count("switch.node_heater is unavailable") == 1
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry.entry_id)) is not None


async def test_unload_removes_timers_and_issue(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Unloading the zone leaves no timer that could switch anything."""
    set_inputs(hass, "20.0", "30")
    entry = await _setup(hass, actuators=("heater",))
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await _pass(hass, freezer, 120)
    assert not _on(hass, "heater")


async def test_off_switches_off_once_then_leaves_actuators_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A new zone (off) does not touch running fans; a manual heater in "off" stays on...

    ...until its sensor goes silent: the safety rule still acts in mode off.
    """
    set_inputs(hass, "20.0", "30")
    await _setup(hass, initial_on=("circulation_fan",), options={CONF_MAX_INPUT_AGE: 60})
    await _pass(hass, freezer, 61)
    assert _climate(hass).state == HVACMode.OFF
    assert _on(hass, "circulation_fan")
    set_inputs(hass, "20.0", "31")
    await hass.services.async_call(
        "input_boolean", "turn_on", {ATTR_ENTITY_ID: "input_boolean.heater"}, blocking=True
    )
    await _pass(hass, freezer, 30)
    assert _on(hass, "heater")
    await _pass(hass, freezer, 31)  # the readings are 61 s old now: stale
    assert not _on(hass, "heater")
    assert _on(hass, "circulation_fan")


async def test_bad_hard_limits_fall_back_to_defaults(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """An impossible maximum humidity in the options: warned once, defaults used."""
    set_inputs(hass, "20.0", "30")
    await _setup(hass, options={"max_humidity": 150})
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    await _pass(hass, freezer, 61)
    assert _on(hass, "heater")
    assert caplog.text.count("invalid hard limits") == 1


async def test_failed_command_is_logged_and_control_goes_on(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """An actuator whose service fails: a warning, no exception, the others keep working."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"humidifier": {}}})
    hass.states.async_set("switch.broken_heater", STATE_OFF)
    set_inputs(hass, "20.0", "30")
    entry = zone_entry(heater="switch.broken_heater", humidifier="input_boolean.humidifier")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    await _pass(hass, freezer, 61)
    assert _on(hass, "humidifier")
    assert "could not switch switch.broken_heater on" in caplog.text


async def test_mode_preset_and_targets_are_restored_together(hass: HomeAssistant) -> None:
    """After a restart the climate shows the restored mode, stage (preset) and targets."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State(CLIMATE, HVACMode.HEAT), {}),
            (State("select.tent_growth_stage", GrowthStage.LATE_FLOWER), {}),
            (
                State("number.tent_day_temperature_target", "23.5"),
                {
                    "native_max_value": 35.0,
                    "native_min_value": 10.0,
                    "native_step": 0.5,
                    "native_unit_of_measurement": "°C",
                    "native_value": 23.5,
                },
            ),
        ],
    )
    set_inputs(hass, "23.0", "55")
    entry = await _setup(hass)
    state = _climate(hass)
    assert state.state == HVACMode.HEAT
    assert state.attributes["preset_mode"] == GrowthStage.LATE_FLOWER
    assert state.attributes["temperature"] == 23.5
    assert entry.runtime_data.zone.targets.day_temperature == 23.5


async def test_pair_member_waits_after_its_partner_ran(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Dehumidifier ran, now a little too dry: the humidifier waits out the lockout."""
    set_inputs(hass, "26.0", _rh_for_vpd(0.7, 26.0))
    await _setup(hass, actuators=("humidifier", "dehumidifier"))
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    await _pass(hass, freezer, 61)
    assert _on(hass, "dehumidifier")
    await _pass(hass, freezer, 61)
    set_inputs(hass, "26.0", _rh_for_vpd(1.25, 26.0))
    await hass.async_block_till_done()
    assert not _on(hass, "dehumidifier")
    assert not _on(hass, "humidifier")
    assert _climate(hass).attributes["humidifier"] == "interlock"
    await _pass(hass, freezer, 601)
    assert _on(hass, "humidifier")


def _strings() -> dict[str, Any]:
    strings: dict[str, Any] = json.loads(
        (Path(__file__).parents[3] / "custom_components/rala/strings.json").read_text()
    )
    return strings


def test_the_climates_exceptions_and_issue_are_translated() -> None:
    """The climate's exceptions and its repair issue exist in strings.json."""
    strings = _strings()
    assert {"inputs_unavailable", "humidity_out_of_range", "invalid_targets"} <= set(
        strings["exceptions"]
    )
    assert "actuator_unavailable" in strings["issues"]


async def test_every_attribute_and_its_values_are_translated(hass: HomeAssistant) -> None:
    """Every attribute the entity adds has a name, every value it can take a translation.

    With every kind of actuator mapped, the entity emits all of its attributes; the values
    they can take are the members of the enums the code uses.
    """
    await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {kind.value: {} for kind in ActuatorKind}}
    )
    set_inputs(hass)
    entry = zone_entry(**{kind.value: f"input_boolean.{kind.value}" for kind in ActuatorKind})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    component = hass.data[DATA_COMPONENT]
    entity = component.get_entity(CLIMATE)
    assert entity is not None
    emitted = set(entity.extra_state_attributes or {})
    values: dict[str, set[str]] = {
        ATTR_PERIOD: {period.value for period in Period},
        ATTR_REASON: {code.value for code in ReasonCode},
        **{kind.value: {code.value for code in ReasonCode} for kind in ActuatorKind},
    }
    assert emitted == {ATTR_CURRENT_VPD, ATTR_TARGET_VPD, ATTR_VPD_LOW, ATTR_VPD_HIGH} | set(values)
    translated = _strings()["entity"]["climate"]["zone_climate"]["state_attributes"]
    for attribute in emitted:
        assert translated[attribute]["name"], attribute
    for attribute, possible in values.items():
        assert set(translated[attribute]["state"]) == possible, attribute


async def test_mode_survives_a_reload(hass: HomeAssistant) -> None:
    """Changing the options reloads the zone: the controller keeps its mode."""
    set_inputs(hass)
    entry = await _setup(hass)
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.HEAT_COOL)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert _climate(hass).state == HVACMode.HEAT_COOL


# --- coalesced input updates ------------------------------------------------------------------


def _rh_with_water_of(rh: float, air: float, at: float) -> str:
    """The RH at ``air`` of the water that has ``rh`` at ``at`` (as a state string)."""
    vapour = psychrometrics.actual_vapour_pressure(at, rh)
    return f"{100 * vapour / psychrometrics.saturation_vapour_pressure(air):.1f}"


async def _humidity_pair_zone(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> str:
    """A zone with a humidifier and a dehumidifier only, in band at 26 °C and idle.

    Without a heater or cooler the humidity is judged at the air's own temperature. The
    next reading (22 °C) comes with the humidity that keeps the VPD at the target; the
    previous humidity with the new temperature would be far too humid (VPD about 0.73 kPa).
    Returns that next humidity.
    """
    set_inputs(hass, "26.0", _rh_for_vpd(1.0, 26.0))
    await _setup(hass, actuators=("humidifier", "dehumidifier"))
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.AUTO)
    await _pass(hass, freezer, 61)
    assert not _on(hass, "dehumidifier")
    assert not _on(hass, "humidifier")
    half = psychrometrics.vpd_leaf(22.0, float(_rh_for_vpd(1.0, 26.0)), leaf_offset_c=2.0)
    assert half < STAGE_TARGETS[GrowthStage.VEGETATIVE].vpd_low_kpa
    return _rh_for_vpd(1.0, 22.0)


async def test_temperature_and_humidity_of_one_turn_make_one_decision(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Both written in the same event-loop turn: the engine sees the pair, not half of it."""
    humidity = await _humidity_pair_zone(hass, freezer)
    hass.states.async_set(TEMPERATURE, "22.0", CELSIUS)
    hass.states.async_set(HUMIDITY, humidity, PERCENT)
    await hass.async_block_till_done()
    await _pass(hass, freezer, 2)
    assert not _on(hass, "dehumidifier")
    assert _climate(hass).attributes["dehumidifier"] == "not_needed"
    # Decided at 22 °C: the target humidity is the one that gives the target VPD there.
    assert _climate(hass).attributes["humidity"] == pytest.approx(float(humidity), abs=0.1)


async def test_a_reading_waits_up_to_a_second_for_its_partner(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The humidity follows the temperature 0.5 s later (two MQTT entities of one message):
    one decision on the pair. A temperature whose humidity never comes is decided on after
    the wait, with the humidity there is.

    The target humidity (the RH that gives the target VPD at the temperature decided on)
    tells which temperature the last decision saw.
    """
    humidity = await _humidity_pair_zone(hass, freezer)
    target_rh_at_26 = pytest.approx(float(_rh_for_vpd(1.0, 26.0)), abs=0.1)
    target_rh_at_22 = pytest.approx(float(humidity), abs=0.1)
    assert _climate(hass).attributes["humidity"] == target_rh_at_26
    hass.states.async_set(TEMPERATURE, "22.0", CELSIUS)
    await hass.async_block_till_done()
    assert _climate(hass).attributes["humidity"] == target_rh_at_26  # not decided yet
    # Half a second later (the harness's time-changed event would round up to the second).
    freezer.tick(timedelta(seconds=0.5))
    hass.states.async_set(HUMIDITY, humidity, PERCENT)
    await hass.async_block_till_done()
    assert _climate(hass).attributes["humidity"] == target_rh_at_22  # the pair
    await _pass(hass, freezer, 5)
    assert not _on(hass, "dehumidifier")
    # Back to 26 °C, but the humidity stays silent: decided on after the wait.
    hass.states.async_set(TEMPERATURE, "26.0", CELSIUS)
    await hass.async_block_till_done()
    assert _climate(hass).attributes["humidity"] == target_rh_at_22
    assert _climate(hass).attributes["humidifier"] == "not_needed"
    await _pass(hass, freezer, 1.01)
    assert _climate(hass).attributes["humidity"] == target_rh_at_26
    # The humidity of 22 °C at 26 °C is far too dry.
    assert _climate(hass).attributes["current_vpd"] > 1.25
    assert _climate(hass).attributes["humidifier"] == "too_dry"


async def test_an_unusable_reading_is_acted_on_at_once(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The temperature goes unavailable: the heater goes off in the same turn, no wait."""
    set_inputs(hass, "20.0", "50")
    await _setup(hass, actuators=("heater",))
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.HEAT)
    await _pass(hass, freezer, 61)
    assert _on(hass, "heater")
    hass.states.async_set(TEMPERATURE, "unavailable")
    await hass.async_block_till_done()
    assert not _on(hass, "heater")
    assert _climate(hass).attributes["reason"] == "inputs_missing"


# --- hard limits in mode off, minimum times from the options ----------------------------------


async def test_hard_limits_switch_off_in_mode_off_but_never_on(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Heater and humidifier left on by hand in "off": off at the hard limits (within their
    minimum on time); cooler, dehumidifier and exhaust fan stay off."""
    set_inputs(hass, "24.0", "50")
    await _setup(
        hass,
        initial_on=("heater", "humidifier"),
        options={CONF_MAX_TEMPERATURE: 30.0, CONF_MAX_HUMIDITY: 75.0, CONF_MIN_ON_TIME: 900},
    )
    await _pass(hass, freezer, 61)
    assert _on(hass, "heater")
    assert _on(hass, "humidifier")
    set_inputs(hass, "31.0", "50")
    await hass.async_block_till_done()
    assert not _on(hass, "heater")
    assert _on(hass, "humidifier")
    assert _climate(hass).attributes["heater"] == "over_max_temperature"
    set_inputs(hass, "25.0", "80")
    await hass.async_block_till_done()
    assert not _on(hass, "humidifier")
    assert not any(_on(hass, name) for name in ("cooler", "dehumidifier", "exhaust_fan"))
    assert _climate(hass).state == HVACMode.OFF


async def test_minimum_times_come_from_the_options(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A 300 s minimum off time holds the heater that long, not the default 60 s."""
    set_inputs(hass, "20.0", "50")
    await _setup(hass, actuators=("heater",), options={CONF_MIN_OFF_TIME: 300})
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.HEAT)
    await _pass(hass, freezer, 61)
    assert not _on(hass, "heater")
    assert _climate(hass).attributes["heater"] == "min_off"
    set_inputs(hass, "20.0", "50")
    await _pass(hass, freezer, 240)
    assert _on(hass, "heater")


async def test_light_schedule_anticipation_starts_the_day_early(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """No light entity, 18/6 from 06:00: at 05:40 the night targets hold (21 °C); from
    05:50 the day targets (26 °C) apply already and the heater starts, on the engine's own
    timer, with the readings unchanged."""
    start = dt_util.parse_datetime("2026-11-25 05:40:00")
    assert start is not None
    freezer.move_to(dt_util.as_utc(start.replace(tzinfo=dt_util.get_default_time_zone())))
    set_inputs(hass, "21.0", _rh_for_vpd(1.0, 21.0))
    await _setup(
        hass,
        actuators=("heater",),
        options={CONF_LIGHTS_ON_TIME: "06:00:00", CONF_PHOTOPERIOD: 18, CONF_MAX_INPUT_AGE: 3600},
    )
    await _call(hass, SERVICE_SET_HVAC_MODE, hvac_mode=HVACMode.HEAT)
    await _pass(hass, freezer, 61)
    state = _climate(hass)
    assert state.attributes["period"] == "night"
    assert state.attributes["temperature"] == 21.0
    assert not _on(hass, "heater")
    await _pass(hass, freezer, 540)  # 05:50:01
    assert _on(hass, "heater")
    assert _climate(hass).attributes["reason"] == "too_cold"
    assert _climate(hass).attributes["period"] == "night"


async def test_current_humidity_has_the_decimals_of_its_sensor(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """The dial shows the humidity as its sensor is shown: the user's display precision,
    else the integration's suggested one, else one decimal."""
    registry_entry = entity_registry.async_get_or_create(
        "sensor", "test", "tent_humidity", suggested_object_id="tent_humidity"
    )
    assert registry_entry.entity_id == HUMIDITY
    set_inputs(hass, "25.0", "47.2345")
    await _setup(hass, actuators=("heater",))
    assert _climate(hass).attributes["current_humidity"] == 47.2  # no display precision

    entity_registry.async_update_entity_options(
        HUMIDITY, "sensor", {"suggested_display_precision": 0}
    )
    set_inputs(hass, "25.0", "47.2346")
    await hass.async_block_till_done()
    assert _climate(hass).attributes["current_humidity"] == 47

    entity_registry.async_update_entity_options(
        HUMIDITY, "sensor", {"suggested_display_precision": 0, "display_precision": 2}
    )
    set_inputs(hass, "25.0", "47.2347")
    await hass.async_block_till_done()
    assert _climate(hass).attributes["current_humidity"] == 47.23
    # The zone computes with the full value.
    assert _climate(hass).attributes["current_vpd"] == round(
        psychrometrics.vpd_leaf(25.0, 47.2347, leaf_offset_c=2.0), 2
    )
