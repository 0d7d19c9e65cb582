"""The MQTT link: a thin paho-mqtt 2.x wrapper with a will, a birth and event hand-off.

paho runs its network loop in its own thread (``loop_start``); every callback turns into
a small immutable event put on a thread-safe queue, so the agent handles all MQTT traffic
in its main thread and paho's thread never runs agent code. Subscriptions are made in
``on_connect``, so every reconnect resubscribes. paho reconnects by itself with
exponential backoff (``reconnect_delay_set``).

A connection can also hang half-open (the broker frozen, or a NAT or Wi-Fi router that
forgot it, with TCP still open): paho only notices that after two keepalive periods. The
link therefore watches the broker's answers itself (:meth:`MqttLink.check_liveness`):
every request it sends (a QoS 1 publish, a probe) must be answered within a deadline,
otherwise the connection is dropped and paho reconnects.

Failed connection attempts are logged as one readable line each (the reason paho or the
broker gives), the same reason again at most every few minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import logging
import math
import queue
import socket
import ssl
import sys
import threading
import time
from typing import Any, Final, TypeAlias

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from .config import BrokerConfig

_LOGGER = logging.getLogger(__name__)

#: The same connection failure is logged again at most this often (real seconds).
FAILURE_REPORT_PERIOD: Final = 300.0


class LinkError(Exception):
    """The link cannot be set up, e.g. a TLS file that is not a certificate or key."""


@dataclass(frozen=True, slots=True)
class Connected:
    """The broker accepted the connection (subscriptions are on their way)."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection is gone; paho is reconnecting by itself."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """An attempt to connect failed (already logged); paho tries again after a backoff."""

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


LinkEvent: TypeAlias = (
    Connected | Disconnected | ConnectionFailed | MessageReceived | PublishAcknowledged
)


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
class Liveness:
    """How the link notices a broker that stopped answering on a connection still open.

    Every request (a QoS 1 publish, a probe) must be answered within ``answer_deadline``
    real seconds. When nothing was heard from the broker for ``probe_after`` seconds and
    nothing is waiting for an answer, the link sends a probe: an UNSUBSCRIBE of
    ``probe_topic``, a topic it never subscribes, so the broker answers (UNSUBACK) and
    nothing changes.
    """

    answer_deadline: float
    probe_after: float
    probe_topic: str


@dataclass(frozen=True, slots=True)
class StatusMessage:
    """A retained availability message: the will (published by the broker when the
    connection is lost without a clean disconnect) or the birth (after every connect)."""

    topic: str
    payload: str


class _FailureReport:
    """Logs failed connection attempts: one line each, the same reason again only rarely.

    Used from paho's thread only.
    """

    def __init__(self, where: str, period: float = FAILURE_REPORT_PERIOD) -> None:
        self._where = where
        self._period = period
        self._reason: str | None = None
        self._logged_at = -math.inf
        self._unreported = 0
        self._failures = 0

    def failed(self, reason: str) -> None:
        now = time.monotonic()
        self._failures += 1
        if reason == self._reason and now - self._logged_at < self._period:
            self._unreported += 1
            _LOGGER.debug("cannot connect to %s: %s (again)", self._where, reason)
            return
        again = (
            f" (and {self._unreported} more failed attempt(s) since the last report)"
            if reason == self._reason and self._unreported
            else ""
        )
        _LOGGER.warning("cannot connect to %s: %s%s", self._where, reason, again)
        self._reason = reason
        self._logged_at = now
        self._unreported = 0

    def succeeded(self) -> None:
        if self._failures:
            _LOGGER.info("connected to %s after %d failed attempt(s)", self._where, self._failures)
        else:
            _LOGGER.info("connected to %s", self._where)
        self._reason = None
        self._logged_at = -math.inf
        self._unreported = 0
        self._failures = 0


def describe_connect_error(error: BaseException | None, broker: BrokerConfig) -> str:
    """A readable reason for a connection attempt that failed before the MQTT login."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"TLS: the broker's certificate is not trusted ({error.verify_message}); "
            "check broker.ca_file"
        )
    if isinstance(error, ssl.SSLError):
        # OpenSSL's short reason (e.g. WRONG_VERSION_NUMBER), when the error has one.
        reason = str(getattr(error, "reason", None) or error).replace("_", " ").lower()
        return f"TLS handshake failed: {reason} (is {broker.port} the broker's TLS port?)"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: no broker listens there (is it running, is the port right?)"
    if isinstance(error, ConnectionResetError) and broker.tls:
        return f"connection reset during the TLS handshake (is {broker.port} a TLS port?)"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name: {error.strerror or error}"
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    if isinstance(error, OSError):
        return str(error.strerror or error)
    if error is not None:
        return str(error)
    return "connection failed"


def describe_refusal(reason_code: ReasonCode, broker: BrokerConfig) -> str:
    """A readable reason for a CONNACK that refused the login."""
    who = f"as {broker.username!r}" if broker.username else "anonymously"
    hint = ""
    if reason_code.value in (0x86, 0x87):  # bad user name or password, not authorized
        hint = (
            " (wrong user name or password?)"
            if broker.username
            else " (the broker needs broker.username and broker.password)"
        )
    return f"the broker refused the login {who}: {reason_code}{hint}"


class MqttLink:
    """One MQTT connection with will, birth, resubscription and PUBACK events.

    ``events`` receives a LinkEvent for every connect, disconnect, failed attempt, message
    and PUBACK. ``birth`` is published retained (QoS 1) right after every connect, ``will``
    is what the broker publishes when the connection is lost without a clean disconnect.
    With ``liveness``, :meth:`check_liveness` drops a connection whose broker stopped
    answering.
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
        liveness: Liveness | None = None,
    ) -> None:
        """Set up the client; raises LinkError when the TLS files cannot be used."""
        self._broker = broker
        self._events = events
        self._birth = birth
        self._subscriptions = tuple(subscriptions)
        self._liveness = liveness
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        try:
            configure_client(self._client, broker)
        except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
            raise LinkError(f"TLS set-up failed: {err}") from err
        self._client.will_set(will.topic, will.payload, qos=1, retain=True)
        self._client.reconnect_delay_set(reconnect_min_delay, reconnect_max_delay)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = self._on_unsubscribe
        self._started = False
        self._report = _FailureReport(f"{broker.host}:{broker.port}")
        # Paho's thread only: whether the current connection was accepted (CONNACK), and
        # whether its refusal was already reported.
        self._accepted = False
        self._refused = False
        # Liveness, shared by paho's thread (answers) and the agent's (requests).
        self._liveness_lock = threading.Lock()
        self._last_heard = time.monotonic()
        self._waiting_since: float | None = None
        self._given_up = False

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
        # Start the answer deadline before sending, so that an answer cannot come first.
        started_deadline = qos > 0 and self._expect_answer()
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            _LOGGER.warning("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            if started_deadline:
                with self._liveness_lock:
                    self._waiting_since = None
            return None
        # MQTT_ERR_NO_CONN here means the connection dropped a moment ago: paho keeps the
        # message and sends it after reconnecting, so its PUBACK will still arrive.
        return info.mid

    def check_liveness(self) -> float | None:
        """Probe an idle broker, and drop the connection when the broker stopped answering.

        Call it regularly (every second or so) from the agent's thread. Returns the
        ``time.monotonic()`` of the broker's last answer when the connection has just been
        given up as half-open (paho then reconnects by itself), otherwise None.
        """
        liveness = self._liveness
        if liveness is None or not self._client.is_connected():
            return None
        now = time.monotonic()
        with self._liveness_lock:
            if self._given_up:
                return None
            waiting_since, last_heard = self._waiting_since, self._last_heard
            overdue = waiting_since is not None and now - waiting_since >= liveness.answer_deadline
            probe = waiting_since is None and now - last_heard >= liveness.probe_after
            if overdue:
                self._given_up = True
            elif probe:
                self._waiting_since = now
        if overdue:
            self._drop_connection()
            return last_heard
        if probe:
            self._client.unsubscribe(liveness.probe_topic)
        return None

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

    def _expect_answer(self) -> bool:
        """Start the answer deadline unless one already runs; whether this call started it."""
        if self._liveness is None:
            return False
        with self._liveness_lock:
            if self._waiting_since is not None:
                return False
            self._waiting_since = time.monotonic()
            return True

    def _heard(self) -> None:
        """The broker answered something: it is alive, nothing is waiting any more."""
        with self._liveness_lock:
            self._last_heard = time.monotonic()
            self._waiting_since = None

    def _drop_connection(self) -> None:
        """End a half-open connection so that paho notices and reconnects.

        Shutting the socket down makes paho's next read see the end of the stream, which it
        handles like any lost connection. The plain socket's shutdown is used on purpose:
        ``SSLSocket.shutdown`` would also discard the TLS state paho's thread is using.
        """
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError as err:
                _LOGGER.debug("shutting the half-open connection down failed: %s", err)

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
            reason = describe_refusal(reason_code, self._broker)
            self._refused = True
            self._report.failed(reason)
            self._events.put(ConnectionFailed(reason))
            return
        self._accepted = True
        with self._liveness_lock:
            self._last_heard = time.monotonic()
            self._waiting_since = None
            self._given_up = False
        self._report.succeeded()
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

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this while it handles the exception of the failed attempt.
        reason = describe_connect_error(sys.exception(), self._broker)
        self._report.failed(reason)
        self._events.put(ConnectionFailed(reason))

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        with self._liveness_lock:
            self._waiting_since = None
        if not self._accepted:
            # The attempt ended before the broker accepted the login.
            if self._refused:
                self._refused = False  # the refusal itself was reported
                return
            reason = "the broker closed the connection before accepting the login" + (
                "" if self._broker.tls else f" (is {self._broker.port} a TLS port? tls: true)"
            )
            self._report.failed(reason)
            self._events.put(ConnectionFailed(reason))
            return
        self._accepted = False
        if reason_code.is_failure:
            _LOGGER.warning("disconnected from the broker: %s", reason_code)
        else:
            _LOGGER.info("disconnected from the broker")
        self._events.put(Disconnected(str(reason_code)))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._heard()
        self._events.put(MessageReceived(message.topic, bytes(message.payload), message.retain))

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        self._heard()
        self._events.put(PublishAcknowledged(mid))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        self._heard()

    def _on_unsubscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        self._heard()


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


@dataclass(frozen=True, slots=True)
class BrokerAccess:
    """What ``check`` found out about the broker: the login, then the command topics.

    Each is None when fine, otherwise a readable reason; ``commands`` is also None when
    the login failed (it could not be tried).
    """

    login: str | None
    commands: str | None = None


@dataclass(frozen=True, slots=True)
class CommandProbe:
    """Publish ``payload`` (QoS 1, not retained) on ``topic`` and receive it through a
    subscription to ``subscription`` (the filter the agent subscribes its commands with)."""

    subscription: str
    topic: str
    payload: bytes


def check_login(broker: BrokerConfig, *, client_id: str, timeout: float = 10.0) -> str | None:
    """Try one connection with the configured credentials and TLS.

    Returns None on success or a readable reason for the failure.
    """
    return check_broker_access(broker, client_id=client_id, timeout=timeout).login


def check_broker_access(
    broker: BrokerConfig,
    *,
    client_id: str,
    probe: CommandProbe | None = None,
    timeout: float = 10.0,
) -> BrokerAccess:
    """Log in once with the configured credentials and TLS; with ``probe``, also check that
    this login may publish on and receive from the node's command topics.

    A broker's ACL may refuse a publish (a PUBACK with a failure reason) or silently not
    deliver a message to a subscriber that may not read it: the message has to come back.
    """
    outcome: queue.Queue[tuple[str, Any]] = queue.Queue()

    def on_connect(
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        outcome.put(
            (
                "login",
                f"broker refused the login: {reason_code}" if reason_code.is_failure else None,
            )
        )

    def on_connect_fail(client: mqtt.Client, userdata: Any) -> None:
        outcome.put(("login", "could not connect"))

    def on_subscribe(
        client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode], properties: Any
    ) -> None:
        outcome.put(("subscribed", codes))

    def on_publish(
        client: mqtt.Client, userdata: Any, mid: int, code: ReasonCode, properties: Any
    ) -> None:
        outcome.put(("published", code))

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if probe is not None and message.topic == probe.topic and message.payload == probe.payload:
            outcome.put(("received", None))

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    try:
        configure_client(client, broker)
    except (OSError, ValueError) as err:  # ssl.SSLError is an OSError
        return BrokerAccess(f"TLS set-up failed: {err}")
    client.on_connect = on_connect
    client.on_connect_fail = on_connect_fail
    client.on_subscribe = on_subscribe
    client.on_publish = on_publish
    client.on_message = on_message
    where = f"{broker.host}:{broker.port}"
    try:
        client.connect(broker.host, broker.port, keepalive=broker.keepalive)
    except ssl.SSLError as err:  # before OSError, of which it is a subclass
        return BrokerAccess(f"TLS handshake with {where} failed: {err}")
    except (OSError, ValueError) as err:
        return BrokerAccess(f"cannot reach {where}: {err}")
    deadline = time.monotonic() + timeout

    early: dict[str, Any] = {}  # outcomes that came before they were waited for

    def next_outcome(kind: str) -> tuple[bool, Any]:
        """(True, value) for the outcome ``kind``, (False, None) at the deadline.

        The broker may deliver the probe message before it acknowledges its publication,
        so an outcome that is not the one waited for is kept for later.
        """
        if kind in early:
            return True, early.pop(kind)
        while True:
            try:
                got, value = outcome.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False, None
            if got == kind:
                return True, value
            early.setdefault(got, value)

    client.loop_start()
    try:
        answered, login = next_outcome("login")
        if not answered:
            return BrokerAccess(f"no answer from {where} within {timeout:.0f} s")
        if login is not None or probe is None:
            return BrokerAccess(login)
        return BrokerAccess(None, _probe_commands(client, probe, next_outcome, timeout))
    finally:
        client.disconnect()
        client.loop_stop()


def _probe_commands(
    client: mqtt.Client,
    probe: CommandProbe,
    next_outcome: Callable[[str], tuple[bool, Any]],
    timeout: float,
) -> str | None:
    client.subscribe((probe.subscription, SubscribeOptions(qos=1)))
    answered, codes = next_outcome("subscribed")
    if not answered:
        return f"no answer to subscribing to {probe.subscription} within {timeout:.0f} s"
    refused = [code for code in codes if code.is_failure]
    if refused:
        return f"may not subscribe to {probe.subscription}: {refused[0]}"
    client.publish(probe.topic, probe.payload, qos=1, retain=False)
    answered, code = next_outcome("published")
    if not answered:
        return f"no acknowledgement for publishing on {probe.topic} within {timeout:.0f} s"
    if code.is_failure:
        return f"may not publish on {probe.topic}: {code}"
    received, _ = next_outcome("received")
    if not received:
        return (
            f"published on {probe.topic} but did not receive it within {timeout:.0f} s: "
            f"the broker's ACL must let this login read {probe.subscription}"
        )
    return None
