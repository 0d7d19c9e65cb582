"""The MQTT link: a thin paho-mqtt 2.x wrapper with a will, a birth and event hand-off.

paho runs its network loop in its own thread (``loop_start``); every callback turns into
a small immutable event put on a thread-safe queue, so the agent handles all MQTT traffic
in its main thread and paho's thread never runs agent code. Subscriptions are made in
``on_connect``, so every reconnect resubscribes. paho reconnects by itself with
exponential backoff (``reconnect_delay_set``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import logging
import queue
import ssl
import time
from typing import Any, TypeAlias

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from .config import BrokerConfig

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Connected:
    """The broker accepted the connection (subscriptions are on their way)."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection is gone; paho is reconnecting by itself."""

    reason: str


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message on one of the subscriptions."""

    topic: str
    payload: bytes
    retained: bool


@dataclass(frozen=True, slots=True)
class PublishAcknowledged:
    """The broker acknowledged the QoS 1 publish with this message id (PUBACK)."""

    mid: int


LinkEvent: TypeAlias = Connected | Disconnected | MessageReceived | PublishAcknowledged


@dataclass(frozen=True, slots=True)
class Subscription:
    """A topic filter to (re)subscribe after every connect.

    ``retain_as_published`` (MQTT 5) keeps the publisher's retain flag on delivery, so a
    retained message is recognisable even when it is published while subscribed.
    """

    topic: str
    qos: int = 1
    retain_as_published: bool = False


@dataclass(frozen=True, slots=True)
class StatusMessage:
    """A retained availability message: the will (published by the broker when the
    connection is lost without a clean disconnect) or the birth (after every connect)."""

    topic: str
    payload: str


class MqttLink:
    """One MQTT connection with will, birth, resubscription and PUBACK events.

    ``events`` receives a LinkEvent for every connect, disconnect, message and PUBACK.
    ``birth`` is published retained (QoS 1) right after every connect, ``will`` is what the
    broker publishes when the connection is lost without a clean disconnect.
    """

    def __init__(
        self,
        broker: BrokerConfig,
        *,
        client_id: str,
        events: queue.Queue[LinkEvent],
        will: StatusMessage,
        birth: StatusMessage,
        subscriptions: Sequence[Subscription],
        reconnect_min_delay: int = 1,
        reconnect_max_delay: int = 60,
    ) -> None:
        self._broker = broker
        self._events = events
        self._birth = birth
        self._subscriptions = tuple(subscriptions)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        configure_client(self._client, broker)
        self._client.will_set(will.topic, will.payload, qos=1, retain=True)
        self._client.reconnect_delay_set(reconnect_min_delay, reconnect_max_delay)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._started = False

    @property
    def connected(self) -> bool:
        """Whether the connection is up right now."""
        return self._client.is_connected()

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        # clean_start: no session survives a disconnect, so the broker never queues stale
        # commands for the agent while it is away.
        self._client.connect_async(
            self._broker.host,
            self._broker.port,
            keepalive=self._broker.keepalive,
            clean_start=True,
        )
        self._client.loop_start()
        self._started = True

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> int | None:
        """Publish when connected; return the message id, or None when not sent.

        Nothing is queued while disconnected: paho would otherwise keep every message of a
        long outage in memory and send stale data after the reconnect.
        """
        if not self._client.is_connected():
            return None
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            _LOGGER.warning("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            return None
        # MQTT_ERR_NO_CONN here means the connection dropped a moment ago: paho keeps the
        # message and sends it after reconnecting, so its PUBACK will still arrive.
        return info.mid

    def stop(self, final: Sequence[tuple[str, str]] = (), timeout: float = 5.0) -> None:
        """Publish ``final`` retained messages (if connected), disconnect cleanly, stop.

        Waits at most ``timeout`` seconds in all for the final messages' acknowledgements.
        """
        if not self._started:
            return
        if self._client.is_connected():
            infos = [
                self._client.publish(topic, payload, qos=1, retain=True) for topic, payload in final
            ]
            deadline = time.monotonic() + timeout
            for info in infos:
                try:
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
                except (RuntimeError, ValueError) as err:
                    _LOGGER.warning("final message not delivered: %s", err)
        self._client.disconnect()
        self._client.loop_stop()
        self._started = False

    # paho callbacks: they run in paho's thread and must never raise (an exception would
    # end the network loop), so they only hand events over.

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.warning("broker refused the connection: %s", reason_code)
            return
        _LOGGER.info("connected to %s:%s", self._broker.host, self._broker.port)
        client.publish(self._birth.topic, self._birth.payload, qos=1, retain=True)
        if self._subscriptions:
            client.subscribe(
                [
                    (
                        subscription.topic,
                        SubscribeOptions(
                            qos=subscription.qos,
                            retainAsPublished=subscription.retain_as_published,
                        ),
                    )
                    for subscription in self._subscriptions
                ]
            )
        self._events.put(Connected())

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.warning("disconnected from the broker: %s", reason_code)
        else:
            _LOGGER.info("disconnected from the broker")
        self._events.put(Disconnected(str(reason_code)))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._events.put(MessageReceived(message.topic, bytes(message.payload), message.retain))

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        self._events.put(PublishAcknowledged(mid))


def configure_client(client: mqtt.Client, broker: BrokerConfig) -> None:
    """Apply credentials and TLS from the config to a paho client."""
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(
            ca_certs=str(broker.ca_file) if broker.ca_file else None,
            certfile=str(broker.cert_file) if broker.cert_file else None,
            keyfile=str(broker.key_file) if broker.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )


def check_login(broker: BrokerConfig, *, client_id: str, timeout: float = 10.0) -> str | None:
    """Try one connection with the configured credentials and TLS.

    Returns None on success or a readable reason for the failure.
    """
    outcome: queue.Queue[str | None] = queue.Queue()

    def on_connect(
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        outcome.put(f"broker refused the login: {reason_code}" if reason_code.is_failure else None)

    def on_connect_fail(client: mqtt.Client, userdata: Any) -> None:
        outcome.put("could not connect")

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    try:
        configure_client(client, broker)
    except (OSError, ValueError, ssl.SSLError) as err:
        return f"TLS set-up failed: {err}"
    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    try:
        client.connect(broker.host, broker.port, keepalive=broker.keepalive)
    except ssl.SSLError as err:  # before OSError, of which it is a subclass
        return f"TLS handshake with {broker.host}:{broker.port} failed: {err}"
    except (OSError, ValueError) as err:
        return f"cannot reach {broker.host}:{broker.port}: {err}"
    client.loop_start()
    try:
        return outcome.get(timeout=timeout)
    except queue.Empty:
        return f"no answer from {broker.host}:{broker.port} within {timeout:.0f} s"
    finally:
        client.disconnect()
        client.loop_stop()
