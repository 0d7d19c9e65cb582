"""Smoke test of the agent footprint benchmark (bench/agent_footprint.py): a few seconds.

Proves the wiring the benchmark relies on, not its numbers: both sides run, publish their
readings to the broker and are measured from their own processes.
"""

from pathlib import Path

import pytest

from bench.agent_footprint import figures, measure, merge_into, render

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def test_both_sides_are_measured_from_their_own_processes(
    tmp_path: Path, sockets_allowed: None
) -> None:
    results = measure(3.0, tmp_path, warm_up=1.0)

    by_side = {result.side: result for result in results}
    assert set(by_side) == {"rala-edge", "mqtt-io"}
    for result in results:
        assert result.cycles >= 2, result
        assert 0 < result.startup_s < 30
        assert 5 < result.rss_mb <= result.peak_rss_mb
        assert result.cpu_ms_per_cycle >= 0
    section = render(results, 3.0, "bench")
    assert merge_into("# Benchmarks\n", section).count("footprint:begin") == 1
    assert merge_into(merge_into("# B\n", section), section).count("footprint:begin") == 1
    assert figures(results)["rala_edge_cycles"] == by_side["rala-edge"].cycles
