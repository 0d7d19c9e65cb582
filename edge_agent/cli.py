"""The ``rala-edge`` command: ``run``, ``simulate``, ``check`` and ``--version``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
import dataclasses
from datetime import timedelta
import logging
import os
from pathlib import Path
import random
import signal
import sqlite3
import sys
import tempfile
from types import FrameType
from urllib.parse import unquote, urlsplit

from . import __version__
from .actuators import ActuatorBank, ActuatorError, blinka_pin_factory
from .agent import Agent, AgentOptions, ScaledClock
from .check import run_checks
from .config import (
    MAX_SAMPLE_INTERVAL,
    MIN_SAMPLE_INTERVAL,
    NODE_ID_PATTERN,
    AgentConfig,
    BrokerConfig,
    ConfigError,
    load_config,
    parse_config,
)
from .discovery import check_announceable
from .health import read_health
from .link import LinkError
from .outbox import Outbox
from .sensors import Bme280Sensor, SensorError, SensorSupervisor, blinka_i2c_bus
from .simulated import (
    DEFAULT_NODE_ID,
    SimulatedWorld,
    build_simulated_hardware,
    default_simulation_raw_config,
)

_LOGGER = logging.getLogger("edge_agent")


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="rala-edge",
        description="RALA edge agent: grow-tent sensors and relays for Home Assistant.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging threshold (default: INFO, one line per sample cycle)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the agent on the real sensors and relays")
    run.add_argument("--config", type=Path, required=True, help="YAML configuration file")

    simulate = commands.add_parser(
        "simulate",
        help="run the same agent on a simulated tent (emulated BME280 and relays)",
        description=(
            "Run the agent against a simulated grow tent. Without --config, a node with one "
            "sensor and a heater, humidifier, dehumidifier, exhaust fan and light is used."
        ),
    )
    simulate.add_argument("--config", type=Path, help="YAML configuration file (optional)")
    simulate.add_argument(
        "--broker",
        help="broker URL mqtt://[USER@]HOST[:PORT] or mqtts://... (default: the config's "
        "broker, or mqtt://127.0.0.1:1883); the password comes from the environment "
        "variable RALA_MQTT_PASSWORD, never from the command line, where every user of "
        "the machine could read it",
    )
    simulate.add_argument("--node-id", help="node id (default: the config's, or rala-sim)")
    simulate.add_argument(
        "--interval",
        type=float,
        help="sample interval in simulated seconds (default: the config's, or 30)",
    )
    simulate.add_argument(
        "--speed", type=float, default=1.0, help="how many times faster than real time"
    )
    simulate.add_argument("--seed", type=int, default=0, help="seed of the simulated tent")
    simulate.add_argument(
        "--state-dir",
        type=Path,
        help="directory of the simulation's outbox (default: a directory under the "
        "system's temporary directory, kept across runs of the same node id)",
    )
    simulate.add_argument(
        "--link-loss-timeout",
        type=float,
        help="link-loss timeout in simulated seconds (default: the config's, or 120)",
    )
    simulate.add_argument(
        "--announce-delay",
        type=float,
        default=5.0,
        help="maximum random delay in seconds before answering Home Assistant's birth",
    )

    check = commands.add_parser(
        "check", help="check I2C sensors, GPIO access, broker login and clock sync"
    )
    check.add_argument("--config", type=Path, required=True, help="YAML configuration file")
    return parser


def parse_broker_url(url: str, environ: Mapping[str, str] | None = None) -> BrokerConfig:
    """``mqtt://[user@]host[:port]`` or ``mqtts://...`` as a BrokerConfig.

    A password in the URL is refused: the command line of a process is visible to every
    user of the machine (``ps``). The password comes from ``RALA_MQTT_PASSWORD`` instead,
    and ``RALA_MQTT_USERNAME`` overrides the user, as for a config file.
    """
    environment: Mapping[str, str] = os.environ if environ is None else environ
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.password:
        raise ValueError(
            "--broker must not contain a password: the command line is visible to every "
            "user of this machine; set the environment variable RALA_MQTT_PASSWORD instead"
        )
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"broker URL scheme must be mqtt or mqtts, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    try:
        port = parts.port
    except ValueError as err:
        raise ValueError(f"broker URL {url!r}: {err}") from err
    tls = parts.scheme == "mqtts"
    username = environment.get("RALA_MQTT_USERNAME") or (
        unquote(parts.username) if parts.username else None
    )
    password = environment.get("RALA_MQTT_PASSWORD") or None
    if password is not None and username is None:
        raise ValueError("RALA_MQTT_PASSWORD needs a user: mqtt://USER@HOST or RALA_MQTT_USERNAME")
    # Without a port in the URL, BrokerConfig's default: the port of the scheme.
    broker = BrokerConfig(host=parts.hostname, username=username, password=password, tls=tls)
    return broker if port is None else dataclasses.replace(broker, port=port)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "simulate":
            return _simulate(args)
        config = load_config(args.config)
        check_announceable(config, sample_interval=config.sample_interval)
        return _run(config) if args.command == "run" else run_checks(config)
    except ConfigError as err:
        print(f"rala-edge: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except ValueError as err:
        print(f"rala-edge: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE


def _install_signal_handlers(stop: Callable[[], None]) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        _LOGGER.info("received %s", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _run(config: AgentConfig) -> int:
    try:
        outbox = _open_outbox(config)
    except (sqlite3.Error, OSError, RuntimeError) as err:
        return _fail(f"cannot open the outbox {config.outbox.path}: {err}")
    try:
        sensors: list[SensorSupervisor] = []
        if config.sensors:
            bus = blinka_i2c_bus(config.i2c_bus)
            sensors = [SensorSupervisor(Bme280Sensor(sensor, bus)) for sensor in config.sensors]
        bank = ActuatorBank(config.actuators, blinka_pin_factory)
    except (SensorError, ActuatorError) as err:
        outbox.close()
        return _fail(str(err))
    try:
        agent = Agent(
            config,
            sensors=sensors,
            bank=bank,
            outbox=outbox,
            read_health=lambda: read_health(config.outbox.path),
        )
    except (LinkError, OSError) as err:
        outbox.close()
        return _fail(_setup_failure(err))
    _install_signal_handlers(agent.request_stop)
    return agent.run()


def _setup_failure(error: LinkError | OSError) -> str:
    if isinstance(error, LinkError):
        return str(error)
    return f"cannot keep the MQTT client id in {error.filename or 'the state directory'}: " + (
        error.strerror or str(error)
    )


def _fail(message: str) -> int:
    print(f"rala-edge: {message}", file=sys.stderr)  # noqa: T201
    return EXIT_FAILURE


def _check_simulate_options(args: argparse.Namespace) -> None:
    """The options' own limits (the config file's rules apply to the same values)."""
    if (
        args.interval is not None
        and not MIN_SAMPLE_INTERVAL <= args.interval <= MAX_SAMPLE_INTERVAL
    ):
        raise ValueError(
            f"--interval must be at least {MIN_SAMPLE_INTERVAL:g} and at most "
            f"{MAX_SAMPLE_INTERVAL:g} (simulated seconds), got {args.interval}"
        )
    if args.link_loss_timeout is not None and not args.link_loss_timeout > 0:
        raise ValueError(f"--link-loss-timeout must be positive, got {args.link_loss_timeout}")
    if args.node_id is not None and not NODE_ID_PATTERN.fullmatch(args.node_id):
        raise ValueError(f"--node-id must match {NODE_ID_PATTERN.pattern}, got {args.node_id!r}")
    if not args.speed > 0:
        raise ValueError(f"--speed must be positive, got {args.speed}")
    if not args.announce_delay >= 0:
        raise ValueError(f"--announce-delay must not be negative, got {args.announce_delay}")


def _simulation_config(args: argparse.Namespace) -> AgentConfig:
    _check_simulate_options(args)
    broker = parse_broker_url(args.broker) if args.broker else None
    if args.config is not None:
        config = load_config(args.config)
        if broker is not None:
            config = dataclasses.replace(config, broker=broker)
        if args.node_id is not None:
            config = dataclasses.replace(config, node_id=args.node_id)
    else:
        broker = broker or parse_broker_url("mqtt://127.0.0.1")
        config = parse_config(
            default_simulation_raw_config(
                node_id=args.node_id or DEFAULT_NODE_ID,
                host=broker.host,
                port=broker.port,
                sample_interval=args.interval or 30.0,
            ),
            environ={},
        )
        config = dataclasses.replace(config, broker=broker)
    # Re-validate what the options changed, with the config's own rules.
    if args.interval is not None:
        config = dataclasses.replace(config, sample_interval=args.interval)
    if args.link_loss_timeout is not None:
        config = dataclasses.replace(config, link_loss_timeout=args.link_loss_timeout)
    announced = config.sample_interval / args.speed
    if announced > MAX_SAMPLE_INTERVAL:
        raise ValueError(
            f"--speed {args.speed:g} announces a sample interval of {announced:g} s, more than "
            f"the {MAX_SAMPLE_INTERVAL:g} s Home Assistant accepts"
        )
    check_announceable(config, sample_interval=announced)
    state_dir: Path = args.state_dir or Path(tempfile.gettempdir()) / f"rala-edge-{config.node_id}"
    outbox = dataclasses.replace(config.outbox, path=state_dir / "outbox.sqlite")
    return dataclasses.replace(config, outbox=outbox)


def _simulate(args: argparse.Namespace) -> int:

    config = _simulation_config(args)
    clock = ScaledClock(args.speed)
    hardware = build_simulated_hardware(config, seed=args.seed)
    outbox = _open_outbox(config)
    sensors = [
        SensorSupervisor(Bme280Sensor(sensor, hardware.bus), clock=clock)
        for sensor in config.sensors
    ]
    bank = ActuatorBank(config.actuators, hardware.pin_factory, clock=clock)
    try:
        agent = Agent(
            config,
            sensors=sensors,
            bank=bank,
            outbox=outbox,
            read_health=lambda: read_health(config.outbox.path),
            options=AgentOptions(
                clock=clock,
                speed=args.speed,
                reannounce_delay=args.announce_delay,
                rng=random.Random(args.seed),  # noqa: S311 - jitter, not cryptography
            ),
            world=SimulatedWorld(hardware.tent, bank, clock()),
        )
    except (LinkError, OSError) as err:
        outbox.close()
        return _fail(_setup_failure(err))
    _LOGGER.info(
        "simulating node %s at %gx real time, outbox %s",
        config.node_id,
        args.speed,
        config.outbox.path,
    )
    _install_signal_handlers(agent.request_stop)
    return agent.run()


def _open_outbox(config: AgentConfig) -> Outbox:

    return Outbox(
        config.outbox.path,
        max_bytes=config.outbox.max_bytes,
        retention=timedelta(days=config.outbox.retention_days),
    )
