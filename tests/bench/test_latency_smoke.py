"""Smoke test of the latency benchmark (bench/latency.py): a few readings on a real broker.

Proves the wiring the benchmark relies on, not its numbers: every reading is timed on
every side, and each one really wrote the node's temperature and the zone's leaf VPD.
"""

# The project's integration must be imported before the harness's testing_config wins.
import custom_components.rala  # noqa: F401  # isort: skip

import itertools
from pathlib import Path

from homeassistant.core import HomeAssistant
import pytest

from bench.latency import SIDES, LatencySession, figures, merge_into, render
from bench.run_latency import async_measure
from tests.mosquitto import Mosquitto

READINGS = 20

pytestmark = pytest.mark.mqtt


@pytest.mark.usefixtures("enable_custom_integrations")
async def test_a_few_readings(mosquitto: Mosquitto, hass: HomeAssistant, tmp_path: Path) -> None:
    """Each side has a positive latency per reading; every reading moved the leaf VPD."""
    session = LatencySession(readings=READINGS, warm_up=2, interval_ms=5.0)

    await async_measure(hass, mosquitto, tmp_path, session)

    for side in SIDES:
        assert len(session.samples[side]) == READINGS
        assert all(sample > 0 for sample in session.samples[side])
    # The zone's state is written after the node's sensor state it derives from.
    for sensor, leaf in zip(session.samples["mqtt_sensor"], session.samples["rala"], strict=True):
        assert leaf >= sensor
    assert len(session.leaf_vpd_states) == READINGS
    # The zone's set-up was timed after it was unloaded, HA's MQTT set-up once.
    assert session.zone_setup_ms is not None
    assert session.zone_setup_ms > 0
    assert session.mqtt_setup_ms is not None
    assert session.mqtt_setup_ms > 0
    values = [float(state) for state in session.leaf_vpd_states]
    # Each reading wrote a new leaf VPD, the one of the reading it was timed for.
    assert all(before != after for before, after in itertools.pairwise(values))
    assert [round(value, 2) for value in values] == [
        round(value, 2) for value in session.expected_leaf_vpd
    ]
    assert len(set(session.temperature_states)) > 1
    report = render(session, "bench/latency.py", "test")
    assert "| RALA leaf VPD" in report
    assert "the plain MQTT sensor's (goal ≤ 3 times" in report
    document = merge_into("# Benchmarks\n", report)
    assert document.count("## Latency: a reading from the node to the zone's VPD") == 1
    assert merge_into(document, report) == document
    flat = figures(session)
    assert flat["readings"] == READINGS
    assert isinstance(flat["rala_p99_ms"], float)
