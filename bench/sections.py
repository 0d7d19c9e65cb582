"""What every benchmark script shares: running its measurement in Home Assistant's test
harness, and writing its section of docs/benchmarks.md between its markers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPOSITORY: Path = Path(__file__).resolve().parent.parent


def run_in_harness(module: str, session: object) -> int:
    """Run the one test of ``bench/<module>`` under ``pytest.main`` with ``session`` as a
    plugin (it collects the figures); pytest's exit code."""
    return pytest.main(
        [
            str(REPOSITORY / "bench" / module),
            f"--rootdir={REPOSITORY}",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:logging",
            "-q",
            "--no-header",
        ],
        plugins=[session],
    )


def verdict(met: bool) -> str:
    """How a figure stands against its goal, in the report's words."""
    return "meets the goal" if met else "misses the goal"


def merge_section(document: str, section: str, *, begin: str, end: str, heading: str) -> str:
    """``document`` with the part between ``begin`` and ``end`` replaced by ``section``
    (which carries both markers); appended under ``heading`` when the markers are absent."""
    if begin in document and end in document:
        before = document[: document.index(begin)]
        after = document[document.index(end) + len(end) :]
        return before + section + after
    before = document.rstrip("\n") + "\n\n" if document.strip() else ""
    return f"{before}{heading}\n\n{section}\n"
