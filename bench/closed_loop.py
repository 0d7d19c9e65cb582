"""Closed-loop benchmark: RALA against generic_thermostat + generic_hygrostat, 24 simulated hours.

Usage (from the repository root)::

    .venv/bin/python bench/closed_loop.py                 # all scenarios, writes docs/benchmarks.md
    .venv/bin/python bench/closed_loop.py --scenario cold_winter_room --no-write

Each scenario runs as one test of ``bench/run_in_hass.py`` under ``pytest.main``, so that it
gets Home Assistant's test harness (a real ``HomeAssistant`` and frozen, advanced time); this
script configures the run, collects the results and writes the report. See bench/README.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
import shlex
import subprocess
import sys
import time

import pytest

REPOSITORY: Path = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a script, only bench/ is on the path; the project's packages live at the root.
    sys.path.insert(0, str(REPOSITORY))

# Nothing here may import Home Assistant (or the integration, whose package imports it)
# before pytest.main: the harness's plugin must be first to import it.
from bench.plugin import BenchSession  # noqa: E402

DEFAULT_OUTPUT: Path = REPOSITORY / "docs" / "benchmarks.md"
# The names of bench.scenarios.BENCH_SCENARIOS, spelled out because that module imports the
# integration (and so Home Assistant); an unknown name fails the run with a KeyError.
ALL_SCENARIOS: tuple[str, ...] = (
    "small_led_dry_room",
    "flower_tent_humid_room",
    "cold_winter_room",
)
RALA_SIDES: tuple[str, ...] = ("climate", "engine")
DOCUMENT_HEADER = """\
# Benchmarks

## Closed loop: RALA against generic_thermostat + generic_hygrostat

Issue 5's benchmark: the simulated tent (`edge_agent/sim.py`) in three scenarios, both
controllers side by side in one Home Assistant instance, each on its own tent with the same
seed. How to run it and what exactly is compared: `bench/README.md`. Everything between the
markers below is written by the script; the analysis after them is not.

"""


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (``argv`` without the program name; ``None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        action="append",
        choices=ALL_SCENARIOS,
        help="run only this scenario (repeatable; default: all three)",
    )
    parser.add_argument(
        "--rala",
        action="append",
        choices=RALA_SIDES,
        help=(
            "RALA controller(s) to run next to the generic pair (repeatable): 'climate' is the "
            "climate entity, 'engine' the bare control engine (default: both)"
        ),
    )
    parser.add_argument(
        "--hours", type=float, default=24.0, help="scored simulated hours (default 24)"
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=6.0,
        help="simulated hours before scoring starts (default 6)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the simulated tents (default 1)"
    )
    parser.add_argument(
        "--min-cycle",
        type=float,
        default=60.0,
        help=(
            "minimum on and off time of every climate actuator, every side, s (default 60: "
            "what a RALA node announces; 600 caps every actuator at 6 switchings/h)"
        ),
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="Markdown file whose results section is (re)written (default docs/benchmarks.md)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the results only, write no file"
    )
    arguments = parser.parse_args(argv)
    if arguments.hours <= 0 or arguments.warm_up < 0:
        parser.error("--hours must be positive and --warm-up not negative")
    if not 10 <= arguments.min_cycle <= 3600:
        parser.error("--min-cycle must be 10 to 3600 s (the integration's option range)")
    return arguments


def code_revision() -> str:
    """The checked-out commit, marked when the working tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} with uncommitted changes" if dirty else commit


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every scenario ran (whatever the goal's verdict)."""
    arguments = parse_arguments(argv)
    scenarios = tuple(arguments.scenario or ALL_SCENARIOS)
    session = BenchSession(
        scenario_names=scenarios,
        rala_sides=tuple(dict.fromkeys(arguments.rala or RALA_SIDES)),
        warm_up_hours=arguments.warm_up,
        scored_hours=arguments.hours,
        seed=arguments.seed,
        min_cycle=arguments.min_cycle,
    )
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    revision = code_revision()
    started = time.monotonic()
    exit_code = pytest.main(
        [
            str(REPOSITORY / "bench" / "run_in_hass.py"),
            f"--rootdir={REPOSITORY}",
            "-p",
            "no:cacheprovider",
            "-q",
            "--no-header",
        ],
        plugins=[session],
    )
    wall_seconds = time.monotonic() - started
    if exit_code != 0 or len(session.results) != len(scenarios):
        print(f"benchmark failed (pytest exit code {exit_code})", file=sys.stderr)
        return 1

    # Home Assistant is loaded by now.
    from bench.rala_side import RALA_CONTROLLERS  # noqa: PLC0415
    from bench.report import RunInfo, merge_into, render  # noqa: PLC0415

    command = shlex.join([".venv/bin/python", "bench/closed_loop.py", *(argv or sys.argv[1:])])
    section = render(
        session.results,
        RunInfo(
            command=command,
            date=date,
            revision=revision,
            warm_up_hours=arguments.warm_up,
            scored_hours=arguments.hours,
            seed=arguments.seed,
            rala_sides=tuple(
                f"{RALA_CONTROLLERS[side].name}: {RALA_CONTROLLERS[side].description}"
                for side in session.rala_sides
            ),
            wall_seconds=wall_seconds,
            min_cycle=arguments.min_cycle,
        ),
    )
    print(section)
    from bench.results import write_figures  # noqa: PLC0415

    write_figures(
        "closed_loop",
        {
            f"{result.scenario.name}.{side.controller}.{figure}": getattr(side, figure)
            for result in session.results
            for side in result.results
            for figure in ("vpd_in_band_percent", "temperature_in_band_percent")
        }
        | {"wall_seconds": round(wall_seconds, 1)},
    )
    if not arguments.no_write:
        output: Path = arguments.output
        document = output.read_text(encoding="utf-8") if output.exists() else DOCUMENT_HEADER
        output.write_text(merge_into(document, section), encoding="utf-8")
        print(f"written: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
