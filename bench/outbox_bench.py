"""Outbox throughput: what does ``synchronous=FULL`` cost compared with ``NORMAL``?

The outbox runs SQLite's WAL with ``synchronous=FULL`` so a reading survives a power cut
once ``append`` returns (see edge_agent/outbox.py). This measures, in one run on the same
disk, appends and append+acknowledge cycles under FULL and under NORMAL, and prints the
ratios, which carry over between machines better than absolute numbers. Run it on the Pi's
SD card to see the real cost there:

    python bench/outbox_bench.py [--count 2000] [--dir /var/lib/rala-edge]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sys
import tempfile
import time

REPOSITORY: Path = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a script, only bench/ is on the path; the project's packages live at the root.
    sys.path.insert(0, str(REPOSITORY))

from bench.results import write_figures  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.sensors import Reading  # noqa: E402

MODES = ("FULL", "NORMAL")
START = datetime(2026, 11, 25, tzinfo=UTC)


def reading(index: int) -> Reading:
    """A plausible reading; four sensors in turn, 30 s apart."""
    return Reading(
        sensor=("canopy", "roots", "room", "seedlings")[index % 4],
        temperature=24.0 + (index % 17) / 10,
        humidity=55.0 + (index % 13) / 10,
        pressure=1012.0 + (index % 7) / 10,
        measured_at=START + timedelta(seconds=30 * (index // 4)),
    )


def open_outbox(directory: Path, mode: str, name: str) -> Outbox:
    """An outbox whose connection runs with ``synchronous=<mode>``."""
    outbox = Outbox(directory / f"{name}-{mode}.sqlite3")
    outbox._open_connection().execute(f"PRAGMA synchronous = {mode}")  # noqa: SLF001
    return outbox


def time_appends(outbox: Outbox, count: int) -> float:
    """Seconds per append."""
    began = time.perf_counter()
    for index in range(count):
        outbox.append(reading(index))
    return (time.perf_counter() - began) / count


def time_append_and_ack(outbox: Outbox, count: int) -> float:
    """Seconds per append followed by its acknowledgement (the agent's normal cycle)."""
    began = time.perf_counter()
    for index in range(count):
        stored = outbox.append(reading(index))
        outbox.mark_sent([stored.seq])
    return (time.perf_counter() - began) / count


def main() -> None:
    """Run every workload under every mode and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="operations per measurement")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    args = parser.parse_args()
    workloads: dict[str, Callable[[Outbox, int], float]] = {
        "append": time_appends,
        "append + mark_sent": time_append_and_ack,
    }
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        directory = Path(scratch)
        print(f"{args.count} operations per cell, databases in {directory}")
        print(f"{'workload':<20} {'FULL ms/op':>11} {'NORMAL ms/op':>13} {'FULL/NORMAL':>12}")
        figures: dict[str, float] = {}
        for name, workload in workloads.items():
            seconds: dict[str, float] = {}
            for mode in MODES:
                with open_outbox(directory, mode, name.replace(" ", "")) as outbox:
                    workload(outbox, args.count // 10)  # warm up: file growth, page cache
                    seconds[mode] = workload(outbox, args.count)
            ratio = seconds["FULL"] / seconds["NORMAL"]
            key = name.replace(" + ", "_").replace(" ", "_")
            figures |= {
                f"{key}.full_ms": round(seconds["FULL"] * 1e3, 4),
                f"{key}.normal_ms": round(seconds["NORMAL"] * 1e3, 4),
                f"{key}.full_to_normal": round(ratio, 2),
            }
            print(
                f"{name:<20} {seconds['FULL'] * 1e3:>11.3f} {seconds['NORMAL'] * 1e3:>13.3f}"
                f" {ratio:>11.1f}x"
            )
        write_figures("outbox", figures)


if __name__ == "__main__":
    main()
