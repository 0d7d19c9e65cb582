"""docs/reliability.md from the reliability suites' figures, and nothing else.

Each suite appends one JSON line of what it measured (``tests/reliability/figures.py``);
``render`` turns those lines into markdown: per suite, what was tried (messages sent,
kills, outages, restarts) and what happened (tracebacks, actuator changes, readings lost
or duplicated, worst time to a safe state), one table per suite, and the run's machine,
versions, commit and date. ``scripts/reliability`` runs it as
``python -m tests.reliability.report FIGURES OUTPUT --commit SHA --date ISO``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import platform
from typing import TypeAlias

FigureValue: TypeAlias = float | int | str | bool
Figures: TypeAlias = Mapping[str, FigureValue]

SUITE_HEADINGS = {
    "agent-hostile": "Edge agent: hostile messages",
    "agent-kills": "Edge agent: killed at random moments",
    "frozen-broker": "Edge agent: a broker that stops answering",
    "locked-down-broker": "Edge agent: a broker with strict access rules",
    "ha-hostile": "Home Assistant: hostile messages",
    "outages": "Home Assistant: broker and node outages",
    "ha-restart": "Home Assistant: restarts",
    "database": "Backfill import on PostgreSQL and MariaDB",
}
"""The known suites, in the order the report shows them; others follow by name."""

TRIED_WORDS = {
    "database": "Database",
    "messages": "Messages sent",
    "messages_sent": "Messages sent",
    "kills": "Kills",
    "outages": "Outages",
    "restarts": "Restarts",
    "readings": "Readings sent",
    "replayed_readings": "Readings replayed",
    "duration_s": "Duration (s)",
}
"""Columns that say what a suite tried, in this order, before what happened."""

HAPPENED_WORDS = {
    "tracebacks": "Tracebacks",
    "actuator_changes": "Actuator changes",
    "hours_imported": "Hours imported",
    "readings_lost": "Readings lost",
    "readings_duplicated": "Readings duplicated",
    "worst_time_to_safe_s": "Worst time to safe state (s)",
}
"""Columns that say what happened, in this order."""

RESERVED_KEYS = frozenset({"suite", "long"})
"""Keys every line has: the suite's name and whether it ran long (not table columns)."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Where and when the figures were measured."""

    machine: str
    python: str
    home_assistant: str
    commit: str
    date: str


def key_words(key: str) -> str:
    """The column heading of a figure: known words, else the key in words."""
    known = TRIED_WORDS.get(key) or HAPPENED_WORDS.get(key)
    if known is not None:
        return known
    words = key.replace("_", " ").replace("-", " ").strip()
    for unit in ("s", "ms"):  # a unit suffix reads as a unit
        if words.endswith(f" {unit}"):
            words = f"{words[: -len(unit) - 1]} ({unit})"
    return words[:1].upper() + words[1:]


def suite_heading(suite: str) -> str:
    """The section heading of a suite: the known heading, else its name in words."""
    return SUITE_HEADINGS.get(suite, key_words(suite))


def format_value(value: FigureValue | None) -> str:
    """A table cell: yes/no, whole numbers as such, other numbers to 3 decimals."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return _cell(str(value))


def _cell(text: str) -> str:
    """``text`` safe inside a table cell."""
    return text.replace("|", "\\|")


def parse_lines(lines: Iterable[str]) -> list[dict[str, FigureValue]]:
    """The figures lines of a run (blank lines skipped); each must name its suite."""
    figures = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        document = json.loads(line)
        if not isinstance(document, dict) or not isinstance(document.get("suite"), str):
            raise ValueError(  # noqa: TRY004 - a bad line of the file, not a caller's bug
                f"figures line {number} names no suite: {line.strip()!r}"
            )
        figures.append(document)
    return figures


def _columns(rows: Sequence[Figures]) -> list[str]:
    """What was tried, then what happened, then any other key (by name)."""
    present = {key for row in rows for key in row} - RESERVED_KEYS
    ordered = [key for key in (*TRIED_WORDS, *HAPPENED_WORDS) if key in present]
    return ordered + sorted(present - set(ordered))


def _table(rows: Sequence[Figures]) -> list[str]:
    columns = _columns(rows)
    lines = [
        "| " + " | ".join(_cell(key_words(key)) for key in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines.extend(
        "| " + " | ".join(format_value(row.get(key)) for key in columns) + " |" for row in rows
    )
    return lines


def render(figures: Sequence[Figures], run: RunInfo) -> str:
    """The whole report: the run, then one section and table per suite."""
    lines = [
        "# Reliability",
        "",
        "Made by `scripts/reliability` from the figures the reliability suites measured in",
        "one run; not edited by hand. Each row is one run of a suite's test.",
        "",
        "| Machine | Python | Home Assistant | Commit | Date |",
        "|---|---|---|---|---|",
        f"| {run.machine} | {run.python} | {run.home_assistant} | {run.commit} | {run.date} |",
    ]
    by_suite: dict[str, list[Figures]] = {}
    for row in figures:
        by_suite.setdefault(str(row["suite"]), []).append(row)
    known = [suite for suite in SUITE_HEADINGS if suite in by_suite]
    for suite in known + sorted(by_suite.keys() - set(known)):
        rows = by_suite[suite]
        length = "long" if all(row.get("long") is True for row in rows) else "short"
        lines += ["", f"## {suite_heading(suite)}", "", f"Suite `{suite}`, run {length}.", ""]
        lines += _table(rows)
    if not by_suite:
        lines += ["", "No suite recorded figures in this run."]
    return "\n".join(lines) + "\n"


def _home_assistant_version() -> str:
    try:
        from homeassistant.const import __version__
    except ImportError:
        return "not installed"
    return __version__


def machine_description() -> str:
    """The operating system, architecture and processor count of this machine."""
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count() or 1} CPUs"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Read the figures file, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", type=Path, help="the JSON lines the suites appended")
    parser.add_argument("output", type=Path, help="the markdown file to write")
    parser.add_argument("--commit", required=True, help="the commit the suites ran on")
    parser.add_argument("--date", required=True, help="when the run started (UTC)")
    arguments = parser.parse_args(argv)
    run = RunInfo(
        machine=machine_description(),
        python=platform.python_version(),
        home_assistant=_home_assistant_version(),
        commit=arguments.commit,
        date=arguments.date,
    )
    text = arguments.figures.read_text(encoding="utf-8").splitlines()
    arguments.output.write_text(render(parse_lines(text), run), encoding="utf-8")


if __name__ == "__main__":
    main()
