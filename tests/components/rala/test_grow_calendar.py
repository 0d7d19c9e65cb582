"""The grow calendar: days in stage and since start, local midnight, restarts, the action."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.rala.const import DOMAIN
from custom_components.rala.grow_calendar import next_stage
from custom_components.rala.growth_stages import GrowthStage
from custom_components.rala.services import SERVICE_ADVANCE_GROWTH_STAGE
from custom_components.rala.zone import GrowZone

from .common import set_inputs, zone_entry

TIME_ZONE = "Pacific/Auckland"
"""UTC+13 in December: local midnight is 11:00 UTC."""


@pytest.fixture(autouse=True)
async def local_time_zone(hass: HomeAssistant) -> None:
    """Home Assistant runs in a time zone far from UTC."""
    await hass.config.async_set_time_zone(TIME_ZONE)


def _local(text: str) -> datetime:
    moment = dt_util.parse_datetime(text)
    assert moment is not None
    return moment.replace(tzinfo=dt_util.get_time_zone(TIME_ZONE))


async def _zone(hass: HomeAssistant, entry: MockConfigEntry | None = None) -> MockConfigEntry:
    set_inputs(hass)
    entry = entry or zone_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _days(hass: HomeAssistant) -> tuple[str, str]:
    """The two counts, as freshly computed (not only as last written)."""
    assert await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant",
        "update_entity",
        {"entity_id": ["sensor.tent_days_in_stage", "sensor.tent_days_since_start"]},
        blocking=True,
    )
    return (
        hass.states.get("sensor.tent_days_in_stage").state,
        hass.states.get("sensor.tent_days_since_start").state,
    )


async def _pass(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_days_change_at_local_midnight(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Midnight UTC is not a new day in Auckland; midnight in Auckland is."""
    freezer.move_to(_local("2026-12-01 12:50:00"))  # 23:50 UTC
    await _zone(hass)
    assert await _days(hass) == ("0", "0")
    await _pass(hass, freezer, timedelta(minutes=15))  # 00:05 UTC, 13:05 local
    assert await _days(hass) == ("0", "0")
    await _pass(hass, freezer, timedelta(hours=10, minutes=50))  # 23:55 local
    assert await _days(hass) == ("0", "0")
    await _pass(hass, freezer, timedelta(minutes=10))  # 00:05 local, 2 December
    # Written by the calendar itself at local midnight, without anyone asking.
    assert hass.states.get("sensor.tent_days_in_stage").state == "1"
    assert await _days(hass) == ("1", "1")


async def test_a_new_stage_starts_today_a_seedling_starts_a_new_grow(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Days in stage restart with each stage; days since start only with seedling."""
    freezer.move_to(_local("2026-12-01 08:00:00"))
    entry = await _zone(hass)
    zone: GrowZone = entry.runtime_data.zone
    await _pass(hass, freezer, timedelta(days=10))
    zone.async_set_growth_stage(GrowthStage.EARLY_FLOWER)
    await hass.async_block_till_done()
    assert await _days(hass) == ("0", "10")
    # Targets changing within a stage do not restart it.
    zone.async_set_targets(night_vpd=0.9)
    await _pass(hass, freezer, timedelta(days=2))
    assert await _days(hass) == ("2", "12")
    zone.async_set_growth_stage(GrowthStage.SEEDLING)
    await hass.async_block_till_done()
    assert await _days(hass) == ("0", "0")


async def test_the_calendar_survives_a_restart(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The restored stage is the same stage: its days keep counting from its first day."""
    freezer.move_to(_local("2026-12-01 08:00:00"))
    entry = await _zone(hass)
    entry.runtime_data.zone.async_set_growth_stage(GrowthStage.LATE_FLOWER)
    await _pass(hass, freezer, timedelta(days=3))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await _pass(hass, freezer, timedelta(days=1))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.zone.growth_stage is GrowthStage.LATE_FLOWER
    assert await _days(hass) == ("4", "4")


async def test_unreadable_stored_dates_start_a_new_calendar(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged file is reported and replaced, not trusted."""
    entry = zone_entry()
    hass_storage[f"{DOMAIN}.grow_calendar.{entry.entry_id}"] = {
        "version": 1,
        "key": f"{DOMAIN}.grow_calendar.{entry.entry_id}",
        "data": {"stage": "bloom", "stage_started": "yesterday"},
    }
    await _zone(hass, entry)
    assert await _days(hass) == ("0", "0")
    assert "starts anew" in caplog.text


async def test_removing_the_zone_deletes_its_calendar(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Nothing of a deleted zone stays behind."""
    entry = await _zone(hass)
    key = f"{DOMAIN}.grow_calendar.{entry.entry_id}"
    assert hass_storage[key]["data"]["stage"] == "vegetative"
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_advance_growth_stage_moves_to_the_next_stage(hass: HomeAssistant) -> None:
    """Vegetative → early flower with its targets; drying has no next stage."""
    entry = await _zone(hass)
    zone: GrowZone = entry.runtime_data.zone
    await hass.services.async_call(
        DOMAIN, SERVICE_ADVANCE_GROWTH_STAGE, {"config_entry_id": entry.entry_id}, blocking=True
    )
    assert zone.growth_stage is GrowthStage.EARLY_FLOWER
    zone.async_set_growth_stage(GrowthStage.DRYING)
    targets = zone.targets
    with pytest.raises(ServiceValidationError) as error:
        await hass.services.async_call(
            DOMAIN,
            SERVICE_ADVANCE_GROWTH_STAGE,
            {"config_entry_id": entry.entry_id},
            blocking=True,
        )
    assert error.value.translation_key == "last_stage"
    assert zone.growth_stage is GrowthStage.DRYING
    assert zone.targets == targets


def test_next_stage_follows_a_grow() -> None:
    """The order of a grow, and nothing after drying."""
    assert [next_stage(stage) for stage in GrowthStage] == [
        GrowthStage.VEGETATIVE,
        GrowthStage.EARLY_FLOWER,
        GrowthStage.LATE_FLOWER,
        GrowthStage.DRYING,
        None,
    ]
