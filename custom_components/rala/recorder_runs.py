"""Which hours the recorder has compiled: the one place RALA reads the recorder's internals.

Why an adapter: Home Assistant has no public API that says which periods the recorder
has compiled its statistics for (checked in 2026.10 and 2026.11). The events
``EVENT_RECORDER_5MIN_STATISTICS_GENERATED`` and ``..._HOURLY_...`` carry no period, and
after a restart ``compile_missing_statistics`` compiles many periods but fires them for the
last one only; an entity's own statistics exist only for periods it had states in, which
are not the hours a node was offline, the very hours a backfill is for. The recorder keeps
one row per compiled 5-minute period in its ``statistics_runs`` table and finds its newest
run with the query below (``recorder.statistics.compile_missing_statistics``).
``tests/components/rala/test_recorder_runs.py`` fails when the table, the query or the
period the recorder compiles an hour in changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from homeassistant.components.recorder.db_schema import StatisticsRuns
from homeassistant.components.recorder.models import process_timestamp
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance, session_scope
from sqlalchemy import func

from .backfill import hour_start

HOURLY_COMPILE_OFFSET: Final = timedelta(minutes=55)
"""The recorder compiles hour ``H`` in the statistics run of the period starting ``H:55``."""


def _last_statistics_run(hass: HomeAssistant) -> datetime | None:
    """The start of the recorder's latest statistics run (in the recorder's executor)."""
    with session_scope(hass=hass, read_only=True) as session:
        last: datetime | None = session.query(func.max(StatisticsRuns.start)).scalar()
    return process_timestamp(last) if last is not None else None


async def async_last_compiled_hour(hass: HomeAssistant) -> datetime | None:
    """The start of the newest hour the recorder has compiled, ``None`` if none is known.

    The recorder compiles its periods in order and never compiles one again, so every
    hour up to this one is compiled, and none of them will be overwritten by a compile.
    Needs the recorder to be set up.
    """
    instance = get_instance(hass)
    if not await instance.async_db_ready:  # pragma: no cover  # a broken database
        return None
    last_run = await instance.async_add_executor_job(_last_statistics_run, hass)
    if last_run is None:  # pragma: no cover  # a new database records a run at once
        return None
    return hour_start(last_run - HOURLY_COMPILE_OFFSET)
