"""The pytest plugin object through which ``closed_loop.py`` configures and collects a run.

Imports nothing of Home Assistant (nor of the integration, whose package imports it): the
harness's pytest plugin must be the first to import Home Assistant, so the caller creates
this object before ``pytest.main`` and only looks at the results afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bench.harness import ScenarioResult


@dataclass(eq=False)  # identity-hashed: pytest keeps plugins in sets
class BenchSession:
    """What to run, and the results collected from the tests."""

    scenario_names: tuple[str, ...]
    rala_sides: tuple[str, ...]
    """Which RALA controllers run: "climate" (the climate entity), "engine" (the bare engine)."""
    warm_up_hours: float
    scored_hours: float
    seed: int
    min_cycle: float
    """Minimum on and off time of every climate actuator on every side, s."""
    results: list[ScenarioResult] = field(default_factory=list)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """One test per scenario."""
        if "bench_scenario_name" in metafunc.fixturenames:
            metafunc.parametrize("bench_scenario_name", self.scenario_names)

    @pytest.fixture
    def bench_session(self) -> BenchSession:
        """This session (configuration in, results out)."""
        return self
