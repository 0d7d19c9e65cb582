"""State-cost benchmark: what one reading costs Home Assistant, beside a template sensor.

Usage (from the repository root)::

    .venv/bin/python bench/state_cost.py                  # writes its section of docs/benchmarks.md
    .venv/bin/python bench/state_cost.py --readings 200 --zones 10 --no-write

The measurement runs as one test of ``bench/run_state_cost.py`` under ``pytest.main`` (a real
``HomeAssistant`` of the test harness with its real recorder on an SQLite file); this script
configures the run, collects the figures and writes the report. See bench/README.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
import shlex
import sys

import pytest

REPOSITORY: Path = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a script, only bench/ is on the path; the project's packages live at the root.
    sys.path.insert(0, str(REPOSITORY))

from bench.sections import merge_section, run_in_harness, verdict  # noqa: E402

DEFAULT_OUTPUT: Path = REPOSITORY / "docs" / "benchmarks.md"
BEGIN_MARKER = "<!-- state-cost:begin (written by bench/state_cost.py) -->"
END_MARKER = "<!-- state-cost:end -->"
SECTION_HEADING = "## State cost: what a reading costs Home Assistant"
WRITES_GOAL = 6.0
"""State writes per reading, at most."""
CPU_RATIO_GOAL = 2.0
"""RALA's own CPU per reading, at most this many times the template sensor's."""
CORE_SHARE_GOAL = 0.02
"""100 zones at 1 Hz, at most this share of one core."""


@dataclass(frozen=True, slots=True)
class SideCost:
    """What the readings cost with one side reading them."""

    side: str
    readings: int
    cpu_ms_per_reading: float
    """The whole process: state machine, the side's entities and the recorder's thread."""
    writes_per_reading: float
    """State writes of the side's own entities (changed and reported)."""
    rows_per_reading: float
    """State rows the recorder stores for the side's own entities (one per changed state)."""
    database_bytes_per_day: float
    """Growth of the recorder's SQLite file at one reading every 30 s, all entities."""


@dataclass(eq=False)  # identity-hashed: pytest keeps plugins in sets
class StateCostSession:
    """What to run, and the figures collected from the test."""

    readings: int
    warm_up: int
    zones: int
    seconds: int
    seed: int
    sides: list[SideCost] = field(default_factory=list)
    many_zones_core_share: float | None = None
    many_zones_wall_share: float | None = None
    many_zones_largest_backlog: int | None = None
    cpu_count: int | None = None

    @pytest.fixture
    def state_cost_session(self) -> StateCostSession:
        """This session (configuration in, figures out)."""
        return self

    def side(self, name: str) -> SideCost:
        """The figures of side ``name``."""
        return next(side for side in self.sides if side.side == name)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``argv`` without the program name; ``None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--readings", type=int, default=2000, help="readings per side")
    parser.add_argument("--warm-up", type=int, default=100, help="readings before measuring")
    parser.add_argument("--zones", type=int, default=100, help="zones of the 1 Hz run")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of the 1 Hz run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the readings")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-write", action="store_true", help="print only, write no file")
    arguments = parser.parse_args(argv)
    if min(arguments.readings, arguments.zones, arguments.seconds) < 1 or arguments.warm_up < 0:
        parser.error("--readings, --zones and --seconds must be positive")
    return arguments


def run(session: StateCostSession) -> int:
    """Run the measurement into ``session``; pytest's exit code."""
    return run_in_harness("run_state_cost.py", session)


def _verdict(value: float, goal: float) -> str:
    return verdict(value <= goal)


def render(session: StateCostSession, command: str, revision: str) -> str:
    """The report section (Markdown, between the markers)."""
    inputs, template, rala = (session.side(name) for name in ("inputs", "template", "rala"))
    template_own = template.cpu_ms_per_reading - inputs.cpu_ms_per_reading
    rala_own = rala.cpu_ms_per_reading - inputs.cpu_ms_per_reading
    ratio = rala_own / template_own if template_own > 0 else float("inf")
    core_share = session.many_zones_core_share or 0.0
    lines = [
        BEGIN_MARKER,
        "",
        (
            f"`{command}` at {revision}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"{session.cpu_count} CPU(s); {rala.readings} readings per side after "
            f"{session.warm_up} of warm-up, one every 30 s of frozen time. CPU is the event "
            "loop's while a reading is handled; the recorder's share is in rows and bytes."
        ),
        "",
        (
            "| side | CPU per reading (ms) | own CPU (ms) | state writes | recorder rows "
            "| database growth per day |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for side in (inputs, template, rala):
        own = side.cpu_ms_per_reading - inputs.cpu_ms_per_reading
        lines.append(
            f"| {side.side} | {side.cpu_ms_per_reading:.3f} | "
            f"{'—' if side is inputs else f'{own:.3f}'} | {side.writes_per_reading:.2f} | "
            f"{side.rows_per_reading:.2f} | {side.database_bytes_per_day / 1e6:.2f} MB |"
        )
    lines += [
        "",
        (
            f"- RALA's state writes per reading: **{rala.writes_per_reading:.2f}** (goal ≤ "
            f"{WRITES_GOAL:g}: {_verdict(rala.writes_per_reading, WRITES_GOAL)})."
        ),
        (
            f"- RALA's own CPU per reading: **{ratio:.1f} times** the template sensor's (goal "
            f"≤ {CPU_RATIO_GOAL:g} times: {_verdict(ratio, CPU_RATIO_GOAL)}). The template "
            "computes one value; a zone derives five, keeps its metrics and runs the control "
            "engine."
        ),
        (
            f"- {session.zones} zones with a reading every second for {session.seconds} s: "
            f"**{100 * core_share:.1f} %** of one core, the whole process (goal < "
            f"{100 * CORE_SHARE_GOAL:g} %: {_verdict(core_share, CORE_SHARE_GOAL)}); the "
            f"recorder's largest backlog was {session.many_zones_largest_backlog} events."
        ),
        "",
        END_MARKER,
    ]
    return "\n".join(lines)


def merge_into(document: str, section: str) -> str:
    """``document`` with its state-cost section replaced by ``section`` (appended if absent)."""
    return merge_section(
        document, section, begin=BEGIN_MARKER, end=END_MARKER, heading=SECTION_HEADING
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran (whatever the verdicts)."""
    arguments = parse_arguments(argv)
    session = StateCostSession(
        readings=arguments.readings,
        warm_up=arguments.warm_up,
        zones=arguments.zones,
        seconds=arguments.seconds,
        seed=arguments.seed,
    )
    exit_code = run(session)
    if exit_code != 0 or len(session.sides) != 3:
        print(f"benchmark failed (pytest exit code {exit_code})", file=sys.stderr)
        return 1
    from bench.closed_loop import code_revision  # noqa: PLC0415

    command = shlex.join([".venv/bin/python", "bench/state_cost.py", *(argv or sys.argv[1:])])
    section = render(session, command, code_revision())
    print(section)
    from bench.results import write_figures  # noqa: PLC0415

    write_figures(
        "state_cost",
        {
            f"{side.side}.{figure}": round(getattr(side, figure), 4)
            for side in session.sides
            for figure in ("cpu_ms_per_reading", "writes_per_reading", "rows_per_reading")
        },
    )
    if not arguments.no_write:
        output: Path = arguments.output
        output.write_text(merge_into(output.read_text(encoding="utf-8"), section), "utf-8")
        print(f"written: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
