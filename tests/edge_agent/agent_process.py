"""``rala-edge simulate`` as a real child process, for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time

from tests.edge_agent.mqtt_probe import MqttProbe, Received
from tests.mosquitto import Mosquitto

#: What a watcher subscribes to, to see everything a node and Home Assistant publish.
ALL_TOPICS = ["homeassistant/#", "rala/#"]


def simulate_args(
    broker: Mosquitto, state: Path, node: str, *extra: str, speed: float = 10
) -> list[str]:
    """Arguments of ``rala-edge simulate`` for ``node``, its outbox under ``state``."""
    return [
        "--broker",
        broker.url,
        "--node-id",
        node,
        "--speed",
        str(speed),
        "--state-dir",
        str(state),
        "--announce-delay",
        "0.2",
        *extra,
    ]


def command(watcher: MqttProbe, node: str, key: str, payload: str | bytes) -> Received:
    """Send a command and return the state the agent answers with."""
    mark = watcher.count
    watcher.publish(f"rala/{node}/actuator/{key}/set", payload)
    return watcher.wait_for(f"rala/{node}/actuator/{key}/state", since=mark)


class AgentProcess:
    """One ``python -m edge_agent simulate ...`` process with its log in a file."""

    def __init__(self, args: Sequence[str], log_file: Path) -> None:
        """Start the agent; its stdout and stderr go to ``log_file``."""
        self.log_file = log_file
        with log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge_agent", "simulate", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def log(self) -> str:
        """Everything the agent logged so far."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = 15) -> None:
        """Wait until ``text`` appears in the log."""
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited ({self.process.returncode}):\n{self.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not logged within {timeout} s:\n{self.log[-3000:]}")
            time.sleep(0.05)

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL and wait."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def ensure_stopped(self) -> None:
        """Kill the process if it still runs."""
        if self.process.poll() is None:
            self.kill()


def wait_for_new_log(agent: AgentProcess, pattern: str, since: int, timeout: float) -> str:
    """The first match of ``pattern`` in what the agent logged after offset ``since``."""
    deadline = time.monotonic() + timeout
    while True:
        match = re.search(pattern, agent.log[since:])
        if match:
            return match.group(0)
        assert agent.process.poll() is None, agent.log
        assert time.monotonic() < deadline, f"{pattern!r} not logged:\n{agent.log[-3000:]}"
        time.sleep(0.05)


@contextmanager
def running_agent(args: Sequence[str], log_file: Path) -> Iterator[AgentProcess]:
    """A running agent, killed at the end if the test did not stop it."""
    agent = AgentProcess(args, log_file)
    try:
        yield agent
    finally:
        agent.ensure_stopped()
