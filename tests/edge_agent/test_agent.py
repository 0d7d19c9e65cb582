"""The agent end to end: ``rala-edge simulate`` as a real process against a real mosquitto."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
import json
import logging
from pathlib import Path
import threading
import time

import pytest

from edge_agent.actuators import ActuatorBank
from edge_agent.agent import Agent, AgentOptions, ScaledClock
from edge_agent.config import parse_config
from edge_agent.discovery import format_timestamp, parse_timestamp
from edge_agent.emulation import Bme280Emulation, EmulatedI2CBus, MemoryPinFactory
from edge_agent.health import NodeHealth
from edge_agent.outbox import Outbox
from edge_agent.sensors import Bme280Sensor, Reading, SensorSupervisor
from edge_agent.simulated import SimulatedWorld, build_simulated_hardware
from tests.edge_agent.agent_process import ALL_TOPICS, command, running_agent, simulate_args
from tests.edge_agent.mqtt_probe import MqttProbe, is_text, probe
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

DEFAULT_ACTUATORS = ("heater", "humidifier", "dehumidifier", "exhaust_fan", "light")


def states_of(watcher: MqttProbe, node: str, key: str) -> list[str]:
    return [m.text for m in watcher.on(f"rala/{node}/actuator/{key}/state")]


def test_announces_publishes_readings_and_exits_cleanly(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node = "t-states"
    with (
        probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher,
        running_agent(
            simulate_args(mosquitto, tmp_path / f"state-{node}", node, "--interval", "2"),
            tmp_path / "agent.log",
        ) as agent,
    ):
        discovery = watcher.wait_for(f"homeassistant/device/{node}/config").json()
        assert discovery["dev"]["identifiers"] == [f"rala_{node}"]
        assert discovery["o"]["name"] == "rala-edge"
        components = discovery["cmps"]
        assert components["canopy_temperature"]["state_topic"] == f"rala/{node}/sensor/canopy/state"
        assert components["canopy_temperature"]["expire_after"] == 1  # 3 x 0.2 s, rounded up
        assert {key for key, c in components.items() if c["p"] == "switch"} == set(
            DEFAULT_ACTUATORS
        )
        announcement = watcher.wait_for(f"rala/{node}/node").json()
        assert announcement["sample_interval"] == pytest.approx(0.2)
        assert [a["key"] for a in announcement["actuators"]] == list(DEFAULT_ACTUATORS)
        watcher.wait_for(f"rala/{node}/availability", is_text("online"))
        for key in DEFAULT_ACTUATORS:
            watcher.wait_for(f"rala/{node}/actuator/{key}/state", is_text("OFF"))

        # Live readings: seq strictly increasing, real UTC timestamps, plausible values.
        state_topic = f"rala/{node}/sensor/canopy/state"
        deadline = time.monotonic() + 15
        while len(watcher.on(state_topic)) < 5:
            assert time.monotonic() < deadline, "fewer than 5 live readings"
            time.sleep(0.05)
        readings = [m.json() for m in watcher.on(state_topic)]
        seqs = [reading["seq"] for reading in readings]
        assert seqs == sorted(set(seqs))
        assert seqs[0] == 1  # the first reading waits for the connection and goes out live
        for reading in readings:
            assert set(reading) == {"seq", "ts", "temperature", "humidity", "pressure"}
            age = datetime.now(UTC) - parse_timestamp(reading["ts"])
            assert timedelta(0) <= age < timedelta(minutes=1)
            assert 5 < reading["temperature"] < 45
            assert 0 < reading["humidity"] <= 100
            assert 900 < reading["pressure"] < 1100
        assert all(not m.retain for m in watcher.on(state_topic))

        diagnostics = watcher.wait_for(f"rala/{node}/diagnostics").json()
        assert set(diagnostics) == {
            "cpu_temperature",
            "disk_free",
            "uptime",
            "wifi_signal",
            "outbox_depth",
            "last_error",
            "refused_messages",
            "refused_by_reason",
        }
        assert isinstance(diagnostics["outbox_depth"], int)
        agent.wait_for_log(f"seq={seqs[-1]} outbox=")  # one INFO line per cycle

        # Replay requests are answered on the backfill topic, with every held reading.
        watcher.publish(f"rala/{node}/replay", "not json")
        watcher.publish(
            f"rala/{node}/replay", json.dumps({"request_id": "r1", "from_seq": 1, "to_seq": 3})
        )
        answer = watcher.wait_for(
            f"rala/{node}/backfill", lambda m: m.json()["request_id"] == "r1"
        ).json()
        assert [reading["seq"] for reading in answer["readings"]] == [1, 2, 3]
        assert answer["readings"][0]["sensor"] == "canopy"
        assert (answer["first_seq"], answer["last_seq"], answer["oldest_available_seq"]) == (
            1,
            3,
            1,
        )
        agent.wait_for_log("replay request is not valid JSON")

        assert agent.terminate() == 0
        watcher.wait_for(f"rala/{node}/availability", is_text("offline"))
    assert "Traceback" not in agent.log
    with probe(mosquitto.host, mosquitto.port, [f"rala/{node}/#"]) as late:
        retained = late.wait_for(f"rala/{node}/availability")
        assert (retained.text, retained.retain) == ("offline", True)
        assert late.wait_for(f"rala/{node}/actuator/heater/state").text == "OFF"


def test_will_offline_after_sigkill(mosquitto: Mosquitto, tmp_path: Path) -> None:
    node = "t-kill"
    with (
        probe(mosquitto.host, mosquitto.port, [f"rala/{node}/availability"]) as watcher,
        running_agent(
            simulate_args(mosquitto, tmp_path / f"state-{node}", node), tmp_path / "agent.log"
        ) as agent,
    ):
        watcher.wait_for(f"rala/{node}/availability", is_text("online"))
        agent.kill()
        watcher.wait_for(f"rala/{node}/availability", is_text("offline"))
    with probe(mosquitto.host, mosquitto.port, [f"rala/{node}/availability"]) as late:
        retained = late.wait_for(f"rala/{node}/availability")
        assert (retained.text, retained.retain) == ("offline", True)


def test_reannounces_when_home_assistant_comes_online(mosquitto: Mosquitto, tmp_path: Path) -> None:
    node = "t-birth"
    with (
        probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher,
        running_agent(
            simulate_args(mosquitto, tmp_path / f"state-{node}", node), tmp_path / "agent.log"
        ) as agent,
    ):
        watcher.wait_for(f"rala/{node}/actuator/light/state")
        mark = watcher.count
        watcher.publish("homeassistant/status", "online")
        watcher.wait_for(f"homeassistant/device/{node}/config", since=mark)
        watcher.wait_for(f"rala/{node}/node", since=mark)
        for key in DEFAULT_ACTUATORS:
            watcher.wait_for(f"rala/{node}/actuator/{key}/state", is_text("OFF"), since=mark)
        agent.wait_for_log("Home Assistant is back")
        assert agent.terminate() == 0


COMMANDS_CONFIG = """
node_id: t-commands
name: Command test
broker:
  host: 127.0.0.1
sample_interval: 5
sensors:
  - key: canopy
actuators:
  - {key: heater, kind: heater, pin: D17, min_on: 20}
  - {key: humidifier, kind: humidifier, pin: D27}
  - {key: dehumidifier, kind: dehumidifier, pin: D22}
  - {key: light, kind: light, pin: D24}
  - {key: exhaust_fan, kind: exhaust_fan, pin: D23}
"""


def test_commands_and_interlocks_over_mqtt(mosquitto: Mosquitto, tmp_path: Path) -> None:
    node = "t-commands"
    config = tmp_path / "config.yaml"
    config.write_text(COMMANDS_CONFIG, encoding="utf-8")
    with probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher:
        # A retained command waiting on the broker is stale by definition.
        watcher.publish(f"rala/{node}/actuator/light/set", "ON", retain=True)
        args = [
            "--config",
            str(config),
            *simulate_args(mosquitto, tmp_path / f"state-{node}", node),
        ]
        with running_agent(args, tmp_path / "agent.log") as agent:
            watcher.wait_for(f"rala/{node}/actuator/light/state", is_text("OFF"))
            agent.wait_for_log("light: retained command ignored")
            watcher.publish(f"rala/{node}/actuator/light/set", "", retain=True)  # clean up

            assert command(watcher, node, "heater", "ON").text == "ON"
            # min_on (20 s simulated = 2 s real) refuses the early OFF; the pin is reported.
            assert command(watcher, node, "heater", "OFF").text == "ON"
            agent.wait_for_log("heater: OFF refused")

            assert command(watcher, node, "humidifier", "ON").text == "ON"
            assert command(watcher, node, "dehumidifier", "ON").text == "OFF"
            agent.wait_for_log("dehumidifier: ON refused")

            now = datetime.now(UTC)
            fresh = json.dumps({"state": "ON", "ts": format_timestamp(now)})
            assert command(watcher, node, "light", fresh).text == "ON"
            assert command(watcher, node, "light", "OFF").text == "OFF"

            # Nothing of this may switch the light on.
            light_states = len(watcher.on(f"rala/{node}/actuator/light/state"))
            stale = json.dumps({"state": "ON", "ts": format_timestamp(now - timedelta(minutes=2))})
            bad_payloads: list[str | bytes] = [
                "on",
                "TOGGLE",
                "{broken",
                b"\xff\xfe",
                "ON" + " " * 300,
                stale,
                json.dumps({"state": "ON", "force": True}),
            ]
            for payload in bad_payloads:
                watcher.publish(f"rala/{node}/actuator/light/set", payload)
            watcher.publish(f"rala/{node}/actuator/unknown/set", "ON")
            watcher.publish(f"rala/{node}/actuator/light/set", "ON", retain=True)
            # A valid command afterwards: once it is answered, all of the above was handled.
            assert command(watcher, node, "exhaust_fan", "ON").text == "ON"
            watcher.publish(f"rala/{node}/actuator/light/set", "", retain=True)  # clean up
            assert len(watcher.on(f"rala/{node}/actuator/light/state")) == light_states
            for reason in (
                "unknown command 'on'",
                "unknown command 'TOGGLE'",
                "not valid JSON",
                "not UTF-8",
                "exceeds 256",
                "stale command",
                "unknown command keys: force",
                "unknown actuator 'unknown'",
                "light: retained command ignored",
            ):
                agent.wait_for_log(reason)

            # After min_on the heater may go off.
            time.sleep(2.2)
            assert command(watcher, node, "heater", "OFF").text == "OFF"
            assert agent.terminate() == 0
    assert "Traceback" not in agent.log


def test_link_loss_switches_the_heater_off(mosquitto: Mosquitto, tmp_path: Path) -> None:
    node = "t-linkloss"
    args = simulate_args(mosquitto, tmp_path / f"state-{node}", node, "--link-loss-timeout", "10")
    with running_agent(args, tmp_path / "agent.log") as agent:
        with probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher:
            watcher.wait_for(f"rala/{node}/actuator/heater/state", is_text("OFF"))
            assert command(watcher, node, "heater", "ON").text == "ON"
            assert command(watcher, node, "exhaust_fan", "ON").text == "ON"

            # Home Assistant offline for longer than the timeout (10 s simulated = 1 s).
            mark = watcher.count
            watcher.publish("homeassistant/status", "offline")
            watcher.wait_for(f"rala/{node}/actuator/heater/state", is_text("OFF"), since=mark)
            agent.wait_for_log("link lost (Home Assistant offline")
            watcher.publish("homeassistant/status", "online")
            agent.wait_for_log("link restored")
            assert command(watcher, node, "heater", "ON").text == "ON"

        # The broker goes away for longer than the timeout.
        mosquitto.stop()
        agent.wait_for_log("link lost (broker unreachable")
        mosquitto.start()
        with probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher:
            watcher.wait_for(f"rala/{node}/actuator/heater/state", is_text("OFF"))
            # Link-loss action "keep" (the default of a fan) leaves the exhaust fan running.
            watcher.wait_for(f"rala/{node}/actuator/exhaust_fan/state", is_text("ON"))
            assert agent.terminate() == 0
    assert "Traceback" not in agent.log


def test_removed_entities_are_removed_from_home_assistant(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node = "t-removal"
    with probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher:
        with running_agent(
            simulate_args(mosquitto, tmp_path / f"state-{node}", node), tmp_path / "first.log"
        ) as agent:
            watcher.wait_for(f"homeassistant/device/{node}/config")
            assert agent.terminate() == 0
        config = tmp_path / "smaller.yaml"
        config.write_text(
            f"node_id: {node}\nbroker: {{host: 127.0.0.1}}\n"
            "sensors: [{key: canopy}]\n"
            "actuators: [{key: heater, kind: heater, pin: D17}]\n",
            encoding="utf-8",
        )
        mark = watcher.count
        args = [
            "--config",
            str(config),
            *simulate_args(mosquitto, tmp_path / f"state-{node}", node),
        ]
        with running_agent(args, tmp_path / "second.log") as agent:
            removal = watcher.wait_for(
                f"homeassistant/device/{node}/config",
                lambda m: m.json()["cmps"].get("light") == {"p": "switch"},
                since=mark,
            ).json()
            for key in ("humidifier", "dehumidifier", "exhaust_fan", "light"):
                assert removal["cmps"][key] == {"p": "switch"}
            assert removal["cmps"]["heater"]["unique_id"] == f"rala_{node}_heater"
            assert "unique_id" in removal["cmps"]["canopy_temperature"]
            assert agent.terminate() == 0


def test_simulated_sensors_behind_a_mux(mosquitto: Mosquitto, tmp_path: Path) -> None:
    node = "t-mux"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"node_id: {node}\nbroker: {{host: 127.0.0.1}}\n"
        "sensors:\n"
        "  - {key: canopy}\n"
        "  - {key: root, address: 0x77, mux_address: 0x70, mux_channel: 5}\n"
        "actuators: [{key: heater, kind: heater, pin: D17}]\n"
        "simulation: {preset: cold_winter_room}\n",
        encoding="utf-8",
    )
    args = [
        "--config",
        str(config),
        *simulate_args(mosquitto, tmp_path / f"state-{node}", node, "--interval", "2"),
    ]
    with (
        probe(mosquitto.host, mosquitto.port, [f"rala/{node}/sensor/#"]) as watcher,
        running_agent(args, tmp_path / "agent.log") as agent,
    ):
        canopy = watcher.wait_for(f"rala/{node}/sensor/canopy/state").json()
        root = watcher.wait_for(f"rala/{node}/sensor/root/state").json()
        assert canopy["seq"] != root["seq"]
        agent.wait_for_log("canopy ")
        agent.wait_for_log("; root ")  # both sensors in the one line per cycle
        assert agent.terminate() == 0


# --------------------------------------------------------------------------- clock and world


def test_scaled_clock_runs_faster() -> None:
    now = [100.0]
    clock = ScaledClock(30, base=lambda: now[0])
    assert clock() == 100.0
    now[0] = 102.0
    assert clock() == pytest.approx(160.0)
    with pytest.raises(ValueError, match="speed"):
        ScaledClock(0)


def test_simulated_world_follows_the_relays(tmp_path: Path) -> None:
    config = parse_config(
        {
            "node_id": "w",
            "broker": {"host": "127.0.0.1"},
            "sensors": [{"key": "canopy"}],
            "actuators": [{"key": "heater", "kind": "heater", "pin": "D17"}],
            "outbox": {"path": str(tmp_path / "o.sqlite")},
        },
        environ={},
    )
    hardware = build_simulated_hardware(config, seed=1)
    bank = ActuatorBank(config.actuators, hardware.pin_factory)
    world = SimulatedWorld(hardware.tent, bank, start=0.0)
    world.advance(0.5)
    assert hardware.tent.elapsed == 0.0  # whole simulation steps only
    world.advance(600.0)
    assert hardware.tent.elapsed == 600.0
    cold = hardware.tent.air_temperature
    bank.command("heater", True)
    world.advance(1200.0)
    assert hardware.tent.air_temperature > cold + 1.0
    # The real BME280 driver reads the tent through the emulated bus.
    reading = Bme280Sensor(config.sensors[0], hardware.bus, sleep=lambda _: None).read()
    assert reading.temperature == pytest.approx(hardware.tent.air_temperature, abs=1.0)


# --------------------------------------------------------------------------- in process


@contextmanager
def agent_in_thread(
    tmp_path: Path, broker: Mosquitto, bus: EmulatedI2CBus, *, prune_period: float = 600.0
) -> Iterator[tuple[Agent, Outbox]]:
    """The agent loop in a thread of the test, on an emulated bus (for injected faults)."""
    config = parse_config(
        {
            "node_id": "t-inproc",
            "broker": {"host": broker.host, "port": broker.port},
            "sample_interval": 2,
            "sensors": [{"key": "canopy"}],
            "actuators": [{"key": "heater", "kind": "heater", "pin": "D17"}],
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
        },
        environ={},
    )
    clock = ScaledClock(10)
    supervisor = SensorSupervisor(
        Bme280Sensor(config.sensors[0], bus, sleep=lambda _: None), clock=clock
    )
    outbox = Outbox(config.outbox.path)
    agent = Agent(
        config,
        sensors=[supervisor],
        bank=ActuatorBank(config.actuators, MemoryPinFactory(), clock=clock),
        outbox=outbox,
        read_health=lambda: NodeHealth(
            cpu_temperature=48.5, disk_free=3.25, uptime=100.0, wifi_signal=-60
        ),
        options=AgentOptions(clock=clock, speed=10, reannounce_delay=0, prune_period=prune_period),
    )
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        yield agent, outbox
    finally:
        agent.request_stop()
        thread.join(timeout=20)
        assert not thread.is_alive()


def test_a_failing_sensor_is_skipped_reported_and_recovers(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bus = EmulatedI2CBus()  # no sensor answers yet
    node = "t-inproc"
    with (
        probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher,
        agent_in_thread(tmp_path, mosquitto, bus),
    ):
        diagnostics = watcher.wait_for(
            f"rala/{node}/diagnostics", lambda m: m.json()["last_error"] is not None
        ).json()
        assert "canopy" in diagnostics["last_error"]
        assert diagnostics["cpu_temperature"] == 48.5
        assert diagnostics["wifi_signal"] == -60
        assert not watcher.on(f"rala/{node}/sensor/canopy/state")
        assert "canopy skipped" in caplog.text

        # Things that must change nothing: a retained replay request, a strange HA status.
        watcher.publish(f"rala/{node}/replay", '{"from_seq": 0, "to_seq": 5}', retain=True)
        watcher.publish("homeassistant/status", "rebooting")
        bus.attach(0x76, Bme280Emulation())  # the sensor is plugged in
        reading = watcher.wait_for(f"rala/{node}/sensor/canopy/state").json()
        assert reading["temperature"] == pytest.approx(22.0, abs=0.01)
        assert reading["seq"] == 1  # skipped polls take no sequence number
        watcher.publish(f"rala/{node}/replay", "", retain=True)  # clean up
    assert "ignoring a retained replay request" in caplog.text
    assert "ignoring unknown Home Assistant status 'rebooting'" in caplog.text
    assert not watcher.on(f"rala/{node}/backfill")
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        assert outbox.depth() == 0


def test_the_outbox_is_pruned_while_the_agent_runs(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """Readings past the retention window go, in the background; new readings still flow."""
    old = datetime.now(UTC) - timedelta(days=20)
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        stored = [
            outbox.append(
                Reading("canopy", 20.0, 50.0, 1000.0, measured_at=old + timedelta(minutes=i))
            )
            for i in range(50)
        ]
        outbox.mark_sent(entry.seq for entry in stored)
    bus = EmulatedI2CBus()
    bus.attach(0x76, Bme280Emulation())
    with (
        probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher,
        agent_in_thread(tmp_path, mosquitto, bus, prune_period=0.2) as (_agent, outbox),
    ):
        deadline = time.monotonic() + 20
        while outbox.oldest_seq() is not None and outbox.oldest_seq() <= stored[-1].seq:
            assert time.monotonic() < deadline, "the agent never pruned its outbox"
            time.sleep(0.05)
        reading = watcher.wait_for("rala/t-inproc/sensor/canopy/state").json()
        assert reading["seq"] > stored[-1].seq
