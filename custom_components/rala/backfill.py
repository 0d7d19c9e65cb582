"""Readings of a RALA edge node for Home Assistant's history: parsing, sequence tracking, hours.

Pure module (standard library only); the wire format is ``docs/protocol.md`` ("Live
reading", "Backfill"). :mod:`.history` wires it to MQTT and the recorder.

- :func:`parse_live_reading` and :func:`parse_backfill` turn payloads into frozen
  dataclasses. A payload that is not a usable document raises :class:`ReadingPayloadError`
  and nothing of it is used. In a backfill batch, a single bad reading does not sink the
  batch: the other readings were measured and are worth keeping, so the bad one is left
  out and the reason is listed in :attr:`BackfillBatch.rejected` (the caller logs it).
- :class:`SeqTracker` remembers which sequence numbers of a node were seen, as sorted
  disjoint ranges, and reports the gaps below the highest one. Memory is bounded.
- :class:`ReadingBuffer` keeps recent readings by sequence number (bounded), so that an
  hour can be recomputed from all of its readings, live and backfilled, whenever more
  arrive.
- :func:`hourly_statistics` builds per-hour mean, min and max.

Hourly mean: the arithmetic mean of the readings in the hour. Home Assistant's recorder
compiles a time-weighted mean of sensor states; an edge node samples at a fixed interval,
so for its readings the two agree up to the edges of the hour (and a gap the node did not
measure is not filled by holding the last value, which is arguably more honest).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import math
import re
from typing import Any, Final

MAX_LIVE_READING_BYTES: Final = 1024
"""A live reading larger than this is refused unread."""
MAX_BACKFILL_BYTES: Final = 512 * 1024
"""A backfill batch larger than this is refused unread (500 readings take about 70 kB)."""
MAX_BACKFILL_READINGS: Final = 500
"""The agent's batch size: a replay answer with fewer readings is its last batch."""
MAX_SEQ: Final = 2**63 - 1
"""The largest sequence number accepted (SQLite's integer range, the agent's outbox)."""
NODE_ID_PATTERN: Final = re.compile(r"[a-z0-9_-]+")
SENSOR_KEY_PATTERN: Final = re.compile(r"[a-z0-9_-]+")
QUANTITIES: Final = ("temperature", "humidity", "pressure")
"""The quantities of a reading, in °C, % RH and hPa."""
# Physically possible ranges; anything outside is a broken payload, not a measurement.
VALID_RANGES: Final[Mapping[str, tuple[float, float]]] = {
    "temperature": (-80.0, 150.0),
    "humidity": (0.0, 100.0),
    "pressure": (300.0, 1200.0),
}
HOUR: Final = timedelta(hours=1)


class ReadingPayloadError(ValueError):
    """A live reading or backfill payload is unusable; nothing of it was applied."""


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
    rejected: tuple[str, ...] = ()
    """Why readings were left out, one line each."""


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
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > limit:
        raise ReadingPayloadError(f"{what} of {len(raw)} bytes exceeds {limit}")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ReadingPayloadError(f"{what} is not valid JSON: {err}") from err
    if not isinstance(document, dict):
        raise ReadingPayloadError(f"{what} must be a JSON object")
    return document


def _seq(document: Mapping[str, Any], key: str, *, optional: bool = False) -> int | None:
    value = document.get(key)
    if value is None and optional:
        return None
    # bool is an int in Python, but not a sequence number.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQ:
        raise ReadingPayloadError(f"{key} must be a non-negative integer, got {value!r}")
    return value


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 timestamp with a time zone (``...Z``) as an aware UTC datetime."""
    if not isinstance(value, str) or len(value) > 64:
        raise ReadingPayloadError(f"ts must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise ReadingPayloadError(f"ts {value!r} is not ISO 8601") from err
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ReadingPayloadError(f"ts {value!r} has no time zone")
    return moment.astimezone(UTC)


def _quantity(document: Mapping[str, Any], quantity: str) -> float | None:
    value = document.get(quantity)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ReadingPayloadError(f"{quantity} must be a number, got {value!r}")
    number = float(value)
    low, high = VALID_RANGES[quantity]
    if not math.isfinite(number) or not low <= number <= high:
        raise ReadingPayloadError(f"{quantity} {value!r} is outside {low:g}..{high:g}")
    return number


def _reading(document: object, sensor: str | None) -> NodeReading:
    """A reading object; ``sensor`` comes from the topic for live readings."""
    if not isinstance(document, dict):
        raise ReadingPayloadError("a reading must be a JSON object")
    seq = _seq(document, "seq")
    assert seq is not None  # noqa: S101  # not optional
    if sensor is None:
        sensor = document.get("sensor")
        if not isinstance(sensor, str) or not SENSOR_KEY_PATTERN.fullmatch(sensor):
            raise ReadingPayloadError(f"reading {seq}: sensor must be a sensor key")
    try:
        ts = parse_timestamp(document.get("ts"))
        values = {quantity: _quantity(document, quantity) for quantity in QUANTITIES}
    except ReadingPayloadError as err:
        raise ReadingPayloadError(f"reading {seq}: {err}") from err
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


def parse_live_reading(payload: bytes | str, sensor: str) -> NodeReading:
    """A live reading from ``rala/<node>/sensor/<sensor>/state``; the topic names the sensor."""
    if not SENSOR_KEY_PATTERN.fullmatch(sensor):
        raise ReadingPayloadError(f"{sensor!r} is not a sensor key")
    return _reading(_load_object(payload, MAX_LIVE_READING_BYTES, "live reading"), sensor)


def parse_backfill(payload: bytes | str, node_id: str) -> BackfillBatch:
    """A backfill batch of ``node_id`` from ``rala/<node>/backfill``.

    The envelope must be valid as a whole (else :class:`ReadingPayloadError`); single bad
    readings, and readings out of order or repeated within the batch, are left out and
    listed in ``rejected``.
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
            f"{len(raw_readings)} readings exceed the batch size of {MAX_BACKFILL_READINGS}"
        )
    readings: list[NodeReading] = []
    rejected: list[str] = []
    for raw in raw_readings:
        try:
            reading = _reading(raw, None)
        except ReadingPayloadError as err:
            rejected.append(str(err))
            continue
        if readings and reading.seq <= readings[-1].seq:
            rejected.append(f"reading {reading.seq}: not after seq {readings[-1].seq}")
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

    max_ranges: int = 256
    ranges: list[list[int]] = field(default_factory=list)
    """``[first, last]`` inclusive, ascending; adjacent ranges are merged."""
    dropped: int = 0
    """Seqs of gaps closed to bound memory."""

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
            (low, high), (next_low, next_high) = self.ranges[0], self.ranges[1]
            self.dropped += next_low - high - 1
            self.ranges[0:2] = [[low, next_high]]

    def as_json(self) -> list[list[int]]:
        """The ranges, for storage."""
        return [list(pair) for pair in self.ranges]

    @classmethod
    def from_json(cls, data: object, max_ranges: int = 256) -> SeqTracker:
        """Restore from :meth:`as_json`; ``TypeError``/``ValueError`` if the data is malformed."""
        tracker = cls(max_ranges=max_ranges)
        if not isinstance(data, list):
            raise TypeError("seq ranges must be a list")
        for pair in data:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
            ):
                raise ValueError(f"invalid seq range {pair!r}")
            tracker.add_range(pair[0], pair[1])
        return tracker


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

    max_age: timedelta = timedelta(hours=48)
    max_readings: int = 20000
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


def describe_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    """``"5..9, 12"`` for log lines."""
    return ", ".join(str(low) if low == high else f"{low}..{high}" for low, high in ranges)
