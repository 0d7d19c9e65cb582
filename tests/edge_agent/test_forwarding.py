"""The forwarder's bookkeeping, without a broker: a real outbox, a recording publisher.

The broker's part (message ids, PUBACKs) is played by :class:`RecordingPublisher`, which
stands in for :class:`edge_agent.link.MqttLink` behind the forwarder's ``Publisher``
interface; the end-to-end behaviour against a real mosquitto is in ``test_agent.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.discovery import BACKFILL_BATCH_SIZE, ReplayRequest, Topics
from edge_agent.forwarding import (
    MAX_PENDING_LIVE,
    MAX_QUEUED_REPLAYS,
    PUBACK_TIMEOUT,
    Forwarder,
)
from edge_agent.outbox import Outbox, StoredReading
from edge_agent.sensors import Reading

START = datetime(2026, 11, 25, 11, 0, 0, tzinfo=UTC)
TOPICS = Topics("tent-pi")


@dataclass(frozen=True, slots=True)
class Published:
    mid: int
    topic: str
    document: dict[str, Any]


class RecordingPublisher:
    """Publishes into a list; ``online`` False makes every publish fail like a dropped link."""

    def __init__(self) -> None:
        self.messages: list[Published] = []
        self.online = True
        self._next_mid = 1

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> int | None:
        assert qos == 1
        assert not retain
        if not self.online:
            return None
        mid = self._next_mid
        self._next_mid += 1
        self.messages.append(Published(mid, topic, json.loads(payload)))
        return mid

    def on(self, topic: str) -> list[Published]:
        return [message for message in self.messages if message.topic == topic]


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    outbox: Outbox
    publisher: RecordingPublisher
    clock: ManualClock
    forwarder: Forwarder
    problems: list[str]

    def store(self, count: int = 1, sensor: str = "canopy") -> list[StoredReading]:
        return [
            self.outbox.append(
                Reading(
                    sensor=sensor,
                    temperature=24.0,
                    humidity=60.0,
                    pressure=1012.0,
                    measured_at=START + timedelta(seconds=len(self.publisher.messages) + index),
                )
            )
            for index in range(count)
        ]

    def backfills(self) -> list[Published]:
        return self.publisher.on(TOPICS.backfill)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    publisher = RecordingPublisher()
    clock = ManualClock()
    problems: list[str] = []
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        forwarder = Forwarder(outbox, TOPICS, publisher, note_problem=problems.append, clock=clock)
        yield Harness(outbox, publisher, clock, forwarder, problems)


def test_a_live_reading_is_marked_sent_only_when_acknowledged(harness: Harness) -> None:
    harness.forwarder.link_up()
    (stored,) = harness.store()

    harness.forwarder.send_live(stored)

    (message,) = harness.publisher.messages
    assert message.topic == "rala/tent-pi/sensor/canopy/state"
    assert message.document == {
        "seq": stored.seq,
        "ts": "2026-11-25T11:00:00.000Z",
        "temperature": 24.0,
        "humidity": 60.0,
        "pressure": 1012.0,
    }
    assert harness.forwarder.awaiting_acknowledgement == 1
    assert harness.outbox.depth() == 1
    harness.forwarder.acknowledged(message.mid)
    assert harness.forwarder.awaiting_acknowledgement == 0
    assert harness.outbox.depth() == 0


def test_readings_stored_while_offline_go_out_in_one_backfill_after_the_reconnect(
    harness: Harness,
) -> None:
    stored = harness.store(3)
    for reading in stored:
        harness.forwarder.send_live(reading)
    harness.forwarder.pump()
    assert harness.publisher.messages == []

    harness.forwarder.link_up()
    assert harness.publisher.messages == []  # nothing before the caller announces the node
    harness.forwarder.pump()

    (batch,) = harness.backfills()
    assert batch.document["request_id"] is None
    assert [entry["seq"] for entry in batch.document["readings"]] == [r.seq for r in stored]
    assert batch.document["readings"][0]["sensor"] == "canopy"
    assert (batch.document["first_seq"], batch.document["last_seq"]) == (1, 3)
    assert batch.document["oldest_available_seq"] == 1
    harness.forwarder.acknowledged(batch.mid)
    assert harness.outbox.depth() == 0
    harness.forwarder.pump()
    assert len(harness.backfills()) == 1  # nothing left to send


def test_one_batch_at_a_time_each_after_the_previous_acknowledgement(harness: Harness) -> None:
    harness.store(BACKFILL_BATCH_SIZE + 5)
    harness.forwarder.link_up()
    harness.forwarder.pump()
    harness.forwarder.pump()

    (first,) = harness.backfills()
    assert len(first.document["readings"]) == BACKFILL_BATCH_SIZE
    harness.forwarder.acknowledged(first.mid)

    second = harness.backfills()[1]
    assert [entry["seq"] for entry in second.document["readings"]] == list(
        range(BACKFILL_BATCH_SIZE + 1, BACKFILL_BATCH_SIZE + 6)
    )


def test_a_live_reading_waiting_for_its_acknowledgement_is_not_backfilled(
    harness: Harness,
) -> None:
    harness.forwarder.link_up()
    (old,) = harness.store()
    (live,) = harness.store()
    harness.forwarder.send_live(live)

    harness.forwarder.pump()

    (batch,) = harness.backfills()
    assert [entry["seq"] for entry in batch.document["readings"]] == [old.seq]


def test_replay_requests_go_before_the_own_backlog_and_leave_the_sent_flags_alone(
    harness: Harness,
) -> None:
    harness.forwarder.link_up()
    for reading in harness.store(4):
        harness.forwarder.send_live(reading)
    for message in list(harness.publisher.messages):
        harness.forwarder.acknowledged(message.mid)
    harness.store(1)  # unsent: the own backlog
    harness.forwarder.link_down()

    assert harness.forwarder.request_replay(ReplayRequest("r1", 2, 3))
    assert harness.backfills() == []  # not while the link is down
    harness.forwarder.link_up()
    harness.forwarder.pump()

    replay = harness.backfills()[0]
    assert replay.document["request_id"] == "r1"
    assert [entry["seq"] for entry in replay.document["readings"]] == [2, 3]
    harness.forwarder.acknowledged(replay.mid)
    own = harness.backfills()[1]
    assert own.document["request_id"] is None
    assert [entry["seq"] for entry in own.document["readings"]] == [5]
    assert harness.outbox.depth() == 1  # the replay answer marked nothing; own not yet acked


def test_a_long_replay_is_answered_in_batches(harness: Harness) -> None:
    harness.store(BACKFILL_BATCH_SIZE + 2)
    harness.outbox.mark_sent(range(1, BACKFILL_BATCH_SIZE + 3))
    harness.forwarder.link_up()

    harness.forwarder.request_replay(ReplayRequest("long", 1, BACKFILL_BATCH_SIZE + 2))
    first = harness.backfills()[0]
    harness.forwarder.acknowledged(first.mid)

    second = harness.backfills()[1]
    assert second.document["request_id"] == "long"
    assert second.document["first_seq"] == BACKFILL_BATCH_SIZE + 1
    assert second.document["last_seq"] == BACKFILL_BATCH_SIZE + 2
    harness.forwarder.acknowledged(second.mid)
    assert len(harness.backfills()) == 2


def test_replay_of_a_range_no_longer_held_is_answered_empty(harness: Harness) -> None:
    harness.forwarder.link_up()
    harness.forwarder.request_replay(ReplayRequest("gone", 100, 200))

    (answer,) = harness.backfills()
    assert answer.document["readings"] == []
    assert answer.document["first_seq"] is None


def test_more_replay_requests_than_the_queue_holds_are_refused(harness: Harness) -> None:
    # Offline, nothing is answered, so every request waits in the queue.
    accepted = [
        harness.forwarder.request_replay(ReplayRequest(f"r{n}", 0, 1))
        for n in range(MAX_QUEUED_REPLAYS + 1)
    ]
    assert accepted == [True] * MAX_QUEUED_REPLAYS + [False]


def test_a_batch_whose_publish_fails_is_sent_after_the_reconnect(harness: Harness) -> None:
    harness.store(2)
    harness.forwarder.link_up()
    harness.publisher.online = False
    harness.forwarder.pump()
    assert harness.backfills() == []

    harness.publisher.online = True
    harness.forwarder.link_up()
    harness.forwarder.pump()
    (batch,) = harness.backfills()
    assert batch.document["last_seq"] == 2


def test_a_live_reading_that_cannot_be_published_waits_for_the_backfill(
    harness: Harness,
) -> None:
    harness.forwarder.link_up()
    harness.publisher.online = False
    (stored,) = harness.store()
    harness.forwarder.send_live(stored)
    assert harness.forwarder.awaiting_acknowledgement == 0

    harness.publisher.online = True
    harness.forwarder.pump()
    (batch,) = harness.backfills()
    assert batch.document["first_seq"] == stored.seq


def test_publishes_never_acknowledged_are_given_up_and_sent_again(harness: Harness) -> None:
    harness.forwarder.link_up()
    (stored,) = harness.store()
    harness.forwarder.send_live(stored)
    harness.forwarder.expire_unacknowledged()
    assert harness.forwarder.awaiting_acknowledgement == 1  # not yet timed out

    harness.clock.now += PUBACK_TIMEOUT + 1
    harness.forwarder.expire_unacknowledged()

    assert harness.forwarder.awaiting_acknowledgement == 0
    assert harness.problems == ["1 publish(es) not acknowledged, sending again"]
    (batch,) = harness.backfills()
    assert batch.document["first_seq"] == stored.seq
    # A late PUBACK of the given-up live message changes nothing; the batch's counts.
    harness.forwarder.acknowledged(harness.publisher.messages[0].mid)
    assert harness.outbox.depth() == 1
    harness.forwarder.acknowledged(batch.mid)
    assert harness.outbox.depth() == 0


def test_a_reconnect_restarts_the_acknowledgement_timeouts(harness: Harness) -> None:
    harness.forwarder.link_up()
    (stored,) = harness.store()
    harness.forwarder.send_live(stored)
    harness.clock.now += PUBACK_TIMEOUT - 1
    harness.forwarder.link_down()
    harness.forwarder.link_up()  # paho sends the message again now

    harness.clock.now += PUBACK_TIMEOUT - 1
    harness.forwarder.expire_unacknowledged()

    assert harness.forwarder.awaiting_acknowledgement == 1
    assert harness.problems == []


def test_live_readings_stop_when_the_broker_stops_acknowledging(harness: Harness) -> None:
    harness.forwarder.link_up()
    for stored in harness.store(MAX_PENDING_LIVE + 1):
        harness.forwarder.send_live(stored)

    assert harness.forwarder.awaiting_acknowledgement == MAX_PENDING_LIVE
    assert harness.problems == ["broker is not acknowledging: readings wait in the outbox"]
    assert harness.outbox.depth() == MAX_PENDING_LIVE + 1
