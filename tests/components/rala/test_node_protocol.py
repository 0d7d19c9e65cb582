"""The node's names on the wire as the integration reads them (pure module)."""

import pytest

from custom_components.rala.node_protocol import (
    NODE_ID_PATTERN,
    Topics,
    node_id_from_announcement_topic,
    sensor_from_state_topic,
    sensor_unique_id,
)


def test_topics_of_a_node() -> None:
    """The topics the integration subscribes and publishes to (docs/protocol.md)."""
    topics = Topics("tent-pi")
    assert topics.backfill == "rala/tent-pi/backfill"
    assert topics.replay == "rala/tent-pi/replay"
    assert topics.sensor_state("canopy") == "rala/tent-pi/sensor/canopy/state"
    assert topics.sensor_state_filter == "rala/tent-pi/sensor/+/state"
    assert sensor_unique_id("tent-pi", "canopy", "pressure") == "rala_tent-pi_canopy_pressure"


@pytest.mark.parametrize(
    ("topic", "node_id"),
    [
        ("rala/tent-pi/node", "tent-pi"),
        ("rala/tent-pi/node/x", None),
        ("rala/tent-pi/availability", None),
        ("rala//node", None),
        ("other/tent-pi/node", None),
    ],
)
def test_node_id_from_announcement_topic(topic: str, node_id: str | None) -> None:
    """Only rala/<node>/node topics name a node."""
    assert node_id_from_announcement_topic(topic) == node_id


@pytest.mark.parametrize(
    ("topic", "sensor"),
    [
        ("rala/tent-pi/sensor/canopy/state", "canopy"),
        ("rala/tent-pi/sensor//state", ""),
        ("rala/tent-pi/sensor/canopy/state/x", None),
        ("rala/tent-pi/actuator/heater/state", None),
    ],
)
def test_sensor_from_state_topic(topic: str, sensor: str | None) -> None:
    """The sensor of a live reading comes from its topic; an empty level stays empty."""
    assert sensor_from_state_topic(topic) == sensor


@pytest.mark.parametrize(
    ("node_id", "valid"),
    [("tent-pi", True), ("tent_2", True), ("Tent", False), ("tent pi", False), ("", False)],
)
def test_node_id_pattern(node_id: str, valid: bool) -> None:
    """Lower-case letters, digits, '_' and '-' (the agent's rule, checked in the contract)."""
    assert bool(NODE_ID_PATTERN.fullmatch(node_id)) is valid
