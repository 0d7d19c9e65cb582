"""The ``rala-edge`` command line."""

import dataclasses
import io
import json
from pathlib import Path
import shutil
import subprocess
import sys
from typing import Any

import pytest

from edge_agent import __version__
from edge_agent.check import (
    CheckResult,
    Status,
    check_broker,
    check_i2c,
    format_report,
    probe_clock_sync,
    probe_gpio_devices,
    run_checks,
)
from edge_agent.cli import parse_broker_url
from edge_agent.config import AgentConfig, BrokerConfig, parse_config
from edge_agent.emulation import Bme280Emulation, EmulatedI2CBus, Tca9548aEmulation
from edge_agent.sensors import SensorError
from tests.mosquitto import Mosquitto


def test_version_from_the_installed_console_script() -> None:
    """``rala-edge --version`` prints the package version on this interpreter."""
    script = Path(sys.executable).with_name("rala-edge")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == f"rala-edge {__version__}"


def test_version_as_a_module() -> None:
    """``python -m edge_agent --version`` works where the console script is not on PATH."""
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip() == f"rala-edge {__version__}"


# --------------------------------------------------------------------------- arguments


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_without_a_command_prints_help_and_fails() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "simulate" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--speed", "0"], "--speed must be positive"),
        (["simulate", "--interval", "-1"], "--interval must be at least 1"),
        (["simulate", "--interval", "nan"], "--interval must be at least 1"),
        (["simulate", "--interval", "3601"], "at most 3600 (simulated seconds)"),
        (
            ["simulate", "--interval", "3600", "--speed", "0.5"],
            "announces a sample interval of 7200 s, more than the 3600 s",
        ),
        (["simulate", "--broker", "ftp://host"], "scheme must be mqtt or mqtts"),
        (["simulate", "--broker", "mqtt://host:99999"], "broker URL"),
        (["simulate", "--node-id", "Bad Node"], "--node-id must match"),
        (["simulate", "--link-loss-timeout", "0"], "--link-loss-timeout must be positive"),
    ],
)
def test_bad_simulate_options_are_refused(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_run_with_a_broken_config_names_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("node_id: Tent Pi\nbroker: {host: x}\n", encoding="utf-8")
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2
    assert "node_id" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["run", "check"])
def test_a_node_too_large_to_announce_is_refused_before_it_starts(
    tmp_path: Path, command: str
) -> None:
    sensors = [
        {
            "key": f"m{mux}{channel}{address}",
            "name": "n" * 600,
            "address": address,
            "mux_address": 0x70 + mux,
            "mux_channel": channel,
        }
        for mux in range(6)
        for channel in range(8)
        for address in (0x76, 0x77)
    ]
    config = tmp_path / "config.yaml"
    raw = {"node_id": "tent", "broker": {"host": "x"}, "sensors": sensors}
    config.write_text(json.dumps(raw), encoding="utf-8")  # JSON is YAML
    result = run_cli(command, "--config", str(config))
    assert result.returncode == 2
    assert "the node announcement would be" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://10.0.0.5:1884", BrokerConfig(host="10.0.0.5", port=1884)),
        ("mqtt://broker.lan", BrokerConfig(host="broker.lan", port=1883)),
        ("mqtts://broker.lan", BrokerConfig(host="broker.lan", port=8883, tls=True)),
        ("127.0.0.1:1999", BrokerConfig(host="127.0.0.1", port=1999)),
        ("mqtt://gr%40wer@host:1883", BrokerConfig(host="host", port=1883, username="gr@wer")),
    ],
)
def test_broker_urls(url: str, expected: BrokerConfig) -> None:
    assert parse_broker_url(url, environ={}) == expected


@pytest.mark.parametrize("url", ["http://host", "mqtt://", "mqtt://host:port"])
def test_bad_broker_urls(url: str) -> None:
    with pytest.raises(ValueError, match="broker URL"):
        parse_broker_url(url, environ={})


def test_the_password_of_a_broker_url_comes_from_the_environment() -> None:
    environ = {"RALA_MQTT_PASSWORD": "p@ss"}
    assert parse_broker_url("mqtts://grower@host", environ) == BrokerConfig(
        host="host",
        port=8883,
        username="grower",
        password="p@ss",  # noqa: S106
        tls=True,
    )
    environ["RALA_MQTT_USERNAME"] = "agent"
    assert parse_broker_url("mqtt://host", environ).username == "agent"
    with pytest.raises(ValueError, match="needs a user"):
        parse_broker_url("mqtt://host", {"RALA_MQTT_PASSWORD": "p@ss"})


def test_a_password_on_the_command_line_is_refused() -> None:
    """ps shows every process's command line to every user: no password there."""
    with pytest.raises(ValueError, match="RALA_MQTT_PASSWORD"):
        parse_broker_url("mqtt://grower:p%40ss@host:1883", environ={})
    result = run_cli("simulate", "--broker", "mqtts://grower:hunter2@127.0.0.1")
    assert result.returncode == 2
    assert "--broker must not contain a password" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- check


def node_config(tmp_path: Path, broker: Mosquitto, **overrides: Any) -> AgentConfig:
    raw: dict[str, Any] = {
        "node_id": "check-node",
        "broker": {"host": broker.host, "port": broker.port},
        "sensors": [
            {"key": "canopy", "address": 0x76},
            {"key": "root", "address": 0x77, "mux_address": 0x70, "mux_channel": 3},
        ],
        "actuators": [{"key": "heater", "kind": "heater", "pin": "D17"}],
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
    }
    raw.update(overrides)
    return parse_config(raw, environ={})


def ok_probe() -> CheckResult:
    return CheckResult("GPIO", Status.OK, "fake")


def synced_clock() -> CheckResult:
    return CheckResult("clock", Status.OK, "fake")


def emulated_bus(*, root_chip: int = 0x60) -> EmulatedI2CBus:
    bus = EmulatedI2CBus()
    bus.attach(0x76, Bme280Emulation())
    mux = Tca9548aEmulation()
    mux.attach(3, 0x77, Bme280Emulation(chip_id=root_chip))
    bus.attach(0x70, mux)
    return bus


def test_check_passes_on_working_hardware_and_broker(tmp_path: Path, mosquitto: Mosquitto) -> None:
    out = io.StringIO()
    status = run_checks(
        node_config(tmp_path, mosquitto),
        bus_factory=lambda number: emulated_bus(),
        gpio_probe=ok_probe,
        clock_probe=synced_clock,
        out=out,
    )
    report = out.getvalue()
    assert status == 0, report
    assert "[ OK ] I2C bus 1: scan: 0x70, 0x76" in report
    assert "[ OK ] sensor canopy (0x76): BME280: 22.0 °C, 50.0 %RH, 1013.2 hPa" in report
    assert "[ OK ] sensor root (0x77 via mux 0x70 channel 3)" in report
    assert f"[ OK ] broker 127.0.0.1:{mosquitto.port}: logged in anonymously" in report
    assert "[ OK ] command topics rala/check-node/actuator/+/set: published and received" in report
    assert report.rstrip().endswith("all checks passed")


def acl_broker(directory: Path, acl: str) -> Mosquitto:
    """A broker with the login ``node`` / ``pw`` and the access control list ``acl``."""
    broker = Mosquitto(directory, users={"node": "pw"})
    acl_file = directory / "acl"
    acl_file.write_text(acl, encoding="utf-8")
    with broker.config_file.open("a", encoding="utf-8") as config:
        config.write(f"acl_file {acl_file}\n")
    broker.start()
    return broker


@pytest.mark.parametrize(
    ("acl", "verdict"),
    [
        pytest.param(
            "user node\ntopic readwrite rala/check-node/#\n",
            "[ OK ] command topics rala/check-node/actuator/+/set: published and received",
            id="own-topics",
        ),
        pytest.param(
            "user node\ntopic readwrite rala/check-node/availability\n"
            "topic readwrite rala/check-node/sensor/#\n",
            "[FAIL] command topics rala/check-node/actuator/+/set: may not publish on "
            "rala/check-node/actuator/rala-check/set: Not authorized",
            id="no-command-topics",
        ),
        pytest.param(
            "user node\ntopic write rala/check-node/#\n",
            "[FAIL] command topics rala/check-node/actuator/+/set: published on "
            "rala/check-node/actuator/rala-check/set but did not receive it within 3 s: "
            "the broker's ACL must let this login read rala/check-node/actuator/+/set",
            id="write-only",
        ),
    ],
)
def test_check_reports_an_acl_that_forgets_the_command_topics(
    tmp_path: Path, acl: str, verdict: str
) -> None:
    broker = acl_broker(tmp_path, acl)
    try:
        config = dataclasses.replace(
            node_config(tmp_path, broker),
            broker=BrokerConfig(broker.host, broker.port, username="node", password="pw"),  # noqa: S106
        )
        results = check_broker(config, timeout=3)
    finally:
        broker.stop(kill=True)
    report = format_report(config, results)
    assert f"[ OK ] broker 127.0.0.1:{broker.port}: logged in as node" in report
    assert verdict in report


def test_check_connects_with_a_client_id_of_its_own(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """The check never takes the running agent's client id (that would throw it off)."""
    config = node_config(tmp_path, mosquitto)
    check_broker(config, timeout=5)
    assert not (tmp_path / "client_id").exists()  # made up by the agent, not by the check
    (tmp_path / "client_id").write_text("rala-edge-check-node-0123456789abcdef\n")
    check_broker(config, timeout=5)
    log = mosquitto.log_file.read_text(encoding="utf-8")
    assert "as rala-edge-check-node-0123456789abcdef-check " in log
    assert "as rala-edge-check-node-0123456789abcdef " not in log


def test_check_reports_a_bmp280_a_missing_broker_and_an_unsynced_clock(tmp_path: Path) -> None:
    nowhere = Mosquitto(tmp_path)  # never started
    out = io.StringIO()
    status = run_checks(
        node_config(tmp_path, nowhere),
        bus_factory=lambda number: emulated_bus(root_chip=0x58),
        gpio_probe=ok_probe,
        clock_probe=lambda: probe_clock_sync(run=fake_timedatectl("no")),
        out=out,
    )
    report = out.getvalue()
    assert status == 1
    assert "[FAIL] sensor root" in report
    assert "BMP280" in report
    assert "[FAIL] broker" in report
    assert "[FAIL] clock: not synchronised" in report
    assert "3 check(s) failed" in report


def test_check_reports_a_missing_sensor_and_an_unopenable_bus(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    bus = EmulatedI2CBus()  # nothing attached
    results = check_i2c(node_config(tmp_path, broker), lambda number: bus)
    assert [r.status for r in results] == [Status.OK, Status.FAIL, Status.FAIL]
    assert "no devices" in results[0].detail

    def broken(number: int) -> EmulatedI2CBus:
        raise SensorError(f"cannot open I2C bus {number}: no such device")

    (result,) = check_i2c(node_config(tmp_path, broker), broken)
    assert result.status is Status.FAIL
    assert "cannot open" in result.detail


def test_gpio_probe(tmp_path: Path) -> None:
    assert probe_gpio_devices(tmp_path).status is Status.FAIL
    chip = tmp_path / "gpiochip0"
    chip.touch()
    result = probe_gpio_devices(tmp_path)
    assert result.status is Status.OK
    assert "gpiochip0" in result.detail


def fake_timedatectl(answer: str, returncode: int = 0) -> Any:
    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert args[1:] == ["show", "-p", "NTPSynchronized", "--value"]
        return subprocess.CompletedProcess(args, returncode, stdout=f"{answer}\n", stderr="")

    return run


@pytest.mark.parametrize(
    ("answer", "returncode", "status"),
    [("yes", 0, Status.OK), ("no", 0, Status.FAIL), ("", 1, Status.SKIP)],
)
def test_clock_probe(answer: str, returncode: int, status: Status) -> None:
    if shutil.which("timedatectl") is None:
        assert probe_clock_sync(run=fake_timedatectl(answer, returncode)).status is Status.SKIP
    else:
        assert probe_clock_sync(run=fake_timedatectl(answer, returncode)).status is status


def test_check_command_end_to_end(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """The real command on this machine: no Pi hardware here, so it must fail, readably."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"node_id: check-node\nbroker: {{host: 127.0.0.1, port: {mosquitto.port}}}\n"
        "sensors: [{key: canopy}]\n"
        f"outbox: {{path: {tmp_path / 'outbox.sqlite'}}}\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rala-edge check for node check-node" in result.stdout
    assert "[FAIL] I2C bus 1: cannot open" in result.stdout
    assert "[SKIP] GPIO: no actuators configured" in result.stdout
    assert f"[ OK ] broker 127.0.0.1:{mosquitto.port}: logged in anonymously" in result.stdout
    assert "Traceback" not in result.stderr


def test_run_without_the_hardware_fails_readably(tmp_path: Path) -> None:
    """``run`` on a machine without I2C: a clear message and exit status 1, no traceback."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "node_id: run-node\nbroker: {host: 127.0.0.1}\n"
        "sensors: [{key: canopy}]\n"
        f"outbox: {{path: {tmp_path / 'outbox.sqlite'}}}\n",
        encoding="utf-8",
    )
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 1
    assert "rala-edge: cannot open I2C bus 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_an_unwritable_outbox_fails_readably(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "node_id: run-node\nbroker: {host: 127.0.0.1}\n"
        "sensors: [{key: canopy}]\n"
        f"outbox: {{path: {blocker / 'sub' / 'outbox.sqlite'}}}\n",
        encoding="utf-8",
    )
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 1
    assert "cannot open the outbox" in result.stderr
    assert "Traceback" not in result.stderr


def tls_config(tmp_path: Path, ca_file: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"node_id: tls-node\nbroker: {{host: 127.0.0.1, tls: true, ca_file: {ca_file}}}\n"
        "sensors: [{key: canopy}]\n"
        f"outbox: {{path: {tmp_path / 'outbox.sqlite'}}}\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("command", ["run", "simulate", "check"])
def test_a_missing_ca_file_is_a_config_error_naming_the_key(tmp_path: Path, command: str) -> None:
    result = run_cli(command, "--config", str(tls_config(tmp_path, tmp_path / "ca.crt")))
    assert result.returncode == 2
    assert f"broker.ca_file: no such file: {tmp_path / 'ca.crt'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_ca_file_that_is_no_certificate_fails_readably(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.crt"
    garbage.write_text("not a certificate\n", encoding="utf-8")
    args = ["--config", str(tls_config(tmp_path, garbage)), "--state-dir", str(tmp_path / "s")]
    result = run_cli("simulate", *args)
    assert result.returncode == 1
    assert "rala-edge: TLS set-up failed:" in result.stderr
    assert "Traceback" not in result.stderr
