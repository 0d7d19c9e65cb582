"""The pure backfill module: payload parsing, sequence tracking, reading buffer, hourly stats."""

from datetime import UTC, datetime, timedelta
import json
import math
import statistics
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.rala.backfill import (
    MAX_BACKFILL_BYTES,
    MAX_BACKFILL_READINGS,
    MAX_LIVE_READING_BYTES,
    MAX_READING_AGE,
    MAX_READING_LEAD,
    MAX_SEQ,
    MAX_SEQ_JUMP,
    TRACK_CONFIRMATIONS,
    NodeReading,
    ReadingBuffer,
    ReadingPayloadError,
    Rejection,
    SeqTrack,
    SeqTracker,
    describe_ranges,
    hour_start,
    hourly_statistics,
    parse_backfill,
    parse_live_reading,
    parse_timestamp,
)

T0 = datetime(2026, 11, 25, 11, 0, 0, 12000, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)
"""Home Assistant's clock in these tests, for the time window of the readings."""


def _wire(seq: int = 1, **changes: Any) -> dict[str, Any]:
    reading: dict[str, Any] = {
        "seq": seq,
        "ts": "2026-11-25T11:00:00.012Z",
        "sensor": "canopy",
        "temperature": 24.61,
        "humidity": 58.2,
        "pressure": 1012.4,
    }
    reading.update(changes)
    return {key: value for key, value in reading.items() if value is not ...}


def _batch(items: list[Any], **changes: Any) -> str:
    document: dict[str, Any] = {
        "node_id": "tent-pi",
        "request_id": None,
        "readings": items,
        "first_seq": None,
        "last_seq": None,
        "oldest_available_seq": 1,
    }
    document.update(changes)
    return json.dumps(document)


def _reading(seq: int, ts: datetime, **values: float | None) -> NodeReading:
    return NodeReading(
        seq=seq,
        ts=ts,
        sensor="canopy",
        temperature=values.get("temperature", 20.0),
        humidity=values.get("humidity", 50.0),
        pressure=values.get("pressure"),
    )


# --- live readings --------------------------------------------------------------------------------


def test_live_reading_from_the_protocol() -> None:
    """The example of docs/protocol.md; the sensor comes from the topic."""
    payload = (
        b'{"seq": 4711, "ts": "2026-11-25T11:00:00.012Z", "temperature": 24.61,'
        b' "humidity": 58.2, "pressure": 1012.4}'
    )
    reading = parse_live_reading(payload, "canopy", now=NOW)
    assert reading == NodeReading(4711, T0, "canopy", 24.61, 58.2, 1012.4)
    assert reading.ts.tzinfo is UTC
    assert reading.value("humidity") == 58.2


def test_live_reading_without_pressure_and_offset_time() -> None:
    """A quantity may be missing or null; any ISO 8601 offset is converted to UTC."""
    reading = parse_live_reading(
        json.dumps({"seq": 0, "ts": "2026-11-25T12:00:00.012+01:00", "temperature": -3}),
        "root",
        now=NOW,
    )
    assert reading.ts == T0
    assert (reading.temperature, reading.humidity, reading.pressure) == (-3.0, None, None)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe", "not valid JSON"),
        ("not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ("x" * (MAX_LIVE_READING_BYTES + 1), "exceeds"),
        (_wire(seq=...), "seq must be a non-negative integer"),
        (_wire(seq=-1), "seq must be a non-negative integer"),
        (_wire(seq=1.0), "seq must be a non-negative integer"),
        (_wire(seq=True), "seq must be a non-negative integer"),
        (_wire(seq="1"), "seq must be a non-negative integer"),
        (_wire(seq=2**63), "seq must be a non-negative integer"),
        (_wire(ts=...), "ts must be an ISO 8601 string"),
        (_wire(ts=1732532400), "ts must be an ISO 8601 string"),
        (_wire(ts="yesterday"), "is not ISO 8601"),
        (_wire(ts="2026-11-25T11:00:00"), "has no time zone"),
        (_wire(temperature="24.6"), "temperature must be a number"),
        (_wire(humidity=True), "humidity must be a number"),
        (_wire(humidity=100.5), "humidity 100.5 is outside 0..100"),
        (_wire(humidity=-0.1), "humidity -0.1 is outside 0..100"),
        (_wire(temperature=1e309), "outside"),
        (_wire(pressure=12.0), "pressure 12.0 is outside"),
        (_wire(temperature=None, humidity=None, pressure=...), "no temperature, humidity or"),
    ],
)
def test_bad_live_readings(payload: Any, message: str) -> None:
    """Anything that is not a plausible reading raises, saying what is wrong."""
    raw = json.dumps(payload) if isinstance(payload, dict) else payload
    with pytest.raises(ReadingPayloadError, match=message):
        parse_live_reading(raw, "canopy", now=NOW)


def test_nan_is_refused() -> None:
    """JSON allows NaN through Python's parser; it is not a measurement."""
    with pytest.raises(ReadingPayloadError, match="outside"):
        parse_live_reading(
            '{"seq": 1, "ts": "2026-11-25T11:00:00Z", "humidity": NaN}', "a", now=NOW
        )


def test_bad_sensor_key_from_topic() -> None:
    """The topic's sensor segment must be a sensor key."""
    with pytest.raises(ReadingPayloadError, match="is not a sensor key"):
        parse_live_reading(json.dumps(_wire()), "Canopy!", now=NOW)


def test_parse_timestamp_refuses_long_strings() -> None:
    """No parsing of arbitrarily long strings."""
    with pytest.raises(ReadingPayloadError):
        parse_timestamp("2026-11-25T11:00:00Z" + " " * 100)


# --- backfill batches -----------------------------------------------------------------------------


def test_backfill_from_the_protocol() -> None:
    """The example of docs/protocol.md."""
    batch = parse_backfill(
        _batch(
            [_wire(4712, ts="2026-11-25T11:00:30.011Z", temperature=24.58, humidity=58.4)],
            first_seq=4712,
            last_seq=4712,
            request_id="9f1c",
        ),
        "tent-pi",
        now=NOW,
    )
    assert batch.node_id == "tent-pi"
    assert batch.request_id == "9f1c"
    assert (batch.first_seq, batch.last_seq, batch.oldest_available_seq) == (4712, 4712, 1)
    assert batch.received_count == 1
    assert batch.rejected == ()
    (reading,) = batch.readings
    assert reading.seq == 4712
    assert reading.ts == datetime(2026, 11, 25, 11, 0, 30, 11000, tzinfo=UTC)
    assert (reading.sensor, reading.temperature, reading.humidity) == ("canopy", 24.58, 58.4)


def test_empty_replay_answer() -> None:
    """Nothing held in the range: no readings, null first/last."""
    batch = parse_backfill(
        _batch([], request_id="r", oldest_available_seq=None), "tent-pi", now=NOW
    )
    assert batch.readings == ()
    assert batch.oldest_available_seq is None


def test_bad_readings_are_left_out_of_a_batch() -> None:
    """One bad reading does not sink the batch; each left-out reading says why."""
    batch = parse_backfill(
        _batch(
            [
                _wire(1),
                _wire(2, humidity=140),
                "nope",
                _wire(3, sensor="Bad Key"),
                _wire(4, sensor=...),
                _wire(5),
                _wire(5),
                _wire(4),
                _wire(6, ts="2026-11-25"),
                _wire(7),
            ]
        ),
        "tent-pi",
        now=NOW,
    )
    assert [reading.seq for reading in batch.readings] == [1, 5, 7]
    assert batch.received_count == 10
    assert [str(left_out) for left_out in batch.rejected] == [
        "reading 2: humidity 140 is outside 0..100",
        "a reading must be a JSON object",
        "reading 3: sensor must be a sensor key",
        "reading 4: sensor must be a sensor key",
        "reading 5: not after seq 5",
        "reading 4: not after seq 5",
        "reading 6: ts '2026-11-25' has no time zone",
    ]
    assert [left_out.rejection for left_out in batch.rejected] == [
        Rejection.OUT_OF_RANGE,
        *[Rejection.MALFORMED] * 6,
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_batch([], node_id="other"), "is for node 'other'"),
        (_batch([], request_id=5), "request_id must be null or a string"),
        (_batch([], request_id="x" * 129), "request_id must be null or a string"),
        (_batch([], readings={"seq": 1}), "readings must be a list"),
        (_batch([], first_seq=-1), "first_seq must be a non-negative integer"),
        (_batch([], last_seq="9"), "last_seq must be a non-negative integer"),
        (_batch([], oldest_available_seq=1.5), "oldest_available_seq must be"),
        (_batch([_wire(i) for i in range(MAX_BACKFILL_READINGS + 1)]), "exceed the batch size"),
        ("[]", "must be a JSON object"),
        (b"{", "not valid JSON"),
        (" " * (MAX_BACKFILL_BYTES + 1), "exceeds"),
    ],
)
def test_bad_backfill_envelopes(payload: str | bytes, message: str) -> None:
    """A batch whose envelope is wrong is refused as a whole."""
    with pytest.raises(ReadingPayloadError, match=message):
        parse_backfill(payload, "tent-pi", now=NOW)


# --- hostile input -------------------------------------------------------------------------------

HOSTILE_VALUES: dict[str, list[tuple[str, Any, Rejection]]] = {
    # (what it is, the raw JSON text of the value, why it is left out)
    "seq": [
        ("2^63", str(2**63), Rejection.OUT_OF_RANGE),
        ("300 digits", "9" * 300, Rejection.MALFORMED),
        ("5000 digits", "1" * 5000, Rejection.MALFORMED),
        ("negative 400 digits", "-" + "1" * 400, Rejection.MALFORMED),
        ("an exponent", "1e3", Rejection.MALFORMED),
    ],
    "temperature": [
        ("400 digits", "1" + "0" * 400, Rejection.MALFORMED),
        ("negative 5000 digits", "-" + "9" * 5000, Rejection.MALFORMED),
        ("1e400", "1e400", Rejection.OUT_OF_RANGE),
        ("-Infinity", "-Infinity", Rejection.OUT_OF_RANGE),
        ("a 19-digit integer", "9" * 19, Rejection.OUT_OF_RANGE),
    ],
    "humidity": [
        ("310 digits", "1" * 310, Rejection.MALFORMED),
        ("NaN", "NaN", Rejection.OUT_OF_RANGE),
        ("1e-400 below 0", "-1e-300", Rejection.OUT_OF_RANGE),
    ],
    "pressure": [("a nested list", "[[[1]]]", Rejection.MALFORMED)],
    "ts": [
        ("year 1 with an offset", '"0001-01-01T00:00:00+01:00"', Rejection.OUTSIDE_TIME_WINDOW),
        ("year 1 in UTC", '"0001-01-01T12:00:00Z"', Rejection.OUTSIDE_TIME_WINDOW),
        ("year 9999 with an offset", '"9999-12-31T23:59:59-01:00"', Rejection.OUTSIDE_TIME_WINDOW),
        ("year 9999 in UTC", '"9999-12-31T00:00:00Z"', Rejection.OUTSIDE_TIME_WINDOW),
        ("far in the future", '"2100-01-01T00:00:00Z"', Rejection.OUTSIDE_TIME_WINDOW),
        ("too old", '"2025-11-01T00:00:00Z"', Rejection.OUTSIDE_TIME_WINDOW),
        ("an offset of a day", '"2026-11-25T11:00:00+24:00"', Rejection.MALFORMED),
        ("a number", "1" * 400, Rejection.MALFORMED),
    ],
}
HOSTILE = [
    pytest.param(key, text, rejection, id=f"{key}: {what}")
    for key, cases in HOSTILE_VALUES.items()
    for what, text, rejection in cases
]


def _with_raw(reading: dict[str, Any], key: str, text: str) -> str:
    """The JSON text of ``reading`` with the value of ``key`` replaced by raw JSON ``text``."""
    marker = "\u0000hostile\u0000"
    return json.dumps({**reading, key: marker}).replace(json.dumps(marker), text)


@pytest.mark.parametrize(("key", "text", "rejection"), HOSTILE)
def test_hostile_value_leaves_out_only_its_reading(
    key: str, text: str, rejection: Rejection
) -> None:
    """Integers too large for a float, timestamps at the ends of the calendar, numbers out of
    range: the reading is left out (with why), the readings around it are used."""
    good = [json.dumps(_wire(seq)) for seq in (1, 3)]
    payload = (
        '{"node_id": "tent-pi", "request_id": null, "first_seq": 1, "last_seq": 3, '
        f'"oldest_available_seq": 1, "readings": [{good[0]}, {_with_raw(_wire(2), key, text)}, '
        f"{good[1]}]}}"
    )
    batch = parse_backfill(payload, "tent-pi", now=NOW)
    assert [reading.seq for reading in batch.readings] == [1, 3]
    ((left_out),) = batch.rejected
    assert left_out.rejection is rejection
    assert len(str(left_out)) < 300  # a long number is described, not repeated
    with pytest.raises(ReadingPayloadError) as err:
        parse_live_reading(_with_raw(_wire(2, sensor=...), key, text), "canopy", now=NOW)
    assert err.value.rejection is rejection


@pytest.mark.parametrize(
    ("moment", "kept"),
    [
        (NOW - MAX_READING_AGE, True),
        (NOW - MAX_READING_AGE - timedelta(milliseconds=1), False),
        (NOW + MAX_READING_LEAD, True),
        (NOW + MAX_READING_LEAD + timedelta(milliseconds=1), False),
    ],
)
def test_time_window_edges(moment: datetime, kept: bool) -> None:
    """A reading is used from a year back to an hour ahead of Home Assistant's clock."""
    stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    batch = parse_backfill(_batch([_wire(1, ts=stamp)]), "tent-pi", now=NOW)
    assert len(batch.readings) == (1 if kept else 0)
    assert [left_out.rejection for left_out in batch.rejected] == (
        [] if kept else [Rejection.OUTSIDE_TIME_WINDOW]
    )


@pytest.mark.parametrize(
    ("payload", "limit"),
    [
        pytest.param("[" * 200_000 + "]" * 200_000, MAX_BACKFILL_BYTES, id="a deep array"),
        pytest.param(
            _batch([_wire(1), {"seq": 2, "x": json.loads("[" * 9 + "]" * 9)}]),
            MAX_BACKFILL_BYTES,
            id="one reading nested too deep",
        ),
        pytest.param('{"a":' * 80_000 + "1" + "}" * 80_000, MAX_BACKFILL_BYTES, id="objects"),
    ],
)
def test_deep_nesting_is_refused_before_decoding(payload: str, limit: int) -> None:
    """Deeper than 8 levels the payload is refused unread (decoding it could overflow the
    stack); it counts as malformed."""
    assert len(payload.encode()) <= limit
    with pytest.raises(ReadingPayloadError) as err:
        parse_backfill(payload, "tent-pi", now=NOW)
    assert err.value.rejection is Rejection.MALFORMED
    with pytest.raises(ReadingPayloadError):
        parse_live_reading(payload[:MAX_LIVE_READING_BYTES], "canopy", now=NOW)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    """A request id full of brackets is a string, not nesting."""
    batch = parse_backfill(
        _batch([_wire(1)], request_id="[[[[[[[[[[{{{{{{{{{{"), "tent-pi", now=NOW
    )
    assert batch.request_id == "[[[[[[[[[[{{{{{{{{{{"
    assert len(batch.readings) == 1


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["2026-11-25T11:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "Z"]
    ),
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_reading_keys = st.sampled_from(["seq", "ts", "sensor", "temperature", "humidity", "pressure"])


def _mutated(reading: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {**reading, **changes}


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.one_of(
            _json_values,
            st.dictionaries(_reading_keys, _json_values, max_size=6),
            st.builds(_mutated, st.just(_wire(1)), st.dictionaries(_reading_keys, _json_values)),
        ),
        max_size=8,
    ),
    st.dictionaries(
        st.sampled_from(["node_id", "request_id", "first_seq", "last_seq", "oldest_available_seq"]),
        _json_values,
        max_size=3,
    ),
)
def test_generated_hostile_batches_never_escape(items: list[Any], envelope: dict[str, Any]) -> None:
    """Thousands of generated batches: the parser answers each with a batch or a
    ReadingPayloadError, nothing else, and every reading it keeps is in range and window."""
    payload = json.dumps({**json.loads(_batch(items)), **envelope})
    try:
        batch = parse_backfill(payload, "tent-pi", now=NOW)
    except ReadingPayloadError:
        return
    assert batch.received_count == len(batch.readings) + len(batch.rejected)
    for reading in batch.readings:
        assert 0 <= reading.seq <= MAX_SEQ
        assert NOW - MAX_READING_AGE <= reading.ts <= NOW + MAX_READING_LEAD
        for quantity in ("temperature", "humidity", "pressure"):
            value = reading.value(quantity)
            assert value is None or math.isfinite(value)


_poison = st.one_of(
    st.tuples(st.just("seq"), st.sampled_from(["-1", str(2**63), "1" * 25, "1.5", '"7"', "true"])),
    st.tuples(
        st.just("ts"),
        st.sampled_from(
            [
                '"0001-01-01T00:00:00+01:00"',
                '"9999-12-31T23:59:59-01:00"',
                '"2026-11-25T11:00:00"',
                '"3026-11-25T11:00:00Z"',
                "null",
                "[]",
            ]
        ),
    ),
    st.tuples(
        st.sampled_from(["temperature", "humidity", "pressure"]),
        st.one_of(
            st.integers(min_value=20, max_value=6000).map(lambda digits: "7" * digits),
            st.sampled_from(["1e999", "-1e999", "NaN", "1200.5", '"20"', "{}", "[[[1]]]"]),
        ),
    ),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _poison), min_size=1, max_size=30))
def test_good_readings_survive_in_a_hostile_batch(mix: list[tuple[bool, tuple[str, str]]]) -> None:
    """In a batch of good readings and readings each with one poisoned field, exactly the
    good readings are used and every poisoned one is left out."""
    entries: list[str] = []
    good: list[int] = []
    for seq, (is_good, (key, text)) in enumerate(mix, start=1):
        if is_good:
            entries.append(json.dumps(_wire(seq)))
            good.append(seq)
        else:
            entries.append(_with_raw(_wire(seq), key, text))
    payload = (
        '{"node_id": "tent-pi", "request_id": null, "first_seq": null, "last_seq": null, '
        f'"oldest_available_seq": null, "readings": [{", ".join(entries)}]}}'
    )
    assert len(payload) <= MAX_BACKFILL_BYTES
    batch = parse_backfill(payload, "tent-pi", now=NOW)
    assert [reading.seq for reading in batch.readings] == good
    assert len(batch.rejected) == len(mix) - len(good)


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.dictionaries(_reading_keys, _json_values, max_size=6).map(
            lambda document: json.dumps(document).encode()
        ),
        st.builds(
            _mutated, st.just(_wire(1, sensor=...)), st.dictionaries(_reading_keys, _json_values)
        ).map(lambda document: json.dumps(document).encode()),
    )
)
def test_generated_hostile_live_readings_never_escape(payload: bytes) -> None:
    """Thousands of generated live payloads: a reading in range and window, or a
    ReadingPayloadError."""
    try:
        reading = parse_live_reading(payload, "canopy", now=NOW)
    except ReadingPayloadError:
        return
    assert 0 <= reading.seq <= MAX_SEQ
    assert NOW - MAX_READING_AGE <= reading.ts <= NOW + MAX_READING_LEAD


# --- sequence tracker -----------------------------------------------------------------------------


def test_tracker_ranges_and_gaps() -> None:
    """Ranges merge when they touch; gaps are what lies between them."""
    tracker = SeqTracker()
    assert tracker.highest is None
    assert tracker.gaps() == []
    assert tracker.add(5)
    assert not tracker.add(5)
    assert tracker.add(6)
    assert tracker.add(10)
    assert tracker.add(8)
    assert tracker.ranges == [[5, 6], [8, 8], [10, 10]]
    assert tracker.gaps() == [(7, 7), (9, 9)]
    assert tracker.highest == 10
    assert 8 in tracker
    assert 9 not in tracker
    assert "8" not in tracker
    assert tracker.add_range(3, 12) == 6
    assert tracker.ranges == [[3, 12]]
    assert tracker.gaps() == []


def test_tracker_missing_in_and_settle() -> None:
    """Gaps clipped to a range; settling closes them."""
    tracker = SeqTracker()
    for seq in (1, 5, 20, 30):
        tracker.add(seq)
    assert tracker.missing_in(3, 25) == [(3, 4), (6, 19), (21, 25)]
    assert tracker.settle(6, 19) == 14
    assert tracker.gaps() == [(2, 4), (21, 29)]
    with pytest.raises(ValueError, match="invalid range"):
        tracker.add_range(5, 4)
    with pytest.raises(ValueError, match="invalid range"):
        tracker.add_range(-1, 4)


def test_tracker_is_bounded() -> None:
    """Beyond the bound the oldest gap is closed (and counted), newer gaps stay."""
    tracker = SeqTracker(max_ranges=3)
    for seq in (0, 10, 20, 30):
        tracker.add(seq)
    assert tracker.ranges == [[0, 10], [20, 20], [30, 30]]
    assert tracker.dropped == 9
    assert tracker.gaps() == [(11, 19), (21, 29)]


def test_tracker_json_round_trip_and_bad_data() -> None:
    """Stored ranges come back; anything else raises."""
    tracker = SeqTracker()
    for seq in (1, 2, 7):
        tracker.add(seq)
    assert SeqTracker.from_json(json.loads(json.dumps(tracker.as_json()))).ranges == [
        [1, 2],
        [7, 7],
    ]
    for bad in ({"a": 1}, [[1]], [[1, "2"]], [[True, 2]], [5]):
        with pytest.raises((TypeError, ValueError)):
            SeqTracker.from_json(bad)
    with pytest.raises(ValueError, match="invalid range"):
        SeqTracker.from_json([[3, 1]])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(0, 200), st.just(0)),
            st.tuples(st.just("range"), st.integers(0, 200), st.integers(0, 20)),
        ),
        max_size=60,
    )
)
def test_tracker_matches_a_set(operations: list[tuple[str, int, int]]) -> None:
    """Against a plain set: membership, new counts, highest and gaps agree."""
    tracker = SeqTracker(max_ranges=10_000)
    model: set[int] = set()
    for kind, first, length in operations:
        last = first + length
        if kind == "add":
            assert tracker.add(first) == (first not in model)
            model.add(first)
        else:
            new = set(range(first, last + 1)) - model
            assert tracker.add_range(first, last) == len(new)
            model |= new
    assert tracker.highest == (max(model) if model else None)
    assert all(seq in tracker for seq in model)
    assert all(seq not in tracker for seq in range(250) if seq not in model)
    expected_missing = {
        seq for seq in range(min(model, default=0), max(model, default=-1)) if seq not in model
    }
    gap_seqs = {seq for low, high in tracker.gaps() for seq in range(low, high + 1)}
    assert gap_seqs == expected_missing
    # Ranges are sorted, disjoint and not adjacent.
    for (_, high), (low, _) in zip(tracker.ranges, tracker.ranges[1:], strict=False):
        assert high + 1 < low


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 500), max_size=80), st.integers(1, 8))
def test_bounded_tracker_never_loses_seen_seqs(seqs: set[int], bound: int) -> None:
    """Bounding only closes gaps: every seen seq is still seen, the newest gaps survive."""
    tracker = SeqTracker(max_ranges=bound)
    for seq in seqs:
        tracker.add(seq)
    assert len(tracker.ranges) <= bound
    assert all(seq in tracker for seq in seqs)
    assert tracker.highest == (max(seqs) if seqs else None)


def test_forgetting_tracker_never_claims_unseen_seqs() -> None:
    """Bounded by forgetting, the lowest range goes: seqs never seen stay unseen (a closing
    tracker would claim the gap between as seen, and drop those readings as duplicates)."""
    tracker = SeqTracker(max_ranges=2, forget=True)
    for seq in (1, 2, 10**12, 2**63 - 1):
        tracker.add(seq)
    assert tracker.ranges == [[10**12, 10**12], [2**63 - 1, 2**63 - 1]]
    assert tracker.dropped == 2
    assert 3 not in tracker
    assert SeqTracker.from_json([[1, 2], [5, 5], [9, 9]], 2, forget=True).ranges == [[5, 5], [9, 9]]
    with pytest.raises(ValueError, match="invalid seq range"):
        SeqTracker.from_json([[1, 2**63]])


def test_track_ignores_a_wild_seq() -> None:
    """A seq far from the track opens no gap; the track's own readings reset the count."""
    track = SeqTrack()
    assert track.is_on(5, None, live=True)
    assert track.is_on(10 + MAX_SEQ_JUMP, 10, live=True)
    assert not track.is_on(11 + MAX_SEQ_JUMP, 10, live=True)
    assert not track.is_on(2**63 - 1, 10, live=False)
    # Far below: a late backfilled reading is on the track, a live one is not.
    assert track.is_on(1, 2 * MAX_SEQ_JUMP + 2, live=False)
    assert not track.is_on(1, 2 * MAX_SEQ_JUMP + 2, live=True)
    for _ in range(3 * TRACK_CONFIRMATIONS):
        assert track.off_track(2**63 - 1) is None  # the same wild seq over and over
        track.on_track()


def test_track_follows_a_run_of_live_readings() -> None:
    """``TRACK_CONFIRMATIONS`` increasing, close live readings off the track move it; a
    jump back or too far within the run starts counting again."""
    track = SeqTrack()
    run = [5_000_000 + step for step in range(TRACK_CONFIRMATIONS)]
    for seq in run[:-1]:
        assert track.off_track(seq) is None
    assert track.off_track(run[-1]) == run
    assert track.off_track(7) is None
    for seq in (8, 8 + MAX_SEQ_JUMP + 1, *range(20, 20 + TRACK_CONFIRMATIONS - 1)):
        assert track.off_track(seq) is None
    assert track.off_track(20 + TRACK_CONFIRMATIONS - 1) is not None


# --- reading buffer -------------------------------------------------------------------------------


def test_buffer_keeps_readings_once_and_prunes_by_arrival() -> None:
    """De-duplicated by seq; age counts from arrival; hours still pending are kept."""
    buffer = ReadingBuffer(max_age=timedelta(hours=2), max_readings=100)
    old_hour = datetime(2026, 11, 20, 3, tzinfo=UTC)
    arrived = datetime(2026, 11, 25, 11, tzinfo=UTC)
    assert buffer.add(_reading(1, old_hour + timedelta(minutes=5)), arrived)
    assert not buffer.add(_reading(1, old_hour + timedelta(minutes=6)), arrived)
    assert buffer.add(_reading(2, T0), arrived + timedelta(hours=1))
    assert buffer.add(_reading(3, old_hour + timedelta(minutes=50)), arrived)
    assert len(buffer) == 3
    assert 1 in buffer
    assert [r.seq for r in buffer.in_hours([old_hour])] == [1, 3]
    assert buffer.in_hours([old_hour])[0].ts == old_hour + timedelta(minutes=5)
    now = arrived + timedelta(hours=2, minutes=30)
    assert buffer.prune(now, keep_hours=[old_hour]) == 0
    assert buffer.prune(now) == 2
    assert [r.seq for r in buffer.in_hours([hour_start(T0)])] == [2]


def test_buffer_hours_next_to_gaps() -> None:
    """The hours of the readings right below and above each gap."""
    buffer = ReadingBuffer()
    hours = [datetime(2026, 11, 25, hour, 30, tzinfo=UTC) for hour in range(6)]
    for seq, moment in ((1, hours[0]), (2, hours[1]), (10, hours[3]), (11, hours[4])):
        buffer.add(_reading(seq, moment), T0)
    assert buffer.hours_next_to([(3, 9)]) == {hour_start(hours[1]), hour_start(hours[3])}
    assert buffer.hours_next_to([(0, 0), (12, 20)]) == {
        hour_start(hours[0]),
        hour_start(hours[4]),
    }
    assert buffer.hours_next_to([]) == set()


def test_buffer_is_bounded_by_count() -> None:
    """Beyond the count the reading that arrived first goes."""
    buffer = ReadingBuffer(max_readings=2)
    for seq in range(3):
        buffer.add(_reading(seq, T0), T0 + timedelta(seconds=seq))
    assert 0 not in buffer
    assert len(buffer) == 2


def test_buffer_json_round_trip_and_bad_rows() -> None:
    """Stored rows come back as they were; a bad row adds nothing."""
    buffer = ReadingBuffer()
    buffer.add(_reading(1, T0, pressure=1000.5), T0)
    buffer.add(_reading(2, T0, temperature=None), T0)
    restored = ReadingBuffer()
    restored.load_json(json.loads(json.dumps(buffer.as_json())))
    assert restored.in_hours([hour_start(T0)]) == buffer.in_hours([hour_start(T0)])
    for bad in ("rows", [[1, 2, 3]], [[1, "x", "s", 1, 2, 3, 4]], [[1, 1e300, "s", 1, 2, 3, 4]]):
        fresh = ReadingBuffer()
        with pytest.raises((TypeError, ValueError)):
            fresh.load_json(bad)
        assert len(fresh) == 0


# --- hourly statistics ----------------------------------------------------------------------------


def test_hourly_statistics_per_full_hour() -> None:
    """Readings are grouped by the UTC hour they were measured in."""
    readings = [
        _reading(1, datetime(2026, 11, 25, 10, 59, 59, tzinfo=UTC), temperature=10.0),
        _reading(2, datetime(2026, 11, 25, 11, 0, tzinfo=UTC), temperature=20.0),
        _reading(3, datetime(2026, 11, 25, 11, 30, tzinfo=UTC), temperature=23.0),
        _reading(4, datetime(2026, 11, 25, 11, 45, tzinfo=UTC), temperature=None),
    ]
    hours = hourly_statistics(readings, "temperature")
    assert [(h.start, h.mean, h.min, h.max, h.count) for h in hours] == [
        (datetime(2026, 11, 25, 10, tzinfo=UTC), 10.0, 10.0, 10.0, 1),
        (datetime(2026, 11, 25, 11, tzinfo=UTC), 21.5, 20.0, 23.0, 2),
    ]
    assert hourly_statistics(readings, "pressure") == []
    with pytest.raises(ValueError, match="unknown quantity"):
        hourly_statistics(readings, "wind")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6 * 3600 - 1), st.floats(0.0, 100.0)), min_size=1, max_size=80
    )
)
def test_hourly_statistics_match_a_direct_computation(samples: list[tuple[int, float]]) -> None:
    """Every reading lands in exactly one hour; mean, min and max as computed directly."""
    base = datetime(2026, 11, 25, 0, tzinfo=UTC)
    readings = [
        _reading(seq, base + timedelta(seconds=offset), humidity=value)
        for seq, (offset, value) in enumerate(samples)
    ]
    hours = hourly_statistics(readings, "humidity")
    assert sum(hour.count for hour in hours) == len(samples)
    for hour in hours:
        assert hour.start.minute == hour.start.second == hour.start.microsecond == 0
        values = [
            value
            for offset, value in samples
            if hour.start <= base + timedelta(seconds=offset) < hour.start + timedelta(hours=1)
        ]
        assert hour.count == len(values)
        assert math.isclose(hour.mean, statistics.fmean(values), rel_tol=1e-12, abs_tol=1e-12)
        assert (hour.min, hour.max) == (min(values), max(values))


def test_describe_ranges() -> None:
    """Log text for ranges."""
    assert describe_ranges([(5, 9), (12, 12)]) == "5..9, 12"
