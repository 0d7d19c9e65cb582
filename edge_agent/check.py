"""``rala-edge check``: is this node ready to run? A readable report, non-zero on failure.

Checks the I2C bus (scan, each configured BME280's chip id and one reading through the
real driver), access to the GPIO character devices, the broker login (credentials and
TLS as configured), that this login may publish on and receive from the node's command
topics (a broker ACL that forgets them leaves the node deaf), and whether the system clock
is synchronised. Nothing is switched: the relay pins are not touched and the command
topic test uses an actuator key no relay can have, so the check is safe while the tent is
running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
import os
from pathlib import Path
import secrets
import shutil
import subprocess
import sys
from typing import TextIO

from .config import AgentConfig
from .discovery import CHECK_PROBE_ACTUATOR, Topics
from .identity import new_client_id, read_client_id
from .link import CommandProbe, check_broker_access
from .sensors import Bme280Sensor, I2CBus, SensorError, blinka_i2c_bus

BusFactory = Callable[[int], I2CBus]
GpioProbe = Callable[[], "CheckResult"]
ClockProbe = Callable[[], "CheckResult"]


class Status(StrEnum):
    """Outcome of one check."""

    OK = "ok"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the report."""

    name: str
    status: Status
    detail: str


@contextmanager
def _locked(bus: I2CBus) -> Iterator[I2CBus]:
    for _ in range(1000):
        if bus.try_lock():
            break
    else:
        raise OSError("could not lock the I2C bus")
    try:
        yield bus
    finally:
        bus.unlock()


def check_i2c(config: AgentConfig, bus_factory: BusFactory) -> list[CheckResult]:
    """Scan the bus, then read every configured sensor once through the real driver."""
    try:
        bus = bus_factory(config.i2c_bus)
    except (SensorError, OSError) as err:
        return [CheckResult(f"I2C bus {config.i2c_bus}", Status.FAIL, f"cannot open: {err}")]
    results: list[CheckResult] = []
    try:
        with _locked(bus):
            found = bus.scan()
    except OSError as err:
        return [CheckResult(f"I2C bus {config.i2c_bus}", Status.FAIL, f"scan failed: {err}")]
    listing = ", ".join(f"0x{address:02x}" for address in sorted(found)) or "no devices"
    results.append(CheckResult(f"I2C bus {config.i2c_bus}", Status.OK, f"scan: {listing}"))
    for sensor in config.sensors:
        where = f"0x{sensor.address:02x}"
        if sensor.mux_address is not None:
            where += f" via mux 0x{sensor.mux_address:02x} channel {sensor.mux_channel}"
        name = f"sensor {sensor.key} ({where})"
        try:
            reading = Bme280Sensor(sensor, bus).read()
        except SensorError as err:
            results.append(CheckResult(name, Status.FAIL, str(err)))
            continue
        except OSError as err:
            results.append(CheckResult(name, Status.FAIL, f"I2C error: {err}"))
            continue
        results.append(
            CheckResult(
                name,
                Status.OK,
                f"BME280: {reading.temperature:.1f} °C, {reading.humidity:.1f} %RH, "
                f"{reading.pressure:.1f} hPa",
            )
        )
    return results


def probe_gpio_devices(device_dir: Path = Path("/dev")) -> CheckResult:
    """Whether this user may open the GPIO character devices (``/dev/gpiochip*``)."""
    chips = sorted(device_dir.glob("gpiochip*"))
    if not chips:
        return CheckResult("GPIO", Status.FAIL, f"no {device_dir}/gpiochip* devices found")
    usable = [chip for chip in chips if os.access(chip, os.R_OK | os.W_OK)]
    if not usable:
        return CheckResult(
            "GPIO",
            Status.FAIL,
            f"no read/write access to {', '.join(map(str, chips))}: "
            "add the user to the 'gpio' group",
        )
    return CheckResult("GPIO", Status.OK, f"access to {', '.join(map(str, usable))}")


def check_gpio(config: AgentConfig, probe: GpioProbe) -> list[CheckResult]:
    """GPIO access, only needed when relays are configured."""
    if not config.actuators:
        return [CheckResult("GPIO", Status.SKIP, "no actuators configured")]
    return [probe()]


def check_broker(config: AgentConfig, *, timeout: float = 10.0) -> list[CheckResult]:
    """Log in to the broker with the configured credentials and TLS, then publish on the
    node's command topics and receive what was published there.

    The check's client id is the installation's own with ``-check`` appended (a running
    agent keeps its connection); the check never creates the installation's id.
    """
    broker = config.broker
    name = f"broker {broker.host}:{broker.port}" + (" (TLS)" if broker.tls else "")
    own = read_client_id(config.outbox.path.parent) or new_client_id(config.node_id)
    topics = Topics(config.node_id, config.discovery_prefix)
    probe = CommandProbe(
        subscription=topics.command_filter,
        topic=topics.actuator_command(CHECK_PROBE_ACTUATOR),
        payload=f"rala-edge check {secrets.token_hex(8)}".encode(),
    )
    access = check_broker_access(broker, client_id=f"{own}-check", probe=probe, timeout=timeout)
    commands_name = f"command topics {topics.command_filter}"
    if access.login is not None:
        return [
            CheckResult(name, Status.FAIL, access.login),
            CheckResult(commands_name, Status.SKIP, "not tried: the login failed"),
        ]
    who = f"as {broker.username}" if broker.username else "anonymously"
    login = CheckResult(name, Status.OK, f"logged in {who}")
    if access.commands is not None:
        return [login, CheckResult(commands_name, Status.FAIL, access.commands)]
    return [login, CheckResult(commands_name, Status.OK, "published and received")]


def probe_clock_sync(
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> CheckResult:
    """Ask systemd-timedated whether NTP has synchronised the clock."""
    timedatectl = shutil.which("timedatectl")
    if timedatectl is None:
        return CheckResult("clock", Status.SKIP, "timedatectl not available")
    try:
        result = run(
            [timedatectl, "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return CheckResult("clock", Status.SKIP, f"timedatectl failed: {err}")
    answer = result.stdout.strip()
    if result.returncode != 0 or answer not in ("yes", "no"):
        return CheckResult(
            "clock", Status.SKIP, f"timedatectl gave no answer ({result.stderr.strip()[:80]})"
        )
    if answer == "yes":
        return CheckResult("clock", Status.OK, "synchronised (NTP)")
    return CheckResult(
        "clock", Status.FAIL, "not synchronised: reading timestamps would be wrong (check NTP)"
    )


def default_bus_factory(bus_number: int) -> I2CBus:
    """The real I2C bus (imports Blinka only when called)."""
    return blinka_i2c_bus(bus_number)


def run_checks(
    config: AgentConfig,
    *,
    bus_factory: BusFactory = default_bus_factory,
    gpio_probe: GpioProbe = probe_gpio_devices,
    clock_probe: ClockProbe = probe_clock_sync,
    out: TextIO | None = None,
) -> int:
    """Run every check, print the report and return 0 when nothing failed, else 1."""
    stream = out if out is not None else sys.stdout
    results: list[CheckResult] = []
    if config.sensors:
        results.extend(check_i2c(config, bus_factory))
    else:
        results.append(CheckResult("I2C", Status.SKIP, "no sensors configured"))
    results.extend(check_gpio(config, gpio_probe))
    results.extend(check_broker(config))
    results.append(clock_probe())
    print(format_report(config, results), file=stream)
    return 1 if any(result.status is Status.FAIL for result in results) else 0


def format_report(config: AgentConfig, results: Sequence[CheckResult]) -> str:
    """The report: one line per check and a verdict."""
    labels = {Status.OK: "[ OK ]", Status.FAIL: "[FAIL]", Status.SKIP: "[SKIP]"}
    lines = [f"rala-edge check for node {config.node_id}"]
    lines.extend(f"{labels[r.status]} {r.name}: {r.detail}" for r in results)
    failed = sum(result.status is Status.FAIL for result in results)
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)
