"""Readings a RALA edge node buffered while offline, into Home Assistant's history.

One :class:`NodeHistory` runs per grow zone that comes from a node (``zone.node_id``). It

- subscribes to the node's live readings (``rala/<node>/sensor/+/state``, every sensor:
  sequence numbers are per node) and to its backfill topic (``rala/<node>/backfill``);
- remembers which sequence numbers it has seen, persistently (a ``Store`` per entry), so
  a gap is found also across a restart of Home Assistant;
- asks the node to replay a gap (``rala/<node>/replay``) after a grace period (the
  node's own backfill after a reconnect usually fills it first), one request at a time
  and at most one per :data:`REPLAY_MIN_INTERVAL`. Whatever a complete answer does not
  hold, and everything below the node's ``oldest_available_seq``, is given up with a log
  line; a request that is not answered is retried :data:`REPLAY_MAX_ATTEMPTS` times;
- imports hourly statistics (mean, min, max) for the node's temperature, humidity and
  pressure sensor entities from backfilled readings, computed from *all* readings of the
  hour it holds, live and backfilled; and for the zone's own derived sensors (air and
  leaf VPD, dew point, absolute humidity), derived per reading as the zone does live.

Interaction with the recorder's own compile
-------------------------------------------
The recorder compiles the hourly statistics of hour ``H`` once, in the statistics run
of the 5-minute period starting at ``H:55``, by *inserting* rows (``session.add_all``,
no check for an existing row) and never touches that hour again (a ``statistics_runs``
row marks the period done). ``async_import_statistics`` instead updates a row that
exists and inserts one that does not. So an hour is imported only once the recorder
has compiled it (:func:`.recorder_runs.async_last_compiled_hour`): the import then
replaces the recorder's compile of the live states (or fills an hour it compiled nothing
for), and no later compile overwrites it. Importing earlier would make the recorder's
insert collide with the imported row and roll back that whole statistics run, for every
entity. Hours waiting for their compile stay pending (persisted) and are retried after
every statistics run. Re-importing an hour recomputes it from the readings held, de-duplicated
by seq, so nothing is counted twice.

Readings are held for :data:`READING_RETENTION` after they arrive, longer while their
hour waits for its import or borders an open gap.

Bounds: whatever arrives, at most :data:`MAX_PENDING_HOURS` hours wait for their import,
:data:`MAX_HELD_READINGS` readings are held and :data:`MAX_SEQ_RANGES` ranges of each
tracker are kept, so the stored state stays under :data:`MAX_STORED_BYTES`. A seq far
from the node's track opens no gap (:class:`.backfill.SeqTrack`). Every refused payload
or reading is counted (:attr:`NodeHistory.counters`, shown in diagnostics).

Known limits: short-term (5-minute) statistics and the ``states`` table are not
backfilled. An hour whose held readings were already dropped (it was imported, or had
no gap next to it, more than :data:`READING_RETENTION` ago) and that gets more readings
later is recomputed from the readings still held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
import json
import logging
from typing import Any, Final
import uuid

from homeassistant.components import mqtt
from homeassistant.components.mqtt import ReceiveMessage
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    STATISTIC_UNIT_TO_UNIT_CONVERTER,
    UNIT_CLASS_TO_UNIT_CONVERTER,
    async_import_statistics,
    get_metadata,
)
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_RECORDER_5MIN_STATISTICS_GENERATED,
    PERCENTAGE,
    UnitOfDensity,
    UnitOfPressure,
    UnitOfTemperature,
)
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .backfill import (
    HOUR,
    MAX_BACKFILL_READINGS,
    MAX_READING_AGE,
    MAX_READING_LEAD,
    HourStatistics,
    NodeHistoryConfig,
    NodeReading,
    ReadingBuffer,
    ReadingPayloadError,
    Rejection,
    SeqTrack,
    SeqTracker,
    describe_ranges,
    hour_start,
    hourly_series,
    hourly_statistics,
    parse_backfill,
    parse_live_reading,
    parse_timestamp,
)
from .const import DOMAIN, MQTT_PLATFORM
from .derived import derive
from .node_protocol import Topics, sensor_from_state_topic
from .psychrometrics import PsychrometricsError
from .recorder_runs import async_last_compiled_hour
from .unique_ids import zone_entity_unique_id

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 120.0
"""Seconds changes wait before they are written (and on unload). Losing them in a crash
only means asking the node again for readings it already sent."""
REPLAY_GRACE: Final = timedelta(seconds=30)
"""How long a gap may stay open before it is asked for (the node's own backfill first)."""
REPLAY_MIN_INTERVAL: Final = timedelta(seconds=60)
"""At most one replay request per this interval."""
REPLAY_TIMEOUT: Final = timedelta(seconds=120)
"""A replay request not answered completely within this is retried (or given up)."""
REPLAY_MAX_ATTEMPTS: Final = 3
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
REJECTION_COUNTERS: Final[Mapping[Rejection, str]] = {
    Rejection.OUT_OF_RANGE: "out_of_range_values",
    Rejection.OUTSIDE_TIME_WINDOW: "outside_time_window",
}
"""The counter of each kind of rejection besides the totals (malformed ones have none)."""
RECORDER_SOURCE: Final = "recorder"
NATIVE_UNITS: Final[Mapping[str, str]] = {
    "temperature": UnitOfTemperature.CELSIUS,
    "humidity": PERCENTAGE,
    "pressure": UnitOfPressure.HPA,
}
"""The units of the wire format (docs/protocol.md)."""
DERIVED_UNITS: Final[Mapping[str, str]] = {
    "air_vpd": UnitOfPressure.KPA,
    "leaf_vpd": UnitOfPressure.KPA,
    "dew_point": UnitOfTemperature.CELSIUS,
    "absolute_humidity": UnitOfDensity.GRAMS_PER_CUBIC_METER,
}
"""The zone's derived sensors (keys of :class:`.derived.DerivedValues` and of the entities)."""


@dataclass(slots=True)
class _ReplayRequest:
    request_id: str
    first: int
    last: int


class NodeHistory:
    """Backfill, gap detection and replay, and statistics import of one node zone."""

    def __init__(self, hass: HomeAssistant, config: NodeHistoryConfig) -> None:
        """Bind to the node and the zone ``config`` names."""
        self.hass = hass
        self.config = config
        self.node_id = config.node_id
        self.topics = Topics(config.node_id)
        self._store = _store(hass, config.entry_id)
        self.seen = SeqTracker(max_ranges=MAX_SEQ_RANGES, forget=True)
        """Seqs received (live or backfilled), to de-duplicate."""
        self.closed = SeqTracker(max_ranges=MAX_SEQ_RANGES)
        """Seqs received on the track or given up: its gaps are what is still asked for."""
        self.track = SeqTrack()
        self.buffer = ReadingBuffer(max_age=READING_RETENTION, max_readings=MAX_HELD_READINGS)
        self.pending_hours: set[datetime] = set()
        """Hours with new backfilled readings, waiting for their import."""
        self._request: _ReplayRequest | None = None
        self._attempts: dict[tuple[int, int], int] = {}
        self._last_request_sent: datetime | None = None
        self._replay_timer: CALLBACK_TYPE | None = None
        self._timeout_timer: CALLBACK_TYPE | None = None
        self._unsubscribers: list[CALLBACK_TYPE] = []
        self._flush_lock = asyncio.Lock()
        self._recorder_missing_logged = False
        self._running = False
        self.counters: dict[str, int] = dict.fromkeys(
            (
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
            ),
            0,
        )

    # --- life cycle ---------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore what was seen, subscribe, and resume pending replays and imports."""
        await self._async_restore()
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            _LOGGER.warning(
                "Node %s: MQTT is not available, buffered readings are not backfilled",
                self.node_id,
            )
            return
        self._running = True
        self._unsubscribers.append(
            await mqtt.async_subscribe(
                self.hass,
                self.topics.sensor_state_filter,
                self._async_live_received,
                qos=1,
                encoding=None,
            )
        )
        self._unsubscribers.append(
            await mqtt.async_subscribe(
                self.hass,
                self.topics.backfill,
                self._async_backfill_received,
                qos=1,
                encoding=None,
            )
        )
        self._unsubscribers.append(
            self.hass.bus.async_listen(
                EVENT_RECORDER_5MIN_STATISTICS_GENERATED, self._async_statistics_generated
            )
        )
        self._schedule_replay()
        self._schedule_flush()

    async def async_stop(self) -> None:
        """Unsubscribe, cancel timers and write what was seen."""
        self._running = False
        while self._unsubscribers:
            self._unsubscribers.pop()()
        for timer in (self._replay_timer, self._timeout_timer):
            if timer is not None:
                timer()
        self._replay_timer = self._timeout_timer = None
        await self._store.async_save(self._data_to_save())

    async def _async_restore(self) -> None:
        data = await self._store.async_load()
        if not data:
            return
        try:
            seen = SeqTracker.from_json(data["seen"], MAX_SEQ_RANGES, forget=True)
            closed = SeqTracker.from_json(data["closed"], MAX_SEQ_RANGES)
            pending = {parse_timestamp(value) for value in data["pending_hours"]}
            buffer = ReadingBuffer(max_age=READING_RETENTION, max_readings=MAX_HELD_READINGS)
            buffer.load_json(data["readings"])
        except (KeyError, TypeError, ValueError) as err:
            _LOGGER.warning(
                "Node %s: stored backfill state is unusable, starting afresh: %s", self.node_id, err
            )
            return
        self.seen, self.closed, self.buffer = seen, closed, buffer
        # A version without the time window may have stored hours that never come.
        now = dt_util.utcnow()
        self.pending_hours = {
            hour
            for hour in pending
            if now - MAX_READING_AGE - HOUR <= hour <= now + MAX_READING_LEAD
        }
        self._bound_pending_hours()

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        # Keep what an import still needs: pending hours, and the hours at the edges of
        # open gaps (an outage longer than the retention must not lose the live part of
        # the hour it began in).
        keep = self.pending_hours | self.buffer.hours_next_to(self.closed.gaps())
        self.buffer.prune(dt_util.utcnow(), keep_hours=keep)
        return {
            "seen": self.seen.as_json(),
            "closed": self.closed.as_json(),
            "pending_hours": sorted(hour.isoformat() for hour in self.pending_hours),
            "readings": self.buffer.as_json(),
        }

    @callback
    def _save(self) -> None:
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY)

    # --- receiving ------------------------------------------------------------------------------

    @callback
    def _async_live_received(self, msg: ReceiveMessage) -> None:
        if msg.retain:
            # Live readings are never retained (protocol); a retained one is stale.
            _LOGGER.debug(
                "Node %s: ignoring a retained live reading on %s", self.node_id, msg.topic
            )
            return
        sensor = sensor_from_state_topic(msg.topic)
        if sensor is None:  # pragma: no cover  # the subscription delivers state topics only
            return
        try:
            reading = parse_live_reading(_as_bytes(msg.payload), sensor, now=dt_util.utcnow())
        except ReadingPayloadError as err:
            self._count_rejection("rejected_payloads", err.rejection)
            _LOGGER.warning(
                "Node %s: ignoring live reading on %s: %s", self.node_id, msg.topic, err
            )
            return
        if not self._accept(reading, live=True):
            return
        self.counters["live_readings"] += 1
        self._schedule_replay()
        self._save()

    @callback
    def _async_backfill_received(self, msg: ReceiveMessage) -> None:
        if msg.retain:
            _LOGGER.warning("Node %s: ignoring a retained backfill batch", self.node_id)
            return
        try:
            batch = parse_backfill(_as_bytes(msg.payload), self.node_id, now=dt_util.utcnow())
        except ReadingPayloadError as err:
            self._count_rejection("rejected_payloads", err.rejection)
            _LOGGER.warning("Node %s: ignoring backfill batch: %s", self.node_id, err)
            return
        for left_out in batch.rejected:
            _LOGGER.warning("Node %s: backfill reading left out: %s", self.node_id, left_out)
            self._count_rejection("rejected_readings", left_out.rejection)
        jumps = self.counters["seq_jumps"]
        for reading in batch.readings:
            if self._accept(reading, live=False):
                self.counters["backfilled_readings"] += 1
                if reading.sensor == self.config.sensor_key:
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
        self._bound_pending_hours()
        if batch.oldest_available_seq is not None:
            self._give_up_below(batch.oldest_available_seq)
        request = self._request
        if (
            request is not None
            and batch.request_id == request.request_id
            and (
                batch.received_count < MAX_BACKFILL_READINGS
                or batch.last_seq is None
                or batch.last_seq >= request.last
            )
        ):
            self._request_answered(request, batch.oldest_available_seq)
        self._schedule_flush()
        self._save()

    @callback
    def _count_rejection(self, total: str, rejection: Rejection) -> None:
        self.counters[total] += 1
        if (counter := REJECTION_COUNTERS.get(rejection)) is not None:
            self.counters[counter] += 1

    @callback
    def _bound_pending_hours(self) -> None:
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

    @callback
    def _accept(self, reading: NodeReading, *, live: bool) -> bool:
        """Record a reading; ``False`` (and nothing changes) if its seq was received before.

        A reading off the seq track (:class:`.backfill.SeqTrack`) is used, but opens no gap.
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
        if reading.sensor == self.config.sensor_key:
            self.buffer.add(reading, dt_util.utcnow())
        return True

    @callback
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

    @callback
    def _give_up(self, first: int, last: int, why: str) -> None:
        open_ranges = self.closed.missing_in(first, last)
        if not open_ranges:
            return
        for low, high in open_ranges:
            self.counters["given_up_seqs"] += self.closed.settle(low, high)
        _LOGGER.warning(
            "Node %s: giving up readings %s: %s", self.node_id, describe_ranges(open_ranges), why
        )

    @callback
    def _give_up_below(self, oldest_available: int) -> None:
        # With oldest_available 0 the range is empty and nothing is given up.
        self._give_up(
            0,
            oldest_available - 1,
            f"the node no longer holds them (its outbox starts at {oldest_available})",
        )

    @callback
    def _request_answered(self, request: _ReplayRequest, oldest_available: int | None) -> None:
        self._cancel_timeout()
        self._request = None
        self._attempts.pop((request.first, request.last), None)
        self._give_up(
            request.first,
            request.last,
            f"the node does not hold them (replay {request.request_id}, "
            f"outbox starts at {oldest_available})",
        )
        self._schedule_replay()

    @callback
    def _schedule_replay(self) -> None:
        if (
            not self._running
            or self._replay_timer is not None
            or self._request is not None
            or not self.closed.gaps()
        ):
            return
        delay = REPLAY_GRACE
        if self._last_request_sent is not None:
            delay = max(delay, self._last_request_sent + REPLAY_MIN_INTERVAL - dt_util.utcnow())
        self._replay_timer = async_call_later(
            self.hass, delay.total_seconds(), self._async_send_replay
        )

    async def _async_send_replay(self, _now: datetime) -> None:
        self._replay_timer = None
        gaps = self.closed.gaps()
        if not self._running or self._request is not None or not gaps:
            return
        # Close gaps together while one answer batch can hold the whole span.
        first, last = gaps[0]
        for _low, high in gaps[1:]:
            if high - first >= MAX_BACKFILL_READINGS:
                break
            last = high
        request = _ReplayRequest(uuid.uuid4().hex, first, last)
        self._request = request
        self._last_request_sent = dt_util.utcnow()
        self.counters["replay_requests"] += 1
        payload = json.dumps({"request_id": request.request_id, "from_seq": first, "to_seq": last})
        _LOGGER.info("Node %s: asking for readings %d..%d", self.node_id, first, last)
        self._timeout_timer = async_call_later(
            self.hass, REPLAY_TIMEOUT.total_seconds(), self._async_replay_timed_out
        )
        try:
            await mqtt.async_publish(self.hass, self.topics.replay, payload, qos=1, retain=False)
        except HomeAssistantError as err:
            _LOGGER.warning("Node %s: replay request not sent: %s", self.node_id, err)

    @callback
    def _async_replay_timed_out(self, _now: datetime) -> None:
        self._timeout_timer = None
        request, self._request = self._request, None
        if request is None:  # pragma: no cover  # the answer cancels the timer
            return
        key = (request.first, request.last)
        self._attempts[key] = attempts = self._attempts.get(key, 0) + 1
        if attempts >= REPLAY_MAX_ATTEMPTS:
            del self._attempts[key]
            self._give_up(request.first, request.last, f"no answer to {attempts} replay requests")
            self._save()
        self._schedule_replay()

    @callback
    def _cancel_timeout(self) -> None:
        if self._timeout_timer is not None:
            self._timeout_timer()
            self._timeout_timer = None

    # --- statistics -------------------------------------------------------------------------------

    @callback
    def _async_statistics_generated(self, _event: Event) -> None:
        self._schedule_flush()

    @callback
    def _schedule_flush(self) -> None:
        if self.pending_hours and self._running:
            self.hass.async_create_task(self.async_flush(), eager_start=False)

    async def async_flush(self) -> None:
        """Import the pending hours the recorder has compiled (see the module docstring)."""
        async with self._flush_lock:
            if not self.pending_hours:
                return
            if "recorder" not in self.hass.config.components:
                if not self._recorder_missing_logged:
                    self._recorder_missing_logged = True
                    _LOGGER.warning(
                        "Node %s: the recorder is not running, backfilled readings are "
                        "not written to the statistics",
                        self.node_id,
                    )
                return
            if (last_compiled := await async_last_compiled_hour(self.hass)) is None:
                return
            ready = sorted(hour for hour in self.pending_hours if hour <= last_compiled)
            if not ready:
                return
            readings = self.buffer.in_hours(ready)
            node_entities = self._statistic_entities()
            for quantity, entity_id in node_entities.items():
                if hours := hourly_statistics(readings, quantity):
                    await self._async_import(entity_id, NATIVE_UNITS[quantity], hours)
            for entity_id, unit, hours in self._derived_statistics(readings, node_entities):
                await self._async_import(entity_id, unit, hours)
            self.pending_hours.difference_update(ready)
            self.counters["imported_hours"] += len(ready)
            self._save()

    def _statistic_entities(self) -> dict[str, str]:
        """The node's sensor entity of each quantity, as registered by MQTT discovery."""
        registry = er.async_get(self.hass)
        return {
            quantity: entity_id
            for quantity, unique_id in self.config.sensor_unique_ids.items()
            if (entity_id := registry.async_get_entity_id("sensor", MQTT_PLATFORM, unique_id))
        }

    def _derived_statistics(
        self, readings: list[NodeReading], node_entities: Mapping[str, str]
    ) -> list[tuple[str, str, list[HourStatistics]]]:
        """Hourly statistics of the zone's own derived sensors (VPD, dew point, ...).

        Only while the zone reads the node's temperature and humidity entities (else its
        derived values come from other sensors). Each reading is derived as the zone
        would have derived it live, with the current leaf offset; leaf VPD is left out
        when a leaf temperature sensor is configured (its readings are not backfilled).
        """
        config = self.config
        if (
            node_entities.get("temperature") != config.temperature_entity_id
            or node_entities.get("humidity") != config.humidity_entity_id
        ):
            return []
        series: dict[str, list[tuple[datetime, float | None]]] = {key: [] for key in DERIVED_UNITS}
        for reading in readings:
            if reading.temperature is None or reading.humidity is None:
                continue
            try:
                derived = derive(reading.temperature, reading.humidity, None, config.leaf_offset)
            except PsychrometricsError:
                continue
            for key in DERIVED_UNITS:
                series[key].append((reading.ts, getattr(derived, key)))
        if config.leaf_temperature_measured:
            del series["leaf_vpd"]
        registry = er.async_get(self.hass)
        result = []
        for key, points in series.items():
            unique_id = zone_entity_unique_id(config.entry_id, key)
            if (entity_id := registry.async_get_entity_id("sensor", DOMAIN, unique_id)) and (
                hours := hourly_series(points)
            ):
                result.append((entity_id, DERIVED_UNITS[key], hours))
        return result

    async def _async_import(self, entity_id: str, native: str, hours: list[HourStatistics]) -> None:
        """Import ``hours`` (values in ``native`` units) as the statistics of ``entity_id``."""
        instance = get_instance(self.hass)
        existing = await instance.async_add_executor_job(
            partial(get_metadata, self.hass, statistic_ids={entity_id})
        )
        if entity_id in existing:
            old = existing[entity_id][1]
            if old["has_sum"] or old["mean_type"] is StatisticMeanType.NONE:
                _LOGGER.warning(
                    "Node %s: %s has no mean statistics, backfill not imported",
                    self.node_id,
                    entity_id,
                )
                return
            mean_type, unit, unit_class = (
                old["mean_type"],
                old["unit_of_measurement"],
                old["unit_class"],
            )
        else:
            state = self.hass.states.get(entity_id)
            unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT, native) if state else native
            converter = STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)
            mean_type = StatisticMeanType.ARITHMETIC
            unit_class = converter.UNIT_CLASS if converter else None
        convert = _converter(native, unit, unit_class)
        if convert is None:
            _LOGGER.warning(
                "Node %s: cannot convert %s to %s for %s, backfill not imported",
                self.node_id,
                native,
                unit,
                entity_id,
            )
            return
        metadata: StatisticMetaData = {
            "mean_type": mean_type,
            "has_sum": False,
            "name": None,
            "source": RECORDER_SOURCE,
            "statistic_id": entity_id,
            "unit_class": unit_class,
            "unit_of_measurement": unit,
        }
        statistics: list[StatisticData] = [
            {
                "start": hour.start,
                "mean": convert(hour.mean),
                "min": convert(hour.min),
                "max": convert(hour.max),
            }
            for hour in hours
        ]
        _LOGGER.debug("Node %s: importing %d hours into %s", self.node_id, len(hours), entity_id)
        async_import_statistics(self.hass, metadata, statistics)

    # --- diagnostics ----------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """What diagnostics show."""
        return {
            "highest_seq": self.closed.highest,
            "open_gaps": [list(gap) for gap in self.closed.gaps()][:20],
            "replay_request": None
            if self._request is None
            else {"from_seq": self._request.first, "to_seq": self._request.last},
            "pending_hours": sorted(hour.isoformat() for hour in self.pending_hours),
            "held_readings": len(self.buffer),
            "counters": dict(self.counters),
        }


def _as_bytes(payload: str | bytes | bytearray) -> bytes:
    return payload.encode() if isinstance(payload, str) else bytes(payload)


def _converter(
    native: str, unit: str | None, unit_class: str | None
) -> Callable[[float], float] | None:
    """Native unit → statistics unit, or ``None`` if not convertible."""
    if unit == native:
        return lambda value: value
    converter = UNIT_CLASS_TO_UNIT_CONVERTER.get(unit_class)
    if (
        converter is None
        or native not in converter.VALID_UNITS
        or unit not in converter.VALID_UNITS
    ):
        return None
    return partial(converter.convert, from_unit=native, to_unit=unit)


# --- wiring ---------------------------------------------------------------------------------------


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.history.{entry_id}", private=True)


async def async_start_history(hass: HomeAssistant, config: NodeHistoryConfig) -> NodeHistory:
    """Start the backfill of a node zone (``NodeHistory.async_stop`` ends it)."""
    history = NodeHistory(hass, config)
    await history.async_start()
    return history


async def async_remove_history(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the stored state of a removed zone."""
    await _store(hass, entry_id).async_remove()
