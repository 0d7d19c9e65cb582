"""Grow triggers and the grow condition, as automations use them."""

from __future__ import annotations

from typing import Any

from homeassistant.const import EVENT_CALL_SERVICE, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import condition, config_validation as cv, trigger
from homeassistant.helpers.condition import async_validate_condition_config
from homeassistant.helpers.trigger import async_validate_trigger_config
from homeassistant.setup import async_setup_component
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.rala.condition import CONDITIONS
from custom_components.rala.growth_stages import GrowthStage
from custom_components.rala.trigger import TRIGGERS
from custom_components.rala.zone import GrowZone

from .common import TEMPERATURE, set_inputs, zone_entry

IN_BAND, TOO_LOW, TOO_HIGH = "60", "90", "20"
"""Relative humidity at 25 °C for each VPD status of a vegetative zone."""


async def _zone(hass: HomeAssistant, humidity: str = IN_BAND) -> MockConfigEntry:
    set_inputs(hass, humidity=humidity)
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _automation(
    hass: HomeAssistant, triggers: list[dict[str, Any]], conditions: list[dict[str, Any]] = ()
) -> list[Event[Any]]:
    """An automation writing what fired into input_text.fired; returns the calls it makes."""
    assert await async_setup_component(hass, "input_text", {"input_text": {"fired": {}}})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": triggers,
                "conditions": list(conditions),
                "actions": [
                    {
                        "action": "input_text.set_value",
                        "target": {"entity_id": "input_text.fired"},
                        "data": {
                            "value": "{{ trigger.zone_name }} {{ trigger.from }}>{{ trigger.to }}"
                        },
                    }
                ],
            }
        },
    )
    await hass.async_block_till_done()
    return async_capture_events(hass, EVENT_CALL_SERVICE)


async def _validate_trigger(hass: HomeAssistant, config: dict[str, Any]) -> dict[str, Any]:
    """Validate a trigger as an automation's configuration is validated."""
    validated: list[dict[str, Any]] = await async_validate_trigger_config(
        hass, cv.TRIGGER_SCHEMA([config])
    )
    return validated[0]


def _fired(calls: list[Event[Any]]) -> list[str]:
    return [call.data["service_data"]["value"] for call in calls]


async def _humidity(hass: HomeAssistant, humidity: str) -> None:
    set_inputs(hass, humidity=humidity)
    await hass.async_block_till_done()


async def test_left_and_back_in_band_fire_on_the_zones_vpd_status(hass: HomeAssistant) -> None:
    """Each leaves and returns once; a swing out of band and silent sensors fire nothing."""
    entry = await _zone(hass)
    calls = await _automation(
        hass,
        [
            {"trigger": "rala.left_band", "options": {"zone": entry.entry_id}},
            {"trigger": "rala.back_in_band", "options": {"zone": entry.entry_id}},
        ],
    )
    await _humidity(hass, TOO_LOW)
    await _humidity(hass, TOO_HIGH)
    await _humidity(hass, IN_BAND)
    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    await _humidity(hass, IN_BAND)
    assert _fired(calls) == ["Tent in_range>too_low", "Tent too_high>in_range"]


async def test_a_zone_loading_out_of_band_is_a_baseline(hass: HomeAssistant) -> None:
    """A restart (or reload) while the zone is out of band does not fire "left its band"."""
    entry = await _zone(hass, TOO_HIGH)
    calls = await _automation(
        hass, [{"trigger": "rala.left_band", "options": {"zone": entry.entry_id}}]
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await _humidity(hass, TOO_LOW)
    assert calls == []
    # The reloaded zone is followed: in band and out again fires.
    await _humidity(hass, IN_BAND)
    await _humidity(hass, TOO_HIGH)
    assert _fired(calls) == ["Tent in_range>too_high"]


async def test_an_automation_set_up_before_the_zone_follows_it(hass: HomeAssistant) -> None:
    """Automations load before integrations after a restart; the trigger waits for the zone."""
    set_inputs(hass, humidity=IN_BAND)
    entry = zone_entry()
    entry.add_to_hass(hass)
    calls = await _automation(
        hass, [{"trigger": "rala.left_band", "options": {"zone": entry.entry_id}}]
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await _humidity(hass, TOO_LOW)
    assert _fired(calls) == ["Tent in_range>too_low"]


async def test_growth_stage_changed_to_the_chosen_stages(hass: HomeAssistant) -> None:
    """Only changes to a listed stage fire; without a list, every change does."""
    entry = await _zone(hass)
    zone: GrowZone = entry.runtime_data.zone
    calls = await _automation(
        hass,
        [
            {
                "trigger": "rala.growth_stage_changed",
                "options": {"zone": entry.entry_id, "to": ["early_flower"]},
            }
        ],
    )
    zone.async_set_growth_stage(GrowthStage.SEEDLING)
    zone.async_set_growth_stage(GrowthStage.EARLY_FLOWER)
    # Targets changing without a stage change fire nothing.
    zone.async_set_targets(night_vpd=0.9)
    await hass.async_block_till_done()
    assert _fired(calls) == ["Tent seedling>early_flower"]


async def test_in_band_condition_is_the_zones_vpd_status(hass: HomeAssistant) -> None:
    """The automation runs while the zone is in band, not while too low or unavailable."""
    entry = await _zone(hass)
    calls = await _automation(
        hass,
        [{"trigger": "event", "event_type": "check"}],
        [{"condition": "rala.in_band", "options": {"zone": entry.entry_id}}],
    )
    hass.bus.async_fire("check")
    await hass.async_block_till_done()
    await _humidity(hass, TOO_LOW)
    hass.bus.async_fire("check")
    await hass.async_block_till_done()
    hass.states.async_set(TEMPERATURE, STATE_UNAVAILABLE)
    await hass.async_block_till_done()
    hass.bus.async_fire("check")
    await hass.async_block_till_done()
    assert len(calls) == 1


async def test_in_band_condition_is_false_for_an_unloaded_zone(hass: HomeAssistant) -> None:
    """A zone that is not loaded is not in band (its last values are not trusted)."""
    entry = await _zone(hass)
    calls = await _automation(
        hass,
        [{"trigger": "event", "event_type": "check"}],
        [{"condition": "rala.in_band", "options": {"zone": entry.entry_id}}],
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.bus.async_fire("check")
    await hass.async_block_till_done()
    assert calls == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "required key not provided"),
        ({"zone": "no-such-entry"}, "is not the config entry of a RALA grow zone"),
        ({"zone": 42}, "named by its config entry id"),
        ({"zone": "ENTRY", "colour": "green"}, "not a valid option"),
    ],
)
async def test_trigger_validation_errors(
    hass: HomeAssistant, options: dict[str, Any], message: str
) -> None:
    """A wrong zone or an unknown option is refused with a message saying which."""
    entry = await _zone(hass)
    options = {key: entry.entry_id if value == "ENTRY" else value for key, value in options.items()}
    for key in ("left_band", "back_in_band", "growth_stage_changed"):
        with pytest.raises(probatio.Invalid, match=message):
            await _validate_trigger(hass, {"trigger": f"rala.{key}", "options": options})


async def test_a_zone_of_another_integration_is_refused(hass: HomeAssistant) -> None:
    """The config entry id of, say, MQTT is not a grow zone."""
    other = MockConfigEntry(domain="input_text")
    other.add_to_hass(hass)
    with pytest.raises(probatio.Invalid, match="not the config entry of a RALA grow zone"):
        await _validate_trigger(
            hass, {"trigger": "rala.left_band", "options": {"zone": other.entry_id}}
        )


async def test_stage_trigger_refuses_an_unknown_stage(hass: HomeAssistant) -> None:
    """``to`` lists growth stages by their keys."""
    entry = await _zone(hass)
    with pytest.raises(probatio.Invalid, match="to"):
        await _validate_trigger(
            hass,
            {
                "trigger": "rala.growth_stage_changed",
                "options": {"zone": entry.entry_id, "to": ["bloom"]},
            },
        )
    valid = await _validate_trigger(
        hass,
        {
            "trigger": "rala.growth_stage_changed",
            "options": {"zone": entry.entry_id, "to": "drying"},
        },
    )
    assert valid["options"]["to"] == ["drying"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "required key not provided"),
        ({"zone": "no-such-entry"}, "is not the config entry of a RALA grow zone"),
        ({"zone": "ENTRY", "for": 5}, "not a valid option"),
    ],
)
async def test_condition_validation_errors(
    hass: HomeAssistant, options: dict[str, Any], message: str
) -> None:
    """The condition names a RALA zone and nothing else."""
    entry = await _zone(hass)
    options = {key: entry.entry_id if value == "ENTRY" else value for key, value in options.items()}
    with pytest.raises(probatio.Invalid, match=message):
        await async_validate_condition_config(
            hass, {"condition": "rala.in_band", "options": options}
        )


async def test_the_ui_gets_described_fields_for_every_trigger_and_condition(
    hass: HomeAssistant,
) -> None:
    """triggers.yaml and conditions.yaml pass HA's description schema, one per class."""
    await _zone(hass)
    assert await async_setup_component(hass, "automation", {})
    await hass.async_block_till_done()
    triggers = await trigger.async_get_all_descriptions(hass)
    conditions = await condition.async_get_all_descriptions(hass)
    described = {key for key in triggers if key.startswith("rala.")}
    assert described == {f"rala.{key}" for key in TRIGGERS}
    assert {key for key in conditions if key.startswith("rala.")} == {
        f"rala.{key}" for key in CONDITIONS
    }
    for key in described:
        assert triggers[key]["fields"]["zone"]["selector"] == {
            "config_entry": {"integration": "rala"}
        }
    stage_selector = triggers["rala.growth_stage_changed"]["fields"]["to"]["selector"]
    assert stage_selector["select"]["options"] == [stage.value for stage in GrowthStage]
