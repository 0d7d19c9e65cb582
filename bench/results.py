"""What one run of the benchmarks measured, in ``bench/results/latest.json``.

``scripts/bench`` points ``RALA_BENCH_RESULTS`` at a fresh directory; each benchmark adds
its figures there (:func:`write_figures`, one JSON file per benchmark), and
``python -m bench.results COLLECT_DIR OUTPUT`` writes them into one document with where
and with what they were measured: machine, Python, Home Assistant and paho versions, and
the commit. Run alone, a benchmark writes no figures file.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
import json
import os
from pathlib import Path
import platform
import subprocess
import sys

RESULTS_VARIABLE = "RALA_BENCH_RESULTS"
REPOSITORY = Path(__file__).resolve().parent.parent

Figure = float | int | str | bool | None


def write_figures(benchmark: str, figures: Mapping[str, object]) -> None:
    """Keep ``figures`` of ``benchmark`` for the run's results, when a run collects them."""
    directory = os.environ.get(RESULTS_VARIABLE)
    if not directory:
        return
    path = Path(directory) / f"{benchmark}.json"
    path.write_text(json.dumps(dict(figures), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def commit() -> str:
    """The checked-out commit, marked when tracked files are modified."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=False
        ).stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    modified = git("status", "--porcelain", "--untracked-files=no")
    return f"{revision} (modified)" if modified else revision


def collect(directory: Path) -> dict[str, object]:
    """The run's document: where it ran, and every benchmark's figures by name."""
    benchmarks = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": {
            "system": f"{platform.system()} {platform.release()} {platform.machine()}",
            "cpus": os.cpu_count(),
        },
        "versions": {
            "python": platform.python_version(),
            "homeassistant": _version("homeassistant"),
            "paho-mqtt": _version("paho-mqtt"),
        },
        "benchmarks": benchmarks,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write the collected figures; 1 when no benchmark left any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where the benchmarks wrote their figures")
    parser.add_argument("output", type=Path, help="the results file to write")
    arguments = parser.parse_args(argv)
    document = collect(arguments.directory)
    if not document["benchmarks"]:
        print("results: no benchmark wrote figures", file=sys.stderr)
        return 1
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
