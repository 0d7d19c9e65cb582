"""Hostile input, agent side: thousands of hostile messages on every topic a node reads.

A real ``rala-edge simulate`` process against a real mosquitto gets hand-written,
mutated and generated payloads on each actuator's command topic, its replay topic, its
own discovery topic and Home Assistant's status topic. The node must log no traceback and
no error, switch no relay, stay alive (answer a command, keep publishing readings) and
keep its memory, its state directory and its retained discovery document bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
import itertools
from pathlib import Path
import time
from typing import Any

import pytest

from edge_agent.discovery import MAX_REMOVED_COMPONENTS
from tests.edge_agent.agent_process import AgentProcess, command, running_agent, simulate_args
from tests.edge_agent.mqtt_probe import MqttProbe, is_text, probe, retained_message
from tests.mosquitto import Mosquitto
from tests.reliability import corpus
from tests.reliability.figures import record, scaled

pytestmark = pytest.mark.mqtt

NODE = "t-hostile"
#: The simulated node's actuators that get the hostile commands. The exhaust fan is the one
#: the test itself switches, to know when the agent has handled a burst: a valid command
#: among the mutations could switch it, so it gets none; an unknown actuator's topic does.
QUIET_ACTUATORS = ("heater", "humidifier", "dehumidifier", "light")
SYNC_ACTUATOR = "exhaust_fan"
UNKNOWN_ACTUATOR = "pump"
BURST = 250
#: What an agent may grow by while it refuses the corpus (Python's allocator keeps some
#: freed arenas; a leak of the messages themselves would be tens of MiB).
RSS_GROWTH_BOUND_MIB = 15
STATE_DIR_BOUND_BYTES = 5 * 1024 * 1024


def _rss_mib(agent: AgentProcess) -> float:
    status = Path(f"/proc/{agent.process.pid}/status").read_text(encoding="utf-8")
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _directory_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _topic_corpora(own_discovery: dict[str, Any], count: int) -> dict[str, list[bytes]]:
    """``count`` hostile payloads for each topic the node reads, each from its valid form.

    The valid forms ask for nothing that changes a relay: a command to switch off what is
    off, a replay of readings, the node's own discovery document, Home Assistant online.
    """
    valid: dict[str, Any] = {
        f"rala/{NODE}/replay": {"request_id": "r", "from_seq": 1, "to_seq": 3},
        f"homeassistant/device/{NODE}/config": own_discovery,
        "homeassistant/status": ["online"],
    }
    for key in (*QUIET_ACTUATORS, UNKNOWN_ACTUATOR):
        valid[f"rala/{NODE}/actuator/{key}/set"] = {"state": "OFF", "ts": _now()}
    corpora: dict[str, list[bytes]] = {}
    for seed, (topic, payload) in enumerate(sorted(valid.items())):
        keys = list(payload) if isinstance(payload, dict) else []
        generated = corpus.generated(keys, count // 3)
        mutated = list(corpus.mutations(payload, count - len(generated), seed))
        corpora[topic] = list(corpus.HAND_WRITTEN) + generated + mutated
    return corpora


def _interleaved(corpora: dict[str, list[bytes]]) -> Iterator[tuple[str, bytes]]:
    """One message of each topic in turn, so every topic is hit all through the run."""
    for row in itertools.zip_longest(*corpora.values()):
        for topic, payload in zip(corpora, row, strict=True):
            if payload is not None:
                yield topic, payload


def _sync(watcher: MqttProbe, switched_on: bool) -> None:
    """Switch the sync actuator and wait for its answer: the agent handled the burst."""
    wanted = "ON" if switched_on else "OFF"
    answer = command(watcher, NODE, SYNC_ACTUATOR, wanted)
    assert answer.text == wanted, f"the agent answered {answer.text!r}, not {wanted!r}"


def test_thousands_of_hostile_messages_on_every_topic_change_nothing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    args = simulate_args(mosquitto, state, NODE, "--interval", "2")
    per_topic = scaled(1_300, 13_000)
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, [f"rala/{NODE}/#", "homeassistant/#"]) as watcher,
        probe(mosquitto.host, mosquitto.port, ["rala-test/stranger"]) as stranger,
    ):
        own = watcher.wait_for(f"homeassistant/device/{NODE}/config")
        for key in (*QUIET_ACTUATORS, SYNC_ACTUATOR):
            watcher.wait_for(f"rala/{NODE}/actuator/{key}/state", is_text("OFF"))
        _sync(watcher, switched_on=False)
        rss_before = _rss_mib(agent)
        readings_before = len(watcher.on(f"rala/{NODE}/sensor/+/state"))
        mark = watcher.count

        corpora = _topic_corpora(own.json(), per_topic)
        started = time.monotonic()
        sent = 0
        switched_on = False
        for topic, payload in _interleaved(corpora):
            stranger.publish(topic, payload)
            sent += 1
            if sent % BURST == 0:
                switched_on = not switched_on
                _sync(watcher, switched_on)
        switched_on = not switched_on
        _sync(watcher, switched_on)
        seconds = time.monotonic() - started
        rss_after = _rss_mib(agent)

        # Alive: readings keep coming after the corpus.
        readings_seen = len(watcher.on(f"rala/{NODE}/sensor/+/state"))
        watcher.wait_for(f"rala/{NODE}/sensor/+/state", since=watcher.count)
        diagnostics = watcher.wait_for(f"rala/{NODE}/diagnostics", since=watcher.count).json()
        after = watcher.messages[mark:]
        # The stranger's documents are not retained: what is, the node published.
        retained = retained_message(
            mosquitto.host, mosquitto.port, f"homeassistant/device/{NODE}/config"
        )
        assert agent.terminate() == 0

    quiet_states = {
        m.text for m in after for key in QUIET_ACTUATORS if m.topic.endswith(f"/{key}/state")
    }
    sync_states = [m.text for m in after if m.topic.endswith(f"/{SYNC_ACTUATOR}/state")]
    # Each sync answer once, in order; a re-announcement may repeat the state it had.
    sync_changes = [state for state, _ in itertools.groupby(sync_states)]
    expected_changes = [("ON", "OFF")[index % 2] for index in range(sent // BURST + 1)]
    log = agent.log
    state_bytes = _directory_bytes(state)
    record(
        "agent-hostile",
        messages_sent=sent,
        topics=len(corpora),
        seconds=round(seconds, 1),
        tracebacks=log.count("Traceback"),
        error_lines=log.count(" ERROR "),
        actuator_changes=len(quiet_states - {"OFF"}) + len(sync_changes) - len(expected_changes),
        refused_messages=diagnostics["refused_messages"],
        rss_growth_mib=round(rss_after - rss_before, 1),
        state_dir_bytes=state_bytes,
        retained_discovery_bytes=len(retained.payload),
    )
    assert sent >= 10_000
    assert "Traceback" not in log
    assert " ERROR " not in log
    assert quiet_states <= {"OFF"}, f"a hostile message switched a relay: {quiet_states}"
    assert sync_changes == expected_changes
    assert readings_seen > readings_before
    assert diagnostics["refused_messages"] > 0
    assert rss_after - rss_before < RSS_GROWTH_BOUND_MIB
    assert state_bytes < STATE_DIR_BOUND_BYTES
    assert len(retained.payload) <= len(own.payload) + MAX_REMOVED_COMPONENTS * 64
    assert set(own.json()["cmps"]) <= set(retained.json()["cmps"])
