"""The automation blueprints growers import: valid, and doing what they promise."""

from datetime import timedelta
from pathlib import Path
import shutil

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import Blueprint
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

BLUEPRINTS = Path(__file__).parents[3] / "blueprints" / "automation" / "rala"


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


async def test_vpd_out_of_band_waits_for_the_duration(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A short excursion stays quiet; a long one alerts; back in range runs the relief."""
    hass.states.async_set("sensor.tent_vpd_status", "in_range")
    await _set_up(
        hass,
        "vpd_out_of_band.yaml",
        {
            "vpd_status": "sensor.tent_vpd_status",
            "duration": {"minutes": 10},
            "out_of_band_actions": [
                {"action": "input_boolean.turn_on", "target": {"entity_id": "input_boolean.alert"}}
            ],
            "back_in_range_actions": [
                {"action": "input_boolean.turn_on", "target": {"entity_id": "input_boolean.relief"}}
            ],
        },
    )

    hass.states.async_set("sensor.tent_vpd_status", "too_high")
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    hass.states.async_set("sensor.tent_vpd_status", "in_range")
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.alert").state == "off"

    hass.states.async_set("sensor.tent_vpd_status", "too_low")
    freezer.tick(timedelta(minutes=11))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.alert").state == "on"

    hass.states.async_set("sensor.tent_vpd_status", "in_range")
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.relief").state == "on"


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
