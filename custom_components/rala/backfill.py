"""Readings of a RALA edge node for Home Assistant's history: parsing, sequence tracking, hours.

Pure module (standard library only); the wire format is ``docs/protocol.md`` ("Live
reading", "Backfill"). :mod:`.history` wires it to MQTT, timers, storage and the recorder.

- :func:`parse_live_reading` and :func:`parse_backfill` turn payloads into frozen
  dataclasses. A payload that is not a usable document raises :class:`ReadingPayloadError`
  and nothing of it is used. In a backfill batch, a single bad reading does not sink the
  batch: the other readings were measured and are worth keeping, so the bad one is left
  out and the reason is listed in :attr:`BackfillBatch.rejected` (the caller logs it).
  Every number is range-checked and ``ts`` must lie in a time window around Home
  Assistant's clock (:func:`check_time_window`); the JSON is bounded in size and depth
  before it is decoded (:mod:`.bounded_json`). :class:`Rejection` says why something
  was not used, for the counters.
- :class:`SeqTracker` remembers which sequence numbers of a node were seen, as sorted
  disjoint ranges, and reports the gaps below the highest one. Memory is bounded.
- :class:`SeqTrack` keeps gap detection on the node's current run of sequence numbers:
  a seq more than :data:`MAX_SEQ_JUMP` away does not open a gap, and only a run of
  :data:`TRACK_CONFIRMATIONS` live readings moves the track there.
- :class:`ReadingBuffer` keeps recent readings by sequence number (bounded), so that an
  hour can be recomputed from all of its readings, live and backfilled, whenever more
  arrive.
- :func:`hourly_statistics` builds per-hour mean, min and max.
- :class:`BackfillState` is the bookkeeping of one node zone built from these: what was
  received, the replay request out and its attempts, the hours waiting for their import,
  the counters, and what is stored. :class:`NodeHistoryConfig` is what the zone hands it.

Hourly mean: the arithmetic mean of the readings in the hour. Home Assistant's recorder
compiles a time-weighted mean of sensor states; an edge node samples at a fixed interval,
so for its readings the two agree up to the edges of the hour (and a gap the node did not
measure is not filled by holding the last value, which is arguably more honest).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import json
import logging
import math
from typing import Any, Final
import uuid

from .bounded_json import BoundedJsonError, load_bounded
from .derived import DerivedValues, derive
from .node_protocol import KEY_PATTERN
from .psychrometrics import PsychrometricsError

_LOGGER = logging.getLogger(__name__)

MAX_LIVE_READING_BYTES: Final = 1024
"""A live reading larger than this is refused unread."""
MAX_BACKFILL_BYTES: Final = 512 * 1024
"""A backfill batch larger than this is refused unread (500 readings take about 70 kB)."""
MAX_BACKFILL_READINGS: Final = 500
"""The agent's batch size: a replay answer with fewer readings is its last batch."""
MAX_JSON_DEPTH: Final = 8
"""Deepest nesting of arrays and objects accepted (a batch needs 3), checked before decoding."""
MAX_SEQ: Final = 2**63 - 1
"""The largest sequence number accepted (SQLite's integer range, the agent's outbox)."""
MAX_SEQ_JUMP: Final = 1_000_000
"""How far above the highest seq a reading may lie and still open a gap (:class:`SeqTrack`).

More than a node sends in two weeks (the outbox's default retention) with ten sensors at
a reading every 30 s (about 400,000)."""
TRACK_CONFIRMATIONS: Final = 5
"""Live readings in a row, off the track, that move it (:class:`SeqTrack`)."""
MAX_READING_AGE: Final = timedelta(days=366)
"""A reading measured longer ago than this (by Home Assistant's clock) is left out."""
MAX_READING_LEAD: Final = timedelta(hours=1)
"""A reading stamped further ahead of Home Assistant's clock than this is left out."""
QUANTITIES: Final = ("temperature", "humidity", "pressure")
"""The quantities of a reading, in °C, % RH and hPa."""
# Physically possible ranges; anything outside is a broken payload, not a measurement.
VALID_RANGES: Final[Mapping[str, tuple[float, float]]] = {
    "temperature": (-80.0, 150.0),
    "humidity": (0.0, 100.0),
    "pressure": (300.0, 1200.0),
}
HOUR: Final = timedelta(hours=1)
_DERIVED_FIELDS: Final = frozenset(
    item.name for item in fields(DerivedValues) if "float" in str(item.type)
)
"""The numbers among the derived values (a flag is no statistic)."""
READING_RETENTION: Final = timedelta(hours=48)
"""How long readings are held (from arrival) to recompute their hour."""
MAX_HELD_READINGS: Final = 20000
"""At most this many readings are held (and stored); beyond it the first to arrive goes."""
MAX_PENDING_HOURS: Final = 744
"""At most this many hours (a month) wait for their import; beyond it the oldest is dropped."""
MAX_SEQ_RANGES: Final = 256
"""At most this many ranges of seqs are remembered, received and closed each."""
MAX_STORED_BYTES: Final = 3 * 1024 * 1024
"""What the stored state of a zone stays under, whatever the node (or anyone) sends.

From the bounds above: 20,000 held readings of at most about 140 bytes each (a 19-digit
seq, two epoch times and three floats of 17 digits, the zone's sensor key), 2 x 256
ranges of two 19-digit seqs, and 744 hours of 27 bytes."""
REPLAY_MAX_ATTEMPTS: Final = 3
"""A range of seqs is asked for this many times at most, then given up."""
# Timestamps a datetime can convert to UTC whatever their offset (offsets are under a day).
# They are compared by their own fields (as if UTC), which needs no conversion.
_EARLIEST_CONVERTIBLE: Final = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST_CONVERTIBLE: Final = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


class Rejection(StrEnum):
    """Why a payload or a reading was not used (each has its counter in diagnostics)."""

    MALFORMED = "malformed"
    """Not JSON, too large or too deep, a wrong type, a missing field, another node."""
    OUT_OF_RANGE = "out_of_range"
    """A number outside its documented range (docs/protocol.md)."""
    OUTSIDE_TIME_WINDOW = "outside_time_window"
    """``ts`` further back than :data:`MAX_READING_AGE` or ahead than :data:`MAX_READING_LEAD`."""


REJECTION_COUNTERS: Final[Mapping[Rejection, str]] = {
    Rejection.OUT_OF_RANGE: "out_of_range_values",
    Rejection.OUTSIDE_TIME_WINDOW: "outside_time_window",
}
"""The counter of each kind of rejection besides the totals (malformed ones have none)."""
COUNTERS: Final = (
    "live_readings",
    "backfilled_readings",
    "duplicate_readings",
    "rejected_payloads",
    "rejected_readings",
    *REJECTION_COUNTERS.values(),
    "seq_jumps",
    "track_moves",
    "replay_requests",
    "given_up_seqs",
    "imported_hours",
    "dropped_pending_hours",
)
"""The counters of :attr:`BackfillState.counters`, in the order diagnostics show them."""


class ReadingPayloadError(ValueError):
    """A live reading or backfill payload is unusable; nothing of it was applied."""

    def __init__(self, message: str, rejection: Rejection = Rejection.MALFORMED) -> None:
        """Keep the message and why (the counter it goes to)."""
        super().__init__(message)
        self.rejection = rejection


@dataclass(frozen=True, slots=True)
class NodeHistoryConfig:
    """What the backfill of one node zone works on, read once from the zone's entry.

    The zone builds it (``GrowZone.history_config``); the entry is reloaded when it
    changes, and a new backfill starts with the new configuration.
    """

    entry_id: str
    """The zone's entry: names the stored state and the zone's own sensors."""
    node_id: str
    sensor_key: str
    """The node's sensor the zone reads; other sensors' readings only count for their seqs."""
    sensor_unique_ids: Mapping[str, str]
    """Quantity (:data:`QUANTITIES`) → unique id of the node's sensor entity of it."""
    temperature_entity_id: str
    """The zone's air temperature input."""
    humidity_entity_id: str
    """The zone's humidity input."""
    leaf_offset: float
    """°C, as the zone derives the leaf temperature."""
    leaf_temperature_measured: bool
    """Whether the zone reads a leaf temperature sensor (whose readings are not backfilled)."""


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A reading left out of a backfill batch, and why."""

    message: str
    rejection: Rejection

    def __str__(self) -> str:
        """The message, for log lines."""
        return self.message


@dataclass(frozen=True, slots=True)
class NodeReading:
    """One reading of one sensor of a node; a quantity the sensor lacks is ``None``."""

    seq: int
    ts: datetime
    """When it was measured (UTC, aware)."""
    sensor: str
    temperature: float | None
    humidity: float | None
    pressure: float | None

    def value(self, quantity: str) -> float | None:
        """The value of ``quantity`` (one of :data:`QUANTITIES`)."""
        value: float | None = getattr(self, quantity)
        return value


@dataclass(frozen=True, slots=True)
class BackfillBatch:
    """A parsed backfill batch: the usable readings, oldest first, and what was left out."""

    node_id: str
    request_id: str | None
    readings: tuple[NodeReading, ...]
    first_seq: int | None
    last_seq: int | None
    oldest_available_seq: int | None
    received_count: int
    """How many readings the batch carried, bad ones included."""
    rejected: tuple[LeftOut, ...] = ()
    """The readings left out, one each, with why."""


@dataclass(frozen=True, slots=True)
class HourStatistics:
    """Mean, min and max of one quantity over one hour starting at ``start`` (UTC)."""

    start: datetime
    mean: float
    min: float
    max: float
    count: int


# --- parsing ------------------------------------------------------------------------------------


def _load_object(payload: bytes | str, limit: int, what: str) -> dict[str, Any]:
    size = len(payload.encode(errors="surrogatepass") if isinstance(payload, str) else payload)
    if size > limit:
        raise ReadingPayloadError(f"{what} of {size} bytes exceeds {limit}")
    try:
        document = load_bounded(payload, max_bytes=limit, max_depth=MAX_JSON_DEPTH)
    except BoundedJsonError as err:
        raise ReadingPayloadError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(document, dict):
        raise ReadingPayloadError(f"{what} must be a JSON object")
    return document


def _seq(document: Mapping[str, Any], key: str, *, optional: bool = False) -> int | None:
    value = document.get(key)
    if value is None and optional:
        return None
    # bool is an int in Python, but not a sequence number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReadingPayloadError(f"{key} must be a non-negative integer, got {value!r}")
    if not 0 <= value <= MAX_SEQ:
        raise ReadingPayloadError(
            f"{key} must be a non-negative integer up to {MAX_SEQ}, got {value!r}",
            Rejection.OUT_OF_RANGE,
        )
    return value


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 timestamp with a time zone (``...Z``) as an aware UTC datetime.

    Any year datetime knows is parsed (:func:`check_time_window` then bounds it); only the
    first and last day of its range, which no offset could convert, are refused.
    """
    if not isinstance(value, str) or len(value) > 64:
        raise ReadingPayloadError(f"ts must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise ReadingPayloadError(f"ts {value!r} is not ISO 8601") from err
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ReadingPayloadError(f"ts {value!r} has no time zone")
    if not _EARLIEST_CONVERTIBLE <= moment.replace(tzinfo=UTC) <= _LATEST_CONVERTIBLE:
        raise ReadingPayloadError(
            f"ts {value!r} is outside the time window", Rejection.OUTSIDE_TIME_WINDOW
        )
    return moment.astimezone(UTC)


def check_time_window(moment: datetime, now: datetime) -> None:
    """Refuse a measurement time further from ``now`` than the window allows.

    The window is :data:`MAX_READING_AGE` back and :data:`MAX_READING_LEAD` ahead: older
    readings are no history anyone asked for, later ones come from a wrong clock (and
    their hour could not be imported before that hour is over).
    """
    if not now - MAX_READING_AGE <= moment <= now + MAX_READING_LEAD:
        raise ReadingPayloadError(
            f"ts {moment.isoformat()} is outside the time window "
            f"({MAX_READING_AGE.days} days back to {MAX_READING_LEAD} ahead of {now.isoformat()})",
            Rejection.OUTSIDE_TIME_WINDOW,
        )


def _quantity(document: Mapping[str, Any], quantity: str) -> float | None:
    value = document.get(quantity)
    if value is None:
        return None
    # Integers longer than any float of the range are LongInteger: no int, no float.
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ReadingPayloadError(f"{quantity} must be a number, got {value!r}")
    number = float(value)
    low, high = VALID_RANGES[quantity]
    if not math.isfinite(number) or not low <= number <= high:
        raise ReadingPayloadError(
            f"{quantity} {value!r} is outside {low:g}..{high:g}", Rejection.OUT_OF_RANGE
        )
    return number


def _reading(document: object, sensor: str | None, now: datetime) -> NodeReading:
    """A reading object; ``sensor`` comes from the topic for live readings."""
    if not isinstance(document, dict):
        raise ReadingPayloadError("a reading must be a JSON object")
    seq = _seq(document, "seq")
    assert seq is not None  # noqa: S101  # not optional
    if sensor is None:
        sensor = document.get("sensor")
        if not isinstance(sensor, str) or not KEY_PATTERN.fullmatch(sensor):
            raise ReadingPayloadError(f"reading {seq}: sensor must be a sensor key")
    try:
        ts = parse_timestamp(document.get("ts"))
        check_time_window(ts, now)
        values = {quantity: _quantity(document, quantity) for quantity in QUANTITIES}
    except ReadingPayloadError as err:
        raise ReadingPayloadError(f"reading {seq}: {err}", err.rejection) from err
    if all(value is None for value in values.values()):
        raise ReadingPayloadError(f"reading {seq}: no temperature, humidity or pressure")
    return NodeReading(
        seq=seq,
        ts=ts,
        sensor=sensor,
        temperature=values["temperature"],
        humidity=values["humidity"],
        pressure=values["pressure"],
    )


def parse_live_reading(payload: bytes | str, sensor: str, *, now: datetime) -> NodeReading:
    """A live reading from ``rala/<node>/sensor/<sensor>/state``; the topic names the sensor.

    ``now`` (aware) is Home Assistant's clock, for the time window of ``ts``.
    """
    if not KEY_PATTERN.fullmatch(sensor):
        raise ReadingPayloadError(f"{sensor!r} is not a sensor key")
    document = _load_object(payload, MAX_LIVE_READING_BYTES, "live reading")
    return _reading(document, sensor, now)


def parse_backfill(payload: bytes | str, node_id: str, *, now: datetime) -> BackfillBatch:
    """A backfill batch of ``node_id`` from ``rala/<node>/backfill``.

    The envelope must be valid as a whole (else :class:`ReadingPayloadError`); single bad
    readings, and readings out of order or repeated within the batch, are left out and
    listed in ``rejected``. ``now`` (aware) is Home Assistant's clock, for the time window.
    """
    document = _load_object(payload, MAX_BACKFILL_BYTES, "backfill batch")
    if document.get("node_id") != node_id:
        raise ReadingPayloadError(
            f"backfill batch is for node {document.get('node_id')!r}, not {node_id!r}"
        )
    request_id = document.get("request_id")
    if request_id is not None and (not isinstance(request_id, str) or len(request_id) > 128):
        raise ReadingPayloadError("request_id must be null or a string of at most 128 characters")
    first_seq = _seq(document, "first_seq", optional=True)
    last_seq = _seq(document, "last_seq", optional=True)
    oldest_available_seq = _seq(document, "oldest_available_seq", optional=True)
    raw_readings = document.get("readings")
    if not isinstance(raw_readings, list):
        raise ReadingPayloadError("readings must be a list")
    if len(raw_readings) > MAX_BACKFILL_READINGS:
        raise ReadingPayloadError(
            f"{len(raw_readings)} readings exceed the batch size of {MAX_BACKFILL_READINGS}",
            Rejection.OUT_OF_RANGE,
        )
    readings: list[NodeReading] = []
    rejected: list[LeftOut] = []
    for raw in raw_readings:
        try:
            reading = _reading(raw, None, now)
        except ReadingPayloadError as err:
            rejected.append(LeftOut(str(err), err.rejection))
            continue
        if readings and reading.seq <= readings[-1].seq:
            rejected.append(
                LeftOut(
                    f"reading {reading.seq}: not after seq {readings[-1].seq}", Rejection.MALFORMED
                )
            )
            continue
        readings.append(reading)
    return BackfillBatch(
        node_id=node_id,
        request_id=request_id,
        readings=tuple(readings),
        first_seq=first_seq,
        last_seq=last_seq,
        oldest_available_seq=oldest_available_seq,
        received_count=len(raw_readings),
        rejected=tuple(rejected),
    )


# --- sequence tracking --------------------------------------------------------------------------


@dataclass(slots=True)
class SeqTracker:
    """The sequence numbers seen of one node, as sorted, disjoint, non-adjacent ranges.

    Seqs below the first one ever seen are not gaps: they predate this tracker. To bound
    memory, at most ``max_ranges`` ranges are kept; beyond that, the oldest gap is closed
    (counted in ``dropped``) as the oldest is the least likely to still be held by the
    node. A gap that is given up (:meth:`settle`) is closed the same way.
    """

    max_ranges: int = MAX_SEQ_RANGES
    forget: bool = False
    """Bound memory by forgetting the lowest range instead of closing the oldest gap.

    For the seqs used to de-duplicate: closing a gap there would claim seqs as received
    that never were, and drop them as duplicates when they come.
    """
    ranges: list[list[int]] = field(default_factory=list)
    """``[first, last]`` inclusive, ascending; adjacent ranges are merged."""
    dropped: int = 0
    """Seqs of gaps closed (or seqs forgotten) to bound memory."""

    def __contains__(self, seq: object) -> bool:
        """Whether ``seq`` was seen (or settled)."""
        if not isinstance(seq, int):
            return False
        return any(first <= seq <= last for first, last in self.ranges)

    @property
    def highest(self) -> int | None:
        """The highest seq seen, or ``None``."""
        return self.ranges[-1][1] if self.ranges else None

    def add(self, seq: int) -> bool:
        """Record ``seq``; ``True`` if it was new."""
        return self.add_range(seq, seq) > 0

    def add_range(self, first: int, last: int) -> int:
        """Record ``first..last`` (inclusive); returns how many of them were new."""
        if first > last or first < 0:
            raise ValueError(f"invalid range {first}..{last}")
        new = last - first + 1
        merged: list[list[int]] = []
        start, end = first, last
        for low, high in self.ranges:
            if high + 1 < start or end + 1 < low:
                merged.append([low, high])
                continue
            # Overlapping or adjacent: what overlaps was not new.
            new -= max(0, min(high, end) - max(low, start) + 1)
            start, end = min(start, low), max(end, high)
        merged.append([start, end])
        merged.sort()
        self.ranges = merged
        self._bound()
        return new

    def settle(self, first: int, last: int) -> int:
        """Give up ``first..last``: it counts as seen; returns how many seqs were open."""
        return self.add_range(first, last)

    def gaps(self) -> list[tuple[int, int]]:
        """The missing ranges below the highest seq, ``(first, last)`` inclusive, ascending."""
        return [
            (previous[1] + 1, following[0] - 1)
            for previous, following in zip(self.ranges, self.ranges[1:], strict=False)
        ]

    def missing_in(self, first: int, last: int) -> list[tuple[int, int]]:
        """The gaps clipped to ``first..last``."""
        return [
            (max(low, first), min(high, last))
            for low, high in self.gaps()
            if low <= last and high >= first
        ]

    def _bound(self) -> None:
        while len(self.ranges) > self.max_ranges:
            if self.forget:
                low, high = self.ranges.pop(0)
                self.dropped += high - low + 1
                continue
            (low, high), (next_low, next_high) = self.ranges[0], self.ranges[1]
            self.dropped += next_low - high - 1
            self.ranges[0:2] = [[low, next_high]]

    def as_json(self) -> list[list[int]]:
        """The ranges, for storage."""
        return [list(pair) for pair in self.ranges]

    @classmethod
    def from_json(
        cls, data: object, max_ranges: int = MAX_SEQ_RANGES, *, forget: bool = False
    ) -> SeqTracker:
        """Restore from :meth:`as_json`; ``TypeError``/``ValueError`` if the data is malformed."""
        tracker = cls(max_ranges=max_ranges, forget=forget)
        if not isinstance(data, list):
            raise TypeError("seq ranges must be a list")
        for pair in data:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
                or pair[1] > MAX_SEQ
            ):
                raise ValueError(f"invalid seq range {pair!r}")
            tracker.add_range(pair[0], pair[1])
        return tracker


@dataclass(slots=True)
class SeqTrack:
    """Where the node's sequence numbers currently run, so that one wild seq ends nothing.

    Gaps are looked for below the highest seq of the track. A seq more than ``max_jump``
    above it (or, for a live reading, below it) is *off the track*: it was received (it
    is de-duplicated and used), but it opens no gap and does not move the highest seq. A
    node really moves its seqs that far only in a way that shows: its live readings go on
    from there. So ``confirmations`` live readings in a row that are off the track, each
    above the one before and at most ``max_jump`` from it, move the track there
    (:meth:`off_track` returns them); one live reading on the track in between resets
    the count. A wild seq (say 2^63-1 from a broken or hostile sender) therefore opens
    no gap of 9e18 readings, and a tracker that recorded one before (from an older
    version, persisted) follows the node again after a few of its readings.
    """

    max_jump: int = MAX_SEQ_JUMP
    confirmations: int = TRACK_CONFIRMATIONS
    _run: list[int] = field(default_factory=list)

    def is_on(self, seq: int, highest: int | None, *, live: bool) -> bool:
        """Whether ``seq`` belongs to the track whose highest seq is ``highest``.

        Backfilled readings far below it are old readings arriving late: on the track.
        """
        if highest is None:
            return True
        if seq > highest + self.max_jump:
            return False
        return not (live and seq < highest - self.max_jump)

    def on_track(self) -> None:
        """A live reading was on the track: the run of readings off it is broken."""
        self._run.clear()

    def off_track(self, seq: int) -> list[int] | None:
        """A live reading off the track; the seqs of the run when it moves the track."""
        if self._run and not 0 < seq - self._run[-1] <= self.max_jump:
            self._run.clear()
        self._run.append(seq)
        if len(self._run) < self.confirmations:
            return None
        run, self._run = self._run, []
        return run


# --- recent readings ----------------------------------------------------------------------------


def hour_start(moment: datetime) -> datetime:
    """The full hour (UTC) ``moment`` lies in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(slots=True)
class ReadingBuffer:
    """Recent readings by seq, with when they were received; bounded by age and count.

    Age counts from reception, not measurement: a backfill batch of old readings is kept
    as long as a live one, so an hour can be recomputed while its readings still arrive.
    """

    max_age: timedelta = READING_RETENTION
    max_readings: int = MAX_HELD_READINGS
    _readings: dict[int, tuple[NodeReading, datetime]] = field(default_factory=dict)

    def __len__(self) -> int:
        """How many readings are held."""
        return len(self._readings)

    def __contains__(self, seq: object) -> bool:
        """Whether the reading with ``seq`` is held."""
        return seq in self._readings

    def add(self, reading: NodeReading, received: datetime) -> bool:
        """Keep ``reading``; ``False`` (and nothing changes) if its seq is already held."""
        if reading.seq in self._readings:
            return False
        self._readings[reading.seq] = (reading, received)
        if len(self._readings) > self.max_readings:
            # Insertion order is arrival order: the first key arrived first.
            del self._readings[next(iter(self._readings))]
        return True

    def hours_next_to(self, gaps: Iterable[tuple[int, int]]) -> set[datetime]:
        """The hours of the held readings right below and above each gap.

        The missing readings of a gap were measured between them, so these hours (and
        the ones between, which hold no reading yet) are the ones the gap's readings
        complete: their readings must stay until the gap is filled or given up.
        """
        seqs = sorted(self._readings)
        hours: set[datetime] = set()
        for first, last in gaps:
            below = bisect.bisect_left(seqs, first) - 1
            above = bisect.bisect_right(seqs, last)
            if below >= 0:
                hours.add(hour_start(self._readings[seqs[below]][0].ts))
            if above < len(seqs):
                hours.add(hour_start(self._readings[seqs[above]][0].ts))
        return hours

    def prune(self, now: datetime, keep_hours: Iterable[datetime] = ()) -> int:
        """Forget readings received longer than ``max_age`` ago; returns how many.

        Readings measured in ``keep_hours`` (hour starts still waiting to be used) stay.
        """
        horizon = now - self.max_age
        keep = set(keep_hours)
        old = [
            seq
            for seq, (reading, received) in self._readings.items()
            if received < horizon and hour_start(reading.ts) not in keep
        ]
        for seq in old:
            del self._readings[seq]
        return len(old)

    def in_hours(self, hours: Iterable[datetime]) -> list[NodeReading]:
        """The held readings measured in any of ``hours`` (hour starts), in seq order."""
        wanted = set(hours)
        return [
            reading
            for seq, (reading, _) in sorted(self._readings.items())
            if hour_start(reading.ts) in wanted
        ]

    def as_json(self) -> list[list[Any]]:
        """Compact rows ``[seq, ts, sensor, t, h, p, received]`` (times as epoch seconds)."""
        return [
            [
                reading.seq,
                reading.ts.timestamp(),
                reading.sensor,
                reading.temperature,
                reading.humidity,
                reading.pressure,
                received.timestamp(),
            ]
            for reading, received in self._readings.values()
        ]

    def load_json(self, rows: object) -> None:
        """Add rows of :meth:`as_json`; ``TypeError``/``ValueError`` if malformed (none added)."""
        if not isinstance(rows, list):
            raise TypeError("readings must be a list")
        loaded: list[tuple[NodeReading, datetime]] = []
        for row in rows:
            try:
                seq, ts, sensor, temperature, humidity, pressure, received = row
                reading = NodeReading(
                    seq=int(seq),
                    ts=datetime.fromtimestamp(float(ts), UTC),
                    sensor=str(sensor),
                    temperature=None if temperature is None else float(temperature),
                    humidity=None if humidity is None else float(humidity),
                    pressure=None if pressure is None else float(pressure),
                )
                loaded.append((reading, datetime.fromtimestamp(float(received), UTC)))
            except (TypeError, ValueError, OverflowError) as err:
                raise ValueError(f"invalid stored reading {row!r}: {err}") from err
        for reading, received in loaded:
            self.add(reading, received)


# --- hourly statistics --------------------------------------------------------------------------


def hourly_statistics(readings: Iterable[NodeReading], quantity: str) -> list[HourStatistics]:
    """Mean, min and max of ``quantity`` per full UTC hour, ascending; hours without it skipped."""
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}")
    return hourly_series((reading.ts, reading.value(quantity)) for reading in readings)


def hourly_series(points: Iterable[tuple[datetime, float | None]]) -> list[HourStatistics]:
    """Mean, min and max per full UTC hour of ``(time, value)`` points; ``None`` values skipped."""
    by_hour: dict[datetime, list[float]] = {}
    for moment, value in points:
        if value is not None:
            by_hour.setdefault(hour_start(moment), []).append(value)
    return [
        HourStatistics(
            start=start,
            mean=math.fsum(values) / len(values),
            min=min(values),
            max=max(values),
            count=len(values),
        )
        for start, values in sorted(by_hour.items())
    ]


def derived_hourly_statistics(
    readings: Iterable[NodeReading], leaf_offset: float, keys: Iterable[str]
) -> dict[str, list[HourStatistics]]:
    """Hourly statistics of the derived values ``keys`` (fields of :class:`.DerivedValues`).

    Each reading is derived as the zone derives live, with the leaf temperature from
    ``leaf_offset`` (a leaf temperature sensor's readings are not backfilled); readings
    without temperature and humidity, or outside the formulas' domain, are skipped. Keys
    without a value in any hour are left out.
    """
    wanted = tuple(keys)
    if unknown := set(wanted) - _DERIVED_FIELDS:
        raise ValueError(f"not derived values: {sorted(unknown)}")
    series: dict[str, list[tuple[datetime, float | None]]] = {key: [] for key in wanted}
    for reading in readings:
        if reading.temperature is None or reading.humidity is None:
            continue
        try:
            derived = derive(reading.temperature, reading.humidity, None, leaf_offset)
        except PsychrometricsError:
            continue
        for key in wanted:
            series[key].append((reading.ts, getattr(derived, key)))
    return {key: hours for key, points in series.items() if (hours := hourly_series(points))}


def describe_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    """``"5..9, 12"`` for log lines."""
    return ", ".join(str(low) if low == high else f"{low}..{high}" for low, high in ranges)


# --- what a zone knows of its node's readings ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """A request to the node to replay the readings ``first`` to ``last``."""

    request_id: str
    first: int
    last: int

    def payload(self) -> str:
        """The JSON document of ``rala/<node>/replay`` (docs/protocol.md)."""
        return json.dumps(
            {"request_id": self.request_id, "from_seq": self.first, "to_seq": self.last}
        )


class BackfillState:
    """The bookkeeping of one node zone's backfill: what was received, asked for and imported.

    Pure: :mod:`.history` feeds it what arrives and does what it says (ask the node,
    import hours, store :meth:`as_json`). It logs what it gives up, and counts everything
    refused or given up in :attr:`counters` (shown in diagnostics).
    """

    def __init__(self, node_id: str, sensor_key: str) -> None:
        """Nothing received yet from ``node_id``; readings of ``sensor_key`` are the zone's."""
        self.node_id = node_id
        self.sensor_key = sensor_key
        self.seen = SeqTracker(max_ranges=MAX_SEQ_RANGES, forget=True)
        """Seqs received (live or backfilled), to de-duplicate."""
        self.closed = SeqTracker(max_ranges=MAX_SEQ_RANGES)
        """Seqs received on the track or given up: its gaps are what is still asked for."""
        self.track = SeqTrack()
        self.buffer = ReadingBuffer(max_age=READING_RETENTION, max_readings=MAX_HELD_READINGS)
        self.pending_hours: set[datetime] = set()
        """Hours with new backfilled readings, waiting for their import."""
        self.importing_hours: set[datetime] = set()
        """Hours taken for an import that has not finished: their readings are kept."""
        self.request: ReplayRequest | None = None
        """The replay request waiting for its answer."""
        self.last_request_sent: datetime | None = None
        self._attempts: dict[tuple[int, int], int] = {}
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)

    # --- storage --------------------------------------------------------------------------------

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], node_id: str, sensor_key: str, *, now: datetime
    ) -> BackfillState:
        """Restore from :meth:`as_json`; ``KeyError``/``TypeError``/``ValueError`` if malformed."""
        state = cls(node_id, sensor_key)
        state.seen = SeqTracker.from_json(data["seen"], MAX_SEQ_RANGES, forget=True)
        state.closed = SeqTracker.from_json(data["closed"], MAX_SEQ_RANGES)
        pending = {parse_timestamp(value) for value in data["pending_hours"]}
        state.buffer.load_json(data["readings"])
        # A version without the time window may have stored hours that never come.
        state.pending_hours = {
            hour
            for hour in pending
            if now - MAX_READING_AGE - HOUR <= hour <= now + MAX_READING_LEAD
        }
        state.bound_pending_hours()
        return state

    def as_json(self, now: datetime) -> dict[str, Any]:
        """What is stored; readings no import needs any more are dropped first."""
        # Keep what an import still needs: pending hours, and the hours at the edges of
        # open gaps (an outage longer than the retention must not lose the live part of
        # the hour it began in).
        waiting = self.pending_hours | self.importing_hours
        keep = waiting | self.buffer.hours_next_to(self.closed.gaps())
        self.buffer.prune(now, keep_hours=keep)
        return {
            "seen": self.seen.as_json(),
            "closed": self.closed.as_json(),
            # An import cut short by a stop is done again after the start.
            "pending_hours": sorted(hour.isoformat() for hour in waiting),
            "readings": self.buffer.as_json(),
        }

    # --- receiving ------------------------------------------------------------------------------

    def count_rejection(self, total: str, rejection: Rejection) -> None:
        """Count a refused payload or reading in ``total`` and in its kind's counter."""
        self.counters[total] += 1
        if (counter := REJECTION_COUNTERS.get(rejection)) is not None:
            self.counters[counter] += 1

    def receive_live(self, reading: NodeReading, now: datetime) -> bool:
        """A live reading arrived; ``False`` (and nothing changes) if it was received before."""
        if not self._accept(reading, now, live=True):
            return False
        self.counters["live_readings"] += 1
        return True

    def receive_backfill(self, batch: BackfillBatch, now: datetime) -> bool:
        """A backfill batch arrived; ``True`` if it answers the request out (which ends)."""
        for left_out in batch.rejected:
            _LOGGER.warning("Node %s: backfill reading left out: %s", self.node_id, left_out)
            self.count_rejection("rejected_readings", left_out.rejection)
        jumps = self.counters["seq_jumps"]
        for reading in batch.readings:
            if self._accept(reading, now, live=False):
                self.counters["backfilled_readings"] += 1
                if reading.sensor == self.sensor_key:
                    self.pending_hours.add(hour_start(reading.ts))
        if jumps := self.counters["seq_jumps"] - jumps:
            _LOGGER.warning(
                "Node %s: %d readings of a backfill batch lie more than %d above the highest "
                "seq %s: they open no gap",
                self.node_id,
                jumps,
                self.track.max_jump,
                self.closed.highest,
            )
        self.bound_pending_hours()
        if (oldest := batch.oldest_available_seq) is not None:
            # With oldest_available_seq 0 the range is empty and nothing is given up.
            self._give_up(
                0, oldest - 1, f"the node no longer holds them (its outbox starts at {oldest})"
            )
        request = self.request
        if request is None or batch.request_id != request.request_id:
            return False
        complete = (
            batch.received_count < MAX_BACKFILL_READINGS
            or batch.last_seq is None
            or batch.last_seq >= request.last
        )
        if complete:
            self._request_answered(request, batch.oldest_available_seq)
        return complete

    def bound_pending_hours(self) -> None:
        """Keep the newest :data:`MAX_PENDING_HOURS` pending hours (the oldest are dropped)."""
        if len(self.pending_hours) <= MAX_PENDING_HOURS:
            return
        newest = sorted(self.pending_hours)[-MAX_PENDING_HOURS:]
        dropped = len(self.pending_hours) - len(newest)
        self.pending_hours = set(newest)
        self.counters["dropped_pending_hours"] += dropped
        _LOGGER.warning(
            "Node %s: %d hours waiting for their import were dropped, at most %d wait",
            self.node_id,
            dropped,
            MAX_PENDING_HOURS,
        )

    def _accept(self, reading: NodeReading, now: datetime, *, live: bool) -> bool:
        """Record a reading; ``False`` (and nothing changes) if its seq was received before.

        A reading off the seq track (:class:`SeqTrack`) is used, but opens no gap.
        """
        if not self.seen.add(reading.seq):
            self.counters["duplicate_readings"] += 1
            return False
        if self.track.is_on(reading.seq, self.closed.highest, live=live):
            if live:
                self.track.on_track()
            self.closed.add(reading.seq)
        else:
            self.counters["seq_jumps"] += 1
            (_LOGGER.warning if live else _LOGGER.debug)(
                "Node %s: seq %d is more than %d away from the highest seq %s: it opens no gap",
                self.node_id,
                reading.seq,
                self.track.max_jump,
                self.closed.highest,
            )
            if live and (run := self.track.off_track(reading.seq)) is not None:
                self._move_track(run)
        if reading.sensor == self.sensor_key:
            self.buffer.add(reading, now)
        return True

    def _move_track(self, run: list[int]) -> None:
        """The node's live seqs go on from ``run``: look for gaps there from now on."""
        abandoned = sum(high - low + 1 for low, high in self.closed.gaps())
        _LOGGER.warning(
            "Node %s: its sequence numbers go on at %d, not near %s: gaps are looked for "
            "from there (%d seqs of older gaps are not asked for)",
            self.node_id,
            run[0],
            self.closed.highest,
            abandoned,
        )
        self.counters["track_moves"] += 1
        self.counters["given_up_seqs"] += abandoned
        self.closed = SeqTracker(max_ranges=MAX_SEQ_RANGES)
        for seq in run:
            self.closed.add(seq)

    # --- replay ---------------------------------------------------------------------------------

    def next_request(self, now: datetime) -> ReplayRequest | None:
        """The request to send for the open gaps, ``None`` while one is out or none is open.

        Near gaps are asked for together while one answer batch can hold the whole span.
        """
        gaps = self.closed.gaps()
        if self.request is not None or not gaps:
            return None
        first, last = gaps[0]
        for _low, high in gaps[1:]:
            if high - first >= MAX_BACKFILL_READINGS:
                break
            last = high
        self.request = ReplayRequest(uuid.uuid4().hex, first, last)
        self.last_request_sent = now
        self.counters["replay_requests"] += 1
        return self.request

    def request_timed_out(self) -> bool:
        """The request out got no complete answer in time; ``True`` if something was given up.

        The same range is asked for again, up to :data:`REPLAY_MAX_ATTEMPTS` times.
        """
        request, self.request = self.request, None
        if request is None:  # pragma: no cover  # an answer cancels the timeout
            return False
        key = (request.first, request.last)
        self._attempts[key] = attempts = self._attempts.get(key, 0) + 1
        if attempts < REPLAY_MAX_ATTEMPTS:
            return False
        del self._attempts[key]
        self._give_up(request.first, request.last, f"no answer to {attempts} replay requests")
        return True

    def _request_answered(self, request: ReplayRequest, oldest_available: int | None) -> None:
        self.request = None
        self._attempts.pop((request.first, request.last), None)
        self._give_up(
            request.first,
            request.last,
            f"the node does not hold them (replay {request.request_id}, "
            f"outbox starts at {oldest_available})",
        )

    def _give_up(self, first: int, last: int, why: str) -> None:
        open_ranges = self.closed.missing_in(first, last)
        if not open_ranges:
            return
        for low, high in open_ranges:
            self.counters["given_up_seqs"] += self.closed.settle(low, high)
        _LOGGER.warning(
            "Node %s: giving up readings %s: %s", self.node_id, describe_ranges(open_ranges), why
        )

    # --- statistics -----------------------------------------------------------------------------

    def take_ready_hours(self, last_compiled: datetime) -> list[datetime]:
        """Take the pending hours up to ``last_compiled`` (the recorder's newest compiled
        hour) for an import.

        They wait no more from now on: a reading of one of them that arrives while the
        import runs makes the hour pending again, and the next import takes it with all
        its readings (the import replaces an hour's row, it never adds to it).
        """
        ready = sorted(hour for hour in self.pending_hours if hour <= last_compiled)
        self.pending_hours.difference_update(ready)
        self.importing_hours.update(ready)
        return ready

    def hours_imported(self, hours: Iterable[datetime]) -> None:
        """The import of ``hours`` (taken by :meth:`take_ready_hours`) finished."""
        done = set(hours)
        self.importing_hours -= done
        self.counters["imported_hours"] += len(done)

    def hours_not_imported(self, hours: Iterable[datetime]) -> None:
        """The import of ``hours`` failed: they wait for the next one."""
        failed = set(hours)
        self.importing_hours -= failed
        self.pending_hours |= failed

    def as_dict(self) -> dict[str, Any]:
        """What diagnostics show."""
        return {
            "highest_seq": self.closed.highest,
            "open_gaps": [list(gap) for gap in self.closed.gaps()][:20],
            "replay_request": None
            if self.request is None
            else {"from_seq": self.request.first, "to_seq": self.request.last},
            "pending_hours": sorted(hour.isoformat() for hour in self.pending_hours),
            "held_readings": len(self.buffer),
            "counters": dict(self.counters),
        }
