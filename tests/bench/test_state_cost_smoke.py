"""Smoke test of the state-cost benchmark (bench/state_cost.py): a few readings per side.

Proves the wiring the benchmark relies on, not its numbers: every side's writes are
counted from its own entities only, and the many-zones run measures something.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from bench.run_state_cost import async_measure
from bench.state_cost import StateCostSession, render


@pytest.fixture
def persistent_database() -> bool:
    """The recorder on an SQLite file, as in the benchmark."""
    return True


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before ``hass``."""


@pytest.mark.usefixtures("recorder_mock", "enable_custom_integrations")
async def test_a_few_readings_per_side(
    recorder_db_url: str, hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Each side is measured on its own entities; the report names every figure."""
    session = StateCostSession(readings=12, warm_up=2, zones=2, seconds=3, seed=1)

    await async_measure(hass, freezer, recorder_db_url, session)

    inputs, template, rala = (session.side(name) for name in ("inputs", "template", "rala"))
    # Two input states per reading, each a new value of the random walk or a repeat.
    assert inputs.writes_per_reading == 2.0
    # A template renders on each input that changed: up to two states per reading.
    assert 0 < template.writes_per_reading <= 2.0
    # The zone's derived sensors and its climate entity follow the readings.
    assert rala.writes_per_reading >= 1.0
    for side in (inputs, template, rala):
        assert side.readings == 12
        assert 0 < side.rows_per_reading <= side.writes_per_reading
        assert side.cpu_ms_per_reading > 0
    assert session.many_zones_core_share is not None
    assert session.many_zones_core_share > 0
    assert session.many_zones_largest_backlog is not None
    report = render(session, "bench/state_cost.py", "test")
    assert "| rala |" in report
    assert "2 zones with a reading every second for 3 s" in report
