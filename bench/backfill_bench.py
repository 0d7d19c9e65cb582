"""Backfill benchmark: a week of readings buffered on a node, replayed into HA's statistics.

Usage (from the repository root)::

    .venv/bin/python bench/backfill_bench.py              # writes its section of docs/benchmarks.md
    .venv/bin/python bench/backfill_bench.py --days 1 --interval 600 --no-write

A node was offline for ``--days`` days with a reading every ``--interval`` s (7 days at 30 s:
20,160 readings). The readings sit unsent in a real ``edge_agent.outbox.Outbox``; a real
``rala-edge simulate`` process on that outbox connects to a real mosquitto and sends its
backlog as it does after every outage (batches of 500, the next after the previous PUBACK).
Home Assistant's real MQTT integration and recorder (SQLite file) and the node's zone take
it in. Measured: the wall time from the first batch on the broker to the last hour in the
recorder's hourly statistics, and the readings lost and counted twice, from the recorder's
hourly mean, min and max of temperature and humidity, every hour, against the values
computed here from the readings put in the outbox. The anchor: the recorder importing the
same hourly statistics directly (``async_import_statistics``), the floor of any backfill.

The measurement runs as one test of ``bench/run_backfill.py`` under ``pytest.main`` (Home
Assistant's test harness); this script configures the run, collects the figures and writes
the report.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
import shlex
import sys

import pytest

REPOSITORY: Path = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a script, only bench/ is on the path; the project's packages live at the root.
    sys.path.insert(0, str(REPOSITORY))

from bench.results import commit, write_figures  # noqa: E402
from bench.sections import merge_section, run_in_harness  # noqa: E402

DEFAULT_OUTPUT: Path = REPOSITORY / "docs" / "benchmarks.md"
BEGIN_MARKER = "<!-- backfill:begin (written by bench/backfill_bench.py) -->"
END_MARKER = "<!-- backfill:end -->"
SECTION_HEADING = "## Backfill: a week of buffered readings after an outage"
GOAL_S = 15.0
"""A week at 30 s, from the first batch to the last hour in the statistics, at most."""


@dataclass(frozen=True, slots=True)
class PathResult:
    """One way of bringing the hours into the recorder's statistics, and what came of it."""

    path: str
    wall_s: float
    readings_lost: int
    """Readings of hours the recorder has no row for, or whose row is not theirs."""
    readings_duplicated: int
    """Readings counted more than once in their hour's row."""
    hours_imported: int
    """Hours with a row of temperature and humidity in the recorder."""


@dataclass(eq=False)  # identity-hashed: pytest keeps plugins in sets
class BackfillSession:
    """What to run, and the figures collected from the test."""

    days: float
    interval: float
    seed: int = 1
    timeout: float = 600.0
    """Seconds the backfill may take before the run is failed."""
    readings: int = 0
    hours: int = 0
    batches: int = 0
    """Backfill batches the agent published."""
    replay_requests: int = 0
    """Replay requests the zone sent meanwhile (none while the backfill keeps up)."""
    refused_duplicates: int = 0
    """Readings the zone received again and refused (a replay's answer, a redelivery)."""
    cpu_count: int | None = None
    rala: PathResult | None = None
    anchor: PathResult | None = None

    @pytest.fixture
    def backfill_session(self) -> BackfillSession:
        """This session (configuration in, figures out)."""
        return self


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``argv`` without the program name; ``None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0, help="length of the outage, days")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between readings")
    parser.add_argument("--seed", type=int, default=1, help="seed of the readings")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after, s")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-write", action="store_true", help="print only, write no file")
    arguments = parser.parse_args(argv)
    if not (arguments.days > 0 and arguments.interval >= 1 and arguments.timeout > 0):
        parser.error("--days and --timeout must be positive, --interval at least 1 s")
    if arguments.days > 366:
        parser.error("--days: Home Assistant takes readings of the last 366 days only")
    return arguments


def run(session: BackfillSession) -> int:
    """Run the measurement into ``session``; pytest's exit code."""
    return run_in_harness("run_backfill.py", session)


def verdict(result: PathResult) -> str:
    """Whether ``result`` meets the goal: in time, and every reading in its hour once."""
    faults = []
    if result.wall_s > GOAL_S:
        faults.append(f"{result.wall_s:.1f} s")
    if result.readings_lost:
        faults.append(f"{result.readings_lost} readings lost")
    if result.readings_duplicated:
        faults.append(f"{result.readings_duplicated} readings duplicated")
    return f"misses the goal ({', '.join(faults)})" if faults else "meets the goal"


def _ratio(session: BackfillSession) -> float:
    rala, anchor = _results(session)
    return rala.wall_s / anchor.wall_s if anchor.wall_s > 0 else float("inf")


def _results(session: BackfillSession) -> tuple[PathResult, PathResult]:
    if session.rala is None or session.anchor is None:
        raise ValueError("the session holds no results")
    return session.rala, session.anchor


def render(session: BackfillSession, command: str, revision: str) -> str:
    """The report section (Markdown, between the markers)."""
    rala, anchor = _results(session)
    lines = [
        BEGIN_MARKER,
        "",
        (
            f"`{command}` at {revision}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"{session.cpu_count} CPU(s). {session.readings:,} readings ({session.days:g} days, "
            f"one every {session.interval:g} s, {session.hours} full hours) left unsent in a "
            f"node's outbox; a real `rala-edge simulate` sends them as after any outage "
            f"({session.batches} batches of at most 500, the next after the PUBACK) through a "
            "real mosquitto to Home Assistant's MQTT integration and recorder (SQLite). Wall "
            "time: first batch on the broker to the last hour in the hourly statistics. Lost "
            "and duplicated: the recorder's hourly mean, min and max of temperature and "
            "humidity against those of the readings sent, every hour."
        ),
        "",
        "| path | wall time (s) | readings lost | readings duplicated | hours imported |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {result.path} | {result.wall_s:.2f} | {result.readings_lost} | "
        f"{result.readings_duplicated} | {result.hours_imported} / {session.hours} |"
        for result in (rala, anchor)
    )
    lines += [
        "",
        (
            f"- RALA's backfill of {session.readings:,} readings: **{rala.wall_s:.1f} s**, "
            f"{rala.readings_lost} lost, {rala.readings_duplicated} duplicated (goal ≤ "
            f"{GOAL_S:g} s, none lost or duplicated: {verdict(rala)})."
        ),
        (
            f"- {_ratio(session):.1f} times the recorder's own import of the same hourly "
            f"statistics ({anchor.wall_s:.2f} s, seven series: the node's three quantities and "
            "the zone's four derived values). An hour's row that holds the statistics of only "
            "part of its readings counts the missing ones as lost."
        ),
        (
            f"- The zone sent {session.replay_requests} replay request(s) meanwhile and refused "
            f"{session.refused_duplicates} reading(s) it had already."
        ),
        "",
        END_MARKER,
    ]
    return "\n".join(lines)


def figures(session: BackfillSession) -> dict[str, float | int | str]:
    """The figures for ``bench/results/latest.json``."""
    rala, anchor = _results(session)
    flat: dict[str, float | int | str] = {
        "days": session.days,
        "interval_s": session.interval,
        "readings": session.readings,
        "hours": session.hours,
        "batches": session.batches,
        "replay_requests": session.replay_requests,
        "refused_duplicates": session.refused_duplicates,
        "cpu_count": session.cpu_count or 0,
        "goal_s": GOAL_S,
        "ratio_to_direct_import": round(_ratio(session), 2),
        "verdict": verdict(rala),
    }
    for prefix, result in (("rala", rala), ("direct_import", anchor)):
        flat |= {
            f"{prefix}_wall_s": round(result.wall_s, 3),
            f"{prefix}_readings_lost": result.readings_lost,
            f"{prefix}_readings_duplicated": result.readings_duplicated,
            f"{prefix}_hours_imported": result.hours_imported,
        }
    return flat


def merge_into(document: str, section: str) -> str:
    """``document`` with its backfill section replaced by ``section`` (appended if absent)."""
    return merge_section(
        document, section, begin=BEGIN_MARKER, end=END_MARKER, heading=SECTION_HEADING
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran (whatever the verdict)."""
    arguments = parse_arguments(argv)
    session = BackfillSession(
        days=arguments.days,
        interval=arguments.interval,
        seed=arguments.seed,
        timeout=arguments.timeout,
    )
    exit_code = run(session)
    if exit_code != 0 or session.rala is None or session.anchor is None:
        print(f"benchmark failed (pytest exit code {exit_code})", file=sys.stderr)
        return 1
    command = shlex.join(
        [".venv/bin/python", "bench/backfill_bench.py", *(sys.argv[1:] if argv is None else argv)]
    )
    section = render(session, command, commit())
    print(section)
    write_figures("backfill", figures(session))
    if not arguments.no_write:
        output: Path = arguments.output
        document = output.read_text(encoding="utf-8") if output.exists() else ""
        output.write_text(merge_into(document, section), "utf-8")
        print(f"written: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
