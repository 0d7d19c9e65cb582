"""How well a zone keeps its band: time in band over a window, and the current streak.

Pure module, standard library only: the Home Assistant side records a state change
(in band, out of band, or unknown) whenever the zone updates, and asks for shares.
Unknown time (inputs unavailable, before the first reading, Home Assistant not running)
counts neither way.

Time is tallied in fixed buckets (5 minutes by default) over the last 25 hours, so the
history has a bounded size and can be stored across restarts (:meth:`BandClock.to_dict`,
:meth:`BandClock.from_dict`). 25 hours cover the longest local day (the night the clocks
go back) and the rolling 24 hours. A window edge that falls inside a bucket takes the
bucket's share in proportion to the overlap; local midnights of every real time zone fall
on 5-minute boundaries, so "today" is exact and a rolling window is off by at most a
part of one bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
import math

DEFAULT_HISTORY = timedelta(hours=25)
DEFAULT_BUCKET = timedelta(minutes=5)
STORAGE_VERSION = 1


class InvalidClockDataError(ValueError):
    """Stored clock data that is corrupt or does not fit this clock."""


@dataclass(slots=True)
class _Tally:
    """Seconds in band and seconds known within one bucket."""

    in_band: float = 0.0
    known: float = 0.0


class BandClock:
    """The in-band/out-of-band history of one quantity, kept for ``history``."""

    def __init__(
        self, history: timedelta = DEFAULT_HISTORY, bucket: timedelta = DEFAULT_BUCKET
    ) -> None:
        """Start with no history (everything unknown)."""
        if history <= timedelta(0):
            raise ValueError(f"history must be positive, got {history}")
        if bucket <= timedelta(0) or history % bucket:
            raise ValueError(f"bucket {bucket} must be positive and divide history {history}")
        self._history = history.total_seconds()
        self._bucket = bucket.total_seconds()
        self._tallies: dict[int, _Tally] = {}
        self._state: bool | None = None
        self._observed_until: datetime | None = None
        self._streak_start: datetime | None = None

    @property
    def max_buckets(self) -> int:
        """The most buckets the clock ever keeps (and stores)."""
        return int(self._history // self._bucket) + 1

    def record(self, at: datetime, in_band: bool | None) -> None:
        """From ``at`` on the quantity is in band (True), out of band (False) or unknown.

        An ``at`` before the last one means the wall clock was set back (an NTP step, a
        clock without battery): what was tallied after ``at`` is forgotten.
        """
        _require_aware(at)
        if self._observed_until is not None:
            if at < self._observed_until:
                self._forget_after(self._tallies, at)
                if self._streak_start is not None and self._streak_start > at:
                    self._streak_start = at
            else:
                self._add(self._tallies, self._observed_until, at)
        # An unknown stretch neither ends nor starts a streak: only an in-band reading ends it.
        if in_band is True:
            self._streak_start = None
        elif in_band is False and self._streak_start is None:
            self._streak_start = at
        self._state = in_band
        self._observed_until = at
        self._prune(self._tallies, at)

    def _add(self, tallies: dict[int, _Tally], start: datetime, end: datetime) -> None:
        """Tally the current state from ``start`` to ``end`` (only the part within history)."""
        if self._state is None:
            return
        moment = max(start.timestamp(), end.timestamp() - self._history)
        end_ts = end.timestamp()
        while moment < end_ts:
            index = math.floor(moment / self._bucket)
            stop = min((index + 1) * self._bucket, end_ts)
            tally = tallies.setdefault(index, _Tally())
            tally.known += stop - moment
            if self._state:
                tally.in_band += stop - moment
            moment = stop

    def _forget_after(self, tallies: dict[int, _Tally], moment: datetime) -> None:
        """Drop what was tallied after ``moment``; its bucket keeps a proportional share."""
        moment_ts = moment.timestamp()
        current = math.floor(moment_ts / self._bucket)
        for index in [index for index in tallies if index > current]:
            del tallies[index]
        if (tally := tallies.get(current)) is not None:
            elapsed = moment_ts - current * self._bucket
            if tally.known > elapsed:
                scale = elapsed / tally.known
                tallies[current] = _Tally(tally.in_band * scale, elapsed)

    def _prune(self, tallies: dict[int, _Tally], now: datetime) -> None:
        """Forget buckets that ended before the history window."""
        oldest = math.floor((now.timestamp() - self._history) / self._bucket)
        for index in [index for index in tallies if index < oldest]:
            del tallies[index]

    def share(self, since: datetime, until: datetime) -> float | None:
        """Percentage of the known time between ``since`` and ``until`` spent in band."""
        since_ts, until_ts = since.timestamp(), until.timestamp()
        in_band = known = 0.0
        observed_ts = math.inf if self._observed_until is None else self._observed_until.timestamp()
        for index, tally in self._tallies.items():
            start = index * self._bucket
            # The tallied part of the bucket: the current bucket is tallied up to now only.
            stop = min(start + self._bucket, observed_ts)
            overlap = min(stop, until_ts) - max(start, since_ts)
            if overlap <= 0:
                continue
            fraction = overlap / (stop - start)
            in_band += fraction * tally.in_band
            known += fraction * tally.known
        if self._observed_until is not None and self._state is not None:
            ongoing = until_ts - max(observed_ts, since_ts)
            if ongoing > 0:
                known += ongoing
                in_band += ongoing if self._state else 0.0
        if known <= 0:
            return None
        return 100.0 * in_band / known

    def out_of_band_since(self) -> datetime | None:
        """When the current out-of-band streak began, or None when not out of band."""
        return self._streak_start if self._state is False else None

    def to_dict(self, now: datetime) -> dict[str, object]:
        """Everything observed up to ``now``, as JSON-ready data (does not change the clock)."""
        _require_aware(now)
        tallies = {index: _Tally(t.in_band, t.known) for index, t in self._tallies.items()}
        streak_start = self._streak_start
        if self._observed_until is not None:
            if now < self._observed_until:  # the wall clock was set back, as in record()
                self._forget_after(tallies, now)
                streak_start = None if streak_start is None else min(streak_start, now)
            else:
                self._add(tallies, self._observed_until, now)
        self._prune(tallies, now)
        return {
            "version": STORAGE_VERSION,
            "bucket_seconds": self._bucket,
            "observed_until": now.isoformat(),
            "streak_start": None if streak_start is None else streak_start.isoformat(),
            "buckets": [
                [index, round(tally.in_band, 3), round(tally.known, 3)]
                for index, tally in sorted(tallies.items())
            ],
        }

    @classmethod
    def from_dict(
        cls,
        data: object,
        history: timedelta = DEFAULT_HISTORY,
        bucket: timedelta = DEFAULT_BUCKET,
    ) -> BandClock:
        """A clock from :meth:`to_dict` data; what came after it is unknown.

        Raises :class:`InvalidClockDataError` when the data is corrupt or was stored with
        another format or bucket size.
        """
        clock = cls(history, bucket)
        if not isinstance(data, dict):
            raise InvalidClockDataError(f"expected a mapping, got {type(data).__name__}")
        if data.get("version") != STORAGE_VERSION or isinstance(data.get("version"), bool):
            raise InvalidClockDataError(f"unsupported version {data.get('version')!r}")
        if data.get("bucket_seconds") != clock._bucket:
            raise InvalidClockDataError(f"bucket size {data.get('bucket_seconds')!r} s differs")
        observed_until = _parse_time(data.get("observed_until"), "observed_until")
        streak = data.get("streak_start")
        if streak is not None:
            clock._streak_start = _parse_time(streak, "streak_start")
            if clock._streak_start > observed_until:
                raise InvalidClockDataError("streak_start is after observed_until")
        buckets = data.get("buckets")
        if not isinstance(buckets, list) or len(buckets) > clock.max_buckets:
            raise InvalidClockDataError("buckets must be a list of at most max_buckets entries")
        last_index = math.floor(observed_until.timestamp() / clock._bucket)
        for entry in buckets:
            index, tally = clock._parse_bucket(entry)
            if index > last_index or index in clock._tallies:
                raise InvalidClockDataError(f"bucket {index} is after the data or repeated")
            clock._tallies[index] = tally
        clock._observed_until = observed_until
        clock._prune(clock._tallies, observed_until)
        return clock

    def _parse_bucket(self, entry: object) -> tuple[int, _Tally]:
        """One ``[index, in_band_seconds, known_seconds]`` entry."""
        if not isinstance(entry, list) or len(entry) != 3:
            raise InvalidClockDataError(f"bucket {entry!r} is not [index, in band, known]")
        index, in_band, known = entry
        numbers = (in_band, known)
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers)
            or not 0 <= in_band <= known <= self._bucket
        ):
            raise InvalidClockDataError(f"bucket {entry!r} is out of range")
        return index, _Tally(float(in_band), float(known))


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"time {moment} has no time zone")


def _parse_time(value: object, name: str) -> datetime:
    """An ISO 8601 time with a time zone."""
    if not isinstance(value, str):
        raise InvalidClockDataError(f"{name} must be a time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise InvalidClockDataError(f"{name} {value!r} is not a time") from err
    if moment.tzinfo is None:
        raise InvalidClockDataError(f"{name} {value!r} has no time zone")
    return moment
