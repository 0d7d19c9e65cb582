"""Faults, agent side: a broker that stops answering while TCP stays open, again and again.

A real mosquitto is frozen with SIGSTOP under a real ``rala-edge simulate`` process whose
heater and humidifier are on. paho alone notices a silent broker only after two keepalive
periods (60 s each): the link-loss states would come two minutes late. docs/protocol.md
promises them within the link-loss timeout of the broker's last answer (checked every
second). Each freeze is timed from SIGSTOP to the agent's log of the safe state; after
SIGCONT the agent must reconnect, report its pins and obey commands again.
"""

from __future__ import annotations

from pathlib import Path
import statistics
import time

import pytest

from tests.edge_agent.agent_process import (
    ALL_TOPICS,
    command,
    running_agent,
    simulate_args,
    wait_for_new_log,
)
from tests.edge_agent.broker_faults import frozen
from tests.edge_agent.mqtt_probe import is_text, probe
from tests.mosquitto import Mosquitto
from tests.reliability.figures import record, scaled

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

NODE = "t-frozen"
#: Real seconds at speed 1.
LINK_LOSS_TIMEOUT = 8.0
#: The agent checks the link every second; the rest is the log poll and a busy machine.
SLACK = 4.0


def test_a_frozen_broker_brings_heater_and_humidifier_to_their_link_loss_state_in_time(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    freezes = scaled(2, 10)
    args = simulate_args(
        mosquitto, tmp_path / "state", NODE, "--link-loss-timeout", str(LINK_LOSS_TIMEOUT), speed=1
    )
    times_to_safe: list[float] = []
    with (
        running_agent(args, tmp_path / "agent.log") as agent,
        probe(mosquitto.host, mosquitto.port, ALL_TOPICS) as watcher,
    ):
        watcher.wait_for(f"rala/{NODE}/actuator/heater/state", is_text("OFF"))
        for _freeze in range(freezes):
            assert command(watcher, NODE, "heater", "ON").text == "ON"
            assert command(watcher, NODE, "humidifier", "ON").text == "ON"
            assert command(watcher, NODE, "exhaust_fan", "ON").text == "ON"
            mark = len(agent.log)
            with frozen(mosquitto):
                frozen_at = time.monotonic()
                wait_for_new_log(
                    agent, r"heater OFF \(link lost\)", mark, LINK_LOSS_TIMEOUT + 2 * SLACK
                )
                times_to_safe.append(time.monotonic() - frozen_at)
                wait_for_new_log(agent, r"humidifier OFF \(link lost\)", mark, 1)
                wait_for_new_log(agent, r"broker not answering for \d+ s: reconnecting", mark, 1)
                assert "exhaust_fan OFF" not in agent.log[mark:]  # its link-loss action: keep
            # The broker is back: the agent reconnects and reports what the pins are.
            since = watcher.count
            watcher.wait_for(
                f"rala/{NODE}/actuator/heater/state", is_text("OFF"), timeout=30, since=since
            )
            watcher.wait_for(f"rala/{NODE}/actuator/humidifier/state", is_text("OFF"), since=since)
            watcher.wait_for(f"rala/{NODE}/actuator/exhaust_fan/state", is_text("ON"), since=since)
            watcher.wait_for(f"rala/{NODE}/availability", is_text("online"), since=since)
            wait_for_new_log(agent, "link restored", mark, 20)
        assert agent.terminate() == 0
    record(
        "frozen-broker",
        freezes=freezes,
        link_loss_timeout_s=LINK_LOSS_TIMEOUT,
        worst_time_to_safe_s=round(max(times_to_safe), 2),
        median_time_to_safe_s=round(statistics.median(times_to_safe), 2),
        tracebacks=agent.log.count("Traceback"),
    )
    assert max(times_to_safe) < LINK_LOSS_TIMEOUT + SLACK
    assert "Traceback" not in agent.log
