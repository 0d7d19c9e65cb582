"""Parsing and validating node announcements (pure module)."""

import json
from typing import Any

import pytest

from custom_components.rala.announcement import (
    MAX_MAX_ON,
    MAX_MIN_TIME,
    MAX_PAYLOAD_BYTES,
    MAX_SAMPLE_INTERVAL,
    MAX_SCHEMA,
    REASON_EMPTY,
    REASON_INVALID,
    REASON_INVALID_JSON,
    REASON_UNSUPPORTED_SCHEMA,
    AnnouncementError,
    parse_announcement,
)
from custom_components.rala.node_protocol import MAX_TOPIC_LENGTH

from .common import announcement


def _reason(payload: str | bytes, topic: str | None = None) -> str:
    with pytest.raises(AnnouncementError) as err:
        parse_announcement(payload, topic)
    return err.value.reason


def _with(**changes: Any) -> str:
    return json.dumps(announcement(**changes))


def test_protocol_example_parses() -> None:
    """The example of docs/protocol.md is a valid announcement, as str and as bytes."""
    document = announcement()
    for payload in (json.dumps(document), json.dumps(document).encode()):
        parsed = parse_announcement(payload, "rala/tent-pi/node")
        assert parsed.node_id == "tent-pi"
        assert parsed.name == "Tent Pi"
        assert parsed.sample_interval == 30.0
        assert parsed.device_identifier == "rala_tent-pi"
        assert parsed.sensors[0].unique_ids["temperature"] == "rala_tent-pi_canopy_temperature"
        assert parsed.actuators[0].kind == "heater"
        assert parsed.actuators[0].max_on is None
        (zone,) = parsed.zones()
        assert zone.zone == "Flower tent"
        assert zone.sensor.key == "canopy"
        assert set(zone.actuators) == {"heater"}


def test_zones_group_sensors_and_actuators() -> None:
    """Zones come from climate sensors; items without a zone belong to the node's name."""
    document = announcement(sensors=[], actuators=[])
    document["sensors"] = [
        {
            "key": "pressure-only",
            "name": "Barometer",
            "state_topic": "rala/tent-pi/t",
            "unique_ids": {"pressure": "p"},
        },
        {
            "key": "a",
            "name": "A",
            "state_topic": "rala/tent-pi/t",
            "unique_ids": {"temperature": "a_t", "humidity": "a_h"},
        },
        {
            "key": "b",
            "name": "B",
            "state_topic": "rala/tent-pi/t",
            "unique_ids": {"temperature": "b_t", "humidity": "b_h"},
        },
    ]
    document["actuators"] = [
        {"key": "h1", "name": "H1", "kind": "heater", "unique_id": "h1"},
        {"key": "h2", "name": "H2", "kind": "heater", "unique_id": "h2"},
        {"key": "p", "name": "Pump", "kind": "pump", "unique_id": "p"},
        {"key": "x", "name": "X", "kind": "light", "zone": "Elsewhere", "unique_id": "x"},
    ]
    (zone,) = parse_announcement(json.dumps(document)).zones()
    assert zone.zone == "Tent Pi"
    assert zone.sensor.key == "a"  # the first climate sensor of the zone
    assert {kind: actuator.key for kind, actuator in zone.actuators.items()} == {"heater": "h1"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", REASON_EMPTY),
        ("  \n", REASON_EMPTY),
        (b"", REASON_EMPTY),
        (b"\xff\xfe", REASON_INVALID_JSON),
        ("{", REASON_INVALID_JSON),
        ("42", REASON_INVALID),
        (_with(schema=0), REASON_INVALID),
        (_with(schema="1"), REASON_INVALID),
        (_with(schema=True), REASON_INVALID),
        (_with(schema=2), REASON_UNSUPPORTED_SCHEMA),
        (_with(node_id="Tent Pi"), REASON_INVALID),
        (_with(node_id=""), REASON_INVALID),
        (_with(name=None), REASON_INVALID),
        (_with(sample_interval=0), REASON_INVALID),
        (_with(sample_interval=-5), REASON_INVALID),
        (_with(sample_interval=float("nan")), REASON_INVALID),
        (_with(sample_interval=True), REASON_INVALID),
        (_with(availability_topic=3), REASON_INVALID),
        (_with(sw_version=3), REASON_INVALID),
        (_with(sensors={}), REASON_INVALID),
        (_with(actuators=None), REASON_INVALID),
        (_with(sensors=["canopy"]), REASON_INVALID),
        (_with(actuators=["heater"]), REASON_INVALID),
        ("x" * (MAX_PAYLOAD_BYTES + 1), REASON_INVALID),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), REASON_INVALID),
    ],
)
def test_bad_payloads_are_refused(payload: str | bytes, reason: str) -> None:
    """Every kind of bad payload raises with its reason, never anything else."""
    assert _reason(payload) == reason


def _sensor(**changes: Any) -> str:
    document = announcement()
    document["sensors"][0].update(changes)
    return json.dumps(document)


def _actuator(**changes: Any) -> str:
    document = announcement()
    document["actuators"][0].update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(
    "payload",
    [
        _sensor(unique_ids={}),
        _sensor(unique_ids=["a"]),
        _sensor(unique_ids={"temperature": ""}),
        _sensor(unique_ids={"temperature": 5}),
        _sensor(key="Bad Key"),
        _sensor(zone=""),
        _actuator(kind="toaster"),
        _actuator(unique_id=None),
        _actuator(min_on=-1),
        _actuator(max_on="long"),
    ],
)
def test_bad_items_are_refused(payload: str) -> None:
    """Sensors and actuators are validated field by field."""
    assert _reason(payload) == REASON_INVALID


def test_duplicate_keys_are_refused() -> None:
    """Two sensors (or actuators) with the same key are ambiguous."""
    document = announcement()
    document["actuators"].append(dict(document["actuators"][0]))
    assert _reason(json.dumps(document)) == REASON_INVALID


def test_topic_must_match_node() -> None:
    """An announcement on another node's topic is refused."""
    assert _reason(_with(), "rala/other/node") == REASON_INVALID
    assert _reason(_with(), "somewhere/else") == REASON_INVALID


@pytest.mark.parametrize(
    "topic",
    [
        "rala/tent-pi/#",
        "rala/tent-pi/+/availability",
        "rala/tent-pi/a/#/b",
        "rala/tent-pi/avail\u0000ability",
        "rala/tent-pi/avail\nability",
        "rala/tent-pi//availability",
        "rala/tent-pi/",
        "rala/tent-pi",
        "rala/other/availability",
        "homeassistant/status",
        "rala/tent-pi/" + "a" * (MAX_TOPIC_LENGTH - len("rala/tent-pi/") + 1),
    ],
)
def test_topics_the_integration_subscribes_to_are_the_nodes_own_and_plain(topic: str) -> None:
    """A wildcard or a NUL in a subscription makes the broker drop Home Assistant's MQTT
    connection, and another node's topic is not this node's: refused before subscribing."""
    assert _reason(_with(availability_topic=topic)) == REASON_INVALID
    document = announcement()
    document["sensors"][0]["state_topic"] = topic
    assert _reason(json.dumps(document)) == REASON_INVALID


def test_the_longest_node_topic_is_taken() -> None:
    topic = "rala/tent-pi/" + "a" * (MAX_TOPIC_LENGTH - len("rala/tent-pi/"))
    assert parse_announcement(_with(availability_topic=topic)).availability_topic == topic


def test_unsupported_schema_carries_version() -> None:
    """The announced schema is kept for the repair issue."""
    with pytest.raises(AnnouncementError) as err:
        parse_announcement(_with(schema=3))
    assert err.value.schema == 3


def _raw(old: str, new: str) -> str:
    """The protocol example with one piece of its JSON text replaced."""
    text = json.dumps(announcement())
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_with(sample_interval=MAX_SAMPLE_INTERVAL * 1.0001), REASON_INVALID),
        (_with(sample_interval=1e12), REASON_INVALID),
        (_raw('"sample_interval": 30', '"sample_interval": 1' + "0" * 400), REASON_INVALID),
        (_raw('"sample_interval": 30', '"sample_interval": ' + "3" * 5000), REASON_INVALID),
        (_raw('"sample_interval": 30', '"sample_interval": 1e400'), REASON_INVALID),
        (_raw('"min_on": 60', f'"min_on": {MAX_MIN_TIME + 1}'), REASON_INVALID),
        (_raw('"min_off": 60', '"min_off": ' + "9" * 20), REASON_INVALID),
        (_raw('"max_on": null', f'"max_on": {MAX_MAX_ON + 1}'), REASON_INVALID),
        (_raw('"schema": 1', f'"schema": {MAX_SCHEMA + 1}'), REASON_INVALID),
        (_raw('"schema": 1', '"schema": ' + "1" * 400), REASON_INVALID),
        (_with(extra=json.loads("[" * 8 + "]" * 8)), REASON_INVALID_JSON),
        (_raw('"name": "Tent Pi"', '"name": "Tent Pi", "x": "[[[[[[[[[[[["'), None),
    ],
)
def test_numbers_outside_their_ranges_are_refused(payload: str, reason: str | None) -> None:
    """Every number has a documented range; outside it, or too long for a float, the
    announcement is refused with a reason, never an OverflowError. Nesting deeper than 8
    levels is refused before decoding; brackets in strings do not count."""
    if reason is None:
        assert parse_announcement(payload).name == "Tent Pi"
    else:
        assert _reason(payload) == reason


def test_numbers_at_the_ends_of_their_ranges_are_taken() -> None:
    """The limits themselves are valid."""
    document = announcement(sample_interval=MAX_SAMPLE_INTERVAL, schema=1)
    document["actuators"][0].update(min_on=0, min_off=MAX_MIN_TIME, max_on=MAX_MAX_ON)
    parsed = parse_announcement(json.dumps(document))
    assert parsed.sample_interval == MAX_SAMPLE_INTERVAL
    assert (parsed.actuators[0].min_off, parsed.actuators[0].max_on) == (MAX_MIN_TIME, MAX_MAX_ON)
    assert _reason(_with(schema=MAX_SCHEMA)) == REASON_UNSUPPORTED_SCHEMA
