"""The agent's configuration accepts only what the integration accepts from an announcement.

A node whose zone refuses its announcement is a node that cannot be set up, so every
bound the integration puts on an announced value must be a bound of the agent's
configuration too. The integration's ``announcement`` module is pure (standard library
only, guarded by ``tests/components/rala/test_pure_modules.py``), so it is loaded here
straight from its file: this test also runs on the agent's Python, without Home Assistant.
"""

from __future__ import annotations

from collections.abc import Iterator
import importlib
import importlib.util
from pathlib import Path
import sys
from types import ModuleType
from typing import Any

import pytest

from edge_agent import config as agent_config
from edge_agent.config import ActuatorKind, ConfigError, parse_config
from edge_agent.discovery import (
    MAX_ANNOUNCEMENT_BYTES,
    build_node_announcement,
    check_announceable,
    encode,
)

INTEGRATION = Path(__file__).resolve().parents[2] / "custom_components" / "rala"
#: Not ``custom_components.rala``: its ``__init__`` needs Home Assistant.
PACKAGE = "rala_integration_pure_modules"


@pytest.fixture(scope="module")
def announcement() -> Iterator[ModuleType]:
    """The integration's ``announcement`` module, with ``bounded_json`` beside it."""
    spec = importlib.util.spec_from_file_location(
        PACKAGE, INTEGRATION / "__init__.py", submodule_search_locations=[str(INTEGRATION)]
    )
    assert spec is not None
    package = importlib.util.module_from_spec(spec)  # not executed: only a search path
    sys.modules[PACKAGE] = package
    try:
        yield importlib.import_module(f"{PACKAGE}.announcement")
    finally:
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def node(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "node_id": "tent-pi",
        "name": "Tent Pi",
        "broker": {"host": "127.0.0.1"},
        "sensors": [{"key": "canopy"}],
        "actuators": [{"key": "heater", "kind": "heater", "pin": "D17"}],
        "outbox": {"path": "outbox.sqlite"},
    }
    raw.update(overrides)
    return raw


def heater(**overrides: Any) -> list[dict[str, Any]]:
    return [{"key": "heater", "kind": "heater", "pin": "D17", **overrides}]


def test_the_numeric_bounds_are_the_same(announcement: ModuleType) -> None:
    assert agent_config.MAX_SAMPLE_INTERVAL == announcement.MAX_SAMPLE_INTERVAL
    assert agent_config.MAX_MIN_TIME == announcement.MAX_MIN_TIME
    assert agent_config.MAX_MAX_ON == announcement.MAX_MAX_ON
    assert agent_config.MIN_SAMPLE_INTERVAL > 0  # the integration wants above 0


def test_the_actuator_kinds_are_the_same(announcement: ModuleType) -> None:
    assert {kind.value for kind in ActuatorKind} == announcement.ACTUATOR_KINDS


def test_every_node_id_and_key_the_agent_takes_is_one_the_integration_takes(
    announcement: ModuleType,
) -> None:
    assert agent_config.NODE_ID_PATTERN.pattern == announcement.NODE_ID_PATTERN.pattern
    characters = [chr(code) for code in range(0x250)]
    for pattern, theirs in (
        (agent_config.NODE_ID_PATTERN, announcement.NODE_ID_PATTERN),
        (agent_config.KEY_PATTERN, announcement.KEY_PATTERN),
    ):
        ours = [c for c in characters if pattern.fullmatch(c)]
        assert ours  # the comparison below compares something
        assert [c for c in ours if not theirs.fullmatch(c)] == []


def test_a_node_at_every_bound_is_accepted_by_the_integration(announcement: ModuleType) -> None:
    config = parse_config(
        node(
            sample_interval=agent_config.MAX_SAMPLE_INTERVAL,
            actuators=heater(
                min_on=agent_config.MAX_MIN_TIME,
                min_off=agent_config.MAX_MIN_TIME,
                max_on=agent_config.MAX_MAX_ON,
            ),
        ),
        environ={},
    )
    payload = encode(build_node_announcement(config, sample_interval=config.sample_interval))

    parsed = announcement.parse_announcement(payload, f"rala/{config.node_id}/node")

    assert parsed.sample_interval == agent_config.MAX_SAMPLE_INTERVAL
    (actuator,) = parsed.actuators
    assert (actuator.min_on, actuator.min_off, actuator.max_on) == (
        agent_config.MAX_MIN_TIME,
        agent_config.MAX_MIN_TIME,
        agent_config.MAX_MAX_ON,
    )


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        pytest.param(
            {"sample_interval": agent_config.MAX_SAMPLE_INTERVAL + 1},
            "sample_interval",
            id="sample-interval",
        ),
        pytest.param(
            {"actuators": heater(min_on=agent_config.MAX_MIN_TIME + 1)},
            "actuators[0].min_on",
            id="min-on",
        ),
        pytest.param(
            {"actuators": heater(min_off=agent_config.MAX_MIN_TIME + 1)},
            "actuators[0].min_off",
            id="min-off",
        ),
        pytest.param(
            {"actuators": heater(max_on=agent_config.MAX_MAX_ON + 1)},
            "actuators[0].max_on",
            id="max-on",
        ),
        pytest.param({"node_id": "tent pi"}, "node_id", id="node-id"),
    ],
)
def test_what_the_integration_would_refuse_is_a_config_error(
    announcement: ModuleType, overrides: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(node(**overrides), environ={})
    assert [error.partition(":")[0] for error in caught.value.errors] == [key]
    # The integration refuses the same value when it is announced.
    announced = build_node_announcement(parse_config(node(), environ={}), sample_interval=30)
    field, _, item = key.partition(".")
    value = overrides[field] if not item else overrides["actuators"][0][item]
    if item:
        announced["actuators"][0][item] = value
    else:
        announced[field] = value
    with pytest.raises(announcement.AnnouncementError):
        announcement.parse_announcement(encode(announced))


def test_the_announcement_size_bound_is_the_same(announcement: ModuleType) -> None:
    assert MAX_ANNOUNCEMENT_BYTES == announcement.MAX_PAYLOAD_BYTES


def test_a_node_whose_announcement_would_be_refused_as_too_large_is_a_config_error(
    announcement: ModuleType,
) -> None:
    # Every sensor the hardware allows (behind six muxes), each with long names.
    long_names = [
        {
            "key": f"m{mux}{channel}{address}",
            "name": "n" * 400,
            "zone": "z" * 400,
            "address": address,
            "mux_address": 0x70 + mux,
            "mux_channel": channel,
        }
        for mux in range(6)
        for channel in range(8)
        for address in (0x76, 0x77)
    ]
    config = parse_config(node(sensors=long_names), environ={})
    payload = encode(build_node_announcement(config, sample_interval=30))
    with pytest.raises(announcement.AnnouncementError, match="too large"):
        announcement.parse_announcement(payload)

    with pytest.raises(ConfigError, match=r"the node announcement would be \d+ bytes, more than"):
        check_announceable(config, sample_interval=30)
    check_announceable(parse_config(node(), environ={}), sample_interval=30)  # no error
