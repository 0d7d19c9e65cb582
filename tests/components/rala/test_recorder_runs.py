"""What the adapter to the recorder's statistics runs relies on, with HA's real recorder.

The adapter (``recorder_runs``) reads a table of the recorder because no public API says
which hours are compiled. These tests fail when the recorder changes what it relies on:
the table and its query, and the statistics run an hour is compiled in.
"""

from datetime import timedelta
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.components.recorder.tasks import StatisticsTask
from homeassistant.const import EVENT_RECORDER_HOURLY_STATISTICS_GENERATED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest

from custom_components.rala.recorder_runs import async_last_compiled_hour

SENSOR = "sensor.canopy_temperature"


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass`` (autouse fixtures request it early)."""


async def _statistics_run(hass: HomeAssistant, start: Any) -> None:
    """One statistics run of the recorder, as its 5-minute timer queues it (with events)."""
    get_instance(hass).queue_task(StatisticsTask(start, True))
    await hass.async_block_till_done()
    await hass.async_add_executor_job(get_instance(hass).block_till_done)
    await hass.async_block_till_done()


async def _hourly_rows(hass: HomeAssistant, hour: Any) -> list[Any]:
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        hour,
        hour + timedelta(hours=1),
        {SENSOR},
        "hour",
        None,
        {"mean"},
    )
    return list(result.get(SENSOR, []))


async def test_an_hour_is_compiled_in_the_run_at_55_minutes(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    """The run at H:50 leaves hour H uncompiled; the run at H:55 compiles it, and says so."""
    # The sensor integration's recorder platform compiles the statistics of sensors.
    assert await async_setup_component(hass, "sensor", {})
    hass.states.async_set(
        SENSOR, "24.5", {"unit_of_measurement": "°C", "state_class": "measurement"}
    )
    hourly_events: list[Event] = []

    @callback
    def hourly(event: Event) -> None:
        hourly_events.append(event)

    hass.bus.async_listen(EVENT_RECORDER_HOURLY_STATISTICS_GENERATED, hourly)
    await hass.async_block_till_done()
    # An hour after every run so far (a new database records one at once).
    hour = dt_util.utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert (before := await async_last_compiled_hour(hass)) is not None
    assert before < hour

    await _statistics_run(hass, hour + timedelta(minutes=50))
    assert await async_last_compiled_hour(hass) == hour - timedelta(hours=1)
    assert await _hourly_rows(hass, hour) == []
    assert hourly_events == []

    await _statistics_run(hass, hour + timedelta(minutes=55))
    assert await async_last_compiled_hour(hass) == hour
    assert [row["mean"] for row in await _hourly_rows(hass, hour)] == [pytest.approx(24.5)]
    assert len(hourly_events) == 1
