"""Readings a RALA edge node buffered while offline, into Home Assistant's history.

One :class:`NodeHistory` runs per grow zone that comes from a node (``zone.node_id``). It
is the Home Assistant side (MQTT, timers, ``Store``, recorder); the bookkeeping of what
was received, asked for and imported is :class:`.backfill.BackfillState` (pure). It

- subscribes to the node's live readings (``rala/<node>/sensor/+/state``, every sensor:
  sequence numbers are per node) and to its backfill topic (``rala/<node>/backfill``);
- remembers which sequence numbers it has seen, persistently (a ``Store`` per entry), so
  a gap is found also across a restart of Home Assistant;
- asks the node to replay a gap (``rala/<node>/replay``) after a grace period (the
  node's own backfill after a reconnect usually fills it first), one request at a time
  and at most one per :data:`REPLAY_MIN_INTERVAL`. Whatever a complete answer does not
  hold, and everything below the node's ``oldest_available_seq``, is given up with a log
  line; a request that is not answered is retried
  :data:`.backfill.REPLAY_MAX_ATTEMPTS` times;
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
every statistics run. Re-importing an hour recomputes it from the readings held,
de-duplicated by seq, so nothing is counted twice.

Readings are held for :data:`.backfill.READING_RETENTION` after they arrive, longer while
their hour waits for its import or borders an open gap.

Bounds (:mod:`.backfill`): whatever arrives, at most ``MAX_PENDING_HOURS`` hours wait for
their import, ``MAX_HELD_READINGS`` readings are held and ``MAX_SEQ_RANGES`` ranges of
each tracker are kept, so the stored state stays under ``MAX_STORED_BYTES``. A seq far
from the node's track opens no gap (:class:`.backfill.SeqTrack`). Every refused payload
or reading is counted (:attr:`.backfill.BackfillState.counters`, shown in diagnostics).

Known limits: short-term (5-minute) statistics and the ``states`` table are not
backfilled. An hour whose held readings were already dropped (it was imported, or had
no gap next to it, more than ``READING_RETENTION`` ago) and that gets more readings
later is recomputed from the readings still held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
import logging
from typing import Any, Final

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
    BackfillState,
    HourStatistics,
    NodeHistoryConfig,
    NodeReading,
    ReadingPayloadError,
    derived_hourly_statistics,
    hourly_statistics,
    parse_backfill,
    parse_live_reading,
)
from .const import DOMAIN, MQTT_PLATFORM
from .node_protocol import Topics, sensor_from_state_topic
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


class NodeHistory:
    """Backfill, gap detection and replay, and statistics import of one node zone.

    The HA side only: MQTT subscriptions, timers, the ``Store`` and the recorder. What
    was received, asked for and imported is kept in :attr:`state`
    (:class:`.backfill.BackfillState`).
    """

    def __init__(self, hass: HomeAssistant, config: NodeHistoryConfig) -> None:
        """Bind to the node and the zone ``config`` names."""
        self.hass = hass
        self.config = config
        self.node_id = config.node_id
        self.topics = Topics(config.node_id)
        self.state = BackfillState(config.node_id, config.sensor_key)
        self._store = _store(hass, config.entry_id)
        self._replay_timer: CALLBACK_TYPE | None = None
        self._timeout_timer: CALLBACK_TYPE | None = None
        self._unsubscribers: list[CALLBACK_TYPE] = []
        self._flush_lock = asyncio.Lock()
        self._recorder_missing_logged = False
        self._running = False

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
            self.state = BackfillState.from_json(
                data, self.config.node_id, self.config.sensor_key, now=dt_util.utcnow()
            )
        except (KeyError, TypeError, ValueError) as err:
            _LOGGER.warning(
                "Node %s: stored backfill state is unusable, starting afresh: %s", self.node_id, err
            )

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        return self.state.as_json(dt_util.utcnow())

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
        now = dt_util.utcnow()
        try:
            reading = parse_live_reading(_as_bytes(msg.payload), sensor, now=now)
        except ReadingPayloadError as err:
            self.state.count_rejection("rejected_payloads", err.rejection)
            _LOGGER.warning(
                "Node %s: ignoring live reading on %s: %s", self.node_id, msg.topic, err
            )
            return
        if not self.state.receive_live(reading, now):
            return
        self._schedule_replay()
        self._save()

    @callback
    def _async_backfill_received(self, msg: ReceiveMessage) -> None:
        if msg.retain:
            _LOGGER.warning("Node %s: ignoring a retained backfill batch", self.node_id)
            return
        now = dt_util.utcnow()
        try:
            batch = parse_backfill(_as_bytes(msg.payload), self.node_id, now=now)
        except ReadingPayloadError as err:
            self.state.count_rejection("rejected_payloads", err.rejection)
            _LOGGER.warning("Node %s: ignoring backfill batch: %s", self.node_id, err)
            return
        if self.state.receive_backfill(batch, now):
            self._cancel_timeout()
            self._schedule_replay()
        self._schedule_flush()
        self._save()

    # --- replay ---------------------------------------------------------------------------------

    @callback
    def _schedule_replay(self) -> None:
        if (
            not self._running
            or self._replay_timer is not None
            or self.state.request is not None
            or not self.state.closed.gaps()
        ):
            return
        delay = REPLAY_GRACE
        if (last_sent := self.state.last_request_sent) is not None:
            delay = max(delay, last_sent + REPLAY_MIN_INTERVAL - dt_util.utcnow())
        self._replay_timer = async_call_later(
            self.hass, delay.total_seconds(), self._async_send_replay
        )

    async def _async_send_replay(self, _now: datetime) -> None:
        self._replay_timer = None
        if not self._running or (request := self.state.next_request(dt_util.utcnow())) is None:
            return
        _LOGGER.info(
            "Node %s: asking for readings %d..%d", self.node_id, request.first, request.last
        )
        self._timeout_timer = async_call_later(
            self.hass, REPLAY_TIMEOUT.total_seconds(), self._async_replay_timed_out
        )
        try:
            await mqtt.async_publish(
                self.hass, self.topics.replay, request.payload(), qos=1, retain=False
            )
        except HomeAssistantError as err:
            _LOGGER.warning("Node %s: replay request not sent: %s", self.node_id, err)

    @callback
    def _async_replay_timed_out(self, _now: datetime) -> None:
        self._timeout_timer = None
        if self.state.request_timed_out():
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
        if self.state.pending_hours and self._running:
            self.hass.async_create_task(self.async_flush(), eager_start=False)

    async def async_flush(self) -> None:
        """Import the pending hours the recorder has compiled (see the module docstring)."""
        async with self._flush_lock:
            if not self.state.pending_hours:
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
            # Taken before the first await: readings of these hours that arrive meanwhile
            # make them pending again, for the next import.
            ready = self.state.take_ready_hours(last_compiled)
            if not ready:
                return
            readings = self.state.buffer.in_hours(ready)
            try:
                node_entities = self._statistic_entities()
                for quantity, entity_id in node_entities.items():
                    if hours := hourly_statistics(readings, quantity):
                        await self._async_import(entity_id, NATIVE_UNITS[quantity], hours)
                for entity_id, unit, hours in self._derived_statistics(readings, node_entities):
                    await self._async_import(entity_id, unit, hours)
            except BaseException:
                self.state.hours_not_imported(ready)
                raise
            self.state.hours_imported(ready)
            self._save()
            again = not self.state.pending_hours.isdisjoint(ready)
        if again:  # readings of these hours arrived during the import: import them again
            self._schedule_flush()

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
        derived values come from other sensors), see
        :func:`.backfill.derived_hourly_statistics`.
        """
        config = self.config
        if (
            node_entities.get("temperature") != config.temperature_entity_id
            or node_entities.get("humidity") != config.humidity_entity_id
        ):
            return []
        # A leaf temperature sensor's readings are not backfilled: no leaf VPD without them.
        keys = [
            key
            for key in DERIVED_UNITS
            if not (key == "leaf_vpd" and config.leaf_temperature_measured)
        ]
        registry = er.async_get(self.hass)
        result = []
        for key, hours in derived_hourly_statistics(readings, config.leaf_offset, keys).items():
            unique_id = zone_entity_unique_id(config.entry_id, key)
            if entity_id := registry.async_get_entity_id("sensor", DOMAIN, unique_id):
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
        return self.state.as_dict()


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
