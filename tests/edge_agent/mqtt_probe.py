"""A real paho client for tests: records what arrives, publishes what a test needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
import itertools
import json
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

_COUNTER = itertools.count()


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the probe saw it."""

    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() on arrival
    dup: bool = False  # a QoS 1 redelivery by the broker

    @property
    def text(self) -> str:
        """The payload as text."""
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


class MqttProbe:
    """Subscribes to ``topics`` on a real broker and keeps every message."""

    def __init__(
        self, host: str, port: int, topics: list[str], *, session: str | None = None
    ) -> None:
        """Connect, subscribe and wait until the subscription is active.

        With ``session`` (a client id) the probe keeps a persistent session: a broker with
        persistence queues its messages while it is away, even across a broker restart.
        """
        self.messages: list[Received] = []
        self._condition = threading.Condition()
        self._subscribed = threading.Event()
        self._topics = topics
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=session or f"rala-test-probe-{next(_COUNTER)}-{time.monotonic_ns()}",
            clean_session=session is None,
        )
        self._client.reconnect_delay_set(1, 1)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("probe could not subscribe")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(topic, 1) for topic in self._topics])

    def _on_subscribe(self, *_: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._condition:
            self.messages.append(
                Received(
                    message.topic,
                    bytes(message.payload),
                    message.retain,
                    time.monotonic(),
                    message.dup,
                )
            )
            self._condition.notify_all()

    def on(self, topic: str) -> list[Received]:
        """Messages received on ``topic`` so far (exact topic or MQTT filter)."""
        with self._condition:
            return [m for m in self.messages if mqtt.topic_matches_sub(topic, m.topic)]

    @property
    def count(self) -> int:
        """How many messages arrived so far (a mark for ``wait_for(..., since=...)``)."""
        with self._condition:
            return len(self.messages)

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Received], bool] = lambda _: True,
        timeout: float = 15,
        *,
        since: int = 0,
    ) -> Received:
        """The first message on ``topic`` matching ``predicate``, among those that arrived
        after the first ``since`` messages (before or after the call)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for message in self.messages[since:]:
                    if mqtt.topic_matches_sub(topic, message.topic) and predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.topic, m.text[:80]) for m in self.messages[-10:]]
                    raise TimeoutError(f"nothing matching on {topic}; last messages: {seen}")
                self._condition.wait(left)

    def clear(self) -> None:
        """Forget what was received so far."""
        with self._condition:
            self.messages.clear()

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        """Publish with QoS 1 and wait for the broker's PUBACK."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


@contextmanager
def probe(
    host: str, port: int, topics: list[str], *, session: str | None = None
) -> Iterator[MqttProbe]:
    """A connected probe, disconnected afterwards."""
    client = MqttProbe(host, port, topics, session=session)
    try:
        yield client
    finally:
        client.close()


def is_text(text: str) -> Callable[[Received], bool]:
    """A ``wait_for`` condition: the message's payload is ``text``."""
    return lambda message: message.text == text


def retained_message(host: str, port: int, topic: str) -> Received:
    """The message the broker keeps retained on ``topic`` (waits for one)."""
    with probe(host, port, [topic]) as late:
        return late.wait_for(topic)
