"""Smoke test of the backfill benchmark (bench/backfill_bench.py): a day at 600 s.

Proves the wiring the benchmark relies on, not its time: the agent's backlog reaches the
recorder's hourly statistics through the broker, every hour, with nothing lost or counted
twice, and the direct import fills the same hours.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from bench.backfill_bench import BackfillSession, figures, merge_into, render
from bench.run_backfill import account_hour, async_measure
from edge_agent.sensors import Reading
from tests.mosquitto import Mosquitto

pytestmark = [pytest.mark.mqtt]


@pytest.fixture
def persistent_database() -> bool:
    """The recorder on an SQLite file, as in the benchmark."""
    return True


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass``."""


@pytest.mark.usefixtures("recorder_mock", "enable_custom_integrations")
async def test_a_day_of_readings(hass: HomeAssistant, mosquitto: Mosquitto, tmp_path: Path) -> None:
    """144 readings: 24 hours imported on both paths, none lost, none duplicated."""
    session = BackfillSession(days=1, interval=600, timeout=60)

    await async_measure(hass, mosquitto, tmp_path, session)

    assert (session.readings, session.hours, session.batches) == (144, 24, 1)
    for result in (session.rala, session.anchor):
        assert result is not None
        assert (result.readings_lost, result.readings_duplicated) == (0, 0)
        assert result.hours_imported == 24
        assert result.wall_s > 0
    report = render(session, "bench/backfill_bench.py", "test")
    assert "| RALA backfill |" in report
    assert "| direct recorder import |" in report
    assert figures(session)["rala_hours_imported"] == 24
    assert merge_into("# Benchmarks\n", report).count("## Backfill") == 1


def test_accounting_tells_lost_from_duplicated() -> None:
    """A missing row loses its hour; readings of a batch missing or sent twice are found."""
    start = datetime(2026, 11, 20, tzinfo=UTC)
    readings = [
        Reading("canopy", 20.0 + index * 0.37 % 3, 50.0 + index * 1.9 % 7, 1000.0, start)
        for index in range(12)
    ]

    def rows(subset: list[Reading]) -> tuple[Any, Any]:
        def of(values: list[float]) -> tuple[float, float, float]:
            return (sum(values) / len(values), min(values), max(values))

        return of([r.temperature for r in subset]), of([r.humidity for r in subset])

    assert account_hour(readings, rows(readings)) == (0, 0)
    assert account_hour(readings, (None, None)) == (12, 0)
    assert account_hour(readings, rows(readings[5:])) == (5, 0)
    assert account_hour(readings, rows(readings + readings[-3:])) == (0, 3)
    # Rows of other values (say a unit converted twice) explain nothing: all 12 are lost.
    other = [dataclasses.replace(r, temperature=r.temperature + 1.0) for r in readings]
    assert account_hour(readings, rows(other)) == (12, 0)
