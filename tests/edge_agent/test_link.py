"""The MQTT link against a real mosquitto: birth, will, resubscription, PUBACK, login, TLS."""

from __future__ import annotations

import logging
from pathlib import Path
import queue
import socket
import ssl
import time

import pytest

from edge_agent.config import BrokerConfig
from edge_agent.link import (
    Connected,
    ConnectionFailed,
    Disconnected,
    LinkError,
    LinkEvent,
    Liveness,
    MessageReceived,
    MqttLink,
    PublishAcknowledged,
    StatusMessage,
    Subscription,
    check_login,
    describe_connect_error,
)
from tests.edge_agent.broker_faults import frozen
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


# --------------------------------------------------------------------------- half-open links


def test_a_half_open_connection_is_given_up_and_reconnected(mosquitto: Mosquitto) -> None:
    """A frozen broker (TCP still open) is noticed by its missing answers, not by TCP."""
    events: queue.Queue[LinkEvent] = queue.Queue()
    liveness = Liveness(answer_deadline=2.0, probe_after=1.0, probe_topic="rala/test/probe")
    link = make_link(
        mosquitto, events, reconnect_min_delay=1, reconnect_max_delay=1, liveness=liveness
    )
    link.start()
    try:
        next_event(events, Connected)
        # An idle broker that answers is kept: the probe gets its answer.
        idle_until = time.monotonic() + 3.5
        while time.monotonic() < idle_until:
            assert link.check_liveness() is None
            time.sleep(0.1)
        assert link.connected
        with frozen(mosquitto):
            frozen_at = time.monotonic()
            while (last_heard := link.check_liveness()) is None:
                # The keepalive (60 s) would take two minutes.
                assert time.monotonic() < frozen_at + 10, "the half-open link was not noticed"
                time.sleep(0.1)
            assert last_heard < frozen_at + 1.0
            next_event(events, Disconnected)
        next_event(events, Connected, timeout=20)
        assert link.check_liveness() is None
    finally:
        link.stop()


# --------------------------------------------------------------------------- connection failures


def next_failure(events: queue.Queue[LinkEvent]) -> ConnectionFailed:
    """The next event, which must be a failed attempt (never a Connected or Disconnected)."""
    event = events.get(timeout=15)
    assert isinstance(event, ConnectionFailed), event
    return event


def attempts(
    broker: BrokerConfig, caplog: pytest.LogCaptureFixture, count: int = 3
) -> tuple[list[ConnectionFailed], list[str]]:
    """``count`` failed attempts of a link: their events and what the link logged."""
    caplog.set_level(logging.DEBUG, logger="edge_agent.link")
    events: queue.Queue[LinkEvent] = queue.Queue()
    link = MqttLink(
        broker,
        client_id="rala-edge-failures",
        events=events,
        will=StatusMessage("rala/fail/availability", "offline"),
        birth=StatusMessage("rala/fail/availability", "online"),
        subscriptions=[],
        reconnect_min_delay=1,
        reconnect_max_delay=1,
    )
    link.start()
    try:
        failures = [next_failure(events) for _ in range(count)]
    finally:
        link.stop()
    remaining = list(events.queue)
    assert not [event for event in remaining if isinstance(event, Disconnected | Connected)]
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "edge_agent.link" and record.levelno >= logging.WARNING
    ]
    return failures, lines


def test_a_broker_that_is_down_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Mosquitto(tmp_path)  # never started: nobody listens on the port
    failures, lines = attempts(BrokerConfig(host=broker.host, port=broker.port), caplog)
    reason = "connection refused: no broker listens there (is it running, is the port right?)"
    assert {failure.reason for failure in failures} == {reason}
    # Three attempts, one line: the same reason is repeated only every few minutes.
    assert lines == [f"cannot connect to 127.0.0.1:{broker.port}: {reason}"]


def test_a_wrong_password_is_logged_once_and_readably(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Mosquitto(tmp_path, users={"grower": SECRET})
    broker.start()
    try:
        config = BrokerConfig(host=broker.host, port=broker.port, username="grower", password=WRONG)
        _, lines = attempts(config, caplog)
    finally:
        broker.stop(kill=True)
    expected = (
        f"cannot connect to 127.0.0.1:{broker.port}: the broker refused the login as 'grower': "
        "Not authorized (wrong user name or password?)"
    )
    assert lines == [expected]  # not "Protocol error" after every attempt
    assert WRONG not in caplog.text


def test_tls_mistakes_are_logged_once_and_readably(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_test_pki(tmp_path / "pki")
    (tmp_path / "tls").mkdir()
    tls_broker = Mosquitto(tmp_path / "tls", users={"grower": SECRET}, tls=pki)
    (tmp_path / "plain").mkdir()
    plain_broker = Mosquitto(tmp_path / "plain")
    tls_broker.start()
    plain_broker.start()
    tls_port, plain_port = tls_broker.port, plain_broker.port
    try:
        untrusted = BrokerConfig(
            "127.0.0.1", tls_port, username="grower", password=SECRET, tls=True
        )
        _, lines = attempts(untrusted, caplog, count=2)
        assert len(lines) == 1
        prefix = f"cannot connect to 127.0.0.1:{tls_port}: TLS: the broker's certificate"
        assert lines[0].startswith(f"{prefix} is not trusted (")
        assert lines[0].endswith("); check broker.ca_file")
        caplog.clear()

        plain_to_tls = BrokerConfig("127.0.0.1", tls_port, username="grower", password=SECRET)
        _, lines = attempts(plain_to_tls, caplog, count=2)
        expected = (
            f"cannot connect to 127.0.0.1:{tls_port}: the broker closed the connection before "
            f"accepting the login (is {tls_port} a TLS port? tls: true)"
        )
        assert lines == [expected]
        caplog.clear()

        tls_to_plain = BrokerConfig("127.0.0.1", plain_port, tls=True, ca_file=pki.ca_cert)
        _, lines = attempts(tls_to_plain, caplog, count=2)
        assert len(lines) == 1
        assert lines[0].startswith(f"cannot connect to 127.0.0.1:{plain_port}: ")
        assert f"(is {plain_port} a TLS port?)" in lines[0]
    finally:
        tls_broker.stop(kill=True)
        plain_broker.stop(kill=True)


def test_a_link_with_an_unusable_ca_file_is_refused_readably(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.crt"
    garbage.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(LinkError, match="TLS set-up failed"):
        make_link_for(BrokerConfig(host="127.0.0.1", port=1, tls=True, ca_file=garbage))


def make_link_for(broker: BrokerConfig) -> MqttLink:
    return MqttLink(
        broker,
        client_id="rala-edge-setup",
        events=queue.Queue(),
        will=StatusMessage("rala/setup/availability", "offline"),
        birth=StatusMessage("rala/setup/availability", "online"),
        subscriptions=[],
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (socket.gaierror(-2, "Name or service not known"), "cannot resolve the host name: Name"),
        (TimeoutError("timed out"), "no answer (timed out)"),
        (ssl.SSLError(1, "wrong version"), "TLS handshake failed: "),
        (OSError(113, "No route to host"), "No route to host"),
        (ConnectionResetError(104, "Connection reset by peer"), "Connection reset by peer"),
        (RuntimeError("odd"), "odd"),
        (None, "connection failed"),
    ],
)
def test_every_failed_attempt_gets_a_readable_reason(
    error: BaseException | None, reason: str
) -> None:
    plain = BrokerConfig(host="broker.lan", port=1883)
    assert reason in describe_connect_error(error, plain)
