"""Durable store-and-forward buffer of sensor readings (SQLite in WAL mode).

Every reading is committed here *before* it is published, so nothing that was measured is
lost to a broker outage, a restart, a SIGKILL or a power cut. The outbox assigns each
reading the node's sequence number (``seq``): strictly increasing across all sensors of the
node and never reused, not even after deletes, thinning or a restart, because SQLite's
``AUTOINCREMENT`` keeps the highest number ever handed out in ``sqlite_sequence``, which is
written in the same transaction as the reading itself.

Keeping it bounded (:meth:`Outbox.prune`, to be called periodically):

* **Retention** — readings the broker acknowledged (``mark_sent``) are deleted once they are
  older than the retention window (default 14 days). Readings that were *never* delivered are
  kept beyond the window: they are the only copy of what was measured. They outlive it only
  until the size cap bites.
* **Size cap** — when the pages in use exceed ``max_bytes``, the oldest data is thinned evenly
  over time, sent or not: per sensor, every other reading of the oldest half of the readings
  is dropped, and that is repeated until the database is back under 90 % of the cap (the
  margin keeps thinning from running at every prune). Each round takes the oldest half of
  what is left, so resolution decreases smoothly with age instead of a block of history
  disappearing. The newest day of data (measured from the newest reading, or from now if the
  clock is behind it) is never thinned; if that day alone exceeds the cap, a warning is
  logged and the cap is exceeded rather than recent data lost.
* **File size** — the database uses ``auto_vacuum = INCREMENTAL``: every prune hands freed
  pages back to the file system (``PRAGMA incremental_vacuum``) and checkpoints and truncates
  the WAL, so right after a prune the files on disk fit the cap. Between prunes the WAL adds
  at most a few MB (SQLite's automatic checkpoint every 1000 pages, ``journal_size_limit``).

  SQLite only merges b-tree pages that fall below a third full, so dropping every other row
  frees few pages at first; the loop then thins the oldest data once more before pages are
  released. The cap holds, the thinning stays even, the oldest data just ends up somewhat
  sparser than the bare minimum would require.

The outbox is safe to share between threads (the agent prunes it in a background thread
while its loop appends and marks readings sent): one lock serialises all access to the
single connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
import math
from pathlib import Path
import sqlite3
import threading
from types import TracebackType
from typing import Any, Final, Self

from edge_agent.config import DEFAULT_OUTBOX_BYTES, DEFAULT_RETENTION_DAYS
from edge_agent.sensors import Reading

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_BYTES: Final = DEFAULT_OUTBOX_BYTES
DEFAULT_RETENTION: Final = timedelta(days=DEFAULT_RETENTION_DAYS)
DEFAULT_BATCH_LIMIT = 500
#: Data this close to the newest reading is never thinned by the size cap.
PROTECTED_NEWEST = timedelta(days=1)
#: Smallest accepted size cap: the empty schema alone takes a handful of pages.
MIN_MAX_BYTES = 64 * 1024
#: Thinning stops below this fraction of the cap, so it does not run again at the next prune.
_THINNING_TARGET = 0.9
#: Upper bound of the WAL file after a checkpoint (SQLite truncates it to this size).
_JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024
_SCHEMA_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS readings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        measured_at_us INTEGER NOT NULL,  -- microseconds since the Unix epoch, UTC
        sensor TEXT NOT NULL,
        temperature REAL NOT NULL,
        humidity REAL NOT NULL,
        pressure REAL NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0 CHECK (sent IN (0, 1))
    )
    """,
    # Partial index: the unsent readings are found without scanning the whole history.
    "CREATE INDEX IF NOT EXISTS readings_unsent ON readings (seq) WHERE sent = 0",
    "CREATE INDEX IF NOT EXISTS readings_measured_at ON readings (measured_at_us)",
)

_COLUMNS = "seq, measured_at_us, sensor, temperature, humidity, pressure"

# Per sensor, drop every other reading (keeping the oldest) among the oldest half of that
# sensor's thinnable readings. Partitioning by sensor keeps interleaved sensors balanced.
_THIN_ONE_ROUND = """
    DELETE FROM readings WHERE seq IN (
        SELECT seq FROM (
            SELECT seq,
                   ROW_NUMBER() OVER (PARTITION BY sensor ORDER BY seq) AS position,
                   COUNT(*) OVER (PARTITION BY sensor) AS total
            FROM readings
            WHERE measured_at_us < ?
        )
        WHERE position % 2 = 0 AND position <= total / 2
    )
"""


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A reading as held by the outbox, with the sequence number it was given."""

    seq: int
    reading: Reading


class Outbox:
    """SQLite store of readings: sequence numbers, sent flags, replay, retention, size cap."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retention: timedelta = DEFAULT_RETENTION,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Open (or create) the outbox at ``path``; the parent directory is created if needed."""
        if max_bytes < MIN_MAX_BYTES:
            raise ValueError(f"max_bytes must be at least {MIN_MAX_BYTES}, got {max_bytes}")
        if retention <= timedelta(0):
            raise ValueError(f"retention must be a positive duration, got {retention}")
        self._path = path
        self._max_bytes = max_bytes
        self._retention = retention
        self._now = now
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection: sqlite3.Connection | None = _open_database(path)

    @property
    def path(self) -> Path:
        """Location of the database file."""
        return self._path

    def append(self, reading: Reading) -> StoredReading:
        """Store ``reading`` under the next sequence number; it is durable when this returns."""
        row = _reading_to_row(reading)
        with self._lock:
            # One INSERT in autocommit mode is one transaction: committed and fsynced
            # (synchronous=FULL) before execute() returns.
            cursor = self._open_connection().execute(
                "INSERT INTO readings (measured_at_us, sensor, temperature, humidity, pressure)"
                " VALUES (?, ?, ?, ?, ?)",
                row,
            )
        seq = cursor.lastrowid
        if seq is None:  # pragma: no cover - an INSERT into a rowid table always sets it
            raise RuntimeError("SQLite did not report the sequence number of the new reading")
        return _row_to_stored((seq, *row))

    def mark_sent(self, seqs: Iterable[int]) -> None:
        """Record that the broker acknowledged these readings; unknown numbers are ignored.

        A reading may have been pruned before its acknowledgement arrives, so numbers the
        outbox no longer holds are not an error.
        """
        params: list[tuple[int]] = []
        for seq in seqs:
            if isinstance(seq, bool) or not isinstance(seq, int):
                raise TypeError(f"sequence numbers must be integers, got {seq!r}")
            params.append((seq,))
        if not params:
            return
        with self._lock:
            connection = self._open_connection()
            with _transaction(connection):
                connection.executemany(
                    "UPDATE readings SET sent = 1 WHERE seq = ? AND sent = 0", params
                )

    def unsent(self, limit: int = DEFAULT_BATCH_LIMIT) -> list[StoredReading]:
        """Return up to ``limit`` readings the broker has not acknowledged, oldest first."""
        _check_limit(limit)
        with self._lock:
            rows = (
                self._open_connection()
                .execute(
                    f"SELECT {_COLUMNS} FROM readings WHERE sent = 0 ORDER BY seq LIMIT ?",  # noqa: S608
                    (limit,),
                )
                .fetchall()
            )
        return [_row_to_stored(row) for row in rows]

    def replay_range(
        self, first_seq: int, last_seq: int, limit: int = DEFAULT_BATCH_LIMIT
    ) -> list[StoredReading]:
        """Return up to ``limit`` held readings with ``first_seq <= seq <= last_seq``, oldest first.

        Sent or not: this answers replay requests. Pruned readings are simply absent.
        """
        if first_seq < 0:
            raise ValueError(f"first_seq must be >= 0, got {first_seq}")
        if first_seq > last_seq:
            raise ValueError(
                f"first_seq must not be greater than last_seq, got {first_seq} > {last_seq}"
            )
        _check_limit(limit)
        with self._lock:
            rows = (
                self._open_connection()
                .execute(
                    f"SELECT {_COLUMNS} FROM readings WHERE seq BETWEEN ? AND ?"  # noqa: S608
                    " ORDER BY seq LIMIT ?",
                    (first_seq, last_seq, limit),
                )
                .fetchall()
            )
        return [_row_to_stored(row) for row in rows]

    def depth(self) -> int:
        """Number of readings the broker has not acknowledged."""
        return self._scalar("SELECT COUNT(*) FROM readings WHERE sent = 0") or 0

    def oldest_seq(self) -> int | None:
        """Sequence number of the oldest reading still held, None when empty."""
        return self._scalar("SELECT MIN(seq) FROM readings")

    def last_seq(self) -> int | None:
        """Highest sequence number ever assigned (even if since pruned), None before the first."""
        return self._scalar("SELECT seq FROM sqlite_sequence WHERE name = 'readings'")

    def prune(self) -> int:
        """Apply the retention window and the size cap; return the number of readings removed.

        Thinning a large outbox takes a while on a Pi; the lock is released between thinning
        rounds so that appends and acknowledgements from other threads are not held up.
        """
        now = self._now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"the clock must return an aware datetime, got naive {now!r}")
        with self._lock:
            connection = self._open_connection()
            with _transaction(connection):
                removed = connection.execute(
                    "DELETE FROM readings WHERE sent = 1 AND measured_at_us < ?",
                    (_to_microseconds(now - self._retention),),
                ).rowcount
        removed += self._thin_to_cap(now)
        with self._lock:
            connection = self._open_connection()
            # Hand freed pages back to the file system, then fold the WAL into the database
            # and truncate it: right after a prune the files on disk fit the cap.
            # incremental_vacuum frees one page per step; execute() steps a statement without
            # result columns only once, executescript() steps it to the end.
            connection.executescript("PRAGMA incremental_vacuum;")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        if removed:
            _LOGGER.info("Outbox pruned %d readings", removed)
        return removed

    def close(self) -> None:
        """Close the database; further use raises RuntimeError. Closing twice is harmless."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> Self:
        """Use the outbox as a context manager that closes it on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the outbox."""
        self.close()

    def _thin_to_cap(self, now: datetime) -> int:
        """Thin the oldest readings until the pages in use fit the cap (see module doc)."""
        with self._lock:
            connection = self._open_connection()
            if _bytes_in_use(connection) <= self._max_bytes:
                return 0
            newest = connection.execute("SELECT MAX(measured_at_us) FROM readings").fetchone()[0]
        if newest is None:  # only the empty schema, which is smaller than MIN_MAX_BYTES
            return 0
        # Protect the newest day of *data*: after a week switched off, "the last 24 hours
        # before now" would protect nothing. If the clock is behind the newest timestamp
        # (no RTC, NTP not yet synced), the day before now is protected as well.
        cutoff = min(newest, _to_microseconds(now)) - PROTECTED_NEWEST // _MICROSECOND
        target = int(self._max_bytes * _THINNING_TARGET)
        removed = 0
        while True:
            with self._lock:
                connection = self._open_connection()
                in_use = _bytes_in_use(connection)
                if in_use <= target:
                    return removed
                with _transaction(connection):
                    dropped = connection.execute(_THIN_ONE_ROUND, (cutoff,)).rowcount
            if dropped == 0:
                _LOGGER.warning(
                    "Outbox %s uses %d bytes, over its cap of %d, but nothing older than the "
                    "newest day is left to thin; keeping recent readings rather than the cap",
                    self._path,
                    in_use,
                    self._max_bytes,
                )
                return removed
            removed += dropped

    def _scalar(self, sql: str) -> int | None:
        with self._lock:
            row = self._open_connection().execute(sql).fetchone()
        value: int | None = None if row is None else row[0]
        return value

    def _open_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError(f"outbox {self._path} is closed")
        return self._connection


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if the block raises."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _open_database(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; every statement outside an explicit
    # BEGIN is its own transaction. check_same_thread=False: Outbox serialises with a lock.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    try:
        _prepare_database(connection, path)
    except BaseException:
        connection.close()
        raise
    return connection


def _prepare_database(connection: sqlite3.Connection, path: Path) -> None:
    # Only takes effect on a new database, before the first table exists.
    connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise RuntimeError(f"outbox {path}: SQLite refused WAL mode (journal_mode={mode})")
    # A Pi loses power without warning and SD cards reorder writes. With WAL and
    # synchronous=NORMAL a commit is only fsynced at the next checkpoint, so a power cut can
    # roll back readings that were already published (and their seq would then be reused
    # for a different reading). FULL fsyncs the WAL at every commit: once append() returns,
    # the reading and its seq survive a power cut. (A SIGKILL alone is survived either way:
    # the kernel still holds the written pages.)
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute(f"PRAGMA journal_size_limit = {_JOURNAL_SIZE_LIMIT}")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > _SCHEMA_VERSION:
        raise RuntimeError(
            f"outbox {path} has schema version {version}, newer than this agent "
            f"understands ({_SCHEMA_VERSION}); upgrade rala-edge or move the file away"
        )
    if version < _SCHEMA_VERSION:
        with _transaction(connection):
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")


def _bytes_in_use(connection: sqlite3.Connection) -> int:
    page_size: int = connection.execute("PRAGMA page_size").fetchone()[0]
    page_count: int = connection.execute("PRAGMA page_count").fetchone()[0]
    free_pages: int = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return (page_count - free_pages) * page_size


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be a positive number of readings, got {limit}")


def _to_microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _reading_to_row(reading: Reading) -> tuple[int, str, float, float, float]:
    """Validate a reading and return its column values; raise ValueError, store nothing."""
    if not reading.sensor:
        raise ValueError(f"reading.sensor must be a non-empty string, got {reading.sensor!r}")
    values: list[float] = []
    for name in ("temperature", "humidity", "pressure"):
        value = getattr(reading, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"reading.{name} must be a finite number, got {value!r}")
        values.append(float(value))
    measured_at = reading.measured_at
    if measured_at.tzinfo is None or measured_at.utcoffset() is None:
        raise ValueError(
            f"reading.measured_at must be timezone-aware (UTC), got naive {measured_at!r}"
        )
    temperature, humidity, pressure = values
    return (_to_microseconds(measured_at), reading.sensor, temperature, humidity, pressure)


def _row_to_stored(row: tuple[Any, ...]) -> StoredReading:
    seq, measured_at_us, sensor, temperature, humidity, pressure = row
    return StoredReading(
        seq=seq,
        reading=Reading(
            sensor=sensor,
            temperature=temperature,
            humidity=humidity,
            pressure=pressure,
            measured_at=_EPOCH + timedelta(microseconds=measured_at_us),
        ),
    )
