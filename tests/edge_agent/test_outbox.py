"""The outbox: durable sequence numbers, acknowledgements, replay, retention and size cap."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
import itertools
import math
from pathlib import Path
import random
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from edge_agent.discovery import backfill_reading_payload
from edge_agent.outbox import MIN_MAX_BYTES, Outbox, StoredReading
from edge_agent.sensors import Reading

START = datetime(2026, 11, 25, 11, 0, 0, tzinfo=UTC)
WRITER = Path(__file__).with_name("outbox_writer.py")


class FakeClock:
    """Wall clock the test moves by hand."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def make_reading(
    measured_at: datetime = START,
    sensor: str = "canopy",
    temperature: float = 24.61,
    humidity: float = 58.2,
    pressure: float = 1012.4,
) -> Reading:
    return Reading(
        sensor=sensor,
        temperature=temperature,
        humidity=humidity,
        pressure=pressure,
        measured_at=measured_at,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def outbox(tmp_path: Path, clock: FakeClock) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite3", now=clock) as box:
        yield box


def seqs_of(stored: list[StoredReading]) -> list[int]:
    return [item.seq for item in stored]


def everything(box: Outbox) -> list[StoredReading]:
    return box.replay_range(0, 2**62, limit=10**9)


# --- append, sequence numbers, wire format -------------------------------------------------


def test_append_assigns_increasing_seqs_and_stores_the_reading_exactly(outbox: Outbox) -> None:
    first = make_reading(START + timedelta(microseconds=123_456), temperature=21.125)
    second = make_reading(START + timedelta(seconds=30), sensor="roots", humidity=61.0)

    stored = [outbox.append(first), outbox.append(second)]

    assert seqs_of(stored) == [1, 2]
    assert [item.reading for item in stored] == [first, second]
    assert everything(outbox) == stored
    assert outbox.oldest_seq() == 1
    assert outbox.last_seq() == 2


def test_timestamps_are_stored_as_utc(outbox: Outbox) -> None:
    local = datetime(2026, 11, 25, 13, 0, 0, 5_000, tzinfo=timezone(timedelta(hours=2)))

    outbox.append(make_reading(local))

    (held,) = everything(outbox)
    assert held.reading.measured_at == local
    assert held.reading.measured_at.utcoffset() == timedelta(0)
    assert held.reading.measured_at.hour == 11


def test_a_stored_reading_matches_the_backfill_schema(outbox: Outbox) -> None:
    stored = outbox.append(make_reading(START + timedelta(microseconds=12_999)))

    assert backfill_reading_payload(stored) == {
        "seq": 1,
        "ts": "2026-11-25T11:00:00.012Z",
        "sensor": "canopy",
        "temperature": 24.61,
        "humidity": 58.2,
        "pressure": 1012.4,
    }


def test_empty_outbox(outbox: Outbox) -> None:
    assert outbox.depth() == 0
    assert outbox.unsent() == []
    assert outbox.oldest_seq() is None
    assert outbox.last_seq() is None
    assert outbox.prune() == 0


# --- acknowledgements and replay ------------------------------------------------------------


def test_mark_sent_removes_readings_from_unsent_and_depth(outbox: Outbox) -> None:
    for index in range(5):
        outbox.append(make_reading(START + timedelta(seconds=30 * index)))

    outbox.mark_sent([2, 4])
    outbox.mark_sent([4, 99, -1])  # repeated, never assigned, impossible: ignored
    outbox.mark_sent([])

    assert seqs_of(outbox.unsent()) == [1, 3, 5]
    assert seqs_of(outbox.unsent(limit=2)) == [1, 3]
    assert outbox.depth() == 3


def test_mark_sent_from_another_thread(outbox: Outbox) -> None:
    """paho-mqtt reports PUBACKs on its network thread."""
    outbox.append(make_reading())
    worker = threading.Thread(target=outbox.mark_sent, args=([1],))
    worker.start()
    worker.join()

    assert outbox.depth() == 0


def test_replay_range_is_inclusive_sent_or_not_and_limited(outbox: Outbox) -> None:
    for index in range(10):
        outbox.append(make_reading(START + timedelta(seconds=30 * index)))
    outbox.mark_sent(range(1, 8))

    assert seqs_of(outbox.replay_range(3, 6)) == [3, 4, 5, 6]
    assert seqs_of(outbox.replay_range(3, 9, limit=2)) == [3, 4]
    assert seqs_of(outbox.replay_range(7, 7)) == [7]
    assert seqs_of(outbox.replay_range(8, 100)) == [8, 9, 10]
    assert outbox.replay_range(11, 20) == []


def test_replay_range_answers_with_what_remains_after_pruning(
    outbox: Outbox, clock: FakeClock
) -> None:
    for index in range(4):
        outbox.append(make_reading(START + timedelta(days=index)))
    outbox.mark_sent([1, 2])
    clock.moment = START + timedelta(days=14, hours=12)

    assert outbox.prune() == 1  # only seq 1 is both sent and older than 14 days

    assert seqs_of(outbox.replay_range(1, 4)) == [2, 3, 4]
    assert outbox.oldest_seq() == 2


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda box: box.replay_range(5, 4), r"first_seq must not be greater than last_seq.*5 > 4"),
        (lambda box: box.replay_range(-1, 4), r"first_seq must be >= 0, got -1"),
        (lambda box: box.replay_range(1, 4, limit=-1), r"limit must be a positive.*got -1"),
        (lambda box: box.replay_range(1, 4, limit=0), r"limit must be a positive.*got 0"),
        (lambda box: box.unsent(limit=-5), r"limit must be a positive.*got -5"),
    ],
)
def test_bad_query_arguments_raise_value_error(
    outbox: Outbox, call: Callable[[Outbox], object], message: str
) -> None:
    outbox.append(make_reading())
    with pytest.raises(ValueError, match=message):
        call(outbox)


@pytest.mark.parametrize(
    ("reading", "message"),
    [
        (make_reading(temperature=math.nan), r"reading\.temperature must be a finite number"),
        (make_reading(humidity=math.inf), r"reading\.humidity must be a finite number"),
        (make_reading(sensor=""), r"reading\.sensor must be a non-empty string"),
        (
            make_reading(START.replace(tzinfo=None)),
            r"reading\.measured_at must be timezone-aware",
        ),
    ],
)
def test_bad_reading_is_refused_and_changes_nothing(
    outbox: Outbox, reading: Reading, message: str
) -> None:
    outbox.append(make_reading())

    with pytest.raises(ValueError, match=message):
        outbox.append(reading)

    assert outbox.last_seq() == 1
    assert outbox.depth() == 1
    assert outbox.append(make_reading()).seq == 2


def test_mark_sent_refuses_non_integers_and_changes_nothing(outbox: Outbox) -> None:
    outbox.append(make_reading())
    outbox.append(make_reading())

    with pytest.raises(TypeError, match="sequence numbers must be integers, got '2'"):
        outbox.mark_sent([1, "2"])  # type: ignore[list-item]

    assert outbox.depth() == 2


def test_bad_constructor_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"max_bytes must be at least {MIN_MAX_BYTES}, got 1000"):
        Outbox(tmp_path / "a.sqlite3", max_bytes=1000)
    with pytest.raises(ValueError, match="retention must be a positive duration"):
        Outbox(tmp_path / "b.sqlite3", retention=timedelta(0))
    assert list(tmp_path.iterdir()) == []


def test_naive_clock_is_refused(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite3", now=datetime.now) as box:
        box.append(make_reading())
        with pytest.raises(ValueError, match="the clock must return an aware datetime"):
            box.prune()
        assert box.depth() == 1


def test_closed_outbox_refuses_use(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    box.close()
    box.close()

    with pytest.raises(RuntimeError, match="is closed"):
        box.append(make_reading())
    with pytest.raises(RuntimeError, match="is closed"):
        box.depth()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 2")
    connection.close()

    with pytest.raises(RuntimeError, match="schema version 2, newer than this agent"):
        Outbox(path)


# --- durability -------------------------------------------------------------------------------


def test_database_settings(outbox: Outbox) -> None:
    outbox.append(make_reading())
    with sqlite3.connect(outbox.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental
    connection.close()
    assert outbox._open_connection().execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "outbox.sqlite3"
    with Outbox(path) as box:
        originals = [
            box.append(make_reading(START + timedelta(seconds=index))) for index in range(4)
        ]
        box.mark_sent([1, 3])

    with Outbox(path) as box:
        assert everything(box) == originals
        assert seqs_of(box.unsent()) == [2, 4]
        assert box.append(make_reading()).seq == 5


def test_seqs_are_never_reused_after_everything_was_deleted(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, now=clock) as box:
        for index in range(3):
            box.append(make_reading(START + timedelta(seconds=index)))
        box.mark_sent([1, 2, 3])
        clock.moment = START + timedelta(days=20)

        assert box.prune() == 3
        assert box.oldest_seq() is None
        assert box.last_seq() == 3
        assert box.append(make_reading(clock.moment)).seq == 4
        box.mark_sent([4])
        clock.moment = START + timedelta(days=40)
        assert box.prune() == 1

    with Outbox(path, now=clock) as box:
        assert box.last_seq() == 4
        assert box.append(make_reading(clock.moment)).seq == 5


def _parse_report(output: str) -> tuple[dict[int, int], set[int]]:
    appended: dict[int, int] = {}
    acknowledged: set[int] = set()
    for line in output.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue  # cut off by the kill: never reported
        match line.split():
            case ["A", seq, counter]:
                appended[int(seq)] = int(counter)
            case ["S", seq]:
                acknowledged.add(int(seq))
            case _:
                pytest.fail(f"unexpected line from the writer: {line!r}")
    return appended, acknowledged


def test_sigkill_at_random_moments_never_corrupts_or_loses_a_reading(tmp_path: Path) -> None:
    """A real process appending (and acknowledging, pruning) is killed 20 times, mid-work."""
    path = tmp_path / "outbox.sqlite3"
    appended: dict[int, int] = {}
    acknowledged: set[int] = set()
    highest_held = 0
    for seed in range(20):
        rng = random.Random(seed)
        lines_before_kill = rng.randint(1, 150)
        stderr_path = tmp_path / f"writer-{seed}.err"
        with stderr_path.open("w") as stderr:
            writer = subprocess.Popen(
                [sys.executable, str(WRITER), str(path), str(seed * 1_000_000)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert writer.stdout is not None
        seen: list[str] = []
        while len(seen) < lines_before_kill:
            line = writer.stdout.readline()
            if not line:
                writer.wait(timeout=30)
                pytest.fail(f"writer ended by itself: {stderr_path.read_text()}")
            seen.append(line)
        time.sleep(rng.uniform(0, 0.004))  # land the kill anywhere in the loop
        writer.kill()
        rest = writer.stdout.read()
        writer.stdout.close()
        writer.wait(timeout=30)
        run_appended, run_acknowledged = _parse_report("".join(seen) + rest)
        assert run_appended, "the writer reported nothing before the kill"
        # A reading committed but not yet reported is fine; a reported seq must be new.
        assert min(run_appended) > highest_held, f"seq reused in run {seed}"
        appended |= run_appended
        acknowledged |= run_acknowledged

        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        connection.close()
        with Outbox(path) as box:
            held = {item.seq: item.reading for item in everything(box)}
            unsent = {item.seq for item in box.unsent(limit=10**9)}
            last = box.last_seq()
        assert last is not None
        lost = set(appended) - set(held)
        assert not lost, f"reported as appended, then lost: {sorted(lost)}"
        assert sorted(held) == list(range(1, last + 1)), "a seq went missing"
        for seq, counter in appended.items():
            assert held[seq].temperature == counter, f"seq {seq} holds the wrong reading"
        assert not acknowledged & unsent, "an acknowledgement was lost"
        highest_held = last


# --- retention --------------------------------------------------------------------------------


def test_retention_deletes_old_sent_readings_and_keeps_undelivered_ones(
    outbox: Outbox, clock: FakeClock
) -> None:
    clock.moment = START + timedelta(days=30)
    ages = {
        "old sent": timedelta(days=20),
        "old unsent": timedelta(days=20),
        "boundary sent": timedelta(days=14) - timedelta(seconds=1),
        "recent sent": timedelta(hours=1),
        "recent unsent": timedelta(hours=1),
    }
    seq_of = {
        name: outbox.append(make_reading(clock.moment - age)).seq for name, age in ages.items()
    }
    outbox.mark_sent(seq for name, seq in seq_of.items() if "unsent" not in name)

    assert outbox.prune() == 1

    held = set(seqs_of(everything(outbox)))
    assert held == set(seq_of.values()) - {seq_of["old sent"]}
    assert outbox.prune() == 0


# --- size cap ---------------------------------------------------------------------------------

INTERVAL = timedelta(minutes=10)
SENSORS = ("canopy", "roots")
CAP = 128 * 1024


def fill(box: Outbox, start: datetime, days: int) -> list[StoredReading]:
    """Append one reading per sensor every INTERVAL, all unsent."""
    stored = []
    moment = start
    while moment < start + timedelta(days=days):
        for index, sensor in enumerate(SENSORS):
            stored.append(box.append(make_reading(moment, sensor=sensor, temperature=index)))
        moment += INTERVAL
    return stored


def file_bytes(path: Path) -> int:
    """Size on disk of the database and its WAL."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def pages_in_use(path: Path) -> int:
    """Bytes of database pages holding data, whether still in the WAL or not."""
    with sqlite3.connect(path) as connection:
        page_size, page_count, free_pages = (
            connection.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_size", "page_count", "freelist_count")
        )
    connection.close()
    return int((page_count - free_pages) * page_size)


@pytest.mark.parametrize(
    "clock_offset",
    [
        pytest.param(timedelta(0), id="clock-at-newest-reading"),
        pytest.param(timedelta(days=7), id="switched-off-for-a-week"),
    ],
)
def test_size_cap_thins_old_data_evenly_and_keeps_the_newest_day(
    tmp_path: Path, clock: FakeClock, clock_offset: timedelta
) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, max_bytes=CAP, retention=timedelta(days=14), now=clock) as box:
        stored = fill(box, START, days=30)
        newest = stored[-1].reading.measured_at
        clock.moment = newest + clock_offset
        assert pages_in_use(path) > 2 * CAP

        removed = box.prune()

        held = everything(box)
        assert removed == len(stored) - len(held) > 0
        assert file_bytes(path) <= CAP
        protected_from = min(newest, clock.moment) - timedelta(days=1)
        newest_day = {item.seq for item in stored if item.reading.measured_at > protected_from}
        assert newest_day <= {item.seq for item in held}, "the newest day was thinned"

        timestamps = {
            sensor: [item.reading.measured_at for item in held if item.reading.sensor == sensor]
            for sensor in SENSORS
        }
        assert len(timestamps["canopy"]) == len(timestamps["roots"]), "one sensor paid for both"
        for sensor_times in timestamps.values():
            assert sensor_times[0] == START, "thinning cut off the oldest readings instead"
            gaps = [later - earlier for earlier, later in itertools.pairwise(sensor_times)]
            # Even over time: the oldest data is the sparsest, resolution decreases with age
            # step by step (each round halves the oldest half), and there is no hole.
            assert gaps == sorted(gaps, reverse=True)
            assert gaps[0] > 16 * INTERVAL
            assert all(older <= 3 * newer for older, newer in itertools.pairwise(gaps))
        # It thinned to fit, not far beyond: at least half of the cap is still data.
        assert pages_in_use(path) >= CAP // 2


def test_size_cap_keeps_the_file_bounded_while_data_keeps_coming(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, max_bytes=CAP, now=clock) as box:
        for day in range(40):
            day_start = START + timedelta(days=day)
            stored = fill(box, day_start, days=1)
            clock.moment = day_start + timedelta(days=1)
            box.prune()

            assert file_bytes(path) <= CAP
            assert {item.seq for item in stored} <= set(seqs_of(everything(box)))
        assert everything(box)[0].reading.measured_at == START


def test_size_cap_never_thins_the_newest_day_even_when_it_alone_is_too_big(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, max_bytes=MIN_MAX_BYTES, now=clock) as box:
        stored = [
            box.append(make_reading(START + timedelta(seconds=10 * index))) for index in range(3000)
        ]
        clock.moment = stored[-1].reading.measured_at
        assert pages_in_use(path) > MIN_MAX_BYTES

        assert box.prune() == 0

        assert everything(box) == stored
    assert "nothing older than the newest day is left to thin" in caplog.text


def test_appends_and_acknowledgements_from_other_threads_during_a_prune(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The agent appends on its loop and acknowledges on paho's thread while pruning runs."""
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, max_bytes=CAP, now=clock) as box:
        fill(box, START, days=10)
        clock.moment = START + timedelta(days=10)
        appended: list[StoredReading] = []
        errors: list[BaseException] = []

        def append_readings() -> None:
            try:
                for index in range(300):
                    moment = clock.moment + timedelta(seconds=index)
                    appended.append(box.append(make_reading(moment)))
            except BaseException as err:  # noqa: BLE001 - reported by the assertion below
                errors.append(err)

        def acknowledge() -> None:
            try:
                for _ in range(300):
                    box.mark_sent([stored.seq for stored in appended[-3:]])
            except BaseException as err:  # noqa: BLE001 - reported by the assertion below
                errors.append(err)

        workers = [threading.Thread(target=append_readings), threading.Thread(target=acknowledge)]
        for worker in workers:
            worker.start()
        removed = box.prune()
        for worker in workers:
            worker.join()

        assert errors == []
        assert removed > 0
        assert seqs_of(appended) == sorted(set(seqs_of(appended)))
        assert set(seqs_of(appended)) <= set(seqs_of(everything(box)))
        assert box.last_seq() == appended[-1].seq
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    connection.close()


def test_size_cap_protects_the_newest_day_of_data_whatever_the_clock_says(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Behind the data: a Pi without RTC before NTP syncs. Far ahead: a node switched off."""
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, max_bytes=MIN_MAX_BYTES, now=clock) as box:
        stored = [
            box.append(make_reading(START + timedelta(minutes=2 * index)))
            for index in range(3 * 24 * 30)
        ]
        newest = stored[-1].reading.measured_at
        assert pages_in_use(path) > MIN_MAX_BYTES

        clock.moment = START + timedelta(days=1)  # the day before now is protected too
        assert box.prune() == 0
        assert everything(box) == stored

        clock.moment = newest + timedelta(days=7)  # the newest day of data stays protected
        assert box.prune() > 0
        newest_day = [
            item for item in stored if item.reading.measured_at > newest - timedelta(days=1)
        ]
        assert everything(box)[-len(newest_day) :] == newest_day
