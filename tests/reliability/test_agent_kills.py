"""Faults, agent side: ``rala-edge simulate`` SIGKILLed at random instants, again and again.

A real agent process against a real mosquitto is killed with SIGKILL at random moments:
while it starts, while it measures and sends live readings, while it sends its own
backlog after the restart and while it answers a replay request. After every kill its
outbox must pass SQLite's integrity check and its sequence numbers must go on, never
back; at the end, after a clean stop, every reading it ever numbered must have reached
the broker, each seq always with the same reading. A reading may arrive more than once
(delivered, then killed before its PUBACK was recorded): consumers de-duplicate by seq,
and the suite counts these resends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
import json
from pathlib import Path
import random
import sqlite3
import time
from typing import Any

import pytest

from edge_agent.outbox import Outbox
from tests.edge_agent.agent_process import AgentProcess, simulate_args
from tests.edge_agent.mqtt_probe import MqttProbe, Received, probe
from tests.mosquitto import Mosquitto
from tests.reliability.figures import record, scaled

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

NODE = "t-kills"
LIVE = f"rala/{NODE}/sensor/+/state"
BACKFILL = f"rala/{NODE}/backfill"
REPLAY = f"rala/{NODE}/replay"
#: What identifies a reading on the wire, whichever way it was sent.
READING_FIELDS = ("ts", "temperature", "humidity", "pressure")
#: A reading every 0.1 s of real time: simulated interval 2 s at 20x.
AGENT_OPTIONS = ("--interval", "2", "--link-loss-timeout", "100000")
SPEED = 20


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _own_readings(message: Received) -> list[dict[str, Any]]:
    """The readings the agent sent of its own accord: live, or its own backlog.

    Replay answers (a ``request_id``) are sent because someone asked again: they are not
    part of delivering each reading once.
    """
    document = message.json()
    if message.topic == BACKFILL:
        return list(document["readings"]) if document["request_id"] is None else []
    return [document]


def _outbox_after_the_kill(path: Path) -> tuple[int, int]:
    """Integrity of the outbox a killed agent left, then its highest seq and unsent count."""
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    connection.close()
    with Outbox(path) as outbox:
        last = outbox.last_seq() or 0
        unsent = len(outbox.unsent(limit=10**9))
    return last, unsent


def _kill_at_a_random_moment(
    agent: AgentProcess, watcher: MqttProbe, rng: random.Random, last_seq: int
) -> str:
    """Kill ``agent`` in one of the phases of its work; which one."""
    phase = rng.choice(("starting", "writing", "writing", "replaying"))
    if phase == "starting":
        time.sleep(rng.uniform(0.0, 0.6))  # opening the outbox, connecting, announcing
    else:
        agent.wait_for_log("connected to ")
        if phase == "replaying" and last_seq > 0:
            request = {"request_id": f"k{rng.getrandbits(32)}", "from_seq": 1, "to_seq": last_seq}
            watcher.publish(REPLAY, json.dumps(request))
            time.sleep(rng.uniform(0.0, 0.15))  # answered in batches of 500
        else:
            time.sleep(rng.uniform(0.05, 1.0))
    agent.kill()
    return phase


def test_sigkill_at_random_moments_loses_nothing_and_reuses_no_seq(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    outbox_path = state / "outbox.sqlite"
    args = simulate_args(mosquitto, state, NODE, *AGENT_OPTIONS, speed=SPEED)
    kills = scaled(50, 200)
    rng = random.Random(11)
    phases: Counter[str] = Counter()
    highest_seq = 0
    started = time.monotonic()
    with probe(mosquitto.host, mosquitto.port, [LIVE, BACKFILL]) as watcher:
        for kill in range(kills):
            agent = AgentProcess(args, tmp_path / f"agent-{kill}.log")
            try:
                phases[_kill_at_a_random_moment(agent, watcher, rng, highest_seq)] += 1
            finally:
                agent.ensure_stopped()
            if not outbox_path.exists():
                continue  # killed before it created its outbox
            last, _unsent = _outbox_after_the_kill(outbox_path)
            assert last >= highest_seq, f"kill {kill}: the outbox went back to seq {last}"
            highest_seq = last

        # A last run, stopped cleanly: it sends whatever the kills left unsent.
        final = AgentProcess(args, tmp_path / "agent-final.log")
        try:
            final.wait_for_log("connected to ")
            _wait_until(lambda: _outbox_after_the_kill(outbox_path)[1] < 5, "the backlog to go out")
            assert final.terminate() == 0
        finally:
            final.ensure_stopped()
        last, unsent = _outbox_after_the_kill(outbox_path)
        assert unsent == 0, "readings left unsent after a clean stop"

        def delivered() -> set[int]:
            return {
                reading["seq"] for message in watcher.messages for reading in _own_readings(message)
            }

        _wait_until(lambda: last in delivered(), "the last reading to arrive")
        time.sleep(0.3)  # anything still on its way arrives now
        messages = list(watcher.messages)
    duration = time.monotonic() - started

    copies: Counter[int] = Counter()
    contents: dict[int, set[tuple[Any, ...]]] = {}
    for message in messages:
        for reading in _own_readings(message):
            copies[reading["seq"]] += 1
            contents.setdefault(reading["seq"], set()).add(
                tuple(reading[field] for field in READING_FIELDS)
            )
    lost = sorted(set(range(1, last + 1)) - set(copies))
    reused = sorted(seq for seq, readings in contents.items() if len(readings) > 1)
    resends = sum(count - 1 for count in copies.values())
    logs = [path.read_text(encoding="utf-8") for path in sorted(tmp_path.glob("agent-*.log"))]
    record(
        "agent-kills",
        kills=kills,
        kills_starting=phases["starting"],
        kills_writing=phases["writing"],
        kills_replaying=phases["replaying"],
        readings=last,
        readings_lost=len(lost),
        seqs_reused=len(reused),
        resends=resends,
        tracebacks=sum(log.count("Traceback") for log in logs),
        duration_s=round(duration, 1),
    )
    assert last > kills, "the agent measured too little to tell anything"
    assert min(phases[phase] for phase in ("starting", "writing", "replaying")) > 0
    assert not lost, f"never delivered: {lost[:20]}"
    assert not reused, f"one seq, two readings: {reused[:20]}"
    assert max(copies) == last, "a seq above the outbox's highest"
    assert not any("Traceback" in log for log in logs)
