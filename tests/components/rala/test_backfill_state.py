"""The bookkeeping of a node zone's backfill, without Home Assistant (pure module)."""

from datetime import UTC, datetime, timedelta
import json
from typing import Any

import pytest

from custom_components.rala import psychrometrics
from custom_components.rala.backfill import (
    MAX_BACKFILL_READINGS,
    MAX_READING_AGE,
    REPLAY_MAX_ATTEMPTS,
    BackfillState,
    NodeReading,
    derived_hourly_statistics,
    parse_backfill,
)

NODE = "tent-pi"
SENSOR = "canopy"
NOW = datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
HOUR = datetime(2026, 11, 25, 9, tzinfo=UTC)


def _reading(seq: int, moment: datetime = HOUR, sensor: str = SENSOR) -> NodeReading:
    return NodeReading(seq, moment, sensor, 24.0 + seq / 10, 55.0, 1012.0)


def _batch(seqs: list[int], request_id: str | None = None, **changes: Any) -> Any:
    readings = [
        {"seq": seq, "ts": (HOUR + timedelta(seconds=seq)).isoformat(), "sensor": SENSOR}
        | {"temperature": 24.0}
        for seq in seqs
    ]
    document = {
        "node_id": NODE,
        "request_id": request_id,
        "readings": readings,
        "first_seq": seqs[0] if seqs else None,
        "last_seq": seqs[-1] if seqs else None,
        "oldest_available_seq": 1,
        **changes,
    }
    return parse_backfill(json.dumps(document), NODE, now=NOW)


def _state_with_gap(*live: int) -> BackfillState:
    state = BackfillState(NODE, SENSOR)
    for seq in live:
        assert state.receive_live(_reading(seq), NOW)
    return state


def test_a_gap_is_asked_for_once_and_closed_by_its_answer() -> None:
    """One request at a time; the complete answer ends it and gives up what it lacks."""
    state = _state_with_gap(1, 2, 7)
    assert state.closed.gaps() == [(3, 6)]
    request = state.next_request(NOW)
    assert request is not None
    assert (request.first, request.last) == (3, 6)
    assert json.loads(request.payload()) == {
        "request_id": request.request_id,
        "from_seq": 3,
        "to_seq": 6,
    }
    assert state.next_request(NOW) is None  # one request out at a time
    assert state.last_request_sent == NOW
    # Another answer (the node's own backfill) does not end the request.
    assert not state.receive_backfill(_batch([3]), NOW)
    assert state.request is request
    assert state.receive_backfill(_batch([4, 5], request.request_id), NOW)
    assert state.request is None
    assert state.closed.gaps() == []
    assert state.counters["given_up_seqs"] == 1  # seq 6: the node does not hold it
    assert state.counters["replay_requests"] == 1
    assert state.counters["backfilled_readings"] == 3


def test_a_full_answer_batch_leaves_the_request_out() -> None:
    """A batch of the full batch size that ends below the request is not its last one."""
    state = _state_with_gap(1, MAX_BACKFILL_READINGS + 10)
    request = state.next_request(NOW)
    assert request is not None
    first_batch = list(range(2, 2 + MAX_BACKFILL_READINGS))
    assert not state.receive_backfill(_batch(first_batch, request.request_id), NOW)
    assert state.counters["backfilled_readings"] == MAX_BACKFILL_READINGS
    assert state.request is request
    assert state.receive_backfill(_batch([], request.request_id), NOW)
    assert state.closed.gaps() == []


def test_near_gaps_share_a_request_far_ones_wait() -> None:
    """Gaps go into one request while one answer batch can hold the whole span."""
    far = 5 + MAX_BACKFILL_READINGS
    state = _state_with_gap(1, 3, 5, far, far + 2)
    request = state.next_request(NOW)
    assert request is not None
    assert (request.first, request.last) == (2, 4)


def test_an_unanswered_range_is_given_up_after_the_last_attempt() -> None:
    """Each timeout frees the slot; the last one gives the range up."""
    state = _state_with_gap(1, 4)
    for attempt in range(1, REPLAY_MAX_ATTEMPTS + 1):
        assert state.next_request(NOW) is not None
        assert state.request_timed_out() is (attempt == REPLAY_MAX_ATTEMPTS)
        assert state.request is None
    assert state.closed.gaps() == []
    assert state.counters["given_up_seqs"] == 2
    assert state.next_request(NOW) is None


def test_duplicates_change_nothing_and_other_sensors_only_count() -> None:
    """A seq received before is counted as a duplicate; another sensor's reading is no hour."""
    state = _state_with_gap(1)
    assert not state.receive_live(_reading(1), NOW)
    assert state.counters["duplicate_readings"] == 1
    assert state.receive_live(_reading(2, sensor="root"), NOW)
    assert 2 not in state.buffer
    assert state.counters["live_readings"] == 2


def test_backfilled_hours_wait_for_their_compile_then_are_imported() -> None:
    """Only hours up to the recorder's newest compiled hour are ready."""
    state = BackfillState(NODE, SENSOR)
    state.receive_backfill(_batch([1, 2]), NOW)
    assert state.pending_hours == {HOUR}
    assert state.take_ready_hours(HOUR - timedelta(hours=1)) == []
    assert state.take_ready_hours(HOUR) == [HOUR]
    assert state.pending_hours == set()
    state.hours_imported([HOUR])
    assert state.importing_hours == set()
    assert state.counters["imported_hours"] == 1


def test_readings_of_an_hour_being_imported_make_it_wait_again_with_all_its_readings() -> None:
    """The next batch may arrive while an hour's import awaits the recorder: the import
    replaces the hour's row, so the hour is imported again, from every reading it has."""
    state = BackfillState(NODE, SENSOR)
    state.receive_backfill(_batch([1, 2]), NOW)
    taken = state.take_ready_hours(HOUR)
    assert [reading.seq for reading in state.buffer.in_hours(taken)] == [1, 2]
    state.receive_backfill(_batch([3]), NOW)  # during the import
    state.as_json(NOW)  # a save meanwhile keeps what the import still needs
    state.hours_imported(taken)
    assert state.pending_hours == {HOUR}
    assert [reading.seq for reading in state.buffer.in_hours(state.take_ready_hours(HOUR))] == [
        1,
        2,
        3,
    ]


def test_an_hour_whose_import_failed_or_was_cut_short_waits_for_the_next_one() -> None:
    state = BackfillState(NODE, SENSOR)
    state.receive_backfill(_batch([1, 2]), NOW)
    taken = state.take_ready_hours(HOUR)
    stored = state.as_json(NOW)  # Home Assistant stops during the import
    restored = BackfillState.from_json(json.loads(json.dumps(stored)), NODE, SENSOR, now=NOW)
    assert restored.pending_hours == {HOUR}
    assert len(restored.buffer) == 2
    state.hours_not_imported(taken)
    assert state.pending_hours == {HOUR}
    assert state.importing_hours == set()


def test_stored_state_comes_back_and_hours_outside_the_window_do_not() -> None:
    """What ``as_json`` stores restores the state; an hour that can never come is dropped."""
    state = _state_with_gap(1, 2, 5)
    state.receive_backfill(_batch([3]), NOW)
    stored = state.as_json(NOW)
    stored["pending_hours"].append((NOW - MAX_READING_AGE - timedelta(hours=3)).isoformat())
    restored = BackfillState.from_json(json.loads(json.dumps(stored)), NODE, SENSOR, now=NOW)
    assert restored.seen.ranges == state.seen.ranges
    assert restored.closed.gaps() == [(4, 4)]
    assert restored.pending_hours == {HOUR}
    assert len(restored.buffer) == len(state.buffer) == 4


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"seen": "garbage", "closed": [], "pending_hours": [], "readings": []},
        {"seen": [], "closed": [[1, "x"]], "pending_hours": [], "readings": []},
        {"seen": [], "closed": [], "pending_hours": ["not a time"], "readings": []},
        {"seen": [], "closed": [], "pending_hours": [], "readings": [[1, 2]]},
    ],
)
def test_an_unusable_stored_state_is_refused(stored: dict[str, Any]) -> None:
    """A damaged stored state raises, so the caller starts afresh with a clear log line."""
    with pytest.raises((KeyError, TypeError, ValueError)):
        BackfillState.from_json(stored, NODE, SENSOR, now=NOW)


def test_derived_values_per_hour_as_the_zone_derives_them() -> None:
    """Each reading derived with the leaf offset; readings without humidity are skipped."""
    readings = [
        _reading(1),
        _reading(2, HOUR + timedelta(minutes=30)),
        NodeReading(3, HOUR + timedelta(minutes=40), SENSOR, 30.0, None, 1012.0),
        _reading(4, HOUR + timedelta(hours=1)),
    ]
    hourly = derived_hourly_statistics(readings, 1.5, ["leaf_vpd", "dew_point"])
    expected = [
        psychrometrics.vpd_leaf(r.temperature, r.humidity, None, leaf_offset_c=1.5)
        for r in readings
        if r.temperature is not None and r.humidity is not None
    ]
    first, second = hourly["leaf_vpd"]
    assert (first.start, first.count, second.start, second.count) == (
        HOUR,
        2,
        HOUR + timedelta(hours=1),
        1,
    )
    assert first.mean == pytest.approx((expected[0] + expected[1]) / 2)
    assert (first.min, first.max) == (min(expected[:2]), max(expected[:2]))
    assert second.mean == pytest.approx(expected[2])
    assert [hour.count for hour in hourly["dew_point"]] == [2, 1]
    assert derived_hourly_statistics([], 1.5, ["air_vpd"]) == {}


def test_only_derived_values_can_be_asked_for() -> None:
    """A key that is no derived value is a clear error, not an empty result."""
    with pytest.raises(ValueError, match="temperature"):
        derived_hourly_statistics([_reading(1)], 2.0, ["air_vpd", "temperature"])
    with pytest.raises(ValueError, match="leaf_temperature_measured"):
        derived_hourly_statistics([_reading(1)], 2.0, ["leaf_temperature_measured"])
    assert derived_hourly_statistics([_reading(1)], 2.0, ["leaf_temperature"])
