"""Forwarding: which stored reading goes out how, and what the broker has acknowledged.

A reading leaves the outbox live (one message per reading), in a batch of the agent's own
unsent readings after a reconnect, or in a batch answering a replay request. The
:class:`Forwarder` owns that bookkeeping and nothing else: the message ids waiting for
their PUBACK, the one backfill batch in flight, the queue of replay requests. It marks a
reading sent only when the broker acknowledged it, so a lost message, a restart or a
SIGKILL can at worst send a reading twice (consumers de-duplicate by ``seq``), never lose
one. It needs no broker: it publishes through a :class:`Publisher` and is told of
connections and acknowledgements by the agent's loop, on the loop's thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
import dataclasses
from dataclasses import dataclass
import logging
import time
from typing import Final, Protocol

from .discovery import (
    BACKFILL_BATCH_SIZE,
    ReplayRequest,
    Topics,
    backfill_reading_payload,
    build_backfill_payload,
    encode,
    live_reading_payload,
)
from .outbox import Outbox, StoredReading

_LOGGER = logging.getLogger(__name__)

#: Live readings waiting for their PUBACK; beyond this the broker is not keeping up and
#: readings wait in the outbox for the backfill instead (bounds memory on a stuck link).
MAX_PENDING_LIVE: Final = 1000
#: Replay requests waiting to be answered; more are refused (bounded memory).
MAX_QUEUED_REPLAYS: Final = 16
#: A publish without PUBACK for this long (real s) is given up: paho resends QoS 1 messages
#: after every reconnect, so this only guards against a lost message stalling the backfill.
PUBACK_TIMEOUT: Final = 300.0
#: Real seconds between two looks for publishes whose PUBACK never came.
EXPIRY_CHECK_PERIOD: Final = 10.0


class Publisher(Protocol):
    """What the forwarder publishes through (:class:`edge_agent.link.MqttLink`)."""

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> int | None:
        """Publish; the message id, or None when nothing was sent."""


@dataclass(frozen=True, slots=True)
class _BackfillBatch:
    mid: int
    seqs: tuple[int, ...]
    own: bool  # True: unsent readings (mark them sent on PUBACK); False: a replay answer
    sent_at: float  # real monotonic


@dataclass(frozen=True, slots=True)
class _PendingLive:
    seq: int
    sent_at: float  # real monotonic


class Forwarder:
    """Live readings, backfill batches and replay answers, and their acknowledgements."""

    def __init__(
        self,
        outbox: Outbox,
        topics: Topics,
        publisher: Publisher,
        *,
        note_problem: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Forward from ``outbox`` through ``publisher``; ``note_problem`` hears what went wrong."""
        self._outbox = outbox
        self._topics = topics
        self._publisher = publisher
        self._note_problem = note_problem
        self._clock = clock
        self._connected = False
        self._pending_live: dict[int, _PendingLive] = {}  # by mid
        self._backfill_inflight: _BackfillBatch | None = None
        self._own_backfill_wanted = False
        self._replays: deque[ReplayRequest] = deque()
        self._next_expiry_check = 0.0

    @property
    def connected(self) -> bool:
        """Whether readings can go out now."""
        return self._connected

    @property
    def awaiting_acknowledgement(self) -> int:
        """Live readings sent and not yet acknowledged (they are no backlog)."""
        return len(self._pending_live)

    def link_up(self) -> None:
        """The broker connection is (back) up: everything unsent goes out again.

        paho sends every unacknowledged QoS 1 message again now, so their timeouts restart.
        Nothing is sent until :meth:`pump`, so that the caller announces the node first.
        """
        self._connected = True
        now = self._clock()
        for mid, entry in self._pending_live.items():
            self._pending_live[mid] = _PendingLive(entry.seq, now)
        if self._backfill_inflight is not None:
            self._backfill_inflight = dataclasses.replace(self._backfill_inflight, sent_at=now)
        self._own_backfill_wanted = True

    def link_down(self) -> None:
        """Nothing can be sent until :meth:`link_up`; acknowledgements still count."""
        self._connected = False

    def send_live(self, stored: StoredReading) -> None:
        """Publish a reading live; one that cannot go live waits for the backfill."""
        if not self._connected:
            return  # the backfill after the reconnect sends it
        if len(self._pending_live) >= MAX_PENDING_LIVE:
            self._note_problem("broker is not acknowledging: readings wait in the outbox")
            return
        mid = self._publisher.publish(
            self._topics.sensor_state(stored.reading.sensor),
            encode(live_reading_payload(stored)),
            retain=False,
        )
        if mid is None:
            self._own_backfill_wanted = True
            return
        self._pending_live[mid] = _PendingLive(stored.seq, self._clock())

    def request_replay(self, request: ReplayRequest) -> bool:
        """Queue a replay request; False (and nothing queued) when too many wait already."""
        if len(self._replays) >= MAX_QUEUED_REPLAYS:
            return False
        _LOGGER.info(
            "replay request %s: seq %d..%d", request.request_id, request.from_seq, request.to_seq
        )
        self._replays.append(request)
        self.pump()
        return True

    def acknowledged(self, mid: int) -> None:
        """The broker acknowledged message ``mid``: its readings are delivered."""
        pending = self._pending_live.pop(mid, None)
        if pending is not None:
            self._outbox.mark_sent([pending.seq])
            return
        batch = self._backfill_inflight
        if batch is not None and batch.mid == mid:
            self._backfill_inflight = None
            if batch.own:
                self._outbox.mark_sent(batch.seqs)
            self.pump()

    def pump(self) -> None:
        """Send the next backfill batch if connected and none is waiting for its PUBACK.

        Replay requests go first (someone is waiting for them), then the agent's own
        unsent readings. One batch at a time keeps memory flat whatever the backlog.
        """
        if not self._connected or self._backfill_inflight is not None:
            return
        if self._replays:
            self._answer_first_replay()
        elif self._own_backfill_wanted:
            self._send_own_backlog()

    def expire_unacknowledged(self) -> None:
        """Forget publishes whose PUBACK never came, so memory and the backfill cannot stall.

        Their readings are still unsent in the outbox and go out with the backfill (a reading
        may then arrive twice; consumers de-duplicate by seq).
        """
        now = self._clock()
        if now < self._next_expiry_check or not self._connected:
            return
        self._next_expiry_check = now + EXPIRY_CHECK_PERIOD
        limit = now - PUBACK_TIMEOUT
        expired = [mid for mid, entry in self._pending_live.items() if entry.sent_at < limit]
        for mid in expired:
            del self._pending_live[mid]
        batch = self._backfill_inflight
        if batch is not None and batch.sent_at < limit:
            self._backfill_inflight = None
            expired.append(batch.mid)
        if expired:
            self._note_problem(f"{len(expired)} publish(es) not acknowledged, sending again")
            self._own_backfill_wanted = True
            self.pump()

    def _answer_first_replay(self) -> None:
        request = self._replays[0]
        readings = self._outbox.replay_range(
            request.from_seq, request.to_seq, limit=BACKFILL_BATCH_SIZE
        )
        if not self._send_batch(readings, request_id=request.request_id, own=False):
            return  # the connection just dropped: answer after the reconnect
        if len(readings) < BACKFILL_BATCH_SIZE or readings[-1].seq >= request.to_seq:
            self._replays.popleft()
        else:
            self._replays[0] = ReplayRequest(
                request.request_id, readings[-1].seq + 1, request.to_seq
            )

    def _send_own_backlog(self) -> None:
        # Live readings still waiting for their PUBACK are not backfilled: paho resends
        # them after a reconnect and their PUBACK marks them sent.
        pending = {entry.seq for entry in self._pending_live.values()}
        readings = [
            stored
            for stored in self._outbox.unsent(limit=BACKFILL_BATCH_SIZE + len(pending))
            if stored.seq not in pending
        ][:BACKFILL_BATCH_SIZE]
        if not readings:
            self._own_backfill_wanted = False
            return
        self._send_batch(readings, request_id=None, own=True)

    def _send_batch(
        self, readings: Sequence[StoredReading], *, request_id: str | None, own: bool
    ) -> bool:
        payload = build_backfill_payload(
            self._topics.node_id,
            [backfill_reading_payload(stored) for stored in readings],
            request_id=request_id,
            oldest_available_seq=self._outbox.oldest_seq(),
        )
        mid = self._publisher.publish(self._topics.backfill, encode(payload))
        if mid is None:
            return False
        self._backfill_inflight = _BackfillBatch(
            mid, tuple(r.seq for r in readings), own, self._clock()
        )
        if readings:
            _LOGGER.info(
                "backfill %s: seq %d..%d (%d readings)",
                "replay " + str(request_id) if request_id is not None else "after reconnect",
                readings[0].seq,
                readings[-1].seq,
                len(readings),
            )
        return True
