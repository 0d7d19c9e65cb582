"""The automation blueprints growers import: valid, and doing what they promise."""

import asyncio
from datetime import datetime, timedelta
import json
from pathlib import Path
import shutil
from typing import Any
from urllib.parse import quote

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import Blueprint
from homeassistant.const import EVENT_CALL_SERVICE, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    async_mock_service,
)

from .common import TEMPERATURE, set_inputs, zone_entry

IN_BAND, TOO_LOW = "60", "90"
"""Relative humidity at 25 °C for an in-band and a too-humid vegetative zone."""

ROOT = Path(__file__).parents[3]
BLUEPRINTS = ROOT / "blueprints" / "automation" / "rala"


@pytest.fixture(autouse=True)
def install_blueprints(hass: HomeAssistant, tmp_path: Path) -> None:
    """Put the blueprints where a grower's import puts them, in a private config dir."""
    hass.config.config_dir = str(tmp_path)
    shutil.copytree(BLUEPRINTS, hass.config.path("blueprints/automation/rala"))


async def _set_up(hass: HomeAssistant, blueprint: str, inputs: dict[str, object]) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"alert": {}, "relief": {}, "lamp": {}}}
    )
    assert await async_setup_component(hass, "input_text", {"input_text": {"message": {}}})
    assert await async_setup_component(
        hass,
        "automation",
        {"automation": {"use_blueprint": {"path": f"rala/{blueprint}", "input": inputs}}},
    )
    await hass.async_block_till_done()


@pytest.mark.parametrize("path", sorted(BLUEPRINTS.glob("*.yaml")), ids=lambda path: path.name)
def test_blueprint_is_valid(path: Path) -> None:
    """Every shipped blueprint passes Home Assistant's own automation blueprint schema."""
    blueprint = Blueprint(
        load_yaml(path), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.metadata["source_url"].endswith(f"blueprints/automation/rala/{path.name}")
    assert blueprint.metadata["homeassistant"]["min_version"] == "2026.10.0"
    # Inputs grouped in sections; the plural keys of current Home Assistant.
    assert all("input" in section for section in blueprint.metadata["input"].values())
    assert {"triggers", "actions"} <= set(blueprint.data)
    assert not {"trigger", "action", "condition"} & set(blueprint.data)


def _service_calls(events: list[Event[Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """The calls the automation made: domain, action and the data besides the target."""
    return [
        (
            event.data["domain"],
            event.data["service"],
            {key: value for key, value in event.data["service_data"].items() if key != "entity_id"},
        )
        for event in events
    ]


async def _set_up_zone(hass: HomeAssistant, humidity: str = "60") -> None:
    """A real grow zone from two sensors: 60 % RH at 25 °C is in band, 90 % too low."""
    set_inputs(hass, humidity=humidity)
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def _message(text: str) -> dict[str, Any]:
    return {
        "action": "input_text.set_value",
        "target": {"entity_id": "input_text.message"},
        "data": {"value": text},
    }


async def _step(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, humidity: str, minutes: float
) -> None:
    """The sensors report ``humidity`` (and 25 °C), then ``minutes`` pass."""
    set_inputs(hass, humidity=humidity)
    await _settle()
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    await _settle()


async def _settle() -> None:
    """Let the event loop run what is due.

    ``hass.async_block_till_done`` would wait for an automation run that waits for a
    trigger, for ever; HA core's tests of its bundled blueprints yield a few loop
    iterations instead, as here.
    """
    for _ in range(10):
        await asyncio.sleep(0)


async def test_vpd_out_of_band_alerts_once_and_relieves_only_after_an_alert(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A short excursion stays quiet at both ends; a long one alerts once, then relieves."""
    await _set_up_zone(hass)
    await _set_up(
        hass,
        "vpd_out_of_band.yaml",
        {
            "vpd_status": "sensor.tent_vpd_status",
            "duration": {"minutes": 10},
            "out_of_band_actions": [
                _message("{{ zone_name }}: VPD {{ zone_status_text }} ({{ zone_status }})")
            ],
            "back_in_range_actions": [_message("{{ zone_name }}: VPD {{ zone_status_text }}")],
        },
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)

    await _step(hass, freezer, "90", 5)
    await _step(hass, freezer, "60", 1)
    assert calls == []

    await _step(hass, freezer, "90", 6)
    # Too low, then too high: one excursion, its clock keeps running.
    await _step(hass, freezer, "20", 6)
    await _step(hass, freezer, "20", 6)
    assert _service_calls(calls) == [
        ("input_text", "set_value", {"value": "Tent: VPD Too high (too_high)"})
    ]
    await _step(hass, freezer, "60", 1)
    assert _service_calls(calls)[1:] == [
        ("input_text", "set_value", {"value": "Tent: VPD In range"})
    ]


async def test_vpd_out_of_band_ignores_a_silent_sensor(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Inputs that stop reporting make the status unavailable: no VPD alert for that."""
    await _set_up_zone(hass)
    await _set_up(
        hass,
        "vpd_out_of_band.yaml",
        {
            "vpd_status": "sensor.tent_vpd_status",
            "duration": {"minutes": 10},
            "out_of_band_actions": [_message("alert")],
        },
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    freezer.tick(timedelta(minutes=20))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.tent_vpd_status").state == STATE_UNAVAILABLE
    assert calls == []


@pytest.mark.parametrize(
    ("local_time", "expected"),
    [("2026-11-25 05:30:00", "off"), ("2026-11-25 12:00:00", "on"), ("2026-11-26 01:00:00", "off")],
)
async def test_light_schedule_follows_the_photoperiod(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, local_time: str, expected: str
) -> None:
    """18/6 from 06:00: on in the day, off in the dark hours, set right after a restart."""
    freezer.move_to(
        dt_util.as_utc(
            dt_util.parse_datetime(local_time).replace(tzinfo=dt_util.get_default_time_zone())
        )
    )
    await _set_up(
        hass,
        "light_schedule.yaml",
        {"lights": ["input_boolean.lamp"], "lights_on": "06:00:00", "photoperiod": 18},
    )
    if expected == "off":
        await hass.services.async_call(
            "input_boolean", "turn_on", {"entity_id": "input_boolean.lamp"}, blocking=True
        )
    freezer.tick(timedelta(minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.lamp").state == expected


def _local(text: str) -> datetime:
    moment = dt_util.parse_datetime(text)
    assert moment is not None
    return dt_util.as_utc(moment.replace(tzinfo=dt_util.get_default_time_zone()))


async def _at(hass: HomeAssistant, freezer: FrozenDateTimeFactory, local_time: str) -> None:
    freezer.move_to(_local(local_time))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


ADVANCE_INPUTS = {
    "growth_stage": "select.tent_growth_stage",
    "days_in_stage": "sensor.tent_days_in_stage",
    "from_stage": "vegetative",
    "at_time": "06:00:00",
}


async def test_advance_growth_stage_after_days_in_stage(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Vegetative → early flower at 06:00 on the second day in stage, once."""
    freezer.move_to(_local("2026-12-01 05:00:00"))
    await _set_up_zone(hass)
    await _set_up(hass, "advance_growth_stage.yaml", {**ADVANCE_INPUTS, "after_days": 2})
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    await _at(hass, freezer, "2026-12-01 06:00:00")
    await _at(hass, freezer, "2026-12-02 06:00:00")
    assert calls == []
    await _at(hass, freezer, "2026-12-03 05:59:00")
    assert calls == []
    await _at(hass, freezer, "2026-12-03 06:00:00")
    await _at(hass, freezer, "2026-12-04 06:00:00")
    entry_id = hass.config_entries.async_entries("rala")[0].entry_id
    assert _service_calls(calls) == [
        ("rala", "advance_growth_stage", {"config_entry_id": entry_id})
    ]
    assert hass.states.get("select.tent_growth_stage").state == "early_flower"


async def test_advance_growth_stage_on_a_date(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """With a date and no day count, the stage changes on that date."""
    freezer.move_to(_local("2026-12-01 05:00:00"))
    await _set_up_zone(hass)
    await _set_up(
        hass,
        "advance_growth_stage.yaml",
        {**ADVANCE_INPUTS, "after_days": 0, "on_date": "2026-12-03"},
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    await _at(hass, freezer, "2026-12-02 06:00:00")
    assert calls == []
    await _at(hass, freezer, "2026-12-03 06:00:00")
    assert [call.data["service"] for call in calls] == ["advance_growth_stage"]
    assert hass.states.get("select.tent_growth_stage").state == "early_flower"


@pytest.mark.parametrize(
    ("stage", "local_time", "expected"),
    [
        ("vegetative", "2026-11-25 19:00:00", "on"),
        ("early_flower", "2026-11-25 17:30:00", "on"),
        ("early_flower", "2026-11-25 19:00:00", "off"),
        ("late_flower", "2026-11-25 19:00:00", "off"),
        ("drying", "2026-11-25 12:00:00", "off"),
    ],
)
async def test_light_schedule_follows_the_growth_stage(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    stage: str,
    local_time: str,
    expected: str,
) -> None:
    """18/6 in veg, 12/12 in flower (from 06:00), dark while drying."""
    freezer.move_to(_local(local_time))
    await _set_up_zone(hass)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.tent_growth_stage", "option": stage},
        blocking=True,
    )
    await _set_up(
        hass,
        "light_schedule.yaml",
        {
            "lights": ["input_boolean.lamp"],
            "lights_on": "06:00:00",
            "photoperiod": 18,
            "growth_stage": "select.tent_growth_stage",
            "flower_photoperiod": 12,
        },
    )
    if expected == "off":
        await hass.services.async_call(
            "input_boolean", "turn_on", {"entity_id": "input_boolean.lamp"}, blocking=True
        )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    freezer.tick(timedelta(minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.lamp").state == expected
    # One switching by the schedule; homeassistant.turn_* hands it to the lamp's domain.
    assert [(call.data["domain"], call.data["service"]) for call in calls] == [
        ("homeassistant", f"turn_{expected}"),
        ("input_boolean", f"turn_{expected}"),
    ]


@pytest.mark.parametrize("path", sorted(BLUEPRINTS.glob("*.yaml")), ids=lambda path: path.name)
def test_every_blueprint_has_an_import_badge_and_a_guide_paragraph(path: Path) -> None:
    """The README's badge imports exactly the file's source_url; the guide explains it."""
    source_url = load_yaml(path)["blueprint"]["source_url"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    redirect = "https://my.home-assistant.io/redirect/blueprint_import/"
    badge_target = f"{redirect}?blueprint_url={quote(source_url, safe='')}"
    assert f"]({badge_target})" in readme
    assert source_url.startswith(_manifest()["documentation"] + "/blob/main/")
    guide = (ROOT / "docs" / "user-guide.md").read_text(encoding="utf-8")
    assert f"(`{path.name}`)" in guide


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(
        (ROOT / "custom_components" / "rala" / "manifest.json").read_text(encoding="utf-8")
    )
    return manifest


async def test_node_offline_alerts_after_the_duration_and_notices_the_return(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A hiccup stays quiet; an outage alerts once; the return follows only that alert."""
    connectivity = "binary_sensor.tent_pi_connectivity"
    hass.states.async_set(connectivity, "on", {"friendly_name": "Tent Pi Connectivity"})
    await _set_up(
        hass,
        "node_offline.yaml",
        {
            "connectivity": connectivity,
            "duration": {"minutes": 5},
            "offline_actions": [_message("{{ node_name }} offline")],
            "online_actions": [_message("{{ node_name }} online")],
        },
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)

    async def node(state: str, minutes: float) -> None:
        hass.states.async_set(connectivity, state, {"friendly_name": "Tent Pi Connectivity"})
        await _settle()
        freezer.tick(timedelta(minutes=minutes))
        async_fire_time_changed(hass)
        await _settle()

    await node("off", 3)
    await node("on", 1)
    assert calls == []
    await node("off", 6)
    await node("off", 60)
    assert _service_calls(calls) == [
        ("input_text", "set_value", {"value": "Tent Pi Connectivity offline"})
    ]
    await node("on", 1)
    assert _service_calls(calls)[1:] == [
        ("input_text", "set_value", {"value": "Tent Pi Connectivity online"})
    ]


async def test_exhaust_fan_runs_on_heat_or_humidity_with_hysteresis(
    hass: HomeAssistant,
) -> None:
    """On above either limit, off only below both minus the hysteresis, on when blind."""
    hass.states.async_set("sensor.air_temperature", "25", {"device_class": "temperature"})
    hass.states.async_set("sensor.air_humidity", "60", {"device_class": "humidity"})
    await _set_up(
        hass,
        "exhaust_fan.yaml",
        {
            "temperature": "sensor.air_temperature",
            "humidity": "sensor.air_humidity",
            "fan": "input_boolean.lamp",
            "max_temperature": 28,
            "max_humidity": 70,
            "temperature_hysteresis": 1,
            "humidity_hysteresis": 5,
        },
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)

    async def air(temperature: str, humidity: str) -> list[str]:
        # Humidity first, then temperature: each report is one evaluation.
        hass.states.async_set("sensor.air_humidity", humidity)
        await hass.async_block_till_done()
        hass.states.async_set("sensor.air_temperature", temperature)
        await hass.async_block_till_done()
        switched = [
            call.data["service"] for call in calls if call.data["domain"] == "homeassistant"
        ]
        calls.clear()
        return switched

    assert await air("25", "61") == []
    assert await air("28.5", "61") == ["turn_on"]
    assert await air("27.5", "61") == []  # within the hysteresis: keeps running
    assert await air("26.5", "72") == []  # too humid now
    assert await air("26.5", "64") == ["turn_off"]
    assert await air("26.5", STATE_UNAVAILABLE) == ["turn_on"]
    assert hass.states.get("input_boolean.lamp").state == "on"


async def test_condensation_risk_alerts_once_per_approach(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Leaf within the margin of the zone's dew point for the duration: one alert."""
    await _set_up_zone(hass)  # 25 °C, 60 %: dew point 16.7 °C
    leaf = "sensor.canopy_leaf_temperature"
    hass.states.async_set(leaf, "23.0", {"device_class": "temperature"})
    await _set_up(
        hass,
        "condensation_risk.yaml",
        {
            "dew_point": "sensor.tent_dew_point",
            "leaf_temperature": leaf,
            "margin": 2,
            "duration": {"minutes": 5},
            "risk_actions": [_message("{{ zone_name }}: {{ headroom }} °C above the dew point")],
        },
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)

    async def leaf_at(temperature: str, minutes: float) -> None:
        set_inputs(hass)  # the zone's sensors keep reporting
        hass.states.async_set(leaf, temperature, {"device_class": "temperature"})
        await hass.async_block_till_done()
        freezer.tick(timedelta(minutes=minutes))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()

    await leaf_at("18.0", 3)  # close, but not for long
    await leaf_at("20.0", 1)
    assert calls == []
    await leaf_at("18.0", 6)
    await leaf_at("17.5", 6)  # still close: no second alert
    assert _service_calls(calls) == [
        ("input_text", "set_value", {"value": "Tent: 1.3 °C above the dew point"})
    ]
    hass.states.async_set(leaf, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    await leaf_at("20.0", 1)
    await leaf_at("18.0", 6)  # a new approach alerts again
    assert len(calls) == 2


async def test_humidity_to_vpd_band_switches_with_hysteresis_and_stops_when_blind(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Dry air humidifies to the middle, humid air dehumidifies; silence switches both off."""
    vpd = "sensor.tent_leaf_vpd_reading"
    hass.states.async_set(vpd, "1.0", {"device_class": "pressure"})
    await _set_up(
        hass,
        "humidity_to_vpd_band.yaml",
        {
            "vpd": vpd,
            "band_low": 0.8,
            "band_high": 1.2,
            "max_age": {"minutes": 15},
            "humidifier": ["input_boolean.alert"],
            "dehumidifier": ["input_boolean.relief"],
        },
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)

    async def vpd_at(value: str) -> list[tuple[str, str]]:
        hass.states.async_set(vpd, value, {"device_class": "pressure"})
        await hass.async_block_till_done()
        switched = [
            (call.data["service"], call.data["service_data"]["entity_id"][0])
            for call in calls
            if call.data["domain"] == "homeassistant"
        ]
        calls.clear()
        return switched

    humidifier, dehumidifier = "input_boolean.alert", "input_boolean.relief"
    assert await vpd_at("1.1") == []
    assert await vpd_at("1.3") == [("turn_on", humidifier)]
    assert await vpd_at("1.05") == []  # above the middle (1.0): keeps humidifying
    assert await vpd_at("0.95") == [("turn_off", humidifier)]
    assert await vpd_at("0.7") == [("turn_on", dehumidifier)]
    assert await vpd_at("1.1") == [("turn_off", dehumidifier)]
    assert await vpd_at("1.4") == [("turn_on", humidifier)]
    # The sensor goes silent: its last value still says "dry", the humidifier stops.
    freezer.tick(timedelta(minutes=16))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert [call.data["service"] for call in calls if call.data["domain"] == "homeassistant"] == [
        "turn_off"
    ]
    assert hass.states.get(humidifier).state == "off"
    calls.clear()
    assert await vpd_at(STATE_UNAVAILABLE) == []


async def test_zone_alert_notifies_the_phone_once_with_cooldown_and_snooze(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, device_registry: dr.DeviceRegistry
) -> None:
    """One notification per excursion, none within the cooldown or an hour after snooze."""
    phone_app = MockConfigEntry(domain="mobile_app")
    phone_app.add_to_hass(hass)
    phone = device_registry.async_get_or_create(
        config_entry_id=phone_app.entry_id, identifiers={("mobile_app", "pixel")}, name="Pixel"
    )
    # The phone cannot exist here: its notify action is a recording stand-in.
    notifications = async_mock_service(hass, "notify", "mobile_app_pixel")
    await _set_up_zone(hass)
    await _set_up(
        hass,
        "zone_alert.yaml",
        {
            "climate": "climate.tent",
            "vpd_status": "sensor.tent_vpd_status",
            "temperature_tolerance": 1.5,
            "duration": {"minutes": 15},
            "notify_device": phone.id,
            "cooldown": {"minutes": 30},
            "dashboard_path": "/rala-grow/tent",
        },
    )

    async def humidity_for(humidity: str, minutes: int) -> None:
        for _ in range(minutes // 5):  # the zone's sensors keep reporting
            await _step(hass, freezer, humidity, 5)

    await humidity_for(TOO_LOW, 10)
    await humidity_for(IN_BAND, 5)
    assert notifications == []
    await humidity_for(TOO_LOW, 20)
    assert len(notifications) == 1
    alert = notifications[0].data
    assert alert["title"] == "Tent"
    assert alert["message"] == "Tent: VPD Too low"
    snooze, open_dashboard = alert["data"]["actions"]
    assert snooze["title"] == "Snooze 1 h"
    assert open_dashboard == {"action": "URI", "title": "Open", "uri": "/rala-grow/tent"}

    # Back and out again within the cooldown: quiet. After it: the next alert.
    await humidity_for(IN_BAND, 5)
    await humidity_for(TOO_LOW, 20)
    assert len(notifications) == 1
    await humidity_for(IN_BAND, 30)
    await humidity_for(TOO_LOW, 20)
    assert len(notifications) == 2

    # Snoozed from the phone: an hour of quiet from the press, longer than the cooldown.
    hass.bus.async_fire("mobile_app_notification_action", {"action": snooze["action"]})
    await _settle()
    await humidity_for(IN_BAND, 25)
    await humidity_for(TOO_LOW, 20)  # 45 min after the press: past the cooldown
    assert len(notifications) == 2
    await humidity_for(IN_BAND, 20)
    await humidity_for(TOO_LOW, 20)
    assert len(notifications) == 3


async def test_light_schedule_fades_dimmable_lights_and_switches_switches(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """At lights-on a light fades in over the ramp; a switch (a plug) just switches."""
    freezer.move_to(_local("2026-11-25 05:59:00"))
    hass.states.async_set("light.grow_led", "off")
    # No dimmable light exists in the harness: a stand-in records the call and is on.
    light_calls: list[ServiceCall] = []

    async def light_turn_on(call: ServiceCall) -> None:
        light_calls.append(call)
        hass.states.async_set("light.grow_led", "on")

    hass.services.async_register("light", "turn_on", light_turn_on)
    await _set_up(
        hass,
        "light_schedule.yaml",
        {
            "lights": ["light.grow_led", "input_boolean.lamp"],
            "lights_on": "06:00:00",
            "photoperiod": 18,
            "ramp": 20,
        },
    )
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    await _at(hass, freezer, "2026-11-25 06:00:00")
    assert [call.data for call in light_calls] == [
        {"entity_id": ["light.grow_led"], "transition": 1200.0}
    ]
    assert [(call.data["domain"], call.data["service"]) for call in calls] == [
        ("homeassistant", "turn_on"),
        ("input_boolean", "turn_on"),
        ("light", "turn_on"),
    ]
