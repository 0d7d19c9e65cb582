"""Discovery payload, node announcement and parsing of commands and replay requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

import pytest

from edge_agent import __version__
from edge_agent.config import AgentConfig, parse_config
from edge_agent.discovery import (
    MAX_COMMAND_BYTES,
    MAX_DISCOVERY_BYTES,
    MAX_JSON_DEPTH,
    MAX_SEQ,
    PayloadError,
    Refusal,
    ReplayRequest,
    Topics,
    backfill_reading_payload,
    build_backfill_payload,
    build_diagnostics_payload,
    build_discovery_payload,
    build_node_announcement,
    encode,
    expire_after_seconds,
    format_timestamp,
    live_reading_payload,
    load_json,
    parse_command,
    parse_replay_request,
    parse_timestamp,
    stale_components,
)
from edge_agent.outbox import StoredReading
from edge_agent.sensors import Reading

NOW = datetime(2026, 11, 25, 11, 0, 0, tzinfo=UTC)


def make_config(**overrides: Any) -> AgentConfig:
    raw: dict[str, Any] = {
        "node_id": "tent-pi",
        "name": "Tent Pi",
        "broker": {"host": "127.0.0.1"},
        "sample_interval": 30,
        "sensors": [{"key": "canopy", "name": "Canopy", "zone": "Flower tent"}],
        "actuators": [
            {
                "key": "heater",
                "name": "Heater",
                "kind": "heater",
                "pin": "D17",
                "zone": "Flower tent",
                "min_on": 60,
                "min_off": 60,
            },
            {"key": "exhaust", "name": "Exhaust", "kind": "exhaust_fan", "pin": "D23"},
        ],
        "outbox": {"path": "/tmp/rala-test-outbox.sqlite"},
    }
    raw.update(overrides)
    return parse_config(raw, environ={})


def test_topics_follow_the_protocol() -> None:
    topics = Topics("tent-pi")
    assert topics.discovery == "homeassistant/device/tent-pi/config"
    assert topics.availability == "rala/tent-pi/availability"
    assert topics.sensor_state("canopy") == "rala/tent-pi/sensor/canopy/state"
    assert topics.actuator_state("heater") == "rala/tent-pi/actuator/heater/state"
    assert topics.actuator_command("heater") == "rala/tent-pi/actuator/heater/set"
    assert topics.actuator_from_command_topic("rala/tent-pi/actuator/heater/set") == "heater"
    assert topics.actuator_from_command_topic("rala/tent-pi/actuator/heater/state") is None
    assert topics.actuator_from_command_topic("rala/other/actuator/heater/set") is None
    assert topics.actuator_from_command_topic("rala/tent-pi/actuator/a/b/set") is None
    assert Topics("n", "custom").discovery == "custom/device/n/config"


def test_device_and_origin() -> None:
    payload = build_discovery_payload(make_config(), sample_interval=30)
    assert payload["dev"] == {
        "identifiers": ["rala_tent-pi"],
        "name": "Tent Pi",
        "manufacturer": "RALA",
        "model": "RALA edge node",
        "sw_version": __version__,
    }
    assert payload["o"]["name"] == "rala-edge"
    assert payload["o"]["sw"] == __version__
    assert payload["o"]["url"].startswith("https://")
    assert payload["availability_topic"] == "rala/tent-pi/availability"
    assert payload["qos"] == 1


def test_climate_sensor_components() -> None:
    components = build_discovery_payload(make_config(), sample_interval=30)["cmps"]
    temperature = components["canopy_temperature"]
    assert temperature == {
        "p": "sensor",
        "unique_id": "rala_tent-pi_canopy_temperature",
        "default_entity_id": "sensor.tent_pi_canopy_temperature",
        "name": "Canopy temperature",
        "device_class": "temperature",
        "unit_of_measurement": "°C",
        "state_class": "measurement",
        "suggested_display_precision": 1,
        "expire_after": 90,
        "state_topic": "rala/tent-pi/sensor/canopy/state",
        "value_template": "{{ value_json.temperature }}",
    }
    assert components["canopy_humidity"]["device_class"] == "humidity"
    assert components["canopy_humidity"]["unit_of_measurement"] == "%"
    assert components["canopy_pressure"]["device_class"] == "atmospheric_pressure"
    assert components["canopy_pressure"]["unit_of_measurement"] == "hPa"
    for component in components.values():
        assert "object_id" not in component


def test_switch_per_actuator() -> None:
    components = build_discovery_payload(make_config(), sample_interval=30)["cmps"]
    heater = components["heater"]
    assert heater["p"] == "switch"
    assert heater["unique_id"] == "rala_tent-pi_heater"
    assert heater["default_entity_id"] == "switch.tent_pi_heater"
    assert heater["command_topic"] == "rala/tent-pi/actuator/heater/set"
    assert heater["state_topic"] == "rala/tent-pi/actuator/heater/state"
    assert heater["retain"] is False
    assert heater["icon"] == "mdi:radiator"
    assert components["exhaust"]["name"] == "Exhaust"
    assert components["exhaust"]["icon"] == "mdi:fan"


def test_diagnostic_sensors() -> None:
    components = build_discovery_payload(make_config(), sample_interval=30)["cmps"]
    diagnostics = {
        key: component
        for key, component in components.items()
        if component.get("entity_category") == "diagnostic"
    }
    assert {c["unique_id"] for c in diagnostics.values()} == {
        "rala_tent-pi_cpu_temperature",
        "rala_tent-pi_disk_free",
        "rala_tent-pi_uptime",
        "rala_tent-pi_wifi_signal",
        "rala_tent-pi_outbox_depth",
        "rala_tent-pi_last_error",
        "rala_tent-pi_refused_messages",
    }
    for component in diagnostics.values():
        assert component["state_topic"] == "rala/tent-pi/diagnostics"
    assert diagnostics["node_wifi_signal"]["unit_of_measurement"] == "dBm"
    assert "state_class" not in diagnostics["node_last_error"]
    refused = diagnostics["node_refused_messages"]
    assert refused["state_class"] == "total_increasing"
    assert refused["value_template"] == "{{ value_json.refused_messages }}"
    assert refused["json_attributes_topic"] == "rala/tent-pi/diagnostics"
    assert refused["json_attributes_template"] == "{{ value_json.refused_by_reason | tojson }}"


def test_expire_after_is_about_three_intervals() -> None:
    assert expire_after_seconds(30) == 90
    assert expire_after_seconds(0.1) == 1
    payload = build_discovery_payload(make_config(), sample_interval=2.5)
    assert payload["cmps"]["canopy_humidity"]["expire_after"] == 8


def test_removed_components_are_sent_as_platform_only() -> None:
    old = build_discovery_payload(make_config(), sample_interval=30)
    fewer = make_config(
        sensors=[{"key": "root", "name": "Root"}],
        actuators=[{"key": "heater", "kind": "heater", "pin": "D17"}],
    )
    current = build_discovery_payload(fewer, sample_interval=30)
    stale = stale_components(encode(old), current["cmps"], node_id="tent-pi")
    assert stale == {
        "canopy_temperature": "sensor",
        "canopy_humidity": "sensor",
        "canopy_pressure": "sensor",
        "exhaust": "switch",
    }
    payload = build_discovery_payload(fewer, sample_interval=30, removed=stale)
    assert payload["cmps"]["exhaust"] == {"p": "switch"}
    assert payload["cmps"]["canopy_temperature"] == {"p": "sensor"}
    assert payload["cmps"]["root_temperature"]["unique_id"] == "rala_tent-pi_root_temperature"
    # A component that comes back is announced in full again.
    again = build_discovery_payload(make_config(), sample_interval=30, removed=stale)
    assert again["cmps"]["exhaust"]["p"] == "switch"
    assert "unique_id" in again["cmps"]["exhaust"]


def test_no_retained_discovery_document_removes_nothing() -> None:
    assert stale_components(b"", ["a"], node_id="tent-pi") == {}


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "no cmps object"),
        (b'{"cmps": []}', "no cmps object"),
        (b'{"cmps": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper than 16"),
        (b'{"cmps": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}", "nested deeper than 16"),
        (b" " * (MAX_DISCOVERY_BYTES + 1), "exceeds"),
    ],
)
def test_a_broken_discovery_document_is_refused(garbage: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        stale_components(garbage, ["a"], node_id="tent-pi")


def test_only_components_this_node_could_have_published_are_removed() -> None:
    """Removal stubs and foreign or malformed components are not learned from the broker."""
    own = {"p": "sensor", "unique_id": "rala_tent-pi_gone_temperature", "name": "x"}
    document = {
        "cmps": {
            "gone_temperature": own,
            "old_switch": {"platform": "switch", "unique_id": "rala_tent-pi_old_switch"},
            "stub": {"p": "sensor"},  # what the node sends to remove something
            "foreign": {"p": "sensor", "unique_id": "rala_other-node_foreign"},
            "no_uid": {"p": "sensor"},
            "light": {"p": "light", "unique_id": "rala_tent-pi_light"},
            "Bad-Id": {"p": "sensor", "unique_id": "rala_tent-pi_Bad-Id"},
            "x" * 300: {"p": "sensor", "unique_id": "rala_tent-pi_" + "x" * 300},
            "not_a_dict": "sensor",
            "kept": {"p": "sensor", "unique_id": "rala_tent-pi_kept"},
        }
    }
    stale = stale_components(encode(document), ["kept"], node_id="tent-pi")
    assert stale == {"gone_temperature": "sensor", "old_switch": "switch"}
    # Without a node id, the components of any RALA node count.
    anyone = stale_components(encode(document), ["kept"])
    assert anyone == {"gone_temperature": "sensor", "old_switch": "switch", "foreign": "sensor"}


def test_incoming_json_with_a_lone_surrogate_is_refused() -> None:
    """A lone \\uD800 decodes to a str no encoder takes back: echoed in a replay's
    request_id it made every later replay fail."""
    assert load_json(b'["\\ud83c\\udf31"]', "x", refusal=Refusal.REPLAY_MALFORMED) == ["\U0001f331"]
    assert load_json(b'["\\\\ud800"]', "x", refusal=Refusal.REPLAY_MALFORMED) == ["\\ud800"]
    for payload in (b'{"request_id": "\\ud800"}', b'{"\\udfff": 1}', b'[["a\\uD83C"]]'):
        with pytest.raises(PayloadError, match="lone UTF-16 surrogate"):
            load_json(payload, "replay request", refusal=Refusal.REPLAY_MALFORMED)


def test_incoming_json_depth_is_bounded() -> None:
    nested = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert load_json(nested, "x", refusal=Refusal.REPLAY_MALFORMED) == json.loads(nested)
    with pytest.raises(PayloadError, match="nested deeper"):
        load_json(b"[" + nested + b"]", "x", refusal=Refusal.REPLAY_MALFORMED)
    # Brackets inside strings do not count, escaped quotes do not end a string.
    assert load_json(
        b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[[[[[[["}', "x", refusal=Refusal.REPLAY_MALFORMED
    ) == {"a": '[[[[[[[[[[[[[[[[[[[[[[[[[["[[[[[[[['}
    with pytest.raises(PayloadError, match="not valid JSON"):
        load_json(
            b'"unterminated [[[[[[[[[[[[[[[[[[[[[[[[[[', "x", refusal=Refusal.REPLAY_MALFORMED
        )


def test_node_announcement_matches_discovery() -> None:
    config = make_config()
    announcement = build_node_announcement(config, sample_interval=30)
    discovery = build_discovery_payload(config, sample_interval=30)
    unique_ids = {c["unique_id"] for c in discovery["cmps"].values()}
    assert announcement["schema"] == 1
    assert announcement["node_id"] == "tent-pi"
    assert announcement["device_identifier"] == discovery["dev"]["identifiers"][0]
    assert announcement["backfill_topic"] == "rala/tent-pi/backfill"
    assert announcement["replay_topic"] == "rala/tent-pi/replay"
    (sensor,) = announcement["sensors"]
    assert sensor["zone"] == "Flower tent"
    assert set(sensor["unique_ids"].values()) <= unique_ids
    heater = announcement["actuators"][0]
    assert heater == {
        "key": "heater",
        "name": "Heater",
        "kind": "heater",
        "zone": "Flower tent",
        "unique_id": "rala_tent-pi_heater",
        "state_topic": "rala/tent-pi/actuator/heater/state",
        "command_topic": "rala/tent-pi/actuator/heater/set",
        "min_on": 60.0,
        "min_off": 60.0,
        "max_on": None,
    }
    assert announcement["actuators"][1]["kind"] == "exhaust_fan"
    assert heater["unique_id"] in unique_ids
    json.dumps(announcement)  # serialisable as is


def test_backfill_and_diagnostics_payloads() -> None:
    batch = build_backfill_payload(
        "tent-pi",
        [{"seq": 3, "ts": "x"}, {"seq": 5, "ts": "y"}],
        request_id="r1",
        oldest_available_seq=1,
    )
    assert (batch["first_seq"], batch["last_seq"], batch["request_id"]) == (3, 5, "r1")
    empty = build_backfill_payload("tent-pi", [], request_id=None, oldest_available_seq=None)
    assert empty["first_seq"] is None
    assert empty["readings"] == []
    health = build_diagnostics_payload(
        cpu_temperature=51.234,
        disk_free=None,
        uptime=86400.4,
        wifi_signal=-61,
        outbox_depth=0,
        last_error="x" * 400,
        refused={Refusal.COMMAND_STALE: 2, Refusal.REPLAY_MALFORMED: 1},
    )
    assert health["cpu_temperature"] == 51.2
    assert health["disk_free"] is None
    assert health["uptime"] == 86400
    assert len(health["last_error"]) == 255
    assert health["refused_messages"] == 3
    assert health["refused_by_reason"] == {"command_stale": 2, "replay_malformed": 1}


def test_live_reading_is_the_backfill_entry_without_the_sensor() -> None:
    stored = StoredReading(
        seq=4711,
        reading=Reading(
            sensor="canopy",
            temperature=24.61,
            humidity=58.2,
            pressure=1012.4,
            measured_at=NOW + timedelta(microseconds=12_999),
        ),
    )
    assert live_reading_payload(stored) == {
        "seq": 4711,
        "ts": "2026-11-25T11:00:00.012Z",
        "temperature": 24.61,
        "humidity": 58.2,
        "pressure": 1012.4,
    }
    assert backfill_reading_payload(stored) == {
        **live_reading_payload(stored),
        "sensor": "canopy",
    }


def test_format_timestamp() -> None:
    moment = datetime(2026, 11, 25, 11, 0, 0, 123456, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-11-25T11:00:00.123Z"
    with pytest.raises(ValueError, match="timezone"):
        format_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"ON", True),
        (b"OFF", False),
        (b" ON\n", True),
        (b'{"state": "ON", "ts": "2026-11-25T10:59:45Z"}', True),
        (b'{"state": "OFF", "ts": "2026-11-25T11:00:10.5+00:00"}', False),
        (b'{"state": "ON"}', True),
    ],
)
def test_valid_commands(payload: bytes, expected: bool) -> None:
    assert parse_command(payload, retained=False, now=NOW) is expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"on", "unknown command"),
        (b"TOGGLE", "unknown command"),
        (b"", "unknown command"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b'{"state": "MAYBE"}', "must be 'ON' or 'OFF'"),
        (b'{"state": true}', "must be 'ON' or 'OFF'"),
        (b'{"state": "ON", "extra": 1}', "unknown command keys"),
        (b'{"state": "ON", "ts": 12}', "ISO 8601 string"),
        (b'{"state": "ON", "ts": "yesterday"}', "not an ISO 8601"),
        (b'{"state": "ON", "ts": "2026-11-25T11:00:00"}', "no time zone"),
        (b'{"state": "ON", "ts": "0001-01-01T00:00:00+01:00"}', "outside 1970-01-01"),
        (b'{"state": "ON", "ts": "9999-12-31T23:59:59-01:00"}', "outside 1970-01-01"),
        (b'{"state": "ON", "ts": "9999-12-31T23:59:59.999999Z"}', "outside 1970-01-01"),
        (b'{"state": "ON", "ts": "0001-01-01T00:00:00Z"}', "outside 1970-01-01"),
        (b"{" + b'"a":[' * 20 + b"]" * 20 + b"}", "nested deeper"),
        (b'{"state": "ON", "ts": "2026-11-25T10:59:29Z"}', "stale"),
        (b'{"state": "ON", "ts": "2026-11-25T11:05:00Z"}', "stale"),
        (b'"ON"', "unknown command"),
        (b"ON" + b" " * MAX_COMMAND_BYTES, "exceeds"),
    ],
)
def test_bad_commands_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_command(payload, retained=False, now=NOW)


def test_retained_command_is_refused() -> None:
    with pytest.raises(PayloadError, match="retained"):
        parse_command(b"ON", retained=True, now=NOW)


def test_command_age_limit_is_configurable() -> None:
    sent = format_timestamp(NOW - timedelta(seconds=10))
    payload = json.dumps({"state": "ON", "ts": sent}).encode()
    assert parse_command(payload, retained=False, now=NOW, max_age=11)
    with pytest.raises(PayloadError, match="stale"):
        parse_command(payload, retained=False, now=NOW, max_age=9)


def test_replay_request() -> None:
    request = parse_replay_request(b'{"request_id": "abc", "from_seq": 4, "to_seq": 9}')
    assert request == ReplayRequest("abc", 4, 9)
    assert parse_replay_request(b'{"from_seq": 4, "to_seq": 4}').request_id is None
    # The largest sequence number SQLite holds is the largest one asked for.
    widest = parse_replay_request(json.dumps({"from_seq": 0, "to_seq": MAX_SEQ}).encode())
    assert widest == ReplayRequest(None, 0, 2**63 - 1)


def test_timestamps_within_the_range_are_converted_to_utc() -> None:
    assert parse_timestamp("1970-01-01T01:00:00+01:00") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_timestamp("9999-12-30T00:00:00Z") == datetime(9999, 12, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="outside"):
        parse_timestamp("1969-12-31T23:59:59Z")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"nope", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"from_seq": 1}', "to_seq"),
        (b'{"from_seq": -1, "to_seq": 3}', "from_seq"),
        (b'{"from_seq": true, "to_seq": 3}', "from_seq"),
        (b'{"from_seq": 1.5, "to_seq": 3}', "from_seq"),
        (b'{"from_seq": 5, "to_seq": 3}', "before"),
        (b'{"request_id": 7, "from_seq": 1, "to_seq": 3}', "request_id"),
        (b'{"request_id": "' + b"x" * 200 + b'", "from_seq": 1, "to_seq": 3}', "request_id"),
        (b" " * 2000, "exceeds"),
        (b'{"from_seq": 0, "to_seq": 18446744073709551616}', "to_seq must be an integer from 0"),
        (b'{"from_seq": 9223372036854775808, "to_seq": 9223372036854775809}', "from_seq"),
        (b'{"from_seq": 1, "to_seq": ' + b"9" * 5000 + b"}", "exceeds"),
        (b'{"from_seq": 1, "to_seq": ' + b"9" * 900 + b"}", "to_seq"),
        (b"[" * 1000 + b"]" * 20, "nested deeper"),
        (b'{"from_seq": 1, "to_seq": 2, "x": ' + b"[" * 400 + b"]" * 400 + b"}", "nested"),
    ],
)
def test_bad_replay_requests_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_replay_request(payload)


@pytest.mark.parametrize(
    ("parse", "payload", "refusal"),
    [
        pytest.param(
            lambda p: parse_command(p, retained=True, now=NOW),
            b"ON",
            Refusal.COMMAND_RETAINED,
            id="retained",
        ),
        pytest.param(
            lambda p: parse_command(p, retained=False, now=NOW),
            json.dumps({"state": "ON", "ts": format_timestamp(NOW - timedelta(hours=1))}).encode(),
            Refusal.COMMAND_STALE,
            id="stale",
        ),
        pytest.param(
            lambda p: parse_command(p, retained=False, now=NOW),
            b"[" * 40,
            Refusal.COMMAND_MALFORMED,
            id="command",
        ),
        pytest.param(parse_replay_request, b"{", Refusal.REPLAY_MALFORMED, id="replay"),
        pytest.param(
            lambda p: stale_components(p, set()),
            b"[]",
            Refusal.DISCOVERY_INVALID,
            id="discovery",
        ),
    ],
)
def test_every_refusal_says_how_it_is_counted(parse: Any, payload: bytes, refusal: Refusal) -> None:
    with pytest.raises(PayloadError) as caught:
        parse(payload)
    assert caught.value.refusal is refusal
