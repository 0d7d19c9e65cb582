"""The backfill import on a real PostgreSQL and a real MariaDB, with HA's real recorder.

The SQLite tests (test_history.py) check the import in depth; this suite checks that the
same import holds on the databases installations run in production: a node's buffered
readings become hourly statistics once, and the same readings sent again add nothing.
Each server is started for the suite from a fresh data directory and stopped after it.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
import itertools

from homeassistant.helpers.recorder import get_instance
import pytest
import pytest_socket

from tests.databases import DatabaseServer, running_server
from tests.reliability.figures import record, scaled

from .node_zone import (
    BACKFILL_TOPIC,
    ENTITIES,
    Setup,
    backfill_batch,
    expected_hourly,
    full_hour,
    hourly_rows,
    hourly_statistics,
    mock_recorder_before_hass,
    node,
    node_reading,
    wait_recorder,
    wait_until,
    zone,
)

__all__ = ["mock_recorder_before_hass", "node", "zone"]  # fixtures, used by name

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

_database_names = itertools.count()


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def database_server(request: pytest.FixtureRequest) -> Iterator[DatabaseServer]:
    """One server per database for the module's tests, stopped after them."""
    # Module scope: set up before the test's own ``sockets_allowed``, under HA's socket block.
    pytest_socket.enable_socket()
    with running_server(request.param) as server:
        yield server


@pytest.fixture
def recorder_db_url(database_server: DatabaseServer, sockets_allowed: None) -> str:
    """The harness's recorder URL, pointed at a fresh database on the test's server."""
    return database_server.create_database(f"rala_test_{next(_database_names)}")


async def test_backfill_imports_hours_once(zone: Setup, database_server: DatabaseServer) -> None:
    """Buffered readings become hourly statistics; sending them again adds nothing."""
    hass = zone.hass
    # The recorder really writes to the server under test, not to a SQLite fallback.
    backend = get_instance(hass).engine.url.get_backend_name()  # type: ignore[union-attr]
    assert backend == {"postgresql": "postgresql", "mariadb": "mysql"}[database_server.name]
    hours = scaled(4, 24)
    first = full_hour(-(hours + 1))
    per_hour = 8  # a reading every 7.5 minutes
    readings = [
        node_reading(seq, first + timedelta(minutes=7.5 * index))
        for index, seq in enumerate(range(1, hours * per_hour + 1))
    ]
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(readings))
    await wait_until("the import", lambda: zone.history.state.counters["imported_hours"] == hours)
    await wait_recorder(hass)

    end = full_hour(0)
    imported = {}
    for quantity, entity_id in ENTITIES.items():
        imported[quantity] = hourly_rows(await hourly_statistics(hass, entity_id, first, end))
        assert imported[quantity].keys() == expected_hourly(readings, quantity).keys()
        for start, values in expected_hourly(readings, quantity).items():
            assert imported[quantity][start] == pytest.approx(values, rel=1e-9)
    assert not zone.history.state.pending_hours

    # The node replays the same readings (say the PUBACK got lost): nothing changes.
    await zone.deliver(BACKFILL_TOPIC, backfill_batch(readings))
    assert zone.history.state.counters["duplicate_readings"] == len(readings)
    assert zone.history.state.counters["imported_hours"] == hours
    await wait_recorder(hass)
    duplicated = 0
    for quantity, entity_id in ENTITIES.items():
        again = hourly_rows(await hourly_statistics(hass, entity_id, first, end))
        duplicated += len(again) - len(imported[quantity])
        assert again == imported[quantity]

    lost_hours = expected_hourly(readings, "temperature").keys() - imported["temperature"].keys()
    record(
        "database",
        database=database_server.name,
        readings=len(readings),
        replayed_readings=len(readings),
        hours_imported=zone.history.state.counters["imported_hours"],
        readings_lost=sum(1 for reading in readings if _hour_of(reading["ts"]) in lost_hours),
        readings_duplicated=duplicated,
    )


def _hour_of(timestamp: str) -> float:
    """The start (epoch) of the hour of a reading's timestamp."""
    moment = datetime.fromisoformat(timestamp)
    return moment.replace(minute=0, second=0, microsecond=0).timestamp()
