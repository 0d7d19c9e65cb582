"""Real PostgreSQL and MariaDB servers for tests: fresh data directory, loopback port, stop.

Each server runs as a child process of the test run, from a data directory made for it in a
temporary directory, listening on a free port of 127.0.0.1 only. ``start`` waits until
the server answers a query through the driver Home Assistant's recorder uses for it;
``stop`` shuts it down and removes the data directory, so no server outlives the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import os
from pathlib import Path
import pwd
import shutil
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pymysql

from tests.mosquitto import free_port

START_TIMEOUT = 30.0  # seconds; a healthy server starts in one or two
STOP_TIMEOUT = 15.0
POSTGRES_USER = "postgres"  # the superuser initdb creates, and the system user that runs it
DATABASE = "rala_test"


class DatabaseServer(Protocol):
    """What a test needs of a running database server."""

    name: str

    def create_database(self, database: str) -> str:
        """Create an empty ``database`` and return the recorder's URL for it."""
        ...


class ServerStartError(RuntimeError):
    """The server could not be prepared or did not answer in time (its log is in the message)."""


def _log_tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _run(command: list[str], *, user: str | None = None) -> None:
    """Run a preparation step; its output is in the error when it fails."""
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, user=user)
    except FileNotFoundError as error:
        raise ServerStartError(f"{command[0]} is not installed (run scripts/setup)") from error
    except subprocess.CalledProcessError as error:
        raise ServerStartError(
            f"{' '.join(command)} failed:\n{error.stdout}\n{error.stderr}"
        ) from error


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the server to shut down; kill it if it does not within the bound."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


def _wait_until_answering(
    process: subprocess.Popen[bytes], log: Path, name: str, probe: ProbeQuery
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"{name} exited with {process.returncode} while starting:\n{_log_tail(log)}"
            )
        try:
            probe()
        except Exception as error:  # noqa: BLE001 - any refusal means "not yet"
            last_error = error
            time.sleep(0.1)
        else:
            return
    _stop(process)
    raise ServerStartError(
        f"{name} did not answer within {START_TIMEOUT:.0f} s ({last_error}):\n{_log_tail(log)}"
    )


class ProbeQuery(Protocol):
    """A trivial query through the driver: returns when the server answers."""

    def __call__(self) -> None:
        """Connect, run the query, disconnect; raise while the server does not answer."""


def postgres_bin_directory() -> Path:
    """The newest PostgreSQL's programs (Debian installs them per major version)."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (path for path in root.glob("*") if (path / "bin" / "postgres").is_file()),
        key=lambda path: int(path.name) if path.name.isdigit() else 0,
    )
    if not versions:
        raise ServerStartError("PostgreSQL is not installed (run scripts/setup)")
    return versions[-1] / "bin"


class PostgresServer:
    """A PostgreSQL server of its own (trust authentication, loopback only)."""

    name = "postgresql"

    def __init__(self, directory: Path) -> None:
        """Remember where the data directory goes; nothing starts yet."""
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.port = free_port()
        # PostgreSQL refuses to run as root: then it runs as the system user of the package.
        self.user = POSTGRES_USER if os.geteuid() == 0 else None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """initdb a fresh cluster, start ``postgres`` and wait until it answers."""
        binaries = postgres_bin_directory()
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        _run(
            [
                str(binaries / "initdb"),
                "--no-sync",
                "--auth=trust",
                f"--username={POSTGRES_USER}",
                "--encoding=UTF8",
                "--locale=C",
                "-D",
                str(self.data),
            ],
            user=self.user,
        )
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(binaries / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.directory}",
                    # A throw-away cluster: durability only costs time here.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
            )
        _wait_until_answering(self._process, self.log, self.name, self._probe)

    def _url(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def _probe(self) -> None:
        import psycopg2

        psycopg2.connect(self._url("postgres"), connect_timeout=2).close()

    def create_database(self, database: str) -> str:
        """Create an empty database and return its recorder URL."""
        import psycopg2

        connection = psycopg2.connect(self._url("postgres"))
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
                cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            connection.close()
        return self._url(database)

    def stop(self) -> None:
        """Shut the server down (SIGTERM: it finishes cleanly)."""
        if self._process is not None:
            _stop(self._process)


class MariaDBServer:
    """A MariaDB server of its own (root without password, loopback only)."""

    name = "mariadb"

    def __init__(self, directory: Path) -> None:
        """Remember where the data directory goes; nothing starts yet."""
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "mariadb.log"
        self.socket = directory / "mariadb.sock"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Install fresh system tables, start ``mariadbd`` and wait until it answers."""
        server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        user = ["--user=root"] if os.geteuid() == 0 else []
        _run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *user,
            ]
        )
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    server,
                    "--no-defaults",
                    *user,
                    f"--datadir={self.data}",
                    f"--socket={self.socket}",
                    f"--tmpdir={self.directory}",
                    f"--pid-file={self.directory / 'mariadb.pid'}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    "--skip-log-bin",
                    "--skip-performance-schema",
                    # A throw-away server: durability only costs time here.
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-doublewrite=0",
                    "--innodb-buffer-pool-size=64M",
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_unicode_ci",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_until_answering(self._process, self.log, self.name, self._probe)

    def _connect(self, timeout: float = 10.0) -> pymysql.connections.Connection[Any]:
        import pymysql

        # TCP on loopback (tests may only reach 127.0.0.1); the server resolves it to
        # localhost, the host of the root account mariadb-install-db creates.
        return pymysql.connect(
            user="root", host="127.0.0.1", port=self.port, connect_timeout=timeout
        )

    def _probe(self) -> None:
        self._connect(timeout=2).close()

    def create_database(self, database: str) -> str:
        """Create an empty database and return its recorder URL (PyMySQL, utf8mb4)."""
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
                cursor.execute(
                    f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
        finally:
            connection.close()
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def stop(self) -> None:
        """Shut the server down (SIGTERM: it finishes cleanly)."""
        if self._process is not None:
            _stop(self._process)


SERVERS: dict[str, type[PostgresServer | MariaDBServer]] = {
    "postgresql": PostgresServer,
    "mariadb": MariaDBServer,
}


@contextmanager
def running_server(name: str) -> Iterator[DatabaseServer]:
    """Start the server ``name`` (``postgresql`` or ``mariadb``) for the block, then stop it.

    Its data lives under a new directory in the system's temporary directory (short paths
    keep the sockets under the length limit, and the postgres user can reach it).
    """
    directory = Path(tempfile.mkdtemp(prefix=f"rala-{name}-"))
    try:
        server = SERVERS[name](directory)
        try:
            server.start()
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
