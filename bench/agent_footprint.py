"""Agent footprint: what ``rala-edge`` costs a Raspberry Pi, beside mqtt-io doing the same job.

Usage (from the repository root, after ``scripts/setup``)::

    .venv/bin/python bench/agent_footprint.py                 # 10 minutes; writes its section
    .venv/bin/python bench/agent_footprint.py --seconds 60 --no-write

Both run on Python 3.11 (what Raspberry Pi OS Bookworm has), at the same time, against one
real mosquitto on loopback, publishing a BME280's three values and five relays' states
every second with Home Assistant discovery: ``rala-edge simulate`` (from ``.venv-edge``)
and mqtt-io (``.toolchain/mqtt-io``, the PyPI release pinned in
``requirements/mqtt-io-py311.lock``) with its mock sensor and GPIO modules. A watcher on
the broker counts each side's cycles (one reading of the three values). From each
process's ``/proc`` entry: resident memory (at the end and its peak) and CPU time
(user + system) per cycle over the measured window, and the start-up time (process start
to its first reading on the broker).

Not the same work: the agent also stores every reading in its SQLite outbox (an fsync per
reading), keeps the simulated tent's physics, publishes a diagnostics document and guards
its relays (interlocks, link-loss states, minimum times); mqtt-io reads a mock that
returns a constant. The comparison is what a grower would run instead, not a like-for-like
of the code paths.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

REPOSITORY: Path = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a script, only bench/ is on the path; the project's packages live at the root.
    sys.path.insert(0, str(REPOSITORY))

from bench.results import commit, write_figures  # noqa: E402
from bench.sections import merge_section, verdict  # noqa: E402
from tests.edge_agent.mqtt_probe import MqttProbe, probe  # noqa: E402
from tests.mosquitto import Mosquitto  # noqa: E402

DEFAULT_OUTPUT: Path = REPOSITORY / "docs" / "benchmarks.md"
BEGIN_MARKER = "<!-- footprint:begin (written by bench/agent_footprint.py) -->"
END_MARKER = "<!-- footprint:end -->"
SECTION_HEADING = "## Agent footprint: what the edge agent costs a Raspberry Pi"
EDGE_PYTHON = REPOSITORY / ".venv-edge" / "bin" / "python"
MQTT_IO_PYTHON = REPOSITORY / ".toolchain" / "mqtt-io" / "bin" / "python"
RSS_GOAL_MB = 40.0
"""The agent's resident memory, at most (and at most mqtt-io's)."""
CPU_GOAL_MS = 10.0
"""The agent's CPU time per cycle, at most."""
WARM_UP_S = 10.0
"""Seconds after a side's first reading before its window opens (imports, first writes)."""
NODE = "footprint"
MQTT_IO_PREFIX = "footprint-mqtt-io"
RELAYS = (("heater", 17), ("humidifier", 27), ("dehumidifier", 22), ("exhaust_fan", 23))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class SideFootprint:
    """What one side cost over the measured window."""

    side: str
    startup_s: float
    cycles: int
    cpu_ms_per_cycle: float
    rss_mb: float
    peak_rss_mb: float


@dataclass(slots=True)
class Side:
    """One process under measurement and the topic that counts its cycles."""

    name: str
    command: list[str]
    cycle_topic: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    window: tuple[float, int, float] | None = None  # (CPU s, cycles, at) when it opened
    rss_samples: list[float] = field(default_factory=list)


def _mqtt_io_config(broker: Mosquitto, path: Path) -> Path:
    """mqtt-io's configuration: a BME280's three values every second, five relays."""
    outputs = [*RELAYS, ("light", 24)]
    lines = [
        "mqtt:",
        f"  host: {broker.host}",
        f"  port: {broker.port}",
        f"  topic_prefix: {MQTT_IO_PREFIX}",
        "  ha_discovery:",
        "    enabled: yes",
        "gpio_modules:",
        "  - {name: relays, module: mock}",
        "sensor_modules:",
        "  - {name: bme280, module: mock}",
        "digital_outputs:",
        *(f"  - {{name: {name}, module: relays, pin: {pin}}}" for name, pin in outputs),
        "sensor_inputs:",
        *(
            f"  - {{name: {quantity}, module: bme280, interval: 1}}"
            for quantity in ("temperature", "humidity", "pressure")
        ),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the line; 12 and 13 after the command name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


@contextmanager
def _running(side: Side) -> Iterator[Side]:
    with side.log.open("wb") as log:
        side.started = time.monotonic()
        side.process = subprocess.Popen(side.command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield side
    finally:
        if side.process.poll() is None:
            side.process.terminate()
            try:
                side.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                side.process.kill()
                side.process.wait(timeout=20)


def _pid(side: Side) -> int:
    """The side's process id, while it runs (a side that ended fails the benchmark)."""
    if side.process is None or side.process.poll() is not None:
        raise RuntimeError(f"{side.name} is not running: {side.log.read_text()[-2000:]}")
    return side.process.pid


def _first_arrival(watcher: MqttProbe, topic: str) -> float | None:
    arrivals = [message.at for message in watcher.on(topic)]
    return arrivals[0] if arrivals else None


def measure(seconds: float, directory: Path, *, warm_up: float = WARM_UP_S) -> list[SideFootprint]:
    """Run both sides for ``seconds`` after ``warm_up`` seconds; their footprints."""
    broker_directory = directory / "broker"
    broker_directory.mkdir()
    broker = Mosquitto(broker_directory)
    broker.start()
    sides = [
        Side(
            "rala-edge",
            [
                str(EDGE_PYTHON),
                "-m",
                "edge_agent",
                "simulate",
                *("--broker", broker.url, "--node-id", NODE, "--speed", "1", "--interval", "1"),
                *("--announce-delay", "0", "--state-dir", str(directory / "state")),
            ],
            f"rala/{NODE}/sensor/+/state",
            directory / "rala-edge.log",
        ),
        Side(
            "mqtt-io",
            [
                str(MQTT_IO_PYTHON),
                *("-m", "mqtt_io", str(_mqtt_io_config(broker, directory / "mqtt-io.yml"))),
            ],
            f"{MQTT_IO_PREFIX}/sensor/temperature",
            directory / "mqtt-io.log",
        ),
    ]
    try:
        with (
            probe(broker.host, broker.port, ["rala/#", f"{MQTT_IO_PREFIX}/#"]) as watcher,
            ExitStack() as stack,
        ):
            for side in sides:
                stack.enter_context(_running(side))
            _until(lambda: all(_first_arrival(watcher, s.cycle_topic) for s in sides), 60)
            first = {s.name: _first_arrival(watcher, s.cycle_topic) or 0.0 for s in sides}
            time.sleep(warm_up)
            for side in sides:
                side.window = (
                    _cpu_seconds(_pid(side)),
                    len(watcher.on(side.cycle_topic)),
                    time.monotonic(),
                )
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for side in sides:
                    side.rss_samples.append(_memory_mb(_pid(side), "VmRSS"))
                time.sleep(1.0)
            results = []
            for side in sides:
                if side.window is None:
                    raise RuntimeError(f"{side.name} was never measured")
                cpu, cycles = _cpu_seconds(_pid(side)), len(watcher.on(side.cycle_topic))
                window_cycles = cycles - side.window[1]
                results.append(
                    SideFootprint(
                        side=side.name,
                        startup_s=first[side.name] - side.started,
                        cycles=window_cycles,
                        cpu_ms_per_cycle=(cpu - side.window[0]) * 1e3 / max(window_cycles, 1),
                        rss_mb=statistics.median(side.rss_samples[-10:]),
                        peak_rss_mb=_memory_mb(_pid(side), "VmHWM"),
                    )
                )
            return results
    finally:
        broker.stop(kill=True)


def _until(condition: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("a side published no reading")
        time.sleep(0.05)


def render(results: Sequence[SideFootprint], seconds: float, command: str) -> str:
    """The Markdown section: where, the table, the verdicts."""
    by_side = {result.side: result for result in results}
    rala, mqtt_io = by_side["rala-edge"], by_side["mqtt-io"]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN_MARKER,
        "",
        (
            f"`{command}` at {commit()}, {date}, {os.cpu_count()} CPU(s), Python 3.11; both "
            f"sides at once for {seconds:g} s after their warm-up, a cycle every second."
        ),
        "",
        (
            "| side | start-up to first reading (s) | cycles | CPU per cycle (ms) "
            "| RSS (MB) | peak RSS (MB) |"
        ),
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.side} | {r.startup_s:.2f} | {r.cycles} | {r.cpu_ms_per_cycle:.2f} "
        f"| {r.rss_mb:.1f} | {r.peak_rss_mb:.1f} |"
        for r in (rala, mqtt_io)
    ]
    rss_met = rala.rss_mb <= min(RSS_GOAL_MB, mqtt_io.rss_mb)
    lines += [
        "",
        (
            f"- Agent RSS: **{rala.rss_mb:.1f} MB**, {rala.rss_mb / mqtt_io.rss_mb:.2f} times "
            f"mqtt-io's (goal ≤ {RSS_GOAL_MB:g} MB and ≤ mqtt-io's: {verdict(rss_met)})."
        ),
        (
            f"- Agent CPU per cycle: **{rala.cpu_ms_per_cycle:.2f} ms**, "
            f"{rala.cpu_ms_per_cycle / max(mqtt_io.cpu_ms_per_cycle, 1e-9):.2f} times "
            f"mqtt-io's (goal ≤ {CPU_GOAL_MS:g} ms: "
            f"{verdict(rala.cpu_ms_per_cycle <= CPU_GOAL_MS)})."
        ),
        "",
        END_MARKER,
    ]
    return "\n".join(lines)


def figures(results: Sequence[SideFootprint]) -> dict[str, float | int]:
    """The figures for ``bench/results/latest.json``."""
    flat: dict[str, float | int] = {}
    for result in results:
        prefix = result.side.replace("-", "_")
        flat |= {
            f"{prefix}_startup_s": round(result.startup_s, 3),
            f"{prefix}_cycles": result.cycles,
            f"{prefix}_cpu_ms_per_cycle": round(result.cpu_ms_per_cycle, 3),
            f"{prefix}_rss_mb": round(result.rss_mb, 2),
            f"{prefix}_peak_rss_mb": round(result.peak_rss_mb, 2),
        }
    return flat


def merge_into(document: str, section: str) -> str:
    """``document`` with its footprint section replaced (appended when it has none)."""
    return merge_section(
        document, section, begin=BEGIN_MARKER, end=END_MARKER, heading=SECTION_HEADING
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when both sides ran (whatever the verdicts)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="measured window")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-write", action="store_true", help="print only")
    arguments = parser.parse_args(argv)
    for python in (EDGE_PYTHON, MQTT_IO_PYTHON):
        if not python.exists():
            print(f"agent_footprint: {python} is missing: run scripts/setup", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory() as scratch:
        results = measure(arguments.seconds, Path(scratch))
    command = " ".join([".venv/bin/python", "bench/agent_footprint.py", *(argv or sys.argv[1:])])
    section = render(results, arguments.seconds, command)
    print(section)
    write_figures("agent_footprint", figures(results))
    if not arguments.no_write:
        output: Path = arguments.output
        output.write_text(merge_into(output.read_text(encoding="utf-8"), section), "utf-8")
        print(f"written: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
