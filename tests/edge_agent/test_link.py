"""The MQTT link against a real mosquitto: birth, will, resubscription, PUBACK, login, TLS."""

from __future__ import annotations

from pathlib import Path
import queue
import time

import pytest

from edge_agent.config import BrokerConfig
from edge_agent.link import (
    Connected,
    Disconnected,
    LinkEvent,
    MessageReceived,
    MqttLink,
    PublishAcknowledged,
    StatusMessage,
    Subscription,
    check_login,
)
from tests.edge_agent.mqtt_probe import probe
from tests.mosquitto import Mosquitto, make_test_pki

pytestmark = pytest.mark.mqtt

SECRET = "s3cret"  # noqa: S105 - throw-away test broker
WRONG = "nope"


def next_event(events: queue.Queue[LinkEvent], kind: type, timeout: float = 15) -> LinkEvent:
    """The next event of ``kind``, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(event, kind):
            return event


def make_link(broker: Mosquitto, events: queue.Queue[LinkEvent], **kwargs: object) -> MqttLink:
    return MqttLink(
        BrokerConfig(host=broker.host, port=broker.port),
        client_id="rala-edge-test",
        events=events,
        will=StatusMessage("rala/test/availability", "offline"),
        birth=StatusMessage("rala/test/availability", "online"),
        subscriptions=[Subscription("rala/test/in/#")],
        **kwargs,  # type: ignore[arg-type]
    )


def test_birth_subscription_puback_and_clean_stop(mosquitto: Mosquitto) -> None:
    events: queue.Queue[LinkEvent] = queue.Queue()
    link = make_link(mosquitto, events)
    assert link.publish("rala/test/out", "x") is None  # not connected yet: nothing queued
    with probe(mosquitto.host, mosquitto.port, ["rala/test/#"]) as watcher:
        link.start()
        next_event(events, Connected)
        online = watcher.wait_for("rala/test/availability", lambda m: m.text == "online")
        connected_while_running = link.connected
        assert connected_while_running
        watcher.publish("rala/test/in/cmd", "hello")
        message = next_event(events, MessageReceived)
        assert message == MessageReceived("rala/test/in/cmd", b"hello", retained=False)
        mid = link.publish("rala/test/out", "payload")
        assert mid is not None
        assert next_event(events, PublishAcknowledged) == PublishAcknowledged(mid)
        watcher.wait_for("rala/test/out", lambda m: m.text == "payload")
        link.stop([("rala/test/availability", "offline")])
        watcher.wait_for("rala/test/availability", lambda m: m.text == "offline")
        assert not link.connected
    assert online.text == "online"
    # The availability stays retained for whoever subscribes later.
    with probe(mosquitto.host, mosquitto.port, ["rala/test/availability"]) as late:
        retained = late.wait_for("rala/test/availability")
        assert (retained.text, retained.retain) == ("offline", True)


def test_reconnects_and_resubscribes_after_a_broker_restart(mosquitto: Mosquitto) -> None:
    events: queue.Queue[LinkEvent] = queue.Queue()
    link = make_link(mosquitto, events, reconnect_min_delay=1, reconnect_max_delay=2)
    link.start()
    try:
        next_event(events, Connected)
        mosquitto.stop()
        next_event(events, Disconnected)
        assert link.publish("rala/test/out", "lost") is None
        mosquitto.start()
        next_event(events, Connected, timeout=20)
        with probe(mosquitto.host, mosquitto.port, ["rala/test/#"]) as watcher:
            # Birth again on the new broker, and the subscription is back.
            watcher.wait_for("rala/test/availability", lambda m: m.text == "online")
            watcher.publish("rala/test/in/again", "still here")
            message = next_event(events, MessageReceived)
            assert message == MessageReceived("rala/test/in/again", b"still here", False)
    finally:
        link.stop()


def test_will_is_published_when_the_connection_dies(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A link that vanishes without DISCONNECT leaves its retained will behind."""
    events: queue.Queue[LinkEvent] = queue.Queue()
    # keepalive 1 s: the broker gives up on the silent client after 1.5 s.
    link = MqttLink(
        BrokerConfig(host=mosquitto.host, port=mosquitto.port, keepalive=1),
        client_id="rala-edge-will-test",
        events=events,
        will=StatusMessage("rala/will/availability", "offline"),
        birth=StatusMessage("rala/will/availability", "online"),
        subscriptions=[],
    )
    with probe(mosquitto.host, mosquitto.port, ["rala/will/#"]) as watcher:
        link.start()
        watcher.wait_for("rala/will/availability", lambda m: m.text == "online")
        # Stop paho's network loop without disconnecting: the broker hears nothing more.
        link._client.loop_stop()
        watcher.wait_for("rala/will/availability", lambda m: m.text == "offline", timeout=15)
    link._client.disconnect()


def test_login_with_username_and_password(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path, users={"grower": SECRET})
    broker.start()
    try:
        good = BrokerConfig(host=broker.host, port=broker.port, username="grower", password=SECRET)
        assert check_login(good, client_id="login-test") is None
        bad = BrokerConfig(host=broker.host, port=broker.port, username="grower", password=WRONG)
        problem = check_login(bad, client_id="login-test")
        assert problem is not None
        assert "refused" in problem
        anonymous = BrokerConfig(host=broker.host, port=broker.port)
        assert check_login(anonymous, client_id="login-test") is not None
    finally:
        broker.stop(kill=True)


def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")
    broker = Mosquitto(tmp_path, users={"grower": SECRET}, tls=pki)
    broker.start()
    try:
        config = BrokerConfig(
            host=broker.host,
            port=broker.port,
            username="grower",
            password=SECRET,
            tls=True,
            ca_file=pki.ca_cert,
        )
        assert check_login(config, client_id="tls-test") is None
        events: queue.Queue[LinkEvent] = queue.Queue()
        link = MqttLink(
            config,
            client_id="tls-link",
            events=events,
            will=StatusMessage("rala/tls/availability", "offline"),
            birth=StatusMessage("rala/tls/availability", "online"),
            subscriptions=[Subscription("rala/tls/in")],
        )
        link.start()
        try:
            next_event(events, Connected)
            mid = link.publish("rala/tls/in", "over TLS")
            assert mid is not None
            received = next_event(events, MessageReceived)
            assert received == MessageReceived("rala/tls/in", b"over TLS", False)
        finally:
            link.stop()
        # Without the CA the server certificate is not trusted.
        untrusted = BrokerConfig(
            host=broker.host, port=broker.port, username="grower", password=SECRET, tls=True
        )
        problem = check_login(untrusted, client_id="tls-test", timeout=5)
        assert problem is not None
        assert "TLS handshake" in problem
        assert "certificate verify failed" in problem
        # Plain MQTT against the TLS listener fails too.
        plain = BrokerConfig(host=broker.host, port=broker.port, username="grower", password=SECRET)
        assert check_login(plain, client_id="tls-test", timeout=5) is not None
    finally:
        broker.stop(kill=True)


def test_unreachable_broker_is_reported(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)  # configured but never started: nobody listens
    problem = check_login(BrokerConfig(host=broker.host, port=broker.port), client_id="x")
    assert problem is not None
    assert "cannot reach" in problem


def test_retained_flag_is_kept_where_asked(mosquitto: Mosquitto) -> None:
    """With retain-as-published, a retained message is flagged even when it arrives live."""
    events: queue.Queue[LinkEvent] = queue.Queue()
    link = MqttLink(
        BrokerConfig(host=mosquitto.host, port=mosquitto.port),
        client_id="rala-edge-rap",
        events=events,
        will=StatusMessage("rala/rap/availability", "offline"),
        birth=StatusMessage("rala/rap/availability", "online"),
        subscriptions=[
            Subscription("rala/rap/kept/#", retain_as_published=True),
            Subscription("rala/rap/plain/#"),
        ],
    )
    link.start()
    try:
        next_event(events, Connected)
        with probe(mosquitto.host, mosquitto.port, ["rala/rap/#"]) as sender:
            sender.publish("rala/rap/kept/a", "r", retain=True)
            assert next_event(events, MessageReceived) == MessageReceived(
                "rala/rap/kept/a", b"r", retained=True
            )
            sender.publish("rala/rap/plain/a", "r", retain=True)
            assert next_event(events, MessageReceived) == MessageReceived(
                "rala/rap/plain/a", b"r", retained=False
            )
            sender.publish("rala/rap/kept/b", "live")
            assert next_event(events, MessageReceived) == MessageReceived(
                "rala/rap/kept/b", b"live", retained=False
            )
    finally:
        link.stop()
