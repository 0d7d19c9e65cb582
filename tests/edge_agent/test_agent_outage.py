"""Store and forward end to end: broker outage plus agent restart, nothing lost, nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import time

import pytest

from edge_agent.outbox import Outbox
from edge_agent.sensors import Reading
from tests.edge_agent.agent_process import AgentProcess, running_agent
from tests.edge_agent.mqtt_probe import MqttProbe, probe
from tests.mosquitto import Mosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

NODE = "t-outage"
LIVE = f"rala/{NODE}/sensor/canopy/state"
BACKFILL = f"rala/{NODE}/backfill"


def wait_until(condition: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def delivered_seqs(watcher: MqttProbe) -> tuple[list[int], list[int]]:
    """Seqs the agent sent live and as backfill.

    The broker itself may deliver a QoS 1 message to the probe a second time after its own
    restart (flagged DUP, identical payload): that copy is MQTT's redelivery to this
    consumer, not something the agent sent twice, so it is checked and left out.
    """
    first_copies: list[tuple[str, bytes]] = []
    for message in watcher.on(f"rala/{NODE}/#"):
        key = (message.topic, message.payload)
        if message.dup and key in first_copies:
            continue
        first_copies.append(key)
    live = [json.loads(payload)["seq"] for topic, payload in first_copies if topic == LIVE]
    backfilled = [
        reading["seq"]
        for topic, payload in first_copies
        if topic == BACKFILL and json.loads(payload)["request_id"] is None
        for reading in json.loads(payload)["readings"]
    ]
    return live, backfilled


def test_every_reading_arrives_exactly_once_across_outage_and_restart(
    tmp_path: Path, sockets_allowed: None
) -> None:
    # A persistent broker and a persistent probe session: the probe's subscription
    # survives the broker restart, so whatever the agent sends afterwards reaches it.
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker", persistent=True)
    broker.start()
    state = tmp_path / "state"
    args = [
        "--broker",
        broker.url,
        "--node-id",
        NODE,
        "--speed",
        "20",
        "--interval",
        "2",  # 0.1 s real between readings
        "--link-loss-timeout",
        "100000",
        "--state-dir",
        str(state),
    ]
    first: AgentProcess | None = None
    second: AgentProcess | None = None
    try:
        with probe(broker.host, broker.port, [LIVE, BACKFILL], session="rala-outage-probe") as w:
            first = AgentProcess(args, tmp_path / "first.log")
            wait_until(lambda: len(w.on(LIVE)) >= 10, what="live readings before the outage")

            broker.stop()
            first.wait_for_log("broker connection lost")
            time.sleep(1.0)  # about ten readings measured during the outage
            assert first.terminate() == 0  # the agent restarts in the middle of the outage

            second = AgentProcess(args, tmp_path / "second.log")
            second.wait_for_log("simulating node")
            time.sleep(1.0)  # and measures some more without a broker
            broker.start()

            second.wait_for_log("backfill after reconnect")
            live_before = len(w.on(LIVE))
            wait_until(lambda: len(w.on(LIVE)) >= live_before + 10, what="live after restart")
            assert second.terminate() == 0

            with Outbox(state / "outbox.sqlite") as outbox:
                last_seq = outbox.last_seq()
            assert last_seq is not None
            wait_until(
                lambda: last_seq in set(delivered_seqs(w)[0] + delivered_seqs(w)[1]),
                what="the last reading to arrive",
            )
            time.sleep(0.3)  # anything duplicated would be on its way now
            live, backfilled = delivered_seqs(w)
    finally:
        for agent in (first, second):
            if agent is not None:
                agent.ensure_stopped()
        broker.stop(kill=True)

    counts = Counter(live + backfilled)
    assert sorted(counts) == list(range(1, last_seq + 1)), "readings missing"
    assert [seq for seq, count in counts.items() if count > 1] == [], "readings delivered twice"
    # The outage readings went out as backfill, never as late live states.
    assert len(backfilled) >= 10
    assert max(live) == last_seq
    outage = set(backfilled)
    assert all(seq not in outage for seq in live)
    for agent in (first, second):
        assert agent is not None
        assert "Traceback" not in agent.log


def test_large_backlog_and_replay_go_out_in_batches(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """1200 readings left unsent by an earlier run: three batches, oldest first, then live."""
    node = "t-backlog"
    state = tmp_path / "state"
    start = datetime(2026, 11, 20, tzinfo=UTC)
    with Outbox(state / "outbox.sqlite") as outbox:
        for index in range(1200):
            outbox.append(
                Reading("canopy", 24.0, 60.0, 1013.0, start + timedelta(seconds=30 * index))
            )
    args = [
        "--broker",
        mosquitto.url,
        "--node-id",
        node,
        "--speed",
        "10",
        "--interval",
        "5",
        "--state-dir",
        str(state),
    ]
    backfill = f"rala/{node}/backfill"
    with (
        probe(mosquitto.host, mosquitto.port, [f"rala/{node}/#"]) as watcher,
        running_agent(args, tmp_path / "agent.log") as agent,
    ):
        wait_until(
            lambda: sum(len(m.json()["readings"]) for m in watcher.on(backfill)) >= 1200,
            what="the backlog",
        )
        batches = [m.json() for m in watcher.on(backfill)]
        # Batches of at most 500, oldest first. The reading the agent took at start-up,
        # before it was connected, is part of the backlog too.
        assert [(b["first_seq"], b["last_seq"]) for b in batches[:2]] == [(1, 500), (501, 1000)]
        backlog = [reading["seq"] for batch in batches for reading in batch["readings"]]
        assert backlog == list(range(1, len(backlog) + 1))
        assert all(len(batch["readings"]) <= 500 for batch in batches)
        assert batches[0]["readings"][0]["ts"] == "2026-11-20T00:00:00.000Z"
        assert all(batch["request_id"] is None for batch in batches)
        # Live readings continue after the backlog.
        live = watcher.wait_for(f"rala/{node}/sensor/canopy/state").json()
        assert live["seq"] > 1200

        mark = watcher.count
        watcher.publish(
            f"rala/{node}/replay",
            json.dumps({"request_id": "gap", "from_seq": 450, "to_seq": 1100}),
        )
        wait_until(
            lambda: (
                sum(
                    len(m.json()["readings"])
                    for m in watcher.on(backfill)[len(batches) :]
                    if m.json()["request_id"] == "gap"
                )
                >= 651
            ),
            what="the replay",
        )
        answers = [m.json() for m in watcher.messages[mark:] if m.topic == backfill]
        assert [(a["first_seq"], a["last_seq"]) for a in answers] == [(450, 949), (950, 1100)]
        assert all(a["request_id"] == "gap" and a["oldest_available_seq"] == 1 for a in answers)
        assert agent.terminate() == 0
    with Outbox(state / "outbox.sqlite") as outbox:
        assert outbox.depth() == 0  # the backlog was acknowledged and marked sent
