"""Latency benchmark: from the node's publish to the zone's leaf VPD state in Home Assistant.

Usage (from the repository root)::

    .venv/bin/python bench/latency.py                    # writes its section of docs/benchmarks.md
    .venv/bin/python bench/latency.py --readings 200 --no-write

A paho client plays the edge node on a real mosquitto broker on 127.0.0.1: it publishes the
agent's own discovery document and node announcement, Home Assistant's real MQTT
integration creates the node's entities, the zone is created by the discovery flow, then
each live reading (``live_reading_payload``, QoS 1) is timed from just before its publish
to the state writes it causes. Two anchors are measured in the same run: the broker's own
round trip (the client publishes QoS 1 to a topic it is subscribed to) and HA's plain MQTT
sensor on the same message (the node's temperature entity). Everything runs in one process,
timed with ``time.perf_counter()``, on real time.

The measurement runs as one test of ``bench/run_latency.py`` under ``pytest.main`` (a real
``HomeAssistant`` of the test harness); this script configures the run, collects the
figures and writes the report. See bench/README.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
from pathlib import Path
import shlex
import sys

import pytest

REPOSITORY: Path = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a script, only bench/ is on the path; the project's packages live at the root.
    sys.path.insert(0, str(REPOSITORY))

from bench.results import commit, write_figures  # noqa: E402
from bench.sections import merge_section, run_in_harness, verdict  # noqa: E402

DEFAULT_OUTPUT: Path = REPOSITORY / "docs" / "benchmarks.md"
BEGIN_MARKER = "<!-- latency:begin (written by bench/latency.py) -->"
END_MARKER = "<!-- latency:end -->"
SECTION_HEADING = "## Latency: a reading from the node to the zone's VPD"
P99_GOAL_MS = 20.0
"""RALA's p99, publish to leaf VPD state, at most (ms)."""
RATIO_GOAL = 3.0
"""RALA's p99 at most this many times the plain MQTT sensor's."""

BROKER = "broker"
MQTT_SENSOR = "mqtt_sensor"
RALA = "rala"
SIDES: tuple[str, ...] = (BROKER, MQTT_SENSOR, RALA)
SIDE_LABELS: dict[str, str] = {
    BROKER: "broker round trip (paho QoS 1, publish → own receive)",
    MQTT_SENSOR: "HA MQTT sensor (publish → the node's temperature state)",
    RALA: "RALA leaf VPD (publish → the zone's leaf VPD state)",
}


@dataclass(frozen=True, slots=True)
class Percentiles:
    """The distribution of one side's latencies, ms (nearest-rank percentiles)."""

    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Percentiles:
        """The percentiles of ``samples`` (at least one)."""
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)

        def rank(percent: float) -> float:
            return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]

        return cls(p50=rank(50), p95=rank(95), p99=rank(99), max=ordered[-1])


@dataclass(eq=False)  # identity-hashed: pytest keeps plugins in sets
class LatencySession:
    """What to run, and the figures collected from the test."""

    readings: int
    warm_up: int = 20
    interval_ms: float = 20.0
    """Pause after each timed message, once everything it set off has run."""
    seed: int = 1
    samples: dict[str, list[float]] = field(default_factory=lambda: {side: [] for side in SIDES})
    """Side → latency of each measured reading, ms."""
    temperature_states: list[str] = field(default_factory=list)
    """The temperature state each measured reading wrote."""
    leaf_vpd_states: list[str] = field(default_factory=list)
    """The leaf VPD state each measured reading wrote."""
    expected_leaf_vpd: list[float] = field(default_factory=list)
    """The leaf VPD of each measured reading, computed here from what was published."""
    cpu_count: int | None = None
    zone_setup_ms: float | None = None
    """A zone's config entry set up (as at Home Assistant's start), the node's entities there."""
    mqtt_setup_ms: float | None = None
    """HA's MQTT integration set up and connected: the anchor of the zone's set-up."""

    @pytest.fixture
    def latency_session(self) -> LatencySession:
        """This session (configuration in, figures out)."""
        return self

    def percentiles(self, side: str) -> Percentiles:
        """The distribution of side ``side``."""
        return Percentiles.of(self.samples[side])


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``argv`` without the program name; ``None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--readings", type=int, default=1000, help="timed readings per side")
    parser.add_argument("--warm-up", type=int, default=20, help="readings before measuring")
    parser.add_argument(
        "--interval-ms", type=float, default=20.0, help="pause after each timed message, ms"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the readings")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-write", action="store_true", help="print only, write no file")
    arguments = parser.parse_args(argv)
    if arguments.readings < 1 or arguments.warm_up < 0 or arguments.interval_ms < 0:
        parser.error("--readings must be positive, --warm-up and --interval-ms not negative")
    return arguments


def run(session: LatencySession) -> int:
    """Run the measurement into ``session``; pytest's exit code."""
    return run_in_harness("run_latency.py", session)


def _verdict(value: float, goal: float) -> str:
    return verdict(value <= goal)


def _ratio(session: LatencySession) -> float:
    sensor = session.percentiles(MQTT_SENSOR).p99
    return session.percentiles(RALA).p99 / sensor if sensor > 0 else math.inf


def render(session: LatencySession, command: str, revision: str) -> str:
    """The report section (Markdown, between the markers)."""
    rala = session.percentiles(RALA)
    ratio = _ratio(session)
    lines = [
        BEGIN_MARKER,
        "",
        (
            f"`{command}` at {revision}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"{session.cpu_count} CPU(s); {len(session.samples[RALA])} readings after "
            f"{session.warm_up} of warm-up, one every {session.interval_ms:g} ms after the "
            "previous one was handled, real time. A paho client publishes each reading (QoS 1) "
            "to mosquitto on 127.0.0.1; Home Assistant's MQTT integration, the node's MQTT "
            "entities (from its discovery document) and the zone (from the discovery flow) "
            "are the real ones, in one process with the publisher (`time.perf_counter()`)."
        ),
        "",
        "| side | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---|---|---|---|",
    ]
    for side in SIDES:
        figures_of = session.percentiles(side)
        lines.append(
            f"| {SIDE_LABELS[side]} | {figures_of.p50:.2f} | {figures_of.p95:.2f} | "
            f"{figures_of.p99:.2f} | {figures_of.max:.2f} |"
        )
    lines += [
        "",
        (
            f"- RALA's p99, publish to leaf VPD state: **{rala.p99:.2f} ms** (goal ≤ "
            f"{P99_GOAL_MS:g} ms: {_verdict(rala.p99, P99_GOAL_MS)})."
        ),
        (
            f"- RALA's p99: **{ratio:.2f} times** the plain MQTT sensor's (goal ≤ "
            f"{RATIO_GOAL:g} times: {_verdict(ratio, RATIO_GOAL)}). The leaf VPD is written "
            "in the event-loop turn after the node's sensor states of the same message."
        ),
        (
            f"- Start-up: a zone adds **{session.zone_setup_ms or 0:.0f} ms** to Home "
            "Assistant's start (its entry set up again, the integration's modules already "
            f"loaded), beside {session.mqtt_setup_ms or 0:.0f} ms "
            "for HA's MQTT integration to set up and connect."
        ),
        "",
        END_MARKER,
    ]
    return "\n".join(lines)


def merge_into(document: str, section: str) -> str:
    """``document`` with its latency section replaced by ``section`` (appended if absent)."""
    return merge_section(
        document, section, begin=BEGIN_MARKER, end=END_MARKER, heading=SECTION_HEADING
    )


def figures(session: LatencySession) -> dict[str, float | int | str]:
    """The figures for ``bench/results/latest.json``."""
    flat: dict[str, float | int | str] = {
        "readings": len(session.samples[RALA]),
        "warm_up": session.warm_up,
        "interval_ms": session.interval_ms,
        "cpu_count": session.cpu_count or 0,
    }
    for side in SIDES:
        percentiles = session.percentiles(side)
        flat |= {
            f"{side}_p50_ms": round(percentiles.p50, 3),
            f"{side}_p95_ms": round(percentiles.p95, 3),
            f"{side}_p99_ms": round(percentiles.p99, 3),
            f"{side}_max_ms": round(percentiles.max, 3),
        }
    ratio = _ratio(session)
    flat |= {
        "rala_to_mqtt_sensor_p99_ratio": round(ratio, 3),
        "p99_goal_ms": P99_GOAL_MS,
        "ratio_goal": RATIO_GOAL,
        "p99_verdict": _verdict(session.percentiles(RALA).p99, P99_GOAL_MS),
        "ratio_verdict": _verdict(ratio, RATIO_GOAL),
        "zone_setup_ms": round(session.zone_setup_ms or 0.0, 1),
        "mqtt_setup_ms": round(session.mqtt_setup_ms or 0.0, 1),
    }
    return flat


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran (whatever the verdicts)."""
    arguments = parse_arguments(argv)
    session = LatencySession(
        readings=arguments.readings,
        warm_up=arguments.warm_up,
        interval_ms=arguments.interval_ms,
        seed=arguments.seed,
    )
    exit_code = run(session)
    if exit_code != 0 or any(len(session.samples[side]) != session.readings for side in SIDES):
        print(f"benchmark failed (pytest exit code {exit_code})", file=sys.stderr)
        return 1
    command = shlex.join([".venv/bin/python", "bench/latency.py", *(argv or sys.argv[1:])])
    section = render(session, command, commit())
    print(section)
    write_figures("latency", figures(session))
    if not arguments.no_write:
        output: Path = arguments.output
        output.write_text(merge_into(output.read_text(encoding="utf-8"), section), "utf-8")
        print(f"written: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
