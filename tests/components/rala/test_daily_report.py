"""The daily grow report blueprint, with Home Assistant's real recorder and statistics."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.tasks import StatisticsTask
from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
)

from .common import HUMIDITY, PERCENT, set_inputs, zone_entry

BLUEPRINTS = Path(__file__).parents[3] / "blueprints" / "automation" / "rala"
TEMPERATURE_WITH_STATISTICS = {
    "unit_of_measurement": "°C",
    "device_class": "temperature",
    "state_class": "measurement",
}
HEATER_SWITCHINGS = "sensor.tent_heater_switchings"
HEATER_ENERGY = "sensor.heater_plug_energy"


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass`` (autouse fixtures request it early)."""


async def _compile(hass: HomeAssistant, start: datetime) -> None:
    """The recorder's statistics run for the 5-minute period at ``start``."""
    await hass.async_block_till_done()
    get_instance(hass).queue_task(StatisticsTask(start, True))
    await hass.async_block_till_done()
    await hass.async_add_executor_job(get_instance(hass).block_till_done)
    await hass.async_block_till_done()


def _install_blueprints(config_dir: Path) -> None:
    shutil.copytree(BLUEPRINTS, config_dir / "blueprints" / "automation" / "rala")


async def test_daily_report_sums_up_the_last_24_hours(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """In band shares, min/max temperature, switchings and energy, in one report."""
    hass.config.config_dir = str(tmp_path)
    _install_blueprints(tmp_path)
    start = dt_util.as_utc(datetime(2026, 12, 1, 12, 0, tzinfo=dt_util.get_default_time_zone()))
    freezer.move_to(start)
    set_inputs(hass)
    entry = zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert await async_setup_component(hass, "input_text", {"input_text": {"report": {"max": 255}}})
    await hass.async_block_till_done()

    # One hour of readings: 22.0 … 25.5 °C, the heater switched 3 times and used 0.4 kWh.
    temperatures = [22.0, 23.0, 25.5, 24.0, 23.5, 24.5]
    for step, temperature in enumerate(temperatures):
        freezer.move_to(start + timedelta(minutes=10 * step))
        hass.states.async_set(
            "sensor.tent_temperature", str(temperature), TEMPERATURE_WITH_STATISTICS
        )
        hass.states.async_set(HUMIDITY, "60", PERCENT)
        hass.states.async_set(
            HEATER_SWITCHINGS,
            str(min(step, 3)),
            {"state_class": "total_increasing", "friendly_name": "Heater switchings"},
        )
        hass.states.async_set(
            HEATER_ENERGY,
            str(10 + 0.08 * step),
            {
                "state_class": "total_increasing",
                "device_class": "energy",
                "unit_of_measurement": "kWh",
            },
        )
        await hass.async_block_till_done()
        for period in (0, 5):
            freezer.move_to(start + timedelta(minutes=10 * step + period + 4))
            await _compile(hass, start + timedelta(minutes=10 * step + period))

    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "rala/daily_report.yaml",
                    "input": {
                        "vpd_in_band": "sensor.tent_vpd_in_band_24_h",
                        "temperature_in_band": "sensor.tent_temperature_in_band_24_h",
                        "temperature": "sensor.tent_temperature",
                        "switchings": [HEATER_SWITCHINGS],
                        "energy": [HEATER_ENERGY],
                        "at_time": "21:00:00",
                        "report_actions": [
                            {
                                "action": "input_text.set_value",
                                "target": {"entity_id": "input_text.report"},
                                "data": {"value": "{{ report }}"},
                            }
                        ],
                    },
                }
            }
        },
    )
    await hass.async_block_till_done()
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    freezer.move_to(start + timedelta(hours=9))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    await hass.async_add_executor_job(get_instance(hass).block_till_done)
    await hass.async_block_till_done()

    assert [(call.data["domain"], call.data["service"]) for call in calls] == [
        ("recorder", "get_statistics"),
        ("input_text", "set_value"),
    ]
    vpd = round(float(hass.states.get("sensor.tent_vpd_in_band_24_h").state))
    temperature = round(float(hass.states.get("sensor.tent_temperature_in_band_24_h").state))
    assert hass.states.get("input_text.report").state == (
        f"Tent, last 24 h: VPD in band {vpd} %, temperature in band {temperature} %, "
        "temperature 22.0 to 25.5 °C, Heater switchings: 3, 0.4 kWh"
    )
