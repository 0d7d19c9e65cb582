"""Access control, agent side: a broker with TLS, a password per login and a per-node ACL.

A real mosquitto listens only with TLS (a certificate authority made for the test), lets in
only the logins of its password file, and gives each node's login its own topics only
(``rala/<node>/#``, its discovery document, Home Assistant's status); Home Assistant's
login may use every ``rala/`` and discovery topic. Two real ``rala-edge simulate``
processes, nodes A and B, run against it with their passwords in the environment
(``RALA_MQTT_PASSWORD``), never on the command line. The suite shows that:

* both nodes connect and publish everything Home Assistant needs, and answer its commands;
* node A's login cannot switch a relay of node B: the broker refuses every such command,
  B never hears of it, while Home Assistant's login switches the same relay;
* ``rala-edge check`` of a node whose ACL forgets its command topics fails on them, and
  passes on them for a node whose ACL is complete;
* a mistyped password is logged once, readably (not as "Protocol error"), and the agent
  backs off between attempts instead of hammering the broker;
* no password ever shows: not in a log, not in ``check``'s report, not on a command line
  (``/proc/<pid>/cmdline``), not in what the nodes publish, not in their state directories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
import itertools
import json
import os
from pathlib import Path
import secrets
import ssl
import subprocess
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
import pytest

from edge_agent.simulated import default_simulation_raw_config
from tests.edge_agent.agent_process import ALL_TOPICS, AgentProcess, running_agent
from tests.edge_agent.mqtt_probe import Received
from tests.mosquitto import BrokerPki, Mosquitto, make_test_pki
from tests.reliability.figures import record, scaled

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

NODE_A, NODE_B = "t-lock-a", "t-lock-b"
#: A node whose ACL grants its readings and states but forgets its command topics.
NODE_FORGETFUL = "t-lock-forgetful"
USERS = {NODE_A: "node-a", NODE_B: "node-b", NODE_FORGETFUL: "node-forgetful"}
HA_USER = "homeassistant"
#: The relays of the simulated node (edge_agent.simulated.default_simulation_raw_config).
ACTUATORS = ("heater", "humidifier", "dehumidifier", "exhaust_fan", "light")
PASSWORD_VARIABLE = "RALA_MQTT_PASSWORD"  # noqa: S105 - the variable's name
SPEED = 10
#: Simulated seconds: at SPEED, a reading and a diagnostics document every real second.
SAMPLE_INTERVAL = 10
#: What mosquitto logs (at notice level) for every login it refuses.
REFUSED_LOGIN = "disconnected, not authorised."
#: paho's first reconnect delay in the agent's link (edge_agent.link.MqttLink).
MIN_RECONNECT_DELAY = 1.0


def _acl() -> str:
    """Each node its own topics; Home Assistant every node's and every discovery topic."""
    lines = []
    for node in (NODE_A, NODE_B):
        lines += [
            f"user {USERS[node]}",
            f"topic readwrite rala/{node}/#",
            f"topic readwrite homeassistant/device/{node}/config",
            "topic read homeassistant/status",
            "",
        ]
    forgetful = f"rala/{NODE_FORGETFUL}"
    lines += [
        f"user {USERS[NODE_FORGETFUL]}",
        *(
            f"topic readwrite {forgetful}/{topic}"
            for topic in (
                "availability",
                "node",
                "diagnostics",
                "backfill",
                "replay",
                "probe",
                "sensor/+/state",
                "actuator/+/state",
            )
        ),
        f"topic readwrite homeassistant/device/{NODE_FORGETFUL}/config",
        "topic read homeassistant/status",
        "",
        f"user {HA_USER}",
        "topic readwrite rala/#",
        "topic readwrite homeassistant/#",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class LockedDownBroker:
    """The broker, its CA, and the password of every login (made up for this run)."""

    broker: Mosquitto
    pki: BrokerPki
    passwords: dict[str, str]  # user → password


@pytest.fixture
def locked_down(tmp_path: Path, sockets_allowed: None) -> Iterator[LockedDownBroker]:
    """A TLS-only mosquitto with a password file and the per-node ACL, killed afterwards."""
    pki = make_test_pki(tmp_path / "pki")
    passwords = {user: secrets.token_urlsafe(18) for user in (*USERS.values(), HA_USER)}
    directory = tmp_path / "broker"
    directory.mkdir()
    broker = Mosquitto(directory, users=passwords, tls=pki, acl=_acl())
    broker.start()
    try:
        yield LockedDownBroker(broker, pki, passwords)
    finally:
        broker.stop(kill=True)


class _Login:
    """A paho MQTT v5 client logged in over TLS as one user.

    It keeps every message of its subscriptions and returns the broker's PUBACK reason
    code for what it publishes: mosquitto answers a publish its ACL refuses with
    "Not authorized" to a v5 client (and drops the message).
    """

    def __init__(self, locked: LockedDownBroker, user: str, topics: Sequence[str] = ()) -> None:
        """Connect as ``user`` with its password, subscribe to ``topics`` and wait."""
        self.messages: list[Received] = []
        self._condition = threading.Condition()
        self._connected: list[ReasonCode] = []
        self._subscribed = threading.Event()
        self._acknowledged: dict[int, ReasonCode] = {}
        self._topics = list(topics)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"rala-test-{user}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(user, locked.passwords[user])
        self._client.tls_set(ca_certs=str(locked.pki.ca_cert), cert_reqs=ssl.CERT_REQUIRED)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.connect(locked.broker.host, locked.broker.port)
        self._client.loop_start()
        self._wait(lambda: bool(self._connected), "the CONNACK")
        if self._connected[0].is_failure:
            raise AssertionError(f"{user} could not log in: {self._connected[0]}")
        if self._topics:
            self._client.subscribe([(topic, 1) for topic in self._topics])
            if not self._subscribed.wait(10):
                raise TimeoutError(f"{user} could not subscribe")

    def _wait(self, condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
        with self._condition:
            if not self._condition.wait_for(condition, timeout):
                raise TimeoutError(f"no {what} within {timeout} s")

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, code: Any, *_: Any
    ) -> None:
        with self._condition:
            self._connected.append(code)
            self._condition.notify_all()

    def _on_subscribe(self, *_: Any) -> None:
        self._subscribed.set()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, code: Any, *_: Any) -> None:
        with self._condition:
            self._acknowledged[mid] = code
            self._condition.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._condition:
            self.messages.append(
                Received(message.topic, bytes(message.payload), message.retain, time.monotonic())
            )
            self._condition.notify_all()

    @property
    def count(self) -> int:
        """How many messages arrived so far (a mark for ``wait_for(..., since=...)``)."""
        with self._condition:
            return len(self.messages)

    def on(self, topic: str, *, since: int = 0) -> list[Received]:
        """Messages on ``topic`` (a filter) among those after the first ``since``."""
        with self._condition:
            return [m for m in self.messages[since:] if mqtt.topic_matches_sub(topic, m.topic)]

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Received], bool] = lambda _: True,
        *,
        since: int = 0,
        timeout: float = 15,
    ) -> Received:
        """The first message on ``topic`` matching ``predicate`` after the first ``since``."""
        found: list[Received] = []

        def arrived() -> bool:
            found[:] = [
                m
                for m in self.messages[since:]
                if mqtt.topic_matches_sub(topic, m.topic) and predicate(m)
            ][:1]
            return bool(found)

        self._wait(arrived, f"message on {topic}", timeout)
        return found[0]

    def publish(self, topic: str, payload: str) -> ReasonCode:
        """Publish with QoS 1; the reason code of the broker's PUBACK."""
        info = self._client.publish(topic, payload, qos=1)
        self._wait(lambda: info.mid in self._acknowledged, f"PUBACK for {topic}")
        with self._condition:
            return self._acknowledged.pop(info.mid)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


def _write_config(locked: LockedDownBroker, directory: Path, node: str) -> Path:
    """The node's YAML file (JSON is YAML): TLS with the test CA, its user, no password."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = default_simulation_raw_config(
        node_id=node,
        host=locked.broker.host,
        port=locked.broker.port,
        sample_interval=SAMPLE_INTERVAL,
    )
    raw["broker"].update(username=USERS[node], tls=True, ca_file=str(locked.pki.ca_cert))
    raw["outbox"] = {"path": str(directory / "state" / "outbox.sqlite")}
    config = directory / "config.yaml"
    config.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return config


def _start_agent(
    stack: ExitStack,
    monkeypatch: pytest.MonkeyPatch,
    config: Path,
    log_file: Path,
    password: str,
) -> AgentProcess:
    """``rala-edge simulate --config``, its password in its environment only."""
    args = [
        "--config",
        str(config),
        "--speed",
        str(SPEED),
        "--state-dir",
        str(config.parent / "state"),
        "--announce-delay",
        "0.2",
    ]
    with monkeypatch.context() as environment:
        environment.setenv(PASSWORD_VARIABLE, password)
        return stack.enter_context(running_agent(args, log_file))


def _cmdline(agent: AgentProcess) -> str:
    """The running process's command line, as every user of the machine can read it."""
    raw = Path(f"/proc/{agent.process.pid}/cmdline").read_bytes()
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")


def _check(config: Path, password: str) -> subprocess.CompletedProcess[str]:
    """``python -m edge_agent check --config``, the password in its environment."""
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", "check", "--config", str(config)],
        env={**os.environ, PASSWORD_VARIABLE: password},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _command(ha: _Login, node: str, key: str, payload: str) -> Received:
    """Home Assistant's command to a relay, and the state the node answers with."""
    mark = ha.count
    code = ha.publish(f"rala/{node}/actuator/{key}/set", payload)
    assert not code.is_failure, f"the broker refused Home Assistant's command: {code}"
    return ha.wait_for(f"rala/{node}/actuator/{key}/state", since=mark)


def _wait_until_announced(ha: _Login, node: str) -> None:
    """Everything Home Assistant needs of ``node`` arrived: its ACL lets it publish it."""
    ha.wait_for(f"homeassistant/device/{node}/config")
    ha.wait_for(f"rala/{node}/node")
    ha.wait_for(f"rala/{node}/availability", lambda m: m.text == "online")
    ha.wait_for(f"rala/{node}/sensor/canopy/state")
    ha.wait_for(f"rala/{node}/diagnostics")
    for key in ACTUATORS:
        ha.wait_for(f"rala/{node}/actuator/{key}/state", lambda m: m.text == "OFF")


def _cross_node_commands(ha: _Login, node_a: _Login, rounds: int) -> tuple[int, int, int, int]:
    """Node A's login sends ON to each of B's relays, ``rounds`` times.

    After each attempt Home Assistant sends OFF to the same relay: B answers every
    command it receives with the relay's state, in order, so if A's ON had reached B the
    first answer would be ON. Home Assistant's subscription to ``rala/#`` sees whatever
    the broker let through. Returns (attempts, refused by the broker's PUBACK, delivered
    to Home Assistant, relays switched).
    """
    attempts = refused = delivered = switched = 0
    for _ in range(rounds):
        for key in ACTUATORS:
            topic = f"rala/{NODE_B}/actuator/{key}/set"
            mark = ha.count
            attempts += 1
            refused += node_a.publish(topic, "ON").is_failure
            assert not ha.publish(topic, "OFF").is_failure
            answer = ha.wait_for(f"rala/{NODE_B}/actuator/{key}/state", since=mark)
            switched += answer.text == "ON"
            delivered += sum(m.text == "ON" for m in ha.on(topic, since=mark))
    return attempts, refused, delivered, switched


def _refused_logins(broker: Mosquitto) -> int:
    return broker.log_file.read_text(encoding="utf-8", errors="replace").count(REFUSED_LOGIN)


def _wrong_password_attempts(broker: Mosquitto, agent: AgentProcess, seconds: float) -> list[float]:
    """When (monotonic) the broker refused a login, watched for ``seconds`` after the
    agent started; only this agent logs in with a wrong password meanwhile."""
    before = _refused_logins(broker)
    seen: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = _refused_logins(broker) - before
        seen += [time.monotonic()] * (now - len(seen))
        assert agent.process.poll() is None, f"the agent exited:\n{agent.log[-2000:]}"
        time.sleep(0.02)
    return seen


def _files_bytes(directory: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            yield str(path), path.read_bytes()


def test_a_locked_down_broker_keeps_nodes_apart_and_secrets_out_of_sight(
    locked_down: LockedDownBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run through what an installation with a locked-down broker relies on.

    One test, so that the suite's figures are one row: the nodes connect over TLS with
    their own logins, a node's login cannot command another node, ``check`` finds an ACL
    that forgets the command topics, a wrong password is reported once and retried with
    growing delays, and no password shows anywhere a user or Home Assistant could see it.
    """
    started = time.monotonic()
    broker, passwords = locked_down.broker, locked_down.passwords
    configs = {node: _write_config(locked_down, tmp_path / node, node) for node in USERS}
    wrong_password = secrets.token_urlsafe(18)
    rounds = scaled(3, 30)
    wrong_password_seconds = scaled(10, 90)
    # Where a password could show: (what, its content).
    places: list[tuple[str, bytes]] = []

    with ExitStack() as stack:
        ha = _Login(locked_down, HA_USER, ALL_TOPICS)
        stack.callback(ha.close)
        agents = {
            node: _start_agent(
                stack,
                monkeypatch,
                configs[node],
                tmp_path / f"{node}.log",
                passwords[USERS[node]],
            )
            for node in (NODE_A, NODE_B)
        }
        for node, agent in agents.items():
            places.append((f"command line of {node}", _cmdline(agent).encode()))
            _wait_until_announced(ha, node)
            # Home Assistant's login commands the node, and the node answers.
            assert _command(ha, node, "heater", "ON").text == "ON"
            assert _command(ha, node, "heater", "OFF").text == "OFF"

        # Node A's login may not command node B.
        node_a = _Login(locked_down, USERS[NODE_A])
        stack.callback(node_a.close)
        b_log_before = len(agents[NODE_B].log)
        attempts, refused_by_broker, delivered, switched = _cross_node_commands(ha, node_a, rounds)
        b_log_during = agents[NODE_B].log[b_log_before:]
        # Node A's login still works on its own node: the refusals were the ACL's.
        mark = ha.count
        own = node_a.publish(f"rala/{NODE_A}/actuator/heater/set", "ON")
        own_answer = ha.wait_for(f"rala/{NODE_A}/actuator/heater/state", since=mark)
        assert _command(ha, NODE_A, "heater", "OFF").text == "OFF"
        # Home Assistant's login switches the relays A's could not.
        b_log_before = len(agents[NODE_B].log)
        ha_switched_b = _command(ha, NODE_B, "heater", "ON").text == "ON"
        b_log_after_ha = agents[NODE_B].log[b_log_before:]
        assert _command(ha, NODE_B, "heater", "OFF").text == "OFF"

        # check: a node whose ACL forgets its command topics, and node A's.
        forgetful_check = _check(configs[NODE_FORGETFUL], passwords[USERS[NODE_FORGETFUL]])
        complete_check = _check(configs[NODE_A], passwords[USERS[NODE_A]])
        for name, result in (("forgetful", forgetful_check), ("complete", complete_check)):
            places.append((f"check of the {name} node", (result.stdout + result.stderr).encode()))

        # A mistyped password: node "forgetful" (not running otherwise) logs in with it.
        wrong = _start_agent(
            stack,
            monkeypatch,
            configs[NODE_FORGETFUL],
            tmp_path / "wrong-password.log",
            wrong_password,
        )
        wrong_started = time.monotonic()
        places.append(("command line of the agent with a wrong password", _cmdline(wrong).encode()))
        refusals = _wrong_password_attempts(broker, wrong, wrong_password_seconds)
        watched = time.monotonic() - wrong_started
        assert wrong.terminate() == 0

        # Stopped, the nodes' logs and state directories are complete.
        for agent in agents.values():
            assert agent.terminate() == 0, agent.log[-2000:]
        # Everything the nodes published, retained or not, as Home Assistant's login saw it.
        payloads = [(f"payload on {m.topic}", m.payload) for m in ha.messages]

    # --- what node B did with node A's commands
    assert attempts == rounds * len(ACTUATORS)
    assert refused_by_broker == attempts, "the broker acknowledged a command of A for B"
    assert delivered == 0, f"the broker delivered {delivered} command(s) of A for B"
    assert switched == 0, f"node A's login switched a relay of node B {switched} time(s)"
    switched_lines = [key for key in ACTUATORS if f"{key} on" in b_log_during.lower()]
    assert not switched_lines, f"node B switched on {switched_lines}:\n{b_log_during}"
    assert not own.is_failure
    assert own_answer.text == "ON"
    assert ha_switched_b
    assert "heater on" in b_log_after_ha.lower(), b_log_after_ha

    # --- check
    def command_line(result: subprocess.CompletedProcess[str], node: str) -> str:
        prefix = f"command topics rala/{node}/actuator/+/set:"
        lines = [line for line in result.stdout.splitlines() if prefix in line]
        assert len(lines) == 1, result.stdout + result.stderr
        return lines[0]

    forgetful_line = command_line(forgetful_check, NODE_FORGETFUL)
    complete_line = command_line(complete_check, NODE_A)
    assert forgetful_line.startswith("[FAIL] "), forgetful_check.stdout
    assert forgetful_check.returncode != 0
    assert f"[ OK ] broker 127.0.0.1:{broker.port} (TLS): logged in as" in forgetful_check.stdout
    assert complete_line == (
        f"[ OK ] command topics rala/{NODE_A}/actuator/+/set: published and received"
    ), complete_check.stdout

    # --- the wrong password
    wrong_log = wrong.log
    failures = [line for line in wrong_log.splitlines() if "cannot connect to" in line]
    expected = (
        f"cannot connect to 127.0.0.1:{broker.port}: the broker refused the login as "
        f"'{USERS[NODE_FORGETFUL]}': Not authorized (wrong user name or password?)"
    )
    assert len(failures) == 1, wrong_log  # once, not after every attempt
    assert failures[0].endswith(expected), failures[0]
    assert "Protocol error" not in wrong_log
    assert "Traceback" not in wrong_log
    gaps = [later - earlier for earlier, later in itertools.pairwise(refusals)]
    attempts_per_minute = len(refusals) / watched * 60
    assert len(refusals) >= 3, f"the agent gave up or never tried: {len(refusals)} attempt(s)"
    assert min(gaps) >= MIN_RECONNECT_DELAY * 0.8, f"attempts too close together: {gaps}"
    assert gaps[-1] >= 2 * gaps[0] * 0.8, f"no back-off between attempts: {gaps}"
    assert attempts_per_minute <= 60 / MIN_RECONNECT_DELAY

    # --- no secret anywhere
    for name, agent in (*agents.items(), ("wrong password", wrong)):
        places.append((f"log of {name}", agent.log_file.read_bytes()))
    for node in (NODE_A, NODE_B):
        places.extend(_files_bytes(tmp_path / node / "state"))
    places.extend(payloads)
    published = {m.topic for m in ha.messages}
    for node in agents:
        assert {f"homeassistant/device/{node}/config", f"rala/{node}/diagnostics"} <= published
    secret_values = [*passwords.values(), wrong_password]
    leaks = [
        what for what, content in places for secret in secret_values if secret.encode() in content
    ]
    assert not leaks, f"a password shows in: {leaks}"

    record(
        "locked-down-broker",
        nodes=len(agents),
        cross_node_commands=attempts,
        cross_node_commands_refused=refused_by_broker,
        cross_node_commands_delivered=delivered,
        cross_node_relays_switched=switched,
        check_command_topics_failed=forgetful_line.startswith("[FAIL] "),
        wrong_password_attempts=len(refusals),
        wrong_password_log_lines=len(failures),
        wrong_password_watched_s=round(watched, 1),
        attempts_per_minute=round(attempts_per_minute, 1),
        places_searched=len(places),
        payloads_searched=len(payloads),
        secrets_found=len(leaks),
        duration_s=round(time.monotonic() - started, 1),
    )
