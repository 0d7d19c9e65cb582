"""The agent as a real process against faults: a clean stop with PUBACKs still on their way,
a stranger with the node's old client id, hostile messages. (A frozen broker has its own
suite, tests/reliability/test_agent_frozen_broker.py.)"""

from __future__ import annotations

import json
from pathlib import Path
import re
import signal
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest

from edge_agent.discovery import MAX_REMOVED_COMPONENTS
from edge_agent.outbox import Outbox
from tests.edge_agent.agent_process import (
    ALL_TOPICS,
    command,
    running_agent,
    simulate_args,
    wait_for_new_log,
)
from tests.edge_agent.broker_faults import frozen
from tests.edge_agent.mqtt_probe import Received, is_text, probe, retained_message
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt


# --------------------------------------------------------------------------- clean stop


def test_on_a_clean_stop_the_delivered_readings_are_marked_sent(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Readings whose PUBACK arrives while the agent is stopping are not sent again.

    The broker is frozen while readings go out, the agent is told to stop, and the broker
    resumes while the agent waits for its final messages: the readings' PUBACKs arrive
    during the stop.
    """
    node = "t-stop"
    state = tmp_path / "state"
    args = simulate_args(mosquitto, state, node, "--interval", "1", speed=1)
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, [f"rala/{node}/#"]) as watcher,
    ):
        watcher.wait_for(f"rala/{node}/sensor/canopy/state", lambda m: m.json()["seq"] >= 2)
        with frozen(mosquitto):
            mark = len(agent.log)
            # A reading sampled now goes out to the frozen broker: no PUBACK yet.
            last = wait_for_new_log(agent, r"seq=\d+ outbox=", mark, 10)
            agent.process.send_signal(signal.SIGTERM)
            wait_for_new_log(agent, "stopping: relays to their safe state", mark, 10)
            time.sleep(0.5)
        assert agent.process.wait(timeout=20) == 0
        watcher.wait_for(f"rala/{node}/availability", is_text("offline"))
    seq = int(last.removeprefix("seq=").split()[0])
    with Outbox(state / "outbox.sqlite") as outbox:
        assert outbox.last_seq() is not None
        assert outbox.last_seq() >= seq
        assert outbox.unsent() == []  # nothing to send again after the next start
    assert "Traceback" not in agent.log


# --------------------------------------------------------------------------- client id


def client_ids(broker: Mosquitto, node: str) -> list[str]:
    """Client ids of the agent's connections, as the broker logged them."""
    log = broker.log_file.read_text(encoding="utf-8", errors="replace")
    return re.findall(rf" as (rala-edge-{node}\S*) ", log)


def test_the_client_id_is_unique_per_installation_and_kept(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node = "t-id"
    first_state, other_state = tmp_path / "first", tmp_path / "other"
    for run, state in enumerate((first_state, first_state, other_state)):
        args = simulate_args(mosquitto, state, node)
        with running_agent(args, tmp_path / f"agent-{run}.log") as agent:
            agent.wait_for_log("connected to 127.0.0.1")
            assert agent.terminate() == 0
    first, again, other = client_ids(mosquitto, node)
    assert first == again  # kept across restarts, in the state directory
    assert other != first  # another installation of the same node id
    assert re.fullmatch(rf"rala-edge-{node}-[0-9a-f]{{16}}", first)
    assert (first_state / "client_id").read_text(encoding="ascii").strip() == first
    assert (first_state / "client_id").stat().st_mode & 0o077 == 0


def test_a_stranger_with_the_node_id_cannot_take_the_connection_over(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """A client id made of the node id alone would let anyone throw the node off."""
    node = "t-takeover"
    args = simulate_args(mosquitto, tmp_path / "state", node)
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, [f"rala/{node}/#"]) as watcher,
    ):
        watcher.wait_for(f"rala/{node}/actuator/heater/state", is_text("OFF"))
        stranger = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"rala-edge-{node}",
            protocol=mqtt.MQTTv5,
        )
        stranger.connect(mosquitto.host, mosquitto.port)
        stranger.loop_start()
        try:
            time.sleep(1.0)
            assert command(watcher, node, "heater", "ON").text == "ON"
        finally:
            stranger.disconnect()
            stranger.loop_stop()
        assert "broker connection lost" not in agent.log
        assert agent.terminate() == 0


# --------------------------------------------------------------------------- hostile input


def forged_discovery(node: str, batch: int, count: int = 1000) -> bytes:
    """A discovery document with ``count`` components that look like the node's own."""
    components = {
        f"forged_{batch}_{index}": {"p": "sensor", "unique_id": f"rala_{node}_f{batch}_{index}"}
        for index in range(count)
    }
    return json.dumps({"cmps": components}).encode()


def retained_discovery(broker: Mosquitto, node: str) -> Received:
    return retained_message(broker.host, broker.port, f"homeassistant/device/{node}/config")


def test_replay_requests_out_of_range_or_nested_too_deep_do_not_stop_the_backfill(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node = "t-replay"
    args = simulate_args(mosquitto, tmp_path / "state", node, "--interval", "2")
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, [f"rala/{node}/#"]) as watcher,
    ):
        watcher.wait_for(f"rala/{node}/sensor/canopy/state", lambda m: m.json()["seq"] >= 3)
        replay = f"rala/{node}/replay"
        # A sequence number SQLite cannot hold, JSON nested too deep, then a valid request.
        watcher.publish(replay, json.dumps({"request_id": "huge", "from_seq": 0, "to_seq": 2**64}))
        watcher.publish(replay, b"[" * 1000 + b"]" * 24)
        watcher.publish(replay, json.dumps({"request_id": "ok", "from_seq": 1, "to_seq": 3}))
        answer = watcher.wait_for(
            f"rala/{node}/backfill", lambda m: m.json()["request_id"] == "ok"
        ).json()
        assert [reading["seq"] for reading in answer["readings"]] == [1, 2, 3]
        assert not [m for m in watcher.on(f"rala/{node}/backfill") if b'"huge"' in m.payload]
        assert agent.terminate() == 0
    assert "replay request to_seq must be an integer from 0 to 9223372036854775807" in agent.log
    assert "replay request is nested deeper than 16 levels" in agent.log
    assert "Traceback" not in agent.log


def test_commands_at_the_edge_of_the_time_range_or_nested_change_nothing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node = "t-commands-edge"
    args = simulate_args(mosquitto, tmp_path / "state", node)
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, [f"rala/{node}/#"]) as watcher,
    ):
        watcher.wait_for(f"rala/{node}/actuator/heater/state", is_text("OFF"))
        heater = f"rala/{node}/actuator/heater/set"
        for stamp in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
            watcher.publish(heater, json.dumps({"state": "ON", "ts": stamp}))
        watcher.publish(heater, b'{"state": ' + b"[" * 100 + b"]" * 100 + b"}")
        # What rala-edge check publishes to test the ACL: ignored, not even a warning.
        watcher.publish(f"rala/{node}/actuator/rala-check/set", "rala-edge check 0123")
        # Once this command is answered, everything above has been handled.
        assert command(watcher, node, "exhaust_fan", "ON").text == "ON"
        assert [m.text for m in watcher.on(f"rala/{node}/actuator/heater/state")] == ["OFF"]
        assert agent.terminate() == 0
    log = agent.log
    assert "Traceback" not in log
    assert log.count("is outside 1970-01-01..9999-12-30 UTC") == 2
    assert "command is nested deeper than 16 levels" in log
    assert "rala-check" not in log


def test_the_own_discovery_topic_is_read_with_bounds(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Forged components are removed at most MAX_REMOVED_COMPONENTS at a time, and not
    learned back after a restart: the retained document stays bounded."""
    node = "t-discovery"
    discovery = f"homeassistant/device/{node}/config"
    args = simulate_args(mosquitto, tmp_path / "state", node)
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher,
    ):
        own = watcher.wait_for(discovery)
        own_components = set(own.json()["cmps"])
        watcher.wait_for(f"rala/{node}/actuator/heater/state", is_text("OFF"))
        watcher.publish(discovery, b'{"cmps": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
        for batch in range(20):
            watcher.publish(discovery, forged_discovery(node, batch))
        # Once this command is answered, everything above has been handled.
        assert command(watcher, node, "exhaust_fan", "ON").text == "ON"
        # What the agent published there (the forged documents have no device).
        largest = max(len(m.payload) for m in watcher.on(discovery) if b'"dev"' in m.payload)
        assert largest <= len(own.payload) + MAX_REMOVED_COMPONENTS * 64
        removals = retained_discovery(mosquitto, node).json()["cmps"]
        stubs = {key for key, value in removals.items() if value == {"p": "sensor"}}
        assert len(stubs) == MAX_REMOVED_COMPONENTS
        assert set(removals) == own_components | stubs
        assert agent.terminate() == 0
    log = agent.log
    assert f"ignoring a message on {discovery}: discovery document is nested deeper" in log
    assert "not removing 936 more component(s) from Home Assistant: at most 64 at a time" in log
    assert "Traceback" not in log

    # After a restart the removals are not learned back: the document is the node's own.
    with running_agent(args, tmp_path / "again.log") as agent:
        agent.wait_for_log("connected to 127.0.0.1")
        deadline = time.monotonic() + 15
        while set(retained_discovery(mosquitto, node).json()["cmps"]) != own_components:
            assert time.monotonic() < deadline, "the removals outlived the restart"
            time.sleep(0.2)
        assert agent.terminate() == 0
    assert "Traceback" not in agent.log


def test_every_refused_message_is_counted_by_reason_in_the_diagnostics(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node = "t-refused"
    args = simulate_args(mosquitto, tmp_path / "state", node, "--interval", "2")
    stale = json.dumps({"state": "ON", "ts": "2020-01-01T00:00:00Z"})
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher,
    ):
        watcher.wait_for(f"rala/{node}/actuator/heater/state", is_text("OFF"))
        first = watcher.wait_for(f"rala/{node}/diagnostics").json()
        assert first["refused_messages"] == 0
        assert set(first["refused_by_reason"].values()) == {0}

        watcher.publish("homeassistant/status", "sleeping")
        for payload in ("TOGGLE", "{broken", stale):
            watcher.publish(f"rala/{node}/actuator/light/set", payload)
        # The broker lives only for this test: the retained messages need no clean-up.
        watcher.publish(f"rala/{node}/actuator/light/set", "ON", retain=True)
        watcher.publish(f"rala/{node}/actuator/unknown/set", "ON")
        assert command(watcher, node, "humidifier", "ON").text == "ON"
        assert command(watcher, node, "dehumidifier", "ON").text == "OFF"  # its partner is on
        watcher.publish(f"rala/{node}/replay", "not json")
        replay = json.dumps({"request_id": "kept", "from_seq": 1, "to_seq": 1})
        watcher.publish(f"rala/{node}/replay", replay, retain=True)
        watcher.publish(f"homeassistant/device/{node}/config", "garbage")
        # Once this command is answered, everything above has been handled.
        mark = watcher.count
        assert command(watcher, node, "exhaust_fan", "ON").text == "ON"

        expected = {
            "command_malformed": 2,
            "command_retained": 1,
            "command_stale": 1,
            "command_unknown_actuator": 1,
            "command_not_allowed": 1,
            "replay_malformed": 1,
            "replay_retained": 1,
            "replay_queue_full": 0,
            "discovery_invalid": 1,
            "discovery_too_many_removals": 0,
            "ha_status_unknown": 1,
        }
        diagnostics = watcher.wait_for(f"rala/{node}/diagnostics", since=mark).json()
        assert diagnostics["refused_by_reason"] == expected
        assert diagnostics["refused_messages"] == 10
        agent.wait_for_log(" refused=10")
        assert agent.terminate() == 0
    assert "Traceback" not in agent.log
