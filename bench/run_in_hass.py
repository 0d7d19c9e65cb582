"""The benchmark's pytest entry: one test per scenario, each with its own Home Assistant.

Not collected by the project's test suite (it lives outside ``tests/``); ``closed_loop.py``
runs it through ``pytest.main`` with a :class:`~bench.plugin.BenchSession` plugin that
supplies the ``bench_*`` fixtures and receives the results.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

from dataclasses import replace

from homeassistant.core import HomeAssistant
import pytest

from bench.harness import Clock, async_run_scenario
from bench.plugin import BenchSession
from bench.rala_side import RALA_CONTROLLERS
from bench.scenarios import scenario_named


@pytest.fixture
def expected_lingering_timers() -> bool:
    """The run ends at an arbitrary instant: a thermostat's minimum-time re-check may be due."""
    return True


async def test_closed_loop(
    hass: HomeAssistant,
    freezer: Clock,
    enable_custom_integrations: None,
    bench_scenario_name: str,
    bench_session: BenchSession,
) -> None:
    """Run one scenario with both controllers and hand the result to the session."""
    result = await async_run_scenario(
        hass,
        freezer,
        replace(scenario_named(bench_scenario_name), min_cycle=bench_session.min_cycle),
        [(prefix, RALA_CONTROLLERS[prefix]) for prefix in bench_session.rala_sides],
        warm_up_hours=bench_session.warm_up_hours,
        scored_hours=bench_session.scored_hours,
        seed=bench_session.seed,
    )
    bench_session.results.append(result)
